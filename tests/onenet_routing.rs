//! Routing in the `onenet` profile over raw bytes: the SDK's SUBSCRIBE 0x80, refused filters, delivery at
//! the publisher's QoS, product isolation, QoS 2 exactly once, the PUBREL timeout, retained messages.

mod common;

use std::time::Duration;

use common::*;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS, SubackCode};
use onenet_desk::onenet::datapoint::DpValue;

#[tokio::test]
async fn official_sdk_subscribe_0x80_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut r = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    // Spec §14: SUBSCRIBE "/topic_test" QoS 1 with fixed header 0x80 (reserved flags 0000).
    r.send_bytes(&[
        0x80, 0x10, 0x00, 0x0B, 0x00, 0x0B, 0x2F, 0x74, 0x6F, 0x70, 0x69, 0x63, 0x5F, 0x74, 0x65,
        0x73, 0x74, 0x01,
    ])
    .await;
    let ack = r.recv().await;
    assert_eq!(
        ack.to_bytes().unwrap().as_ref(),
        &[0x90, 0x03, 0x00, 0x0B, 0x01]
    );
    // and the SDK's 0xA0 UNSUBSCRIBE
    r.send_bytes(&[
        0xA0, 0x0F, 0x00, 0x0C, 0x00, 0x0B, 0x2F, 0x74, 0x6F, 0x70, 0x69, 0x63, 0x5F, 0x74, 0x65,
        0x73, 0x74,
    ])
    .await;
    assert_eq!(
        r.recv().await.to_bytes().unwrap().as_ref(),
        &[0xB0, 0x02, 0x00, 0x0C]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn wildcards_dollar_topics_and_bad_charset_get_0x80_the_rest_is_granted() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut r = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    r.send(&subscribe(
        2,
        &[
            ("a/+", QoS::AtMostOnce),
            ("/ok", QoS::ExactlyOnce),
            ("#", QoS::AtMostOnce),
            ("$creq/x", QoS::AtMostOnce),
            ("bad topic", QoS::AtMostOnce),
        ],
    ))
    .await;
    assert_eq!(
        r.suback().await,
        vec![
            SubackCode::Failure,
            SubackCode::Granted(QoS::ExactlyOnce),
            SubackCode::Failure,
            SubackCode::Failure,
            SubackCode::Failure
        ]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn at_most_100_subscriptions_per_client() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut r = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let names: Vec<String> = (0..101).map(|i| format!("/t{i}")).collect();
    let filters: Vec<(&str, QoS)> = names
        .iter()
        .map(|n| (n.as_str(), QoS::AtMostOnce))
        .collect();
    r.send(&subscribe(3, &filters)).await;
    let codes = r.suback().await;
    assert_eq!(codes.len(), 101);
    assert!(
        codes[..100]
            .iter()
            .all(|c| *c == SubackCode::Granted(QoS::AtMostOnce))
    );
    assert_eq!(codes[100], SubackCode::Failure);
    // re-subscribing to an existing filter is not a new one
    r.send(&subscribe(4, &[("/t0", QoS::AtLeastOnce)])).await;
    assert_eq!(
        r.suback().await,
        vec![SubackCode::Granted(QoS::AtLeastOnce)]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn delivery_is_at_the_publishers_qos_and_stays_within_the_product() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let addr = h.mqtt_addr();
    let mut sub = Raw::device(addr, "9278", "def456", true).await;
    sub.send(&subscribe(1, &[("/topic_test", QoS::AtMostOnce)]))
        .await;
    sub.suback().await;
    let (mut other, _) = Raw::login(
        addr,
        &connect_packet("5", Some("400"), Some("x"), true, 120),
    )
    .await;
    other
        .send(&subscribe(1, &[("/topic_test", QoS::AtMostOnce)]))
        .await;
    other.suback().await;

    let mut publisher = Raw::device(addr, "9277", "abc123", true).await;
    // Spec §14 capture: "hi" to /topic_test at QoS 1, pid 5.
    publisher
        .send_bytes(&[
            0x32, 0x11, 0x00, 0x0B, 0x2F, 0x74, 0x6F, 0x70, 0x69, 0x63, 0x5F, 0x74, 0x65, 0x73,
            0x74, 0x00, 0x05, 0x68, 0x69,
        ])
        .await;
    assert_eq!(
        publisher.recv().await.to_bytes().unwrap().as_ref(),
        &[0x40, 0x02, 0x00, 0x05]
    );
    match sub.recv().await {
        Packet::Publish(p) => {
            assert_eq!(p.payload.as_ref(), b"hi");
            assert_eq!(
                p.qos_pid.qos(),
                QoS::AtLeastOnce,
                "OneNET delivers at the publisher's QoS"
            );
            assert!(!p.retain);
            sub.send(&Packet::PubAck(p.qos_pid.pid().unwrap())).await;
        }
        other => panic!("expected PUBLISH, got {other:?}"),
    }
    other
        .assert_silent("product 400 must not see product 339's topic")
        .await;
    h.shutdown().await;
}

#[tokio::test]
async fn qos2_is_delivered_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let addr = h.mqtt_addr();
    let mut sub = Raw::device(addr, "9278", "def456", true).await;
    sub.send(&subscribe(1, &[("/q2", QoS::ExactlyOnce)])).await;
    sub.suback().await;
    let mut publisher = Raw::device(addr, "9277", "abc123", true).await;
    publisher
        .send(&publish("/q2", b"once", QoS::ExactlyOnce, 7, false))
        .await;
    assert_eq!(publisher.recv().await, Packet::PubRec(pid(7)));
    // the device did not see PUBREC and sends the PUBLISH again with DUP: same message
    let Packet::Publish(mut again) = publish("/q2", b"once", QoS::ExactlyOnce, 7, false) else {
        unreachable!()
    };
    again.dup = true;
    publisher.send(&Packet::Publish(again)).await;
    assert_eq!(publisher.recv().await, Packet::PubRec(pid(7)));
    // nothing is forwarded before PUBREL (OneNET forwards after PUBCOMP, spec §5)
    sub.assert_silent("before PUBREL").await;
    publisher.send(&Packet::PubRel(pid(7))).await;
    assert_eq!(publisher.recv().await, Packet::PubComp(pid(7)));
    let Packet::Publish(p) = sub.recv().await else {
        panic!("expected PUBLISH")
    };
    assert_eq!(p.payload.as_ref(), b"once");
    assert_eq!(p.qos_pid.qos(), QoS::ExactlyOnce);
    let id = p.qos_pid.pid().unwrap();
    sub.send(&Packet::PubRec(id)).await;
    assert_eq!(sub.recv().await, Packet::PubRel(id));
    sub.send(&Packet::PubComp(id)).await;
    // a PUBREL repeated by the publisher is answered, and nothing is delivered twice
    publisher.send(&Packet::PubRel(pid(7))).await;
    assert_eq!(publisher.recv().await, Packet::PubComp(pid(7)));
    sub.assert_silent("a repeated PUBREL delivers nothing")
        .await;
    h.shutdown().await;
}

#[tokio::test]
async fn missing_pubrel_disconnects_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    cfg.limits.pubrel_timeout = Duration::from_secs(5);
    let h = seeded_with(cfg).await;
    let mut publisher = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    publisher
        .send(&publish("/q2", b"x", QoS::ExactlyOnce, 1, false))
        .await;
    // The PUBREC follows the store's commit (real time: it waits for the writer thread) ...
    assert_eq!(publisher.recv().await, Packet::PubRec(pid(1)));
    // ... and the PUBREL timeout runs from it, in paused time: the runtime jumps to the deadline.
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    assert_eq!(publisher.closed().await, vec![]);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(4900) && waited < Duration::from_millis(5010),
        "closed {waited:?} after the PUBREC"
    );
    tokio::time::resume();
    h.shutdown().await;
}

#[tokio::test]
async fn retained_goes_at_requested_qos_with_retain_flag_and_empty_payload_clears() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let addr = h.mqtt_addr();
    let mut publisher = Raw::device(addr, "9277", "abc123", true).await;
    publisher
        .send(&publish("/cfg", b"v1", QoS::AtMostOnce, 0, true))
        .await;
    publisher
        .send(&publish("/cfg", b"v2", QoS::AtMostOnce, 0, true))
        .await;
    eventually("retained", || async {
        h.retained()
            .await
            .first()
            .filter(|r| r.payload.as_ref() == b"v2")
            .map(|_| ())
    })
    .await;
    let mut sub = Raw::device(addr, "9278", "def456", true).await;
    sub.send(&subscribe(1, &[("/cfg", QoS::AtLeastOnce)])).await;
    sub.suback().await;
    let Packet::Publish(p) = sub.recv().await else {
        panic!("expected retained PUBLISH")
    };
    assert_eq!(p.payload.as_ref(), b"v2");
    assert!(p.retain, "retained delivery carries RETAIN=1");
    assert_eq!(
        p.qos_pid.qos(),
        QoS::AtLeastOnce,
        "at the subscriber's requested QoS"
    );
    sub.send(&Packet::PubAck(p.qos_pid.pid().unwrap())).await;
    // empty retained payload clears
    publisher
        .send(&publish("/cfg", b"", QoS::AtMostOnce, 0, true))
        .await;
    eventually("cleared", || async {
        h.retained().await.is_empty().then_some(())
    })
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn retain_flag_can_be_turned_off_for_sdk_firmware() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    cfg.onenet.retain_flag_on_delivery = false;
    let h = seeded_with(cfg).await;
    let mut publisher = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    publisher
        .send(&publish("/cfg", b"v", QoS::AtLeastOnce, 1, true))
        .await;
    assert_eq!(publisher.recv().await, Packet::PubAck(pid(1)));
    let mut sub = Raw::device(h.mqtt_addr(), "9278", "def456", true).await;
    sub.send(&subscribe(1, &[("/cfg", QoS::AtMostOnce)])).await;
    sub.suback().await;
    let Packet::Publish(p) = sub.recv().await else {
        panic!("expected PUBLISH")
    };
    assert!(!p.retain);
    h.shutdown().await;
}

#[tokio::test]
async fn dollar_dp_is_acknowledged_stored_and_not_routed() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    // Another device of the product listens on every topic a `$dp` upload could leak to: `$dp` itself
    // (refused or not, it must never deliver), look-alikes, and its datapoint topic (a type 7 stream "0").
    let mut sub = Raw::device(h.mqtt_addr(), "9278", "def456", true).await;
    let codes = sub
        .subscribe(&[
            ("$dp", QoS::AtMostOnce),
            ("dp", QoS::AtMostOnce),
            ("/$dp", QoS::AtMostOnce),
            ("/9277/$dp", QoS::AtMostOnce),
        ])
        .await;
    assert_eq!(codes.len(), 4);
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    // Spec §14: type 7 at QoS 1, pid 7.
    d.send_bytes(&[
        0x32, 0x1A, 0x00, 0x03, 0x24, 0x64, 0x70, 0x00, 0x07, 0x87, 0x1A, 0x0B, 0x19, 0x13, 0x25,
        0x33, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x08, 0x42, 0x66, 0x66, 0xA2, 0xC1,
    ])
    .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(7)));
    // stored: ds_id 0 with 34.0 and -20.3 at 2026-11-25 19:37:51 UTC+8, both from this one upload
    let stored = common::dataplane::points(&h, "9277");
    let got: Vec<_> = stored
        .iter()
        .map(|p| (p.stream.as_str(), p.value.clone(), p.at))
        .collect();
    assert_eq!(
        got,
        vec![
            ("0", DpValue::Float(34.0), 1_795_606_671_000),
            ("0", DpValue::Float(-20.3), 1_795_606_671_000)
        ]
    );
    // not routed as a message: no subscriber got it, nothing retained, no offline copy
    sub.assert_silent("a $dp upload is not a message").await;
    assert!(h.retained().await.is_empty());
    assert!(h.queue("9278").await.is_empty());
    h.shutdown().await;
}

/// Garbage on one connection closes that connection only; a device next to it keeps working, and the
/// reason is recorded as a diagnostic naming the rule.
#[tokio::test]
async fn malformed_packets_close_only_their_connection() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let addr = h.mqtt_addr();
    let mut good = Raw::device(addr, "9278", "def456", true).await;
    good.send(&subscribe(1, &[("/ok", QoS::AtLeastOnce)])).await;
    good.suback().await;
    // deterministic junk: every kind of broken frame after a valid login
    let junk: &[&[u8]] = &[
        &[0x00, 0x00],                         // reserved packet type 0
        &[0x82, 0x04, 0x00, 0x01, 0x00, 0x05], // SUBSCRIBE whose filter length runs past the end
        &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], // remaining length with a 5th byte
        &[0x36, 0x02, 0x00, 0x00],             // PUBLISH QoS 3
        &[0xC0, 0x01, 0x00],                   // PINGREQ with a body
    ];
    for bytes in junk {
        let mut bad = Raw::device(addr, "9277", "abc123", true).await;
        bad.send_bytes(bytes).await;
        assert_eq!(
            bad.closed().await,
            vec![],
            "closed without a reply for {bytes:02X?}"
        );
    }
    let diags = h.diagnostics("9277").await;
    let malformed: Vec<_> = diags
        .iter()
        .filter(|d| d.message.contains("malformed"))
        .collect();
    assert_eq!(malformed.len(), junk.len(), "{diags:#?}");
    assert!(
        malformed
            .iter()
            .any(|d| d.message.contains("[MQTT-3.3.1-4]")),
        "{malformed:#?}"
    );
    // the neighbour was not disturbed
    let mut p = Raw::device(addr, "9279", "ghi789", true).await;
    p.send(&publish("/ok", b"still here", QoS::AtLeastOnce, 1, false))
        .await;
    assert_eq!(p.recv().await, Packet::PubAck(pid(1)));
    let Packet::Publish(m) = good.recv().await else {
        panic!("expected PUBLISH")
    };
    assert_eq!(m.payload.as_ref(), b"still here");
    h.shutdown().await;
}
