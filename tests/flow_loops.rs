//! Flow control when the publisher held back is itself a subscriber waiting for acknowledgements: a
//! client fed by itself (it subscribes to what it publishes), and two clients feeding each other. A held
//! connection still reads its client's acknowledgements, so these bursts complete; before, the broker
//! stopped reading the very PUBACKs that would have drained the full session, and the client hung until
//! `ack_timeout` closed it. It also answers its client's PINGREQs, so a client held longer than its
//! keepalive does not take the broker for gone.

mod common;

use std::time::Duration;

use onenet_desk::client::{Client, ConnectOptions, Incoming, connect};
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS};
use onenet_desk::service::ServiceHandle;
use onenet_desk::start;

use common::{Raw, config, connect_packet, eventually, numbered, subscribe};

/// Messages each client publishes: far more than window + queue (4 + 8).
const N: usize = 2_000;

/// A broker with window 4 and queue 8 (`mqtt`), and timeouts far beyond the test's deadline, so only
/// the acknowledgements can drain a full session.
async fn small_windows(dir: &std::path::Path) -> ServiceHandle {
    let mut cfg = config(dir, Profile::Mqtt);
    cfg.limits.inflight_window = 4;
    cfg.limits.max_queued_per_session = 8;
    cfg.limits.ack_timeout = Duration::from_secs(600);
    cfg.limits.stuck_timeout = Duration::from_secs(600);
    start(cfg).await.unwrap()
}

/// `id` logged in with a persistent session and subscribed to `filter` at QoS 1.
async fn subscriber(h: &ServiceHandle, id: &str, filter: &str) -> (Client, Incoming) {
    let opts =
        ConnectOptions::new(h.mqtt_addr().to_string(), id.to_string()).with_clean_session(false);
    let (c, inc, _) = connect(opts).await.unwrap();
    c.subscribe(&[(filter, QoS::AtLeastOnce)]).await.unwrap();
    (c, inc)
}

/// Publishes `N` numbered QoS 1 messages to `topic` (64 in flight, the client's window) and waits for
/// the last PUBACK.
async fn burst(c: Client, topic: String) -> Client {
    let mut last = None;
    for i in 0..N {
        last = Some(
            c.publish(&topic, QoS::AtLeastOnce, format!("{i}"))
                .await
                .unwrap(),
        );
    }
    last.unwrap().wait().await.unwrap();
    c
}

/// Receives `N` messages, in order (the client acknowledges each as it is received).
async fn receive_all(mut inc: Incoming) -> usize {
    let mut next = 0usize;
    while next < N {
        let Some(p) = inc.recv().await else { break };
        assert_eq!(p.payload, format!("{next}").as_bytes(), "in order");
        next += 1;
    }
    next
}

/// No session dropped anything and no client is held back any more.
async fn settled(h: &ServiceHandle) {
    for s in h.sessions().await {
        assert_eq!(s.dropped, 0, "{s:?}");
        assert_eq!(s.held_back, 0, "{s:?}");
    }
}

/// A client that subscribes to its own topic bursts 2,000 QoS 1 messages: its session fills, its reading
/// is held back, and the PUBACKs it sends for what it receives are still read, so every message comes
/// back, in order, without a disconnection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_fed_by_itself_receives_its_whole_burst() {
    let dir = tempfile::tempdir().unwrap();
    let h = small_windows(dir.path()).await;
    let (c, inc) = subscriber(&h, "echo", "echo/#").await;
    let received = tokio::spawn(receive_all(inc));
    let all = async {
        let c = burst(c, "echo/1".into()).await;
        (c, received.await.unwrap())
    };
    let (c, n) = tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("the burst came back within 60 s (ack_timeout is 600 s)");
    assert_eq!(n, N);
    settled(&h).await;
    let s = h.sessions().await;
    assert_eq!(s.len(), 1);
    assert!(s[0].online, "never disconnected: {s:?}");
    assert_eq!(s[0].messages_in, N as u64);
    drop(c);
    h.shutdown().await;
}

/// Two clients burst at each other: each one's session fills and holds the other back. Both still read
/// acknowledgements, so both bursts arrive whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_feeding_each_other_both_finish() {
    let dir = tempfile::tempdir().unwrap();
    let h = small_windows(dir.path()).await;
    let (a, a_in) = subscriber(&h, "a", "to/a").await;
    let (b, b_in) = subscriber(&h, "b", "to/b").await;
    let a_got = tokio::spawn(receive_all(a_in));
    let b_got = tokio::spawn(receive_all(b_in));
    let a_sent = tokio::spawn(burst(a, "to/b".into()));
    let b_sent = tokio::spawn(burst(b, "to/a".into()));
    let all = async {
        let clients = (a_sent.await.unwrap(), b_sent.await.unwrap());
        (clients, a_got.await.unwrap(), b_got.await.unwrap())
    };
    let (_clients, a_n, b_n) = tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("both bursts arrived within 60 s (ack_timeout is 600 s)");
    assert_eq!((a_n, b_n), (N, N));
    settled(&h).await;
    assert!(h.sessions().await.iter().all(|s| s.online));
    h.shutdown().await;
}

/// A publisher held back by a subscriber that reads nothing sends two more messages and then a PINGREQ:
/// the PINGREQ is answered while the messages ahead of it still wait (a client whose keepalive timer
/// runs out while held would otherwise disconnect, and its firmware would reconnect into the same hold).
/// Before, nothing a held client sent was read, so its PINGREQ went unanswered until the hold ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_client_still_gets_its_pingresp() {
    let dir = tempfile::tempdir().unwrap();
    let h = small_windows(dir.path()).await;
    let addr = h.mqtt_addr();
    let (mut sub, _) = Raw::login(addr, &connect_packet("slow", None, None, true, 600)).await;
    sub.send(&subscribe(1, &[("bp", QoS::AtLeastOnce)])).await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    let pub_session = || async {
        h.sessions()
            .await
            .into_iter()
            .find(|s| s.client_id == "pub")
    };
    // One message at a time, each routed before the next, until the publisher is held back.
    let (mut p, _) = Raw::login(addr, &connect_packet("pub", None, None, true, 600)).await;
    let mut sent = 0u16;
    while pub_session().await.unwrap().held_back == 0 {
        sent += 1;
        assert!(sent < 100, "never held back");
        p.send(&numbered("bp", sent)).await;
        assert_eq!(p.recv().await, Packet::PubAck(common::pid(sent)));
    }
    p.send(&numbered("bp", sent + 1)).await;
    p.send(&numbered("bp", sent + 2)).await;
    p.send(&Packet::PingReq).await;
    assert_eq!(p.recv().await, Packet::PingResp, "answered while held");
    let s = pub_session().await.unwrap();
    assert_eq!(
        (s.held_back, s.messages_in),
        (1, u64::from(sent)),
        "still held, the two messages before the PINGREQ not read"
    );
    // The subscriber drains: the two are read, in order, after what was queued.
    let got = sub.numbered_until(sent + 2).await;
    assert_eq!(got, (1..=sent + 2).collect::<Vec<_>>());
    let acks = [p.recv().await, p.recv().await];
    assert_eq!(
        acks,
        [
            Packet::PubAck(common::pid(sent + 1)),
            Packet::PubAck(common::pid(sent + 2))
        ]
    );
    eventually("the publisher let go", || async {
        (pub_session().await?.held_back == 0).then_some(())
    })
    .await;
    h.shutdown().await;
}
