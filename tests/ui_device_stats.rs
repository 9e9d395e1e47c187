//! Devices keep what the broker saw of them — messages in/out, last seen, the keepalive of the last
//! login — across a disconnect, a broker stop and a new console on the same data directory (the store's
//! `device_stats`); and in the `mqtt` profile "online n/total" always matches the rows of the Devices
//! panel. Real broker on 127.0.0.1:0, real console (kittest), devices as raw MQTT clients.
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
