//! Flow control over real sockets (the rules themselves are unit-tested in virtual time in
//! `broker/router/flow_tests.rs` and `burst_tests.rs`): a QoS 1 burst loses nothing, a full subscriber
//! stops the broker reading its publisher's socket until it drains, a reader that stops is disconnected
//! and bounded while the others keep receiving.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use onenet_desk::client::{Client, ConnectOptions, connect};
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS};
use onenet_desk::service::ServiceHandle;
use onenet_desk::service::api::SessionInfo;
use onenet_desk::start;
use tokio::time::Instant;

use common::{Raw, config, connect_packet, subscribe};

/// No QoS 1 message is lost when 4 publishers burst 10,000 messages each (64 in flight each) at 4
/// subscribers: every subscriber receives all 40,000, none twice. Before flow control the per-session
/// queue cap dropped most of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos1_burst_4_to_4_loses_nothing() {
    const PUBS: usize = 4;
    const SUBS: usize = 4;
    const EACH: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let h = start(config(dir.path(), Profile::Mqtt)).await.unwrap();
    let addr = h.mqtt_addr().to_string();
    let mut readers = Vec::new();
    for s in 0..SUBS {
        let (c, mut inc, _) = connect(ConnectOptions::new(addr.clone(), format!("sub{s}")))
            .await
            .unwrap();
        c.subscribe(&[("burst/#", QoS::AtLeastOnce)]).await.unwrap();
        readers.push(tokio::spawn(async move {
            let mut seen = HashSet::with_capacity(PUBS * EACH);
            let mut dups = 0usize;
            while seen.len() < PUBS * EACH {
                let Some(p) = inc.recv().await else { break };
                if !seen.insert(p.payload.clone()) {
                    dups += 1;
                }
            }
            drop(c);
            (seen.len(), dups)
        }));
    }
    let mut writers = Vec::new();
    for p in 0..PUBS {
        let (c, _inc, _) = connect(ConnectOptions::new(addr.clone(), format!("pub{p}")))
            .await
            .unwrap();
        writers.push(tokio::spawn(async move {
            let mut last = None;
            for i in 0..EACH {
                let d = c
                    .publish(&format!("burst/{p}"), QoS::AtLeastOnce, format!("{p}:{i}"))
                    .await
                    .unwrap();
                last = Some(d);
            }
            if let Some(d) = last {
                d.wait().await.unwrap();
            }
            c
        }));
    }
    let all = async {
        let mut pubs = Vec::new();
        for w in writers {
            pubs.push(w.await.unwrap());
        }
        let mut got = Vec::new();
        for r in readers {
            got.push(r.await.unwrap());
        }
        (pubs, got)
    };
    let (_pubs, got) = tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .expect("the burst completes in time");
    for (n, dups) in got {
        assert_eq!(
            n,
            PUBS * EACH,
            "every message delivered to every subscriber"
        );
        assert_eq!(dups, 0);
    }
    let dropped: u64 = h.sessions().await.iter().map(|s| s.dropped).sum();
    assert_eq!(dropped, 0);
    h.shutdown().await;
}

/// The session of `client_id` as the admin API reports it.
async fn session(h: &ServiceHandle, client_id: &str) -> SessionInfo {
    h.sessions()
        .await
        .into_iter()
        .find(|s| s.client_id == client_id)
        .unwrap()
}

/// A broker with window 4 and queue 8 (`mqtt`), and subscriber "slow" (persistent when `persistent`) of
/// `bp` at QoS 1, which reads nothing until the test says.
async fn slow_subscriber(dir: &std::path::Path, persistent: bool) -> (ServiceHandle, Raw) {
    let mut cfg = config(dir, Profile::Mqtt);
    cfg.limits.inflight_window = 4;
    cfg.limits.max_queued_per_session = 8;
    let h = start(cfg).await.unwrap();
    let (mut sub, _) = Raw::login(
        h.mqtt_addr(),
        &connect_packet("slow", None, None, !persistent, 600),
    )
    .await;
    sub.send(&subscribe(1, &[("bp", QoS::AtLeastOnce)])).await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    (h, sub)
}

/// A QoS 1 PUBLISH to `bp` whose payload is `i`, with packet id `i`.
fn numbered(i: u16) -> Packet {
    common::numbered("bp", i)
}

/// Waits (bounded) until `client`'s reading is held back by one full subscriber; its session then.
async fn until_held(h: &ServiceHandle, client: &str) -> SessionInfo {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = session(h, client).await;
        if s.held_back == 1 {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{client} was never held back: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Backpressure on the wire: a QoS 1 subscriber that neither reads nor acknowledges fills its window and
/// queue, and then the broker stops reading the publisher's socket (its session's count of messages in
/// stops while the publisher's writes block in TCP); once the subscriber reads and acknowledges, reading
/// resumes and every message arrives, none dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_subscriber_stops_the_broker_reading_its_publisher_until_it_drains() {
    const N: u16 = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let (h, mut sub) = slow_subscriber(dir.path(), false).await;
    let addr = h.mqtt_addr();
    // 2,000 messages of 16 KiB (31 MiB): far more than the socket buffers between publisher and broker
    // hold (loopback's grow to a few MiB each), so the publisher's writes block once the broker stops
    // reading.
    let (mut p, _) = Raw::login(addr, &connect_packet("pub", None, None, true, 600)).await;
    let publisher = tokio::spawn(async move {
        for i in 1..=N {
            let mut body = vec![b'.'; 16 * 1024];
            body[..2].copy_from_slice(&i.to_be_bytes());
            p.send(&common::publish("bp", &body, QoS::AtLeastOnce, i, false))
                .await;
        }
        p
    });
    // The broker holds the publisher's reading back (its session says so, `held_back`) once the
    // subscriber's window is full and its queue at the high watermark, near window + queue (12) of N
    // messages in: waited for by state. Bounded by a deadline.
    let held = until_held(&h, "pub").await;
    let slow = session(&h, "slow").await;
    assert_eq!(slow.inflight, 4, "the window is full");
    assert!(
        slow.queued >= 8,
        "and the queue at its high watermark: {slow:?}"
    );
    assert!(
        held.messages_in < 100,
        "reading stopped near window + queue (12), not after {} of {N}",
        held.messages_in
    );
    // Held, the connection reads nothing: what it had sent the router before the hold reached it is all
    // that arrives. A negative, so it takes time to show: two readings 200 ms apart agree, and the
    // publisher's writes, 31 MiB past what the socket buffers hold, have not gone through.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let a = session(&h, "pub").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let b = session(&h, "pub").await;
    assert_eq!(
        (a.held_back, b.held_back, a.messages_in),
        (1, 1, b.messages_in),
        "nothing more was read while held"
    );
    assert!(b.messages_in < 100, "{b:?}");
    assert!(!publisher.is_finished(), "its writes are blocked in TCP");
    // The subscriber reads and acknowledges: reading resumes and everything arrives, in order.
    let mut next = 1u16;
    while next <= N {
        match sub.recv().await {
            Packet::Publish(m) => {
                assert_eq!(m.payload[..2], next.to_be_bytes(), "in order");
                next += 1;
                if let Some(id) = m.qos_pid.pid() {
                    sub.send(&Packet::PubAck(id)).await;
                }
            }
            other => panic!("{other:?}"),
        }
    }
    let _p = tokio::time::timeout(Duration::from_secs(30), publisher)
        .await
        .expect("the publisher's writes went through once the subscriber drained")
        .unwrap();
    let p = session(&h, "pub").await;
    assert_eq!(p.messages_in, N as u64);
    assert_eq!(p.held_back, 0, "released");
    let s = h.sessions().await;
    assert!(s.iter().all(|s| s.dropped == 0), "{s:?}");
    h.shutdown().await;
}

/// A held publisher that drops its socket and logs in again is held on its new connection at once,
/// even when it sends with its CONNECT (before, each new connection got a read into the full queue
/// before it was held, so a device reconnecting in a loop grew a slow subscriber's queue without bound);
/// what it sends waits, and arrives once the subscriber drains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_publisher_that_reconnects_is_held_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (h, mut sub) = slow_subscriber(dir.path(), true).await;
    let addr = h.mqtt_addr();
    // One message at a time, each acknowledged (routed) before the next, until the publisher is held:
    // all it sent is counted, none waits in the pipeline.
    let (mut p, _) = Raw::login(addr, &connect_packet("pub", None, None, true, 600)).await;
    let mut sent = 0u16;
    while session(&h, "pub").await.held_back == 0 {
        sent += 1;
        assert!(sent < 100, "never held back");
        p.send(&numbered(sent)).await;
        assert_eq!(p.recv().await, Packet::PubAck(common::pid(sent)));
    }
    // The device resets: its socket goes, and it logs in again on a new one, its first ten messages in
    // the same write as its CONNECT (a client that does not wait for CONNACK). The broker does not read
    // the held socket, so it learns of the reset from the new login: a takeover.
    drop(p);
    let mut p = Raw::connect(addr).await;
    let mut bytes = connect_packet("pub", None, None, true, 600)
        .to_bytes()
        .unwrap()
        .to_vec();
    for i in 1001..=1010u16 {
        bytes.extend_from_slice(&numbered(i).to_bytes().unwrap());
    }
    p.send_bytes(&bytes).await;
    assert!(matches!(p.recv().await, Packet::ConnAck(_)));
    assert_eq!(
        session(&h, "pub").await.held_back,
        1,
        "held from its CONNACK on"
    );
    // Nothing of the new connection's is read (the old one's can no longer arrive: it was taken over).
    // A negative, so it takes time to show: two readings 200 ms apart agree.
    let before = (
        session(&h, "slow").await.queued,
        session(&h, "pub").await.messages_in,
    );
    assert_eq!(
        before.1,
        u64::from(sent),
        "what the old connection sent, none of the new one's ten"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = (
        session(&h, "slow").await.queued,
        session(&h, "pub").await.messages_in,
    );
    assert_eq!(after, before, "nothing of the new connection's was read");
    // The subscriber drains: the new connection is let go and its ten arrive, after what was queued.
    let got = sub.numbered_until(1010).await;
    assert!(
        got.ends_with(&(1001..=1010).collect::<Vec<_>>()),
        "the new connection's, in order, last: {got:?}"
    );
    assert_eq!(session(&h, "pub").await.held_back, 0, "let go");
    h.shutdown().await;
}

/// A full subscriber that restarts with a clean session (a takeover by a clean login) ends its session and
/// its queue, and the publisher it held goes on at once: what it sends next is read and acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_restart_of_a_full_subscriber_lets_its_publisher_go() {
    let dir = tempfile::tempdir().unwrap();
    let (h, _sub) = slow_subscriber(dir.path(), true).await;
    let addr = h.mqtt_addr();
    let (mut p, _) = Raw::login(addr, &connect_packet("pub", None, None, true, 600)).await;
    for i in 1..=40u16 {
        p.send(&numbered(i)).await;
    }
    until_held(&h, "pub").await;
    let (_again, ack) = Raw::login(addr, &connect_packet("slow", None, None, true, 600)).await;
    assert!(matches!(ack, Packet::ConnAck(_)));
    // Let go: what it sends now is read and acknowledged too (held, it would wait for ever).
    p.send(&numbered(41)).await;
    let mut acked = 0;
    while acked < 41 {
        if let Packet::PubAck(_) = p.recv().await {
            acked += 1;
        }
    }
    let s = session(&h, "pub").await;
    assert_eq!((s.held_back, s.messages_in), (0, 41), "{s:?}");
    h.shutdown().await;
}

/// QoS 0 dropped at a device's full connection is counted on its session in the admin API
/// (`GET /admin/sessions`) and in all (`GET /admin/metrics`), as the console counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_counts_a_devices_qos0_drops() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    cfg.limits.max_outbound_bytes = 64 * 1024;
    let h = common::seeded_with(cfg).await;
    let addr = h.mqtt_addr();
    let mut stuck = Raw::device(addr, "9277", "abc123", true).await;
    stuck
        .send(&subscribe(1, &[("/flood", QoS::AtMostOnce)]))
        .await;
    assert!(matches!(stuck.recv().await, Packet::SubAck(_)));
    let mut p = Raw::device(addr, "9278", "def456", true).await;
    let body = vec![b'x'; 16 * 1024];
    let deadline = Instant::now() + Duration::from_secs(60);
    let dropped = loop {
        for _ in 0..50 {
            p.send(&common::publish("/flood", &body, QoS::AtMostOnce, 1, false))
                .await;
        }
        let d = h
            .sessions()
            .await
            .iter()
            .find(|s| s.client_id == "9277")
            .map_or(0, |s| s.dropped_qos0);
        if d > 0 {
            break d;
        }
        assert!(Instant::now() < deadline, "nothing dropped");
    };
    let v = common::http::api(&h, "GET", "/admin/sessions", Some("KEY339"), "").await;
    let s = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["client_id"] == "9277")
        .cloned()
        .unwrap();
    assert!(s["dropped_qos0"].as_u64().unwrap() >= dropped, "{s}");
    assert!(s["dropped"].as_u64().unwrap() >= s["dropped_qos0"].as_u64().unwrap());
    // And in all, as the Overview counts them.
    let m = common::http::api(&h, "GET", "/admin/metrics", Some("KEY339"), "").await;
    assert!(
        m["data"]["qos0_dropped"].as_u64().unwrap() >= dropped,
        "{m}"
    );
    h.shutdown().await;
}

/// A subscriber that stops reading is disconnected after `stuck_timeout` with a diagnostic; meanwhile QoS
/// 0 beyond its output bound is dropped and counted, and a reading subscriber keeps receiving.
/// The flood runs in real time; the wait for the stuck timeout in paused time (current-thread runtime).
#[tokio::test]
async fn a_stuck_reader_is_bounded_counted_and_disconnected() {
    const STUCK: Duration = Duration::from_secs(5);
    let (_dir, h, _stuck) = with_a_stuck_reader(STUCK).await;
    let addr = h.mqtt_addr();
    let (c, mut inc, _) = connect(ConnectOptions::new(addr.to_string(), "reader"))
        .await
        .unwrap();
    c.subscribe(&[("flood", QoS::AtMostOnce)]).await.unwrap();
    let (p, _pinc, _) = connect(ConnectOptions::new(addr.to_string(), "pub"))
        .await
        .unwrap();
    let payload = bytes::Bytes::from(vec![b'x'; 1024]);
    let mut received = 0usize;
    flood_until_full(&h, &p, "stuck", || {
        while inc.try_recv().is_some() {
            received += 1;
        }
    })
    .await;
    // Nobody publishes now.
    stuck_closed_within(&h, STUCK).await;
    let diags = h.diagnostics("stuck").await;
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("stuck reader") && d.message.contains("output")),
        "{diags:?}"
    );
    assert!(
        h.metrics().qos0_dropped > 0,
        "QoS 0 beyond the bound was dropped and counted"
    );
    // The reading subscriber still gets what is published after the stuck one is gone.
    let before = received;
    let _qos0 = p
        .publish("flood", QoS::AtMostOnce, payload.clone())
        .await
        .unwrap();
    p.ping().await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if inc.recv().await.is_some() {
                received += 1;
            }
            if received > before {
                break;
            }
        }
    })
    .await;
    assert!(got.is_ok(), "the reader keeps flowing");
    h.shutdown().await;
}

/// The stuck-reader timeout is a setting applied at run time (Settings, `apply_config`): a connection
/// opened under 10 minutes is closed after the 5 s applied later, without a restart.
#[tokio::test]
async fn a_stuck_timeout_applied_at_run_time_holds_for_open_connections() {
    const STUCK: Duration = Duration::from_secs(5);
    let (_dir, h, _stuck) = with_a_stuck_reader(Duration::from_secs(600)).await;
    let mut cfg = (*h.config()).clone();
    cfg.limits.stuck_timeout = STUCK;
    let applied = h.apply_config(cfg).await.unwrap();
    assert!(applied.restart_needed.is_empty(), "{applied:?}");
    let (p, _pinc, _) = connect(ConnectOptions::new(h.mqtt_addr().to_string(), "pub"))
        .await
        .unwrap();
    flood_until_full(&h, &p, "stuck", || {}).await;
    stuck_closed_within(&h, STUCK).await;
    h.shutdown().await;
}

/// A subscriber's backlog far larger than one write (the connection encodes about 64 KiB per write) goes
/// out whole and in order once the subscriber reads: 200 messages of 8 KiB, published while it does not
/// read, so its socket fills and the rest waits in the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_larger_than_one_write_arrives_whole_and_in_order() {
    const N: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::Mqtt);
    // Room for the whole backlog: nothing is dropped, the test is about the order of what is written.
    cfg.limits.max_outbound_bytes = 8 << 20;
    let h = start(cfg).await.unwrap();
    let addr = h.mqtt_addr();
    let (mut sub, _) = Raw::login(addr, &connect_packet("slow", None, None, true, 60)).await;
    sub.send(&subscribe(1, &[("big", QoS::AtMostOnce)])).await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    let (p, _pinc, _) = connect(ConnectOptions::new(addr.to_string(), "pub"))
        .await
        .unwrap();
    for i in 0..N {
        let mut body = vec![b'.'; 8 * 1024];
        body[..4].copy_from_slice(&(i as u32).to_be_bytes());
        let _qos0 = p
            .publish("big", QoS::AtMostOnce, bytes::Bytes::from(body))
            .await
            .unwrap();
    }
    p.ping().await.unwrap();
    // Every message routed to the subscriber before it reads a byte of them.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = h.sessions().await;
        if s.iter()
            .any(|s| s.client_id == "slow" && s.messages_out >= N as u64)
        {
            break;
        }
        assert!(Instant::now() < deadline, "not all routed: {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for i in 0..N {
        match tokio::time::timeout(Duration::from_secs(10), sub.recv()).await {
            Ok(Packet::Publish(m)) => {
                assert_eq!(m.payload.len(), 8 * 1024);
                assert_eq!(
                    m.payload[..4],
                    (i as u32).to_be_bytes(),
                    "message {i} in order"
                );
            }
            other => panic!("message {i}: {other:?}"),
        }
    }
    let s = h.sessions().await;
    let slow = s.iter().find(|s| s.client_id == "slow").unwrap();
    assert_eq!((slow.dropped, slow.messages_out), (0, N as u64));
    h.shutdown().await;
}

/// Waits in paused time (the test's runtime must be current-thread) until "stuck" is gone, failing if it
/// is still connected `timeout` (and 100 ms) after its output stopped moving: the runtime jumps to the
/// stuck-reader deadline, which runs from then, before the pause.
async fn stuck_closed_within(h: &ServiceHandle, timeout: Duration) {
    tokio::time::pause();
    let paused_at = Instant::now();
    while h.sessions().await.iter().any(|s| s.client_id == "stuck") {
        assert!(
            paused_at.elapsed() <= timeout + Duration::from_millis(100),
            "the stuck reader is still connected {timeout:?} after its output filled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::resume();
}

/// A broker (`mqtt` profile, 64 KiB of output per connection, `stuck_timeout` as given) with a client
/// "stuck" subscribed to `flood` that never reads again.
async fn with_a_stuck_reader(stuck_timeout: Duration) -> (tempfile::TempDir, ServiceHandle, Raw) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::Mqtt);
    cfg.limits.stuck_timeout = stuck_timeout;
    cfg.limits.max_outbound_bytes = 64 * 1024;
    let h = start(cfg).await.unwrap();
    let (mut stuck, _) = Raw::login(
        h.mqtt_addr(),
        &connect_packet("stuck", None, None, true, 60),
    )
    .await;
    stuck
        .send(&subscribe(1, &[("flood", QoS::AtMostOnce)]))
        .await;
    assert!(matches!(stuck.recv().await, Packet::SubAck(_)));
    (dir, h, stuck)
}

/// Publishes 1 KiB QoS 0 messages to `flood` until the socket of `stuck` (a subscriber that does not
/// read) is full: two rounds of 200 in a row, 50 ms apart, in which none was queued for it, all dropped
/// and counted on its session (its output over its bound, its connection's write blocked: one such round
/// alone can be a connection task that only waited for a CPU, on a busy machine). Bounded by count and time; its
/// connection may already be closed if the flood was slow. `each_round` runs after every 200.
async fn flood_until_full(
    h: &ServiceHandle,
    p: &Client,
    stuck: &str,
    mut each_round: impl FnMut(),
) {
    let payload = bytes::Bytes::from(vec![b'x'; 1024]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sent = 0usize;
    let (mut out_before, mut quiet) = (None, 0);
    loop {
        for _ in 0..200 {
            let _qos0 = p
                .publish("flood", QoS::AtMostOnce, payload.clone())
                .await
                .unwrap();
            sent += 1;
        }
        each_round();
        // All 200 routed before the count is read.
        p.ping().await.unwrap();
        let s = h.sessions().await;
        let Some(s) = s.iter().find(|s| s.client_id == stuck) else {
            break;
        };
        quiet = if s.dropped_qos0 > 0 && out_before == Some(s.messages_out) {
            quiet + 1
        } else {
            0
        };
        if quiet == 2 {
            break;
        }
        out_before = Some(s.messages_out);
        assert!(
            Instant::now() < deadline,
            "the stuck reader's output never filled"
        );
        assert!(sent < 2_000_000);
        // Time for a connection that is not blocked to write what it holds (bounded by the deadline).
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stopping the broker does not wait for a client that does not read: with its socket full and a write
/// blocked, the stop takes well under `stuck_timeout` (here 10 minutes; it used to wait that long).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_reader_does_not_hold_up_a_shutdown() {
    let (_dir, h, stuck) = with_a_stuck_reader(Duration::from_secs(600)).await;
    let (p, _pinc, _) = connect(ConnectOptions::new(h.mqtt_addr().to_string(), "pub"))
        .await
        .unwrap();
    flood_until_full(&h, &p, "stuck", || {}).await;
    let s = h.sessions().await;
    assert!(
        s.iter().any(|s| s.client_id == "stuck" && s.online),
        "still connected, its write blocked: {s:?}"
    );
    tokio::time::timeout(Duration::from_secs(30), h.shutdown())
        .await
        .expect("the shutdown waited for the stuck reader");
    drop(stuck);
}
