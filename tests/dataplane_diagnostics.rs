//! Conformance diagnostics (spec §13): what the real platform would treat differently is recorded per
//! device, with its spec section, without changing what the broker does; `sessions()` counts them.

mod common;

use common::dataplane::*;
use common::*;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS, SubackCode};
use onenet_desk::onenet::datapoint::DpValue;
use onenet_desk::onenet::diagnostics::DiagKind;

async fn warnings(h: &onenet_desk::ServiceHandle, client: &str) -> u64 {
    h.sessions()
        .await
        .into_iter()
        .find(|s| s.client_id == client)
        .map(|s| s.warnings)
        .unwrap_or_else(|| panic!("no session {client}"))
}

#[tokio::test]
async fn keepalive_outside_120_to_1200_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let addr = h.mqtt_addr();
    let mut open = Vec::new();
    for (id, auth, ka) in [
        ("9277", "abc123", 30),
        ("9278", "def456", 1200),
        ("9279", "ghi789", 120),
    ] {
        let (r, ack) =
            Raw::login(addr, &connect_packet(id, Some("339"), Some(auth), true, ka)).await;
        assert!(
            matches!(ack, Packet::ConnAck(a) if a.code as u8 == 0),
            "keepalive {ka} is accepted"
        );
        open.push(r); // online until the end of the test
    }
    let v = wait_diags(&h, "9277", DiagKind::KeepAlive, 1).await;
    assert!(v[0].message.contains("30"), "{}", v[0].message);
    assert_eq!(v[0].section, "§3.2");
    assert_eq!(warnings(&h, "9277").await, 1);
    assert!(
        h.diagnostics("9278").await.is_empty(),
        "1200 is within the range"
    );
    assert!(
        h.diagnostics("9279").await.is_empty(),
        "120 is within the range"
    );
    assert_eq!(warnings(&h, "9278").await, 0);
    h.shutdown().await;
}

#[tokio::test]
async fn each_conformance_problem_is_recorded_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;

    // SUBSCRIBE 0x80 and UNSUBSCRIBE 0xA0 (the official SDK, §14): accepted, ReservedFlags ×2
    d.send_bytes(&hex(
        "80 10 00 0B 00 0B 2F 74 6F 70 69 63 5F 74 65 73 74 01",
    ))
    .await;
    assert_eq!(
        d.suback().await,
        vec![SubackCode::Granted(QoS::AtLeastOnce)]
    );
    d.send_bytes(&hex("A0 0F 00 0C 00 0B 2F 74 6F 70 69 63 5F 74 65 73 74"))
        .await;
    assert_eq!(d.recv().await, Packet::UnsubAck(pid(12)));
    // PUBREL 0x60: accepted, PubRelFlags
    d.send(&publish("/q", b"x", QoS::ExactlyOnce, 5, false))
        .await;
    assert_eq!(d.recv().await, Packet::PubRec(pid(5)));
    d.send_bytes(&[0x60, 0x02, 0x00, 0x05]).await;
    assert_eq!(
        d.recv().await.to_bytes().unwrap().as_ref(),
        &[0x70, 0x02, 0x00, 0x05]
    );
    // $ and wildcard filters: 0x80 each, ReservedOrWildcardFilter ×3; the good one is granted
    d.send(&subscribe(
        2,
        &[
            ("$creq/x", QoS::AtMostOnce),
            ("/a/+", QoS::AtMostOnce),
            ("/ok", QoS::AtMostOnce),
            ("#", QoS::AtMostOnce),
        ],
    ))
    .await;
    assert_eq!(
        d.suback().await,
        vec![
            SubackCode::Failure,
            SubackCode::Failure,
            SubackCode::Granted(QoS::AtMostOnce),
            SubackCode::Failure
        ]
    );
    // PUBLISH to $creq/x: acked, not routed, ReservedPublish
    d.send(&publish("$creq/x", b"x", QoS::AtLeastOnce, 6, false))
        .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(6)));
    // a space in a topic: TopicCharset for the PUBLISH and for the SUBSCRIBE (refused)
    d.send(&publish("/a b", b"x", QoS::AtLeastOnce, 7, false))
        .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(7)));
    d.send(&subscribe(3, &[("a b", QoS::AtMostOnce)])).await;
    assert_eq!(d.suback().await, vec![SubackCode::Failure]);
    // 101 subscriptions (one is held already: /ok): the 101st gets 0x80, TooManySubscriptions
    let names: Vec<String> = (0..100).map(|i| format!("/s{i}")).collect();
    let filters: Vec<(&str, QoS)> = names
        .iter()
        .map(|n| (n.as_str(), QoS::AtMostOnce))
        .collect();
    d.send(&subscribe(4, &filters)).await;
    let codes = d.suback().await;
    assert!(
        codes[..99]
            .iter()
            .all(|c| *c == SubackCode::Granted(QoS::AtMostOnce))
    );
    assert_eq!(codes[99], SubackCode::Failure);

    let want = [
        (DiagKind::ReservedFlags, 2, "§4"),
        (DiagKind::PubRelFlags, 1, "§4"),
        (DiagKind::ReservedOrWildcardFilter, 3, "§8.1"),
        (DiagKind::ReservedPublish, 1, "§8.1"),
        (DiagKind::TopicCharset, 2, "§8.1"),
        (DiagKind::TooManySubscriptions, 1, "§8.1"),
    ];
    let total: usize = want.iter().map(|w| w.1).sum();
    eventually("all diagnostics", || async {
        (h.diagnostics("9277").await.len() >= total).then_some(())
    })
    .await;
    for (kind, n, section) in want {
        let v = diags_of(&h, "9277", kind).await;
        assert_eq!(v.len(), n, "{kind:?}: {v:?}");
        assert!(
            v.iter().all(|d| d.section == section && d.device == "9277"),
            "{v:?}"
        );
    }
    assert_eq!(h.diagnostics("9277").await.len(), total, "nothing else");
    assert_eq!(warnings(&h, "9277").await, total as u64);
    let reserved = diags_of(&h, "9277", DiagKind::ReservedPublish).await;
    assert!(
        reserved[0].message.contains("$creq/x"),
        "{}",
        reserved[0].message
    );
    h.shutdown().await;
}

#[tokio::test]
async fn retain_on_dp_stores_the_datapoints_and_retains_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    d.send(&publish(
        "$dp",
        &framed(3, r#"{"temperature":22.5}"#),
        QoS::AtLeastOnce,
        1,
        true,
    ))
    .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(1)));
    let p = points(&h, "9277");
    assert_eq!(p.len(), 1, "stored");
    assert_eq!(p[0].value, DpValue::Json(serde_json::json!(22.5)));
    assert!(h.retained().await.is_empty(), "never kept as retained");
    let v = wait_diags(&h, "9277", DiagKind::RetainOnDp, 1).await;
    assert_eq!(v[0].section, "§6");
    assert_eq!(warnings(&h, "9277").await, 1);
    h.shutdown().await;
}

/// CONNECT and a second packet in one TCP segment, as a client that does not wait for CONNACK sends them.
fn connect_then(second: &Packet, client: &str, user: Option<&str>, pass: Option<&str>) -> Vec<u8> {
    let mut b = connect_packet(client, user, pass, true, 120)
        .to_bytes()
        .unwrap()
        .to_vec();
    b.extend_from_slice(&second.to_bytes().unwrap());
    b
}

#[tokio::test]
async fn onenet_drops_a_packet_sent_before_connack_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut d = Raw::connect(h.mqtt_addr()).await;
    d.send_bytes(&connect_then(
        &subscribe(1, &[("/early", QoS::AtMostOnce)]),
        "9277",
        Some("339"),
        Some("abc123"),
    ))
    .await;
    assert!(matches!(d.recv().await, Packet::ConnAck(_)));
    // §3.2: "服务器会直接丢弃报文" — the SUBSCRIBE is dropped (no SUBACK, ever) and recorded
    let v = wait_diags(&h, "9277", DiagKind::BeforeConnAck, 1).await;
    assert!(v[0].message.contains("SUBSCRIBE"), "{}", v[0].message);
    ping(&mut d).await;
    assert_silent(&mut d, "a dropped SUBSCRIBE gets no SUBACK").await;
    let s = h.sessions().await;
    assert!(
        s.iter()
            .find(|s| s.client_id == "9277")
            .unwrap()
            .subscriptions
            .is_empty(),
        "not subscribed"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn mqtt_profile_processes_a_publish_pipelined_with_connect() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::Mqtt).await;
    let mut c = Raw::connect(h.mqtt_addr()).await;
    c.send_bytes(&connect_then(
        &publish("/early", b"x", QoS::AtLeastOnce, 1, false),
        "pipelined",
        None,
        None,
    ))
    .await;
    assert!(matches!(c.recv().await, Packet::ConnAck(_)));
    // MQTT 3.1.1 §3.1.4: the client may send further packets without waiting for CONNACK
    assert_eq!(
        c.try_recv(std::time::Duration::from_secs(2)).await,
        Some(Packet::PubAck(pid(1))),
        "the PUBLISH that came in the same segment as CONNECT is answered without more input"
    );
    h.shutdown().await;
}
