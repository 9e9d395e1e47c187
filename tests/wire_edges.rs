//! Behaviour at the edges, checked where a device sees it (bytes over a real socket): no will on takeover
//! or kick, the offline cap per device across topics, datapoint-subscription deliveries of types 2, 4 and
//! 6 (with and without the default time), the 3 MiB type-2 limit, and the 1024-byte topic limit.

mod common;

use common::dataplane::*;
use common::*;
use onenet_desk::mqtt::{Packet, QoS, SubackCode};
use onenet_desk::onenet::datapoint::DpValue;
use onenet_desk::onenet::diagnostics::DiagKind;

/// 9279 watches `/will`; 9277 logs in with a will on it. Returns (watcher, 9277's connection).
async fn watcher_and_dying(h: &onenet_desk::ServiceHandle) -> (Raw, Raw) {
    let mut watcher = Raw::device(h.mqtt_addr(), "9279", "ghi789", true).await;
    assert_eq!(
        watcher.subscribe(&[("/will", QoS::AtLeastOnce)]).await,
        vec![SubackCode::Granted(QoS::AtLeastOnce)]
    );
    let (d, ack) = Raw::login(
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
    assert_eq!(connack(&ack), (0, false));
    (watcher, d)
}

#[tokio::test]
async fn no_will_on_takeover() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let (mut watcher, mut old) = watcher_and_dying(&h).await;
    // the same device logs in again: the old connection is closed, without its will
    let mut new = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    assert_eq!(old.closed().await, vec![], "taken over: closed, no packet");
    watcher.assert_silent("no will on takeover").await;
    // the will went with the old session: losing the new connection publishes nothing either
    new.assert_silent("the new session is quiet").await;
    drop(new);
    wait_online(&h, "9277", false).await;
    watcher
        .assert_silent("the new login had no will, so nothing is published")
        .await;
    // control: the same will does go out when the connection is lost
    let (mut watcher, d) = watcher_and_dying(&h).await;
    drop(d);
    let got = take_publishes(&mut watcher, 1).await;
    assert_eq!(got[0].payload.as_ref(), b"9277 lost");
    h.shutdown().await;
}

#[tokio::test]
async fn no_will_on_kick() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let (mut watcher, mut d) = watcher_and_dying(&h).await;
    assert!(h.kick("9277").await, "9277 was online");
    assert_eq!(d.closed().await, vec![], "kicked: closed, no packet");
    wait_online(&h, "9277", false).await;
    watcher.assert_silent("no will on kick").await;
    assert!(!h.kick("9277").await, "nobody to kick any more");
    h.shutdown().await;
}

#[tokio::test]
async fn the_offline_cap_counts_per_device_across_topics() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    // 9278 (clean session 0) subscribes two topics and leaves
    let mut sub = Raw::device(h.mqtt_addr(), "9278", "def456", false).await;
    sub.subscribe(&[("/a", QoS::AtLeastOnce), ("/b", QoS::AtLeastOnce)])
        .await;
    sub.send(&Packet::Disconnect).await;
    sub.closed().await;
    wait_online(&h, "9278", false).await;
    // 16 messages alternating between the two topics
    let mut p = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    for i in 1..=16u16 {
        let topic = if i % 2 == 0 { "/b" } else { "/a" };
        publish_acked(
            &mut p,
            publish(
                topic,
                format!("m{i}").as_bytes(),
                QoS::AtLeastOnce,
                i,
                false,
            ),
        )
        .await;
    }
    // at login: the latest 10 of the device, whatever their topic, oldest first
    let (mut sub, ack) = Raw::login(
        h.mqtt_addr(),
        &connect_packet("9278", Some("339"), Some("def456"), false, 120),
    )
    .await;
    assert_eq!(connack(&ack), (0, true));
    let got: Vec<(String, String)> = take_publishes(&mut sub, 10)
        .await
        .iter()
        .map(|p| {
            (
                p.topic.as_str().to_string(),
                String::from_utf8(p.payload.to_vec()).unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = (7..=16)
        .map(|i| {
            let t = if i % 2 == 0 { "/b" } else { "/a" };
            (t.to_string(), format!("m{i}"))
        })
        .collect();
    assert_eq!(got, want);
    sub.assert_silent("not 10 per topic: 10 per device").await;
    let me = h
        .sessions()
        .await
        .into_iter()
        .find(|s| s.client_id == "9278")
        .unwrap();
    assert_eq!(me.dropped, 6);
    h.shutdown().await;
}

/// (topic, payload bytes, QoS) of `n` deliveries.
async fn deliveries(r: &mut Raw, n: usize) -> Vec<(String, Vec<u8>, QoS)> {
    take_publishes(r, n)
        .await
        .iter()
        .map(|p| {
            assert!(!p.retain);
            (
                p.topic.as_str().to_string(),
                p.payload.to_vec(),
                p.qos_pid.qos(),
            )
        })
        .collect()
}

fn t(topic: &str, payload: &[u8], qos: QoS) -> (String, Vec<u8>, QoS) {
    (topic.to_string(), payload.to_vec(), qos)
}

#[tokio::test]
async fn datapoint_subscription_of_types_2_4_and_6() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut sub = Raw::device(h.mqtt_addr(), "9278", "def456", true).await;
    sub.subscribe(&[
        ("/9277/image", QoS::AtLeastOnce),
        ("/9277/temperature", QoS::AtLeastOnce),
        ("/9277/humidity", QoS::AtLeastOnce),
    ])
    .await;
    let mut dev = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    // type 2 (§6.2 example): the raw bytes, as uploaded
    publish_acked(
        &mut dev,
        dp(
            &hex("02 00 11 7B 22 64 73 5F 69 64 22 3A 22 69 6D 61 67 65 22 7D 00 00 00 04 DE AD BE EF"),
            QoS::AtLeastOnce,
            1,
        ),
    )
    .await;
    assert_eq!(
        deliveries(&mut sub, 1).await,
        vec![t(
            "/9277/image",
            &[0xDE, 0xAD, 0xBE, 0xEF],
            QoS::AtLeastOnce
        )]
    );
    // type 4 (§6.4 example) at QoS 0: the JSON value's text
    publish_acked(
        &mut dev,
        dp(
            &framed(4, r#"{"temperature":{"2015-03-22 22:31:12":22.5}}"#),
            QoS::AtMostOnce,
            0,
        ),
    )
    .await;
    assert_eq!(
        deliveries(&mut sub, 1).await,
        vec![t("/9277/temperature", b"22.5", QoS::AtMostOnce)]
    );
    // type 6 without time (§6.6): the raw strings
    publish_acked(
        &mut dev,
        dp(
            &framed(6, ",;temperature,22.5;humidity,87"),
            QoS::AtLeastOnce,
            2,
        ),
    )
    .await;
    assert_eq!(
        deliveries(&mut sub, 2).await,
        vec![
            t("/9277/temperature", b"22.5", QoS::AtLeastOnce),
            t("/9277/humidity", b"87", QoS::AtLeastOnce)
        ]
    );
    // type 6 with its default time (§6.6 example, 2016-03-22 22:31:12 at UTC+8) at QoS 2
    publish_acked(
        &mut dev,
        dp(
            &hex("86 10 03 16 16 1F 0C 00 1E 2C 3B 74 65 6D 70 65 72 61 74 75 72 65 2C 32 32 2E 35 3B 68 75 6D 69 64 69 74 79 2C 38 37"),
            QoS::ExactlyOnce,
            3,
        ),
    )
    .await;
    assert_eq!(
        deliveries(&mut sub, 2).await,
        vec![
            t("/9277/temperature", b"22.5", QoS::ExactlyOnce),
            t("/9277/humidity", b"87", QoS::ExactlyOnce)
        ]
    );
    // the type 6 default time is what was stored (2016-03-22 22:31:12 +08:00); without it, the arrival
    let mut six: Vec<_> = points(&h, "9277")
        .into_iter()
        .filter(|p| p.dp_type == 6)
        .map(|p| (p.stream, p.at == 1_458_657_072_000))
        .collect();
    six.sort();
    assert_eq!(
        six,
        [
            ("humidity".to_string(), false),
            ("humidity".to_string(), true),
            ("temperature".to_string(), false),
            ("temperature".to_string(), true)
        ]
    );
    sub.assert_silent("one delivery per datapoint").await;
    h.shutdown().await;
}

#[tokio::test]
async fn type_6_with_time_in_the_json_subscription_form() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), onenet_desk::config::Profile::OneNet);
    cfg.onenet.dp_subscription_json = true;
    let h = seeded_with(cfg).await;
    let mut sub = Raw::device(h.mqtt_addr(), "9278", "def456", true).await;
    sub.subscribe(&[("/9277/humidity", QoS::AtMostOnce)]).await;
    let mut dev = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    publish_acked(
        &mut dev,
        dp(
            &hex("86 10 03 16 16 1F 0C 00 1E 2C 3B 74 65 6D 70 65 72 61 74 75 72 65 2C 32 32 2E 35 3B 68 75 6D 69 64 69 74 79 2C 38 37"),
            QoS::AtLeastOnce,
            1,
        ),
    )
    .await;
    let got = take_publishes(&mut sub, 1).await;
    assert_eq!(
        std::str::from_utf8(&got[0].payload).unwrap(),
        r#"{"ds_id":"humidity","at":"2016-03-22 22:31:12","value":"87"}"#
    );
    h.shutdown().await;
}

#[tokio::test]
async fn type_2_binary_limit_is_3_mib_over_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut dev = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let type2 = |len: usize| {
        let desc = br#"{"ds_id":"pic"}"#;
        let mut p = vec![0x02, 0x00, desc.len() as u8];
        p.extend_from_slice(desc);
        p.extend_from_slice(&(len as u32).to_be_bytes());
        p.extend((0..len).map(|i| (i % 251) as u8));
        p
    };
    const MIB3: usize = 3 * 1024 * 1024;
    // exactly 3 MiB: stored, byte for byte
    publish_acked(&mut dev, dp(&type2(MIB3), QoS::AtLeastOnce, 1)).await;
    let stored = points(&h, "9277");
    assert_eq!(stored.len(), 1);
    let DpValue::Binary { data, .. } = &stored[0].value else {
        panic!("not binary: {:?}", stored[0].value)
    };
    assert_eq!(data.len(), MIB3);
    assert!(data.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    // one byte more: refused with code 72 naming the limit, nothing stored, the connection stays
    dev.send(&dp(&type2(MIB3 + 1), QoS::AtLeastOnce, 2)).await;
    assert_eq!(dev.recv().await, Packet::PubAck(pid(2)));
    let bad = wait_diags(&h, "9277", DiagKind::BadDp, 1).await;
    assert!(bad[0].message.contains("72"), "{}", bad[0].message);
    assert!(
        bad[0].message.contains(&MIB3.to_string()) || bad[0].message.contains("3 MiB"),
        "names the limit: {}",
        bad[0].message
    );
    assert_eq!(points(&h, "9277").len(), 1, "nothing more stored");
    ping(&mut dev).await;
    h.shutdown().await;
}

#[tokio::test]
async fn topics_up_to_1024_bytes_over_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let longest = format!("/{}", "a".repeat(1023));
    let too_long = format!("/{}", "a".repeat(1024));
    assert_eq!((longest.len(), too_long.len()), (1024, 1025));
    let mut sub = Raw::device(h.mqtt_addr(), "9278", "def456", true).await;
    assert_eq!(
        sub.subscribe(&[
            (longest.as_str(), QoS::AtLeastOnce),
            (too_long.as_str(), QoS::AtLeastOnce)
        ])
        .await,
        vec![SubackCode::Granted(QoS::AtLeastOnce), SubackCode::Failure]
    );
    let mut p = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    publish_acked(
        &mut p,
        publish(&longest, b"at the limit", QoS::AtLeastOnce, 1, false),
    )
    .await;
    let got = take_publishes(&mut sub, 1).await;
    assert_eq!(got[0].topic.as_str(), longest);
    assert_eq!(got[0].payload.as_ref(), b"at the limit");
    // a publish to the refused filter's topic reaches nobody
    publish_acked(
        &mut p,
        publish(&too_long, b"over", QoS::AtLeastOnce, 2, false),
    )
    .await;
    sub.assert_silent("the 1025-byte filter was refused").await;
    h.shutdown().await;
}
