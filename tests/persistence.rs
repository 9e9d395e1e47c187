//! What survives: persistent sessions (subscriptions and owed QoS 1 deliveries) and retained messages
//! across broker restarts on the same data dir; clean session 1 discards; redelivery with DUP.

mod common;

use common::*;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{ConnAck, Packet, QoS};

fn session_present(p: &Packet) -> bool {
    match p {
        Packet::ConnAck(ConnAck {
            session_present,
            code,
        }) => {
            assert_eq!(*code as u8, 0);
            *session_present
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

#[tokio::test]
async fn persistent_session_and_queued_qos1_survive_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    // 9278 subscribes with clean session 0, then goes away.
    let (mut sub, ack) = Raw::login(
        h.mqtt_addr(),
        &connect_packet("9278", Some("339"), Some("def456"), false, 120),
    )
    .await;
    assert!(!session_present(&ack));
    sub.send(&subscribe(1, &[("/cmd", QoS::AtLeastOnce)])).await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    sub.send(&Packet::Disconnect).await;
    sub.closed().await;
    h.shutdown().await;

    // Restart 1: the subscription is still there; a QoS 1 message is PUBACKed while 9278 is offline.
    let h = broker(dir.path(), Profile::OneNet).await;
    let mut publisher = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    publisher
        .send(&publish(
            "/cmd",
            b"while you were away",
            QoS::AtLeastOnce,
            3,
            false,
        ))
        .await;
    assert_eq!(publisher.recv().await, Packet::PubAck(pid(3)));
    drop(publisher);
    h.shutdown().await;

    // Restart 2: the acknowledged message was on disk; 9278 resumes and receives it.
    let h = broker(dir.path(), Profile::OneNet).await;
    let (mut sub, ack) = Raw::login(
        h.mqtt_addr(),
        &connect_packet("9278", Some("339"), Some("def456"), false, 120),
    )
    .await;
    assert!(session_present(&ack));
    let Packet::Publish(p) = sub.recv().await else {
        panic!("expected the queued PUBLISH")
    };
    assert_eq!(p.topic.as_str(), "/cmd");
    assert_eq!(p.payload.as_ref(), b"while you were away");
    assert_eq!(p.qos_pid.qos(), QoS::AtLeastOnce);
    sub.send(&Packet::PubAck(p.qos_pid.pid().unwrap())).await;
    h.flush().await;
    sub.send(&Packet::Disconnect).await;
    sub.closed().await;
    h.shutdown().await;

    // Restart 3: acknowledged by the subscriber, so not delivered again.
    let h = broker(dir.path(), Profile::OneNet).await;
    let (mut sub, ack) = Raw::login(
        h.mqtt_addr(),
        &connect_packet("9278", Some("339"), Some("def456"), false, 120),
    )
    .await;
    assert!(session_present(&ack));
    sub.assert_silent("nothing owed after login").await;
    h.shutdown().await;
}

#[tokio::test]
async fn unacknowledged_delivery_is_resent_with_dup_and_the_same_packet_id() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let addr = h.mqtt_addr();
    let (mut sub, _) = Raw::login(
        addr,
        &connect_packet("9278", Some("339"), Some("def456"), false, 120),
    )
    .await;
    sub.send(&subscribe(1, &[("/x", QoS::AtLeastOnce)])).await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    let mut publisher = Raw::device(addr, "9277", "abc123", true).await;
    publisher
        .send(&publish("/x", b"m", QoS::AtLeastOnce, 1, false))
        .await;
    assert_eq!(publisher.recv().await, Packet::PubAck(pid(1)));
    let Packet::Publish(first) = sub.recv().await else {
        panic!()
    };
    assert!(!first.dup);
    drop(sub); // no PUBACK
    let (mut sub, ack) = Raw::login(
        addr,
        &connect_packet("9278", Some("339"), Some("def456"), false, 120),
    )
    .await;
    assert!(session_present(&ack));
    let Packet::Publish(again) = sub.recv().await else {
        panic!()
    };
    assert!(again.dup, "redelivery carries DUP=1");
    assert_eq!(again.qos_pid.pid(), first.qos_pid.pid());
    assert_eq!(again.payload, first.payload);
    h.shutdown().await;
}

#[tokio::test]
async fn clean_session_1_discards_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let addr = h.mqtt_addr();
    let (mut sub, _) = Raw::login(
        addr,
        &connect_packet("9278", Some("339"), Some("def456"), false, 120),
    )
    .await;
    sub.send(&subscribe(1, &[("/x", QoS::AtLeastOnce)])).await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    sub.send(&Packet::Disconnect).await;
    sub.closed().await;
    let mut publisher = Raw::device(addr, "9277", "abc123", true).await;
    publisher
        .send(&publish("/x", b"m", QoS::AtLeastOnce, 1, false))
        .await;
    assert_eq!(publisher.recv().await, Packet::PubAck(pid(1)));
    // clean session 1: no session present, nothing delivered, subscriptions gone
    let (mut sub, ack) = Raw::login(
        addr,
        &connect_packet("9278", Some("339"), Some("def456"), true, 120),
    )
    .await;
    assert!(!session_present(&ack));
    sub.assert_silent("nothing owed after login").await;
    sub.send(&Packet::Disconnect).await;
    sub.closed().await;
    h.shutdown().await;
    let h = broker(dir.path(), Profile::OneNet).await;
    assert!(
        h.sessions().await.is_empty(),
        "nothing persisted for a clean session"
    );
    let (_sub, ack) = Raw::login(
        h.mqtt_addr(),
        &connect_packet("9278", Some("339"), Some("def456"), false, 120),
    )
    .await;
    assert!(!session_present(&ack));
    h.shutdown().await;
}

#[tokio::test]
async fn retained_messages_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut publisher = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    publisher
        .send(&publish("/cfg", b"kept", QoS::AtLeastOnce, 1, true))
        .await;
    assert_eq!(publisher.recv().await, Packet::PubAck(pid(1)));
    h.shutdown().await;
    let h = broker(dir.path(), Profile::OneNet).await;
    let mut sub = Raw::device(h.mqtt_addr(), "9278", "def456", true).await;
    sub.send(&subscribe(1, &[("/cfg", QoS::AtMostOnce)])).await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    let Packet::Publish(p) = sub.recv().await else {
        panic!()
    };
    assert_eq!(p.payload.as_ref(), b"kept");
    assert!(p.retain);
    h.shutdown().await;
}

/// A QoS 2 delivery the subscriber has PUBREC'd is owed only PUBREL (MQTT 3.1.1 §4.3.3): after a
/// restart PUBREL is what comes again, not the PUBLISH, and neither the session in memory nor its row on
/// disk keeps the payload meanwhile.
#[tokio::test]
async fn a_released_qos2_delivery_comes_back_as_pubrel_and_keeps_no_payload() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let addr = h.mqtt_addr();
    let login = connect_packet("9278", Some("339"), Some("def456"), false, 120);
    let (mut sub, _) = Raw::login(addr, &login).await;
    sub.send(&subscribe(1, &[("/q", QoS::ExactlyOnce)])).await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    let mut publisher = Raw::device(addr, "9277", "abc123", true).await;
    publisher
        .send(&publish("/q", &[b'p'; 4_000], QoS::ExactlyOnce, 5, false))
        .await;
    assert_eq!(publisher.recv().await, Packet::PubRec(pid(5)));
    publisher.send(&Packet::PubRel(pid(5))).await;
    assert_eq!(publisher.recv().await, Packet::PubComp(pid(5)));
    let Packet::Publish(p) = sub.recv().await else {
        panic!("expected the PUBLISH")
    };
    let id = p.qos_pid.pid().unwrap();
    assert_eq!(p.payload.len(), 4_000);
    let held = |h: &onenet_desk::ServiceHandle| {
        let h = h.clone();
        async move {
            let s = h.sessions().await;
            let s = s.iter().find(|s| s.client_id == "9278").unwrap();
            (s.inflight, s.held_bytes)
        }
    };
    assert_eq!(held(&h).await, (1, 4_000));
    sub.send(&Packet::PubRec(id)).await;
    assert_eq!(sub.recv().await, Packet::PubRel(id));
    // No PUBCOMP: the delivery stays in flight, without its payload.
    assert_eq!(held(&h).await, (1, 0));
    h.flush().await;
    let db = rusqlite::Connection::open(dir.path().join("onenet-desk.sqlite3")).unwrap();
    let (released, len): (i64, i64) = db
        .query_row(
            "SELECT released, length(payload) FROM session_queue WHERE client_id = '9278'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((released, len), (1, 0));
    drop(db);
    drop(sub);
    h.shutdown().await;

    let h = broker(dir.path(), Profile::OneNet).await;
    let (mut sub, _) = Raw::login(h.mqtt_addr(), &login).await;
    assert_eq!(
        sub.recv().await,
        Packet::PubRel(id),
        "PUBREL, not the PUBLISH"
    );
    assert_eq!(held(&h).await, (1, 0));
    sub.send(&Packet::PubComp(id)).await;
    sub.assert_silent("nothing more owed").await;
    assert_eq!(held(&h).await, (0, 0));
    h.shutdown().await;
}

/// Retained messages are bounded (`limits.max_retained_messages`): one past the bound is acknowledged
/// and delivered to whoever subscribes now, but not kept, in memory or on disk; the publisher hears why
/// in its diagnostics and the metrics count it.
#[tokio::test]
async fn a_retained_message_past_the_bound_is_delivered_but_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::Mqtt);
    cfg.limits.max_retained_messages = 1;
    let h = onenet_desk::start(cfg.clone()).await.unwrap();
    let login = |id: &str| connect_packet(id, None, None, true, 60);
    let (mut watcher, _) = Raw::login(h.mqtt_addr(), &login("watcher")).await;
    watcher.subscribe(&[("lab/#", QoS::AtLeastOnce)]).await;
    let (mut dev, _) = Raw::login(h.mqtt_addr(), &login("dev")).await;
    for (i, topic) in [(1, "lab/a"), (2, "lab/b")] {
        dev.send(&publish(topic, b"on", QoS::AtLeastOnce, i, true))
            .await;
        assert_eq!(dev.recv().await, Packet::PubAck(pid(i)));
        let Packet::Publish(p) = watcher.recv().await else {
            panic!("expected {topic}")
        };
        assert_eq!(p.topic.as_str(), topic, "delivered either way");
        watcher
            .send(&Packet::PubAck(p.qos_pid.pid().unwrap()))
            .await;
    }
    let kept: Vec<String> = h.retained().await.into_iter().map(|r| r.topic).collect();
    assert_eq!(kept, vec!["lab/a"]);
    assert_eq!(h.metrics().retained_refused, 1);
    let d = h.diagnostics("dev").await;
    assert!(
        d.iter()
            .any(|d| d.message.contains("'lab/b' was delivered but not kept")),
        "{d:?}"
    );
    h.shutdown().await;

    let h = onenet_desk::start(cfg).await.unwrap();
    let kept: Vec<String> = h.retained().await.into_iter().map(|r| r.topic).collect();
    assert_eq!(kept, vec!["lab/a"], "nor on disk");
    h.shutdown().await;
}
