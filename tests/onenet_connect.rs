//! CONNECT in the `onenet` profile, over raw bytes as firmware sends them: both auth methods, every
//! CONNACK code of spec §13, the close-without-CONNACK rules, takeover and the CONNECT timeout.

mod common;

use std::time::Duration;

use common::*;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS};
use tokio::time;

fn code(p: &Packet) -> u8 {
    connack(p).0
}

#[tokio::test]
async fn official_sdk_connect_capture_is_accepted_with_auth_info() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    // Spec §14: the official SDK's CONNECT, client 9277, user 339, password abc123, keepalive 1200.
    let capture = common::dataplane::hex(SDK_CONNECT);
    let mut r = Raw::connect(h.mqtt_addr()).await;
    r.send_bytes(&capture).await;
    // exactly the four bytes the SDK checks: 20 02 00 00
    let ack = r.recv().await;
    assert_eq!(ack.to_bytes().unwrap().as_ref(), &[0x20, 0x02, 0x00, 0x00]);
    let sessions = h.sessions().await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].client_id, "9277");
    assert_eq!(sessions[0].namespace, "339");
    assert!(sessions[0].online);
    h.shutdown().await;
}

#[tokio::test]
async fn every_connack_code() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    cfg.limits.max_connections = 1;
    let h = seeded_with(cfg).await;
    let addr = h.mqtt_addr();
    // 0: method 2, the product's master API key as password
    let (keep, ack) = Raw::login(
        addr,
        &connect_packet("9277", Some("339"), Some("KEY339"), true, 120),
    )
    .await;
    assert_eq!(code(&ack), 0);
    // 3: the broker is full (max_connections = 1)
    let (_r, ack) = Raw::login(
        addr,
        &connect_packet("9278", Some("339"), Some("def456"), true, 120),
    )
    .await;
    assert_eq!(code(&ack), 3);
    drop(keep);
    eventually("first connection gone", || async {
        h.sessions().await.iter().all(|s| !s.online).then_some(())
    })
    .await;
    // 1: protocol level 3
    let mut p = connect_packet("9277", Some("339"), Some("abc123"), true, 120);
    if let Packet::Connect(c) = &mut p {
        c.level = 3;
    }
    let (mut r, ack) = Raw::login(addr, &p).await;
    assert_eq!(code(&ack), 1);
    r.closed().await;
    // 2: unknown device, unknown product, device of another product
    for (client, user, pass) in [
        ("1234", "339", "abc123"),
        ("9277", "999", "abc123"),
        ("5", "339", "KEY339"),
    ] {
        let (mut r, ack) = Raw::login(
            addr,
            &connect_packet(client, Some(user), Some(pass), true, 120),
        )
        .await;
        assert_eq!(code(&ack), 2, "{client}/{user}");
        r.closed().await;
    }
    // 4: wrong auth_info; and another product's key
    for pass in ["wrong", "KEY400"] {
        let (mut r, ack) = Raw::login(
            addr,
            &connect_packet("9277", Some("339"), Some(pass), true, 120),
        )
        .await;
        assert_eq!(code(&ack), 4, "{pass}");
        r.closed().await;
    }
    // 0: method 1 once the slot is free
    let (_r, ack) = Raw::login(
        addr,
        &connect_packet("9277", Some("339"), Some("abc123"), true, 120),
    )
    .await;
    assert_eq!(code(&ack), 0);
    h.shutdown().await;
}

#[tokio::test]
async fn missing_user_name_or_password_closes_without_connack() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    for (user, pass) in [(None, None), (Some("339"), None)] {
        let mut r = Raw::connect(h.mqtt_addr()).await;
        r.send(&connect_packet("9277", user, pass, true, 120)).await;
        assert_eq!(r.closed().await, vec![], "no CONNACK may be sent");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn malformed_connect_closes_without_connack() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    // reserved connect-flag bit 0 set (0xC3): [MQTT-3.1.2-3]
    let bad = [
        0x10, 0x1D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xC3, 0x00, 0x78, 0x00, 0x04, b'9',
        b'2', b'7', b'7', 0x00, 0x03, b'3', b'3', b'9', 0x00, 0x06, b'a', b'b', b'c', b'1', b'2',
        b'3',
    ];
    let mut r = Raw::connect(h.mqtt_addr()).await;
    r.send_bytes(&bad).await;
    assert_eq!(r.closed().await, vec![]);
    h.shutdown().await;
}

#[tokio::test]
async fn second_login_with_same_client_id_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut first = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let mut second = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    first.closed().await;
    // the new connection works
    second.send(&Packet::PingReq).await;
    assert_eq!(second.recv().await, Packet::PingResp);
    let s = h.sessions().await;
    assert_eq!(s.len(), 1);
    assert!(s[0].online);
    h.shutdown().await;
}

#[tokio::test]
async fn no_connect_within_the_timeout_closes_and_early_packets_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    cfg.limits.connect_timeout = Duration::from_secs(5);
    let h = seeded_with(cfg).await;
    // Paused time from the accept on: the runtime jumps to the broker's CONNECT deadline as soon as
    // nothing else can run, so the 5 s take no real time and are exact.
    time::pause();
    let started = time::Instant::now();
    let mut silent = Raw::connect(h.mqtt_addr()).await;
    assert_eq!(silent.closed().await, vec![]);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_millis(5100),
        "closed after {waited:?}"
    );
    time::resume();

    // A PINGREQ before CONNECT is dropped (spec §3.2), then CONNECT still works.
    let mut r = Raw::connect(h.mqtt_addr()).await;
    r.send(&Packet::PingReq).await;
    r.send(&connect_packet(
        "9277",
        Some("339"),
        Some("abc123"),
        true,
        120,
    ))
    .await;
    assert!(matches!(r.recv().await, Packet::ConnAck(_)));
    h.shutdown().await;
}

#[tokio::test]
async fn auto_register_adds_unknown_devices_of_known_products() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    cfg.auto_register = true;
    let h = seeded_with(cfg).await;
    let (_r, ack) = Raw::login(
        h.mqtt_addr(),
        &connect_packet("424242", Some("339"), Some("newpass"), true, 120),
    )
    .await;
    assert_eq!(code(&ack), 0);
    let d = open_db(&h).device("424242").unwrap().expect("registered");
    assert_eq!(d.auth_info, "newpass");
    assert!(d.auto_registered);
    // unknown product still refused
    let (_r, ack) = Raw::login(
        h.mqtt_addr(),
        &connect_packet("424243", Some("1"), Some("p"), true, 120),
    )
    .await;
    assert_eq!(code(&ack), 2);
    h.shutdown().await;
}

#[tokio::test]
async fn keepalive_expiry_publishes_the_will_and_disconnect_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let addr = h.mqtt_addr();
    let mut watcher = Raw::device(addr, "9278", "def456", true).await;
    watcher
        .send(&subscribe(1, &[("/status", QoS::AtLeastOnce)]))
        .await;
    assert!(matches!(watcher.recv().await, Packet::SubAck(_)));

    // Graceful: DISCONNECT discards the will.
    let p = with_will(
        connect_packet("9277", Some("339"), Some("abc123"), true, 120),
        "/status",
        "gone",
        QoS::AtMostOnce,
        false,
    );
    let (mut polite, ack) = Raw::login(addr, &p).await;
    assert_eq!(code(&ack), 0);
    polite.send(&Packet::Disconnect).await;
    polite.closed().await;

    // Abnormal: keepalive 1 s, then silence: closed after 1.5 s and the will goes out at its QoS.
    let p = with_will(
        connect_packet("9277", Some("339"), Some("abc123"), true, 1),
        "/status",
        "lost",
        QoS::AtMostOnce,
        false,
    );
    let (mut silent, ack) = Raw::login(addr, &p).await;
    assert_eq!(code(&ack), 0);
    // Paused time for the silence (the logins above ran in real time, as they wait for the store's
    // thread): the runtime jumps to the broker's keepalive deadline when nothing else can run. (Timers
    // fire on the next whole millisecond, hence the bound of 1.5 s + 10 ms.)
    time::pause();
    let started = time::Instant::now();
    silent.closed().await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_millis(1510),
        "closed after {waited:?}"
    );
    match watcher.recv().await {
        Packet::Publish(p) => {
            assert_eq!(p.topic.as_str(), "/status");
            assert_eq!(
                p.payload.as_ref(),
                b"lost",
                "the DISCONNECTed will must not arrive"
            );
            assert_eq!(p.qos_pid.qos(), QoS::AtMostOnce);
        }
        other => panic!("expected the will, got {other:?}"),
    }
    time::resume();
    h.shutdown().await;
}

/// The keepalive counts from the last packet received, not from the login: a PINGREQ after 1 s of a
/// 1 s keepalive (1.5 s allowed) moves the end to 1.5 s after it.
#[tokio::test]
async fn keepalive_counts_from_the_last_packet() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let p = connect_packet("9277", Some("339"), Some("abc123"), true, 1);
    let (mut c, ack) = Raw::login(h.mqtt_addr(), &p).await;
    assert_eq!(code(&ack), 0);
    time::pause();
    let started = time::Instant::now();
    time::sleep(Duration::from_millis(1000)).await;
    c.send(&Packet::PingReq).await;
    assert_eq!(c.recv().await, Packet::PingResp);
    let pinged = time::Instant::now();
    c.closed().await;
    let (since_ping, since_login) = (pinged.elapsed(), started.elapsed());
    assert!(
        since_ping >= Duration::from_millis(1400) && since_ping < Duration::from_millis(1510),
        "closed {since_ping:?} after the PINGREQ"
    );
    assert!(
        since_login >= Duration::from_millis(2400),
        "{since_login:?}"
    );
    time::resume();
    h.shutdown().await;
}

#[tokio::test]
async fn retained_will_goes_at_requested_qos_and_is_cleared_at_next_login() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let addr = h.mqtt_addr();
    let mut watcher = Raw::device(addr, "9278", "def456", true).await;
    watcher
        .send(&subscribe(1, &[("/status", QoS::AtLeastOnce)]))
        .await;
    assert!(matches!(watcher.recv().await, Packet::SubAck(_)));
    let p = with_will(
        connect_packet("9277", Some("339"), Some("abc123"), true, 120),
        "/status",
        "lost",
        QoS::AtMostOnce,
        true,
    );
    let (dev, _) = Raw::login(addr, &p).await;
    drop(dev); // socket closed without DISCONNECT
    match watcher.recv().await {
        Packet::Publish(p) => {
            assert_eq!(p.payload.as_ref(), b"lost");
            assert_eq!(
                p.qos_pid.qos(),
                QoS::AtLeastOnce,
                "retained will: subscriber's requested QoS"
            );
            if let Some(id) = p.qos_pid.pid() {
                watcher.send(&Packet::PubAck(id)).await;
            }
        }
        other => panic!("expected the will, got {other:?}"),
    }
    let r = eventually("will retained", || async {
        let r = h.retained().await;
        (!r.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(r[0].from_will_of.as_deref(), Some("9277"));
    // next normal login of 9277 clears it
    let _dev = Raw::device(addr, "9277", "abc123", true).await;
    eventually("will cleared", || async {
        h.retained().await.is_empty().then_some(())
    })
    .await;
    h.shutdown().await;
}
