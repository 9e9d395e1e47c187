//! OneNET's offline topic (spec §9, §13): a clean-session-0 device that is away gets, right after CONNACK,
//! the latest 10 messages of the last 2 days at their original QoS; a clean-session-1 login clears them;
//! wills never go to offline devices; the queue survives restarts.

mod common;

use std::time::Duration;

use common::dataplane::*;
use common::*;
use onenet_desk::ServiceHandle;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{ConnAck, Packet, QoS};

fn qos_of(i: usize) -> QoS {
    [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][i % 3]
}

/// 9278 with clean session 0 subscribes `/t` and leaves with DISCONNECT.
async fn subscribe_and_leave(h: &ServiceHandle, filter: &str) {
    let mut sub = Raw::device(h.mqtt_addr(), "9278", "def456", false).await;
    sub.send(&subscribe(1, &[(filter, QoS::AtMostOnce)])).await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    sub.send(&Packet::Disconnect).await;
    sub.closed().await;
    eventually("9278 offline", || async {
        h.sessions()
            .await
            .into_iter()
            .find(|s| s.client_id == "9278")
            .filter(|s| !s.online)
            .map(|_| ())
    })
    .await;
}

/// 9277 publishes `m{i}` to `topic` for each i, at `qos_of(i)`, completing each handshake.
async fn publish_many(h: &ServiceHandle, topic: &str, range: std::ops::RangeInclusive<usize>) {
    let mut p = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    for i in range {
        publish_acked(
            &mut p,
            publish(
                topic,
                format!("m{i}").as_bytes(),
                qos_of(i),
                i as u16,
                false,
            ),
        )
        .await;
    }
    p.send(&Packet::Disconnect).await;
    p.closed().await;
}

async fn wait_queued(h: &ServiceHandle, client: &str, n: usize) {
    eventually(&format!("{n} messages queued for {client}"), || async {
        (h.queue(client).await.len() == n).then_some(())
    })
    .await;
}

/// Logs 9278 in and returns the connection and Session Present.
async fn login_9278(h: &ServiceHandle, clean: bool) -> (Raw, bool) {
    let (r, ack) = Raw::login(
        h.mqtt_addr(),
        &connect_packet("9278", Some("339"), Some("def456"), clean, 120),
    )
    .await;
    match ack {
        Packet::ConnAck(ConnAck {
            session_present,
            code,
        }) => {
            assert_eq!(code as u8, 0);
            (r, session_present)
        }
        other => panic!("expected CONNACK first, got {other:?}"),
    }
}

fn texts(v: &[onenet_desk::mqtt::Publish]) -> Vec<(String, QoS)> {
    v.iter()
        .map(|p| {
            assert_eq!(p.topic.as_str(), "/t");
            (
                String::from_utf8(p.payload.to_vec()).unwrap(),
                p.qos_pid.qos(),
            )
        })
        .collect()
}

fn expected(range: std::ops::RangeInclusive<usize>) -> Vec<(String, QoS)> {
    range.map(|i| (format!("m{i}"), qos_of(i))).collect()
}

#[tokio::test]
async fn latest_10_in_order_at_their_original_qos_after_connack() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    subscribe_and_leave(&h, "/t").await;
    publish_many(&h, "/t", 1..=15).await;
    wait_queued(&h, "9278", 15).await;

    let (mut sub, present) = login_9278(&h, false).await;
    assert!(present);
    let got = take_publishes(&mut sub, 10).await;
    assert_eq!(texts(&got), expected(6..=15), "the latest 10, oldest first");
    assert!(got.iter().all(|p| !p.dup && !p.retain));
    assert_silent(&mut sub, "only 10 are replayed").await;
    let s = h.sessions().await;
    let me = s.iter().find(|s| s.client_id == "9278").unwrap();
    assert!(me.dropped >= 5, "dropped {}", me.dropped);
    // everything was acknowledged as its QoS requires: nothing is left waiting
    eventually("9278's queue to empty", || async {
        h.queue("9278").await.is_empty().then_some(())
    })
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn replayed_messages_are_not_replayed_again_at_the_next_login() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    subscribe_and_leave(&h, "/t").await;
    publish_many(&h, "/t", 1..=6).await;
    wait_queued(&h, "9278", 6).await;
    let (mut sub, _) = login_9278(&h, false).await;
    assert_eq!(texts(&take_publishes(&mut sub, 6).await), expected(1..=6));
    assert_silent(&mut sub, "first login").await;
    sub.send(&Packet::Disconnect).await;
    sub.closed().await;
    let (mut sub, present) = login_9278(&h, false).await;
    assert!(present);
    assert_silent(
        &mut sub,
        "second login: everything was received (QoS 0) or acknowledged (QoS 1/2)",
    )
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn messages_older_than_the_age_limit_are_dropped_at_login() {
    // The age is on the router's wall clock, so this socket test really waits it out: kept short
    // (100 ms), and it only checks that what aged is dropped at login. Which messages age, at the exact
    // boundary and next to fresh ones, is the router's virtual-time test
    // `offline_max_age_setting_drops_what_is_older_at_login`.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    cfg.onenet.offline_max_age = Duration::from_millis(100);
    let h = seeded_with(cfg).await;
    subscribe_and_leave(&h, "/t").await;
    publish_many(&h, "/t", 1..=3).await;
    wait_queued(&h, "9278", 3).await;
    let newest = h
        .queue("9278")
        .await
        .iter()
        .map(|q| q.queued_at)
        .max()
        .unwrap();
    eventually("the queued messages to age past 100 ms", || async {
        (now_ms() > newest + 110).then_some(())
    })
    .await;
    let (mut sub, present) = login_9278(&h, false).await;
    assert!(present, "the session itself is kept");
    assert_silent(&mut sub, "the aged ones").await;
    let s = h.sessions().await;
    assert_eq!(s.iter().find(|s| s.client_id == "9278").unwrap().dropped, 3);
    h.shutdown().await;
}

#[tokio::test]
async fn clean_session_1_login_clears_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    subscribe_and_leave(&h, "/t").await;
    publish_many(&h, "/t", 1..=4).await;
    wait_queued(&h, "9278", 4).await;
    let (mut sub, present) = login_9278(&h, true).await;
    assert!(!present);
    assert_silent(&mut sub, "clean session 1").await;
    assert!(h.queue("9278").await.is_empty());
    sub.send(&Packet::Disconnect).await;
    sub.closed().await;
    // the subscription went too: nothing is kept for 9278 any more
    let (mut sub, present) = login_9278(&h, false).await;
    assert!(!present);
    assert_silent(&mut sub, "clean session 0 after a clean-session-1 login").await;
    sub.send(&Packet::Disconnect).await;
    sub.closed().await;
    publish_many(&h, "/t", 5..=5).await;
    let (mut sub, _) = login_9278(&h, false).await;
    assert_silent(&mut sub, "not subscribed any more").await;
    h.shutdown().await;
}

#[tokio::test]
async fn wills_never_go_to_offline_subscribers() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    subscribe_and_leave(&h, "/will").await;
    let mut online = Raw::device(h.mqtt_addr(), "9279", "ghi789", true).await;
    online
        .send(&subscribe(1, &[("/will", QoS::AtLeastOnce)]))
        .await;
    assert!(matches!(online.recv().await, Packet::SubAck(_)));
    let (dying, ack) = Raw::login(
        h.mqtt_addr(),
        &with_will(
            connect_packet("9277", Some("339"), Some("abc123"), true, 120),
            "/will",
            "9277 lost",
            QoS::AtLeastOnce,
            false,
        ),
    )
    .await;
    assert!(matches!(ack, Packet::ConnAck(_)));
    drop(dying); // no DISCONNECT: the will is published
    let got = take_publishes(&mut online, 1).await;
    assert_eq!(
        got[0].payload.as_ref(),
        b"9277 lost",
        "online subscribers get it"
    );
    assert!(h.queue("9278").await.is_empty());
    let (mut sub, present) = login_9278(&h, false).await;
    assert!(present);
    assert_silent(&mut sub, "an offline subscriber never gets a will").await;
    h.shutdown().await;
}

#[tokio::test]
async fn the_offline_queue_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    subscribe_and_leave(&h, "/t").await;
    publish_many(&h, "/t", 1..=12).await;
    wait_queued(&h, "9278", 12).await;
    h.shutdown().await;

    let h = broker(dir.path(), Profile::OneNet).await;
    let (mut sub, present) = login_9278(&h, false).await;
    assert!(present);
    assert_eq!(texts(&take_publishes(&mut sub, 10).await), expected(3..=12));
    assert_silent(&mut sub, "only the latest 10").await;
    h.shutdown().await;
}
