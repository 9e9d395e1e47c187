//! The hub's tests: inline turns and the mailbox, its byte budget, re-arming.

use std::collections::VecDeque;

use super::*;
use crate::broker::message::{ConnTx, Input, Login, OutGauge, Outbound, Outbox};
use crate::events::Events;
use crate::metrics::Metrics;
use crate::mqtt::{Packet, Pid, TopicFilter};

fn unsubscribe(conn: u64, pid: u16) -> RouterMsg {
    RouterMsg::Conn(Input::Unsubscribe {
        conn,
        pid: Pid::new(pid).unwrap(),
        filters: vec![TopicFilter::new("a/b").unwrap()],
    })
}

/// What the connection was given, as the packets' names and ids.
fn taken(o: &Outbox) -> Vec<String> {
    let mut q = VecDeque::new();
    o.take(&mut q);
    o.written();
    q.iter()
        .map(|o| match o {
            Outbound::Packet(Packet::UnsubAck(p)) => format!("UNSUBACK {}", p.get()),
            Outbound::Packet(p) => p.packet_type().name().to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Lets the router task run until `lane` has nothing left in the mailbox (at most until `deadline`).
async fn handled(lane: &Lane, deadline: tokio::time::Instant) {
    while lane.0.load(Ordering::Acquire) != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the queue was not handled"
        );
        tokio::task::yield_now().await;
    }
}

/// The directory and store writer to keep alive, the hub, its mailbox's receiving end, and connection
/// 1's outbox and lane.
type OneConnection = (
    tempfile::TempDir,
    crate::store::writer::WriterThread,
    Arc<Hub>,
    mpsc::Receiver<Mail>,
    Arc<Outbox>,
    Arc<Lane>,
);

/// A router with connection 1 logged in (inline: nothing in the mailbox), its outbox (CONNACK
/// taken) and its lane; the directory and the store writer are kept alive by the caller.
async fn hub_with_one_connection(depth: usize, bytes: usize) -> OneConnection {
    hub_with_limits(depth, bytes, |_| {}).await
}

/// As [`hub_with_one_connection`], with the router's limits changed by `limits`.
async fn hub_with_limits(
    depth: usize,
    bytes: usize,
    limits: impl FnOnce(&mut crate::config::Limits),
) -> OneConnection {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.sqlite3");
    crate::store::Db::open(&path).unwrap();
    let (store, writer) = crate::store::writer::spawn_writer(
        path,
        Default::default(),
        crate::store::DEFAULT_BUSY_TIMEOUT,
    )
    .unwrap();
    let mut cfg = super::super::tests::config(crate::config::Profile::Mqtt);
    limits(&mut cfg.limits);
    let cfg = Arc::new(cfg);
    let driver = Driver::new(
        cfg,
        store,
        Events::new(),
        Arc::new(Metrics::default()),
        Default::default(),
    );
    let (hub, rx) = Hub::new(driver, depth, bytes);
    let outbox = Arc::new(Outbox::default());
    let gauge = Arc::new(OutGauge::default());
    let tx = ConnTx {
        id: 1,
        outbox: outbox.clone(),
        gauge: gauge.clone(),
    };
    let login = Login {
        conn: 1,
        gauge,
        client_id: "c1".into(),
        namespace: String::new(),
        clean_session: true,
        keep_alive: 0,
        will: None,
        remote: "127.0.0.1:1".parse().unwrap(),
    };
    let lane = Arc::new(Lane::default());
    // The router is free: handled in this call, nothing in the mailbox.
    assert!(hub.send(&lane, RouterMsg::Login(tx, Box::new(login))).await);
    assert_eq!(taken(&outbox), ["CONNACK"]);
    assert!(rx.is_empty());
    (dir, writer, hub, rx, outbox, lane)
}

/// A connection runs the router itself while nothing of its own waits in the mailbox; while the
/// router is busy its input is queued, and so is everything it sends after that until the router
/// task has handled the queue: its inputs are answered in the order it sent them.
// The test holds the router's lock across one `send` to play a busy router; `send` only tries it.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn a_connection_runs_the_router_itself_unless_its_inputs_wait_in_the_mailbox() {
    let (_dir, writer, hub, rx, outbox, lane) = hub_with_one_connection(16, 1 << 20).await;

    // The router is busy (held here as the router task would hold it): queued.
    let busy = hub.core.lock().unwrap();
    assert!(hub.send(&lane, unsubscribe(1, 1)).await);
    drop(busy);
    assert_eq!(rx.len(), 1);
    // Free again, but this connection has input waiting: queued behind it, not run ahead.
    assert!(hub.send(&lane, unsubscribe(1, 2)).await);
    assert_eq!(rx.len(), 2);
    assert_eq!(lane.0.load(Ordering::Acquire), 2);
    assert!(taken(&outbox).is_empty());

    // The router task handles the queue; then the connection runs the router itself again.
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(hub.clone().run(rx, shutdown.clone()));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    handled(&lane, deadline).await;
    assert!(hub.send(&lane, unsubscribe(1, 3)).await);
    assert_eq!(taken(&outbox), ["UNSUBACK 1", "UNSUBACK 2", "UNSUBACK 3"]);

    // The router task waits for the lock: the connection queues rather than take it first (this
    // runtime has one thread, so the task cannot run between the flag and the send).
    hub.router_waiting.store(true, Ordering::SeqCst);
    assert!(hub.send(&lane, unsubscribe(1, 4)).await);
    assert_eq!(lane.0.load(Ordering::Acquire), 1, "queued");
    handled(&lane, deadline).await;
    assert_eq!(taken(&outbox), ["UNSUBACK 4"]);

    // Someone else's message waits in the mailbox (here the service's): the router task is about
    // to run, and takes this one in the same turn (the task cannot run before the send, as above).
    let (reply, _sessions) = tokio::sync::oneshot::channel();
    assert!(hub.request(RouterMsg::Sessions(reply)).await);
    assert!(hub.send(&lane, unsubscribe(1, 5)).await);
    assert_eq!(lane.0.load(Ordering::Acquire), 1, "queued");
    handled(&lane, deadline).await;
    assert_eq!(taken(&outbox), ["UNSUBACK 5"]);

    // Once the router task has stopped, nothing more is handled.
    shutdown.cancel();
    task.await.unwrap();
    assert!(!hub.send(&lane, unsubscribe(1, 6)).await);
    assert!(taken(&outbox).is_empty());
    drop(hub);
    writer.join();
}

/// A burst (a read that decoded many packets) goes to the router task even when the router is
/// free; an input dropped while it waits for room in the mailbox is not counted as waiting there.
#[tokio::test]
async fn a_burst_is_queued_and_a_send_given_up_is_uncounted() {
    use futures_util::FutureExt;
    let (_dir, writer, hub, rx, outbox, lane) = hub_with_one_connection(1, 1 << 20).await;
    let burst = (1..=INLINE_MAX as u16 + 1)
        .map(|pid| Input::Unsubscribe {
            conn: 1,
            pid: Pid::new(pid).unwrap(),
            filters: vec![TopicFilter::new("a/b").unwrap()],
        })
        .collect();
    assert!(hub.send(&lane, RouterMsg::Batch(burst)).await);
    assert_eq!(rx.len(), 1);
    assert_eq!(lane.0.load(Ordering::Acquire), 1);
    assert!(taken(&outbox).is_empty());
    // The mailbox (depth 1) is full: the next send waits; given up, it leaves the lane as it was.
    assert!(
        hub.send(&lane, unsubscribe(1, 9)).now_or_never().is_none(),
        "waits for room"
    );
    assert_eq!(lane.0.load(Ordering::Acquire), 1);
    assert_eq!(rx.len(), 1);
    drop((hub, rx));
    writer.join();
}

/// A read's inputs of `n` QoS 0 PUBLISHes of `size` bytes each (more than an inline turn takes).
fn publishes(n: u16, size: usize) -> RouterMsg {
    let payload = bytes::Bytes::from(vec![b'p'; size]);
    RouterMsg::Batch(
        (1..=n)
            .map(|i| Input::Publish {
                conn: 1,
                publish: crate::mqtt::Publish::new(
                    crate::mqtt::TopicName::new("t").unwrap(),
                    crate::mqtt::QoS::AtMostOnce,
                    Pid::new(i).unwrap(),
                    payload.clone(),
                ),
                dp: None,
            })
            .collect(),
    )
}

/// The mailbox is bounded in bytes besides messages: a connection whose mail would pass the budget
/// waits (and so stops reading) until the router task has handled earlier mail and given its bytes
/// back; mail heavier than the whole budget waits until the budget is free, then goes alone.
#[tokio::test]
async fn the_mailbox_is_bounded_in_bytes() {
    use futures_util::FutureExt;
    let budget = 20_000;
    let (_dir, writer, hub, rx, _outbox, lane) = hub_with_one_connection(16, budget).await;
    let first = publishes(5, 2_000);
    let weight = first.weight();
    assert!(weight > 10_000 && weight < budget, "{weight}");
    assert!(hub.send(&lane, first).await);
    assert_eq!(rx.len(), 1);
    // A second such read does not fit: its send waits, and nothing of it is queued.
    let mut second = Box::pin(hub.send(&lane, publishes(5, 2_000)));
    assert!((&mut second).now_or_never().is_none(), "waits for bytes");
    assert_eq!(rx.len(), 1);
    // The router task handles the first and gives its bytes back: the second goes in.
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(hub.clone().run(rx, shutdown.clone()));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    assert!(tokio::time::timeout_at(deadline, second).await.unwrap());
    handled(&lane, deadline).await;
    // Heavier than the whole budget: it takes all of it, when all of it is free.
    let huge = publishes(5, 3 * budget);
    assert!(huge.weight() > budget);
    assert!(
        tokio::time::timeout_at(deadline, hub.send(&lane, huge))
            .await
            .unwrap()
    );
    handled(&lane, deadline).await;
    assert_eq!(
        hub.room.available_permits(),
        budget,
        "every byte given back"
    );
    // Stopped, the router takes no more: a connection asking for bytes is refused.
    let full = publishes(5, 3_000);
    shutdown.cancel();
    task.await.unwrap();
    assert!(!hub.send(&lane, full).await);
    drop(hub);
    writer.join();
}

/// While the store writer lags (here: another program holds the database's write lock), the router
/// takes no input at all: a connection's next input waits in the mailbox, not run inline and not taken
/// by the router task (so the mailbox fills and readers wait: TCP slows the publishers); once the writer
/// commits, it is handled.
#[tokio::test]
async fn a_lagging_store_writer_holds_input_in_the_mailbox_until_it_commits() {
    let (dir, writer, hub, rx, outbox, lane) =
        hub_with_limits(16, 1 << 20, |l| l.max_store_backlog = 1).await;
    let lock = rusqlite::Connection::open(dir.path().join("hub.sqlite3")).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    // A retained message: one store op, handled inline; the writer cannot commit it.
    let mut retained = crate::mqtt::Publish::new(
        crate::mqtt::TopicName::new("r").unwrap(),
        crate::mqtt::QoS::AtMostOnce,
        Pid::new(1).unwrap(),
        bytes::Bytes::from_static(b"kept"),
    );
    retained.retain = true;
    let input = Input::Publish {
        conn: 1,
        publish: retained,
        dp: None,
    };
    assert!(hub.send(&lane, RouterMsg::Conn(input)).await);
    assert!(rx.is_empty(), "handled inline");
    // Backlogged now: the next input is queued, and the router task does not take it.
    assert!(hub.send(&lane, unsubscribe(1, 2)).await);
    assert_eq!(lane.0.load(Ordering::Acquire), 1, "queued");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(hub.clone().run(rx, shutdown.clone()));
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(lane.0.load(Ordering::Acquire), 1, "still waiting");
    assert!(taken(&outbox).is_empty());
    // The lock goes, the writer commits, the input is handled.
    lock.execute_batch("ROLLBACK").unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    handled(&lane, deadline).await;
    assert_eq!(taken(&outbox), ["UNSUBACK 2"]);
    shutdown.cancel();
    task.await.unwrap();
    drop(hub);
    writer.join();
}

/// A router task that ends by a panic still lets go of the connections waiting for budget bytes.
#[tokio::test]
async fn the_budget_closes_however_the_router_task_ends() {
    let room = Arc::new(Semaphore::new(0));
    let r = room.clone();
    let task = tokio::spawn(async move {
        let _closes = CloseOnDrop(&r);
        tokio::task::yield_now().await;
        panic!("a bug in the router");
    });
    assert!(task.await.is_err(), "the task panicked");
    assert!(room.acquire().await.is_err(), "a waiter is let go");
}

/// The router task is woken to re-arm only when an inline turn brings the deadline forward.
#[test]
fn the_router_task_re_arms_when_a_deadline_comes_forward() {
    assert!(brought_forward(None, Some(5)));
    assert!(brought_forward(Some(9), Some(5)));
    assert!(!brought_forward(Some(5), Some(5)));
    assert!(
        !brought_forward(Some(5), Some(9)),
        "a later one only fires early"
    );
    assert!(!brought_forward(Some(5), None));
    assert!(!brought_forward(None, None));
}
