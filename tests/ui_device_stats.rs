//! Devices keep what the broker saw of them — messages in/out, last seen, the keepalive of the last
//! login — across a disconnect, a broker stop and a new console on the same data directory (the store's
//! `device_stats`); in the `mqtt` profile "online n/total" always matches the rows of the Devices
//! panel; QoS 0 messages dropped at a subscriber's full connection show on the Overview and the device. Real broker on 127.0.0.1:0, real console (kittest), devices as raw MQTT clients.
#![cfg(feature = "gui")]

mod common;

use common::ui::{has, has_part, live_app, live_config, rt, step_until};
use common::{Raw, connect_packet, publish};
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS};
use onenet_desk::store::Db;
use onenet_desk::ui::actions::{Action, Tab};
use onenet_desk::ui::format;

#[test]
fn devices_show_last_seen_counts_and_keepalive_after_the_broker_and_console_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = live_config(dir.path());
    let mut h = live_app(cfg.clone());
    let addr = h.state().service().expect("the broker runs").mqtt_addr();
    let rt = rt();
    rt.block_on(async {
        // 9277: clean session, keepalive 120 s, seven uploads acknowledged, then DISCONNECT.
        let mut d = Raw::device(addr, "9277", "abc123", true).await;
        for i in 1..=7 {
            d.send(&publish("/lab/t", b"on", QoS::AtLeastOnce, i, false))
                .await;
            assert!(matches!(d.recv().await, Packet::PubAck(_)));
        }
        d.send(&Packet::Disconnect).await;
        // 9278: a persistent session (restored offline after the restart) with keepalive 300 s.
        let (mut p, ack) = Raw::login(
            addr,
            &connect_packet("9278", Some("339"), Some("def456"), false, 300),
        )
        .await;
        assert_eq!(common::connack(&ack).0, 0);
        p.send(&Packet::Disconnect).await;
    });
    h.state_mut().handle(Action::Navigate(Tab::Devices));
    step_until(&mut h, "both devices offline", |h| {
        let m = &h.state().model;
        m.session("9278").is_some_and(|s| !s.online) && !m.is_online("9277")
    });
    // The broker stops (flushing the store) and a new console starts on the same data directory.
    h.state_mut().shutdown();
    drop(h);
    let stats = Db::open(&cfg.db_path()).unwrap().device_stats().unwrap();
    let kept = stats
        .iter()
        .find(|s| s.client_id == "9277")
        .expect("9277's row");
    assert_eq!((kept.messages_in, kept.keep_alive), (7, Some(120)));
    let last_seen = kept.last_seen.expect("last seen kept");

    let mut h = live_app(cfg);
    h.state_mut().handle(Action::Navigate(Tab::Devices));
    let seen = format::time_of_day(last_seen, h.state().model.offset());
    step_until(
        &mut h,
        "9277's count and last seen, 9278's keepalive",
        |h| has(h, "9277") && has(h, "7") && has(h, &seen) && has(h, "120 s") && has(h, "300 s"),
    );
    assert!(!has(&h, "0 s"), "no made-up keepalive");
    // The detail of a device with no session says what was kept.
    h.state_mut()
        .handle(Action::SelectDevice(Some("9277".into())));
    step_until(&mut h, "9277's kept facts", |h| has(h, "7 / 0"));
    assert!(has_part(
        &h,
        &format::datetime(last_seen, h.state().model.offset())
    ));
    // It comes back: its counts go on from the kept totals.
    let addr = h.state().service().unwrap().mqtt_addr();
    rt.block_on(async {
        let mut d = Raw::device(addr, "9277", "abc123", true).await;
        d.send(&publish("/lab/t", b"on", QoS::AtLeastOnce, 1, false))
            .await;
        assert!(matches!(d.recv().await, Packet::PubAck(_)));
        d.send(&Packet::Disconnect).await;
    });
    step_until(&mut h, "9277's eighth message counted", |h| has(h, "8 / 0"));
    h.state_mut().shutdown();
}

#[test]
fn mqtt_profile_online_count_matches_the_rows_as_clients_come_and_go() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = live_config(dir.path());
    cfg.profile = Profile::Mqtt;
    let mut h = live_app(cfg);
    let addr = h.state().service().unwrap().mqtt_addr();
    let rt = rt();
    let (anon, dev) = rt.block_on(async {
        let (a, ack) = Raw::login(addr, &connect_packet("sensor-x", None, None, true, 30)).await;
        assert_eq!(common::connack(&ack).0, 0);
        let (d, ack) = Raw::login(
            addr,
            &connect_packet("9277", Some("339"), Some("abc123"), true, 60),
        )
        .await;
        assert_eq!(common::connack(&ack).0, 0);
        (a, d)
    });
    h.state_mut().handle(Action::Navigate(Tab::Devices));
    // Three registered devices and one anonymous client: four rows, two online.
    step_until(&mut h, "4 rows, 2 online", |h| {
        has(h, "4 devices shown") && has_part(h, "online 2/4") && has(h, "sensor-x")
    });
    // The Overview's connection hint is the mqtt profile's.
    h.state_mut().handle(Action::Navigate(Tab::Overview));
    step_until(&mut h, "the mqtt hint", |h| {
        has_part(h, "plain MQTT 3.1.1: any client id")
    });
    assert!(!has_part(&h, "user name = product id"));
    h.state_mut().handle(Action::Navigate(Tab::Devices));
    // The anonymous clean-session client leaves: its row goes, and the count follows.
    rt.block_on(async {
        let mut anon = anon;
        anon.send(&Packet::Disconnect).await;
    });
    step_until(&mut h, "3 rows, 1 online", |h| {
        has(h, "3 devices shown") && has_part(h, "online 1/3") && !has(h, "sensor-x")
    });
    drop(dev);
    h.state_mut().shutdown();
}

/// A subscriber that stops reading has QoS 0 messages dropped at its output bound: the Overview counts
/// them, and the Devices panel shows the device's count and, in its detail, what it is made of.
#[test]
fn qos0_drops_show_on_the_overview_and_on_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = live_config(dir.path());
    cfg.profile = Profile::Mqtt;
    cfg.limits.max_outbound_bytes = 64 * 1024;
    let mut h = live_app(cfg);
    assert!(!has(&h, "QoS 0 dropped"), "nothing dropped yet: not shown");
    let svc = h.state().service().unwrap().clone();
    let addr = svc.mqtt_addr();
    let rt = rt();
    // "stuck" subscribes and never reads; "pub" floods 16 KiB QoS 0 messages until the broker reports
    // some dropped for it (its socket buffers full, then its output bound): bounded in count and time.
    let (_stuck, _publisher, dropped) = rt.block_on(async {
        let (mut stuck, _) =
            Raw::login(addr, &connect_packet("stuck", None, None, true, 600)).await;
        stuck.subscribe(&[("flood", QoS::AtMostOnce)]).await;
        let (mut p, _) = Raw::login(addr, &connect_packet("pub", None, None, true, 600)).await;
        let payload = vec![b'x'; 16 * 1024];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        for _ in 0..2_000 {
            for _ in 0..50 {
                p.send(&publish("flood", &payload, QoS::AtMostOnce, 0, false))
                    .await;
            }
            let s = svc.sessions().await;
            let d = s
                .iter()
                .find(|s| s.client_id == "stuck")
                .map_or(0, |s| s.dropped_qos0);
            if d > 0 {
                return (stuck, p, d);
            }
            assert!(std::time::Instant::now() < deadline, "nothing dropped");
        }
        panic!("nothing dropped after 100,000 messages");
    });
    step_until(&mut h, "the Overview's count", |h| {
        has(h, "QoS 0 dropped") && h.state().model.qos0_dropped >= dropped
    });
    h.state_mut().handle(Action::Navigate(Tab::Devices));
    h.state_mut()
        .handle(Action::SelectDevice(Some("stuck".into())));
    step_until(&mut h, "the device's dropped count and its detail", |h| {
        let count = h.state().model.session("stuck").map_or(0, |s| s.dropped);
        count >= dropped && has(h, &count.to_string()) && has_part(h, "QoS 0 at a full connection")
    });
    h.state_mut().shutdown();
}
