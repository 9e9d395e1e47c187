//! Every console action that changes state, carried out by the real app (kittest harness over
//! `ConsoleApp::start`) on its real broker, and checked by its effect where it lands: the MQTT socket,
//! the service's state and store, a file on disk, or the window.
#![cfg(feature = "gui")]

mod common;

use std::net::TcpStream;

use common::ui::{Dev, addr, has, live_app, live_config, rt, step_until, until_offline};
use common::{open_db, publish};
use egui_kittest::Harness;
use onenet_desk::ServiceHandle;
use onenet_desk::export::ExportFormat;
use onenet_desk::mqtt::{Packet, QoS};
use onenet_desk::ui::ConsoleApp;
use onenet_desk::ui::actions::{Action, BodyMode, ExportSpec, Tab};
use onenet_desk::ui::prefs::Template;
use onenet_desk::ui::state::BrokerState;

fn svc(h: &Harness<'_, ConsoleApp>) -> ServiceHandle {
    h.state().service().expect("the broker runs").clone()
}

/// Steps the app until the service says `f` holds.
fn until_service(
    h: &mut Harness<'_, ConsoleApp>,
    what: &str,
    f: impl Fn(&tokio::runtime::Runtime, &ServiceHandle) -> bool,
) {
    let rt = rt();
    step_until(h, what, |h| h.state().service().is_some_and(|s| f(&rt, &s)));
}

fn running(h: &Harness<'_, ConsoleApp>) -> bool {
    matches!(h.state().model.broker, BrokerState::Running { .. })
}

#[test]
fn stop_start_and_restart_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    step_until(&mut h, "running", running);
    let first = addr(&h);
    let mut d = Dev::online(first, "9277", "abc123", true);

    h.state_mut().handle(Action::StopBroker);
    step_until(&mut h, "stopped", |h| {
        h.state().model.broker == BrokerState::Stopped
    });
    assert!(h.state().service().is_none());
    assert_eq!(d.next(), None, "stopping closes the device's connection");
    assert!(
        TcpStream::connect(first).is_err(),
        "nothing listens on {first} any more"
    );

    h.state_mut().handle(Action::StartBroker);
    step_until(&mut h, "running again", running);
    let second = addr(&h);
    let mut d = Dev::online(second, "9277", "abc123", true);

    h.state_mut().handle(Action::RestartBroker);
    step_until(&mut h, "running after restart", |h| {
        running(h) && h.state().service().is_some_and(|s| s.mqtt_addr() != second)
    });
    assert_eq!(d.next(), None, "a restart closes connections");
    Dev::online(addr(&h), "9277", "abc123", true);
    h.state_mut().shutdown();
}

#[test]
fn registry_add_edit_and_delete_take_effect_at_login() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let db = open_db(&svc(&h));

    h.state_mut().handle(Action::AddProduct {
        id: Some("500".into()),
        name: Some("garden".into()),
        api_key: Some("K500".into()),
    });
    step_until(&mut h, "product 500 in the model", |h| {
        h.state().model.products.iter().any(|p| p.id == "500")
    });
    assert_eq!(db.product("500").unwrap().unwrap().name, "garden");
    h.state_mut().handle(Action::UpdateProduct {
        id: "500".into(),
        name: Some("orchard".into()),
        api_key: None,
    });
    step_until(&mut h, "product 500 renamed", |h| {
        h.state()
            .model
            .products
            .iter()
            .any(|p| p.id == "500" && p.name == "orchard")
    });
    assert_eq!(db.product("500").unwrap().unwrap().name, "orchard");

    h.state_mut().handle(Action::AddDevice {
        product: "339".into(),
        id: Some("9300".into()),
        name: Some("valve".into()),
        auth_info: Some("pw1".into()),
    });
    step_until(&mut h, "device 9300 in the model", |h| {
        h.state().model.devices.iter().any(|d| d.id == "9300")
    });
    Dev::online(addr(&h), "9300", "pw1", true).leave();

    h.state_mut().handle(Action::UpdateDevice {
        id: "9300".into(),
        name: None,
        auth_info: Some("pw2".into()),
    });
    step_until(&mut h, "9300's new auth_info", |h| {
        h.state()
            .model
            .devices
            .iter()
            .any(|d| d.id == "9300" && d.auth_info == "pw2")
    });
    let (_, code) = Dev::login(addr(&h), "9300", "pw1", true);
    assert_ne!(code, Some(0), "the old auth_info is refused");
    Dev::online(addr(&h), "9300", "pw2", true).leave();

    h.state_mut().handle(Action::DeleteDevice("9300".into()));
    step_until(&mut h, "9300 gone from the model", |h| {
        !h.state().model.devices.iter().any(|d| d.id == "9300")
    });
    let (_, code) = Dev::login(addr(&h), "9300", "pw2", true);
    assert_ne!(code, Some(0), "a deleted device cannot log in");

    h.state_mut().handle(Action::DeleteProduct("500".into()));
    step_until(&mut h, "500 gone from the model", |h| {
        !h.state().model.products.iter().any(|p| p.id == "500")
    });
    assert!(db.product("500").unwrap().is_none());
    h.state_mut().shutdown();
}

#[test]
fn auto_register_lets_unknown_devices_of_known_products_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let (_, code) = Dev::login(addr(&h), "4242", "new", true);
    assert_ne!(
        code,
        Some(0),
        "unknown device refused while auto-register is off"
    );
    h.state_mut().handle(Action::SetAutoRegister(true));
    step_until(&mut h, "auto-register on and running", |h| {
        running(h)
            && h.state()
                .service()
                .is_some_and(|s| s.config().auto_register)
    });
    Dev::online(addr(&h), "4242", "new", true).leave();
    assert!(
        open_db(&svc(&h)).device("4242").unwrap().is_some(),
        "registered"
    );
    h.state_mut().shutdown();
}

#[test]
fn retained_messages_delete_one_and_all() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let mut d = Dev::online(addr(&h), "9277", "abc123", true);
    d.publish("/r/a", b"A", true, 1);
    d.publish("/r/b", b"B", true, 2);
    d.publish("/r/c", b"C", true, 3);
    step_until(&mut h, "3 retained in the model", |h| {
        h.state().model.retained.len() == 3
    });
    h.state_mut().handle(Action::DeleteRetained {
        namespace: "339".into(),
        topic: "/r/a".into(),
    });
    until_service(&mut h, "/r/a deleted", |rt, s| {
        let r = rt.block_on(s.retained());
        r.len() == 2 && r.iter().all(|m| m.topic != "/r/a")
    });
    h.state_mut().handle(Action::DeleteAllRetained);
    until_service(&mut h, "all retained deleted", |rt, s| {
        rt.block_on(s.retained()).is_empty()
    });
    step_until(&mut h, "none in the model", |h| {
        h.state().model.retained.is_empty()
    });
    // a new subscriber gets nothing retained
    let mut sub = Dev::online(addr(&h), "9278", "def456", true);
    sub.subscribe("/r/b");
    assert_eq!(sub.barrier(), vec![], "nothing retained is delivered");
    h.state_mut().shutdown();
}

#[test]
fn clear_queue_drops_what_waits_for_an_offline_device() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let mut sub = Dev::online(addr(&h), "9278", "def456", false);
    sub.subscribe("/q");
    sub.leave();
    // Publish only once the router has 9278 offline: a publish routed before that stays in flight
    // (which ClearQueue keeps, by design), not queued. This race made the test time out under load.
    until_offline(&mut h, "9278");
    let mut p = Dev::online(addr(&h), "9277", "abc123", true);
    for i in 1..=3 {
        p.publish("/q", b"waiting", false, i);
    }
    until_service(&mut h, "3 queued (none in flight) for 9278", |rt, s| {
        let q = rt.block_on(s.queue("9278"));
        q.len() == 3 && q.iter().all(|m| m.packet_id.is_none())
    });
    h.state_mut().handle(Action::ClearQueue("9278".into()));
    until_service(&mut h, "9278's queue empty", |rt, s| {
        rt.block_on(s.queue("9278")).is_empty()
    });
    let mut sub = Dev::online(addr(&h), "9278", "def456", false);
    assert_eq!(sub.barrier(), vec![], "the cleared messages never arrive");
    h.state_mut().shutdown();
}

#[test]
fn kick_closes_the_device_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let mut d = Dev::online(addr(&h), "9279", "ghi789", true);
    step_until(&mut h, "9279 online in the model", |h| {
        h.state()
            .model
            .sessions
            .iter()
            .any(|s| s.client_id == "9279" && s.online)
    });
    h.state_mut().handle(Action::Kick("9279".into()));
    assert_eq!(d.next(), None, "closed by the broker");
    step_until(&mut h, "9279 not online in the model", |h| {
        !h.state()
            .model
            .sessions
            .iter()
            .any(|s| s.client_id == "9279" && s.online)
    });
    h.state_mut().shutdown();
}

#[test]
fn a_command_sent_from_the_console_reaches_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let mut d = Dev::online(addr(&h), "9277", "abc123", true);
    h.state_mut().handle(Action::SendCommand {
        device: "9277".into(),
        body: vec![0x01, 0xFF],
        validity_s: 0,
        qos: 0,
    });
    let Some(Packet::Publish(p)) = d.next() else {
        panic!("expected the $creq")
    };
    let uuid = p.topic.as_str().strip_prefix("$creq/").unwrap().to_string();
    assert_eq!(p.payload.as_ref(), &[0x01, 0xFF]);
    d.send(&publish(
        &format!("$crsp/{uuid}"),
        b"done",
        QoS::AtLeastOnce,
        1,
        false,
    ));
    assert_eq!(d.next(), Some(Packet::PubAck(common::pid(1))));
    h.state_mut().handle(Action::OpenCommands("9277".into()));
    step_until(&mut h, "the reply in the Commands panel", |h| {
        has(h, "done")
    });
    h.state_mut().shutdown();
}

/// A command sent from the console with "send again at each login" (qos=1) and not answered reaches the
/// device again, with the same uuid, when it logs in again.
#[test]
fn a_qos1_command_from_the_console_is_sent_again_at_the_next_login() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let mut d = Dev::online(addr(&h), "9277", "abc123", false);
    h.state_mut().handle(Action::SendCommand {
        device: "9277".into(),
        body: b"on".to_vec(),
        validity_s: 600,
        qos: 1,
    });
    let Some(Packet::Publish(first)) = d.next() else {
        panic!("expected the $creq")
    };
    assert_eq!(first.payload.as_ref(), b"on");
    // A persistent session, so the service lists 9277 as offline in between.
    d.leave();
    until_offline(&mut h, "9277");
    let mut d = Dev::online(addr(&h), "9277", "abc123", false);
    let Some(Packet::Publish(again)) = d.next() else {
        panic!("expected the $creq again at login")
    };
    assert_eq!(again.topic, first.topic, "the same command, the same uuid");
    assert_eq!(again.payload.as_ref(), b"on");
    h.state_mut().shutdown();
}

#[test]
fn templates_are_saved_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let t = Template {
        name: "lamp on".into(),
        mode: BodyMode::Json,
        body: "{\"led\":1}".into(),
    };
    h.state_mut().handle(Action::SaveTemplate {
        device: "9277".into(),
        template: t.clone(),
    });
    assert_eq!(h.state().model.prefs.templates["9277"], vec![t]);
    h.state_mut().handle(Action::OpenCommands("9277".into()));
    step_until(&mut h, "the template in the Commands panel", |h| {
        has(h, "lamp on")
    });
    h.state_mut().handle(Action::DeleteTemplate {
        device: "9277".into(),
        name: "lamp on".into(),
    });
    assert!(h.state().model.prefs.templates["9277"].is_empty());
    step_until(&mut h, "the template gone from the panel", |h| {
        !has(h, "lamp on")
    });
    h.state_mut().shutdown();
}

#[test]
fn export_writes_the_file_and_its_notice_can_be_dismissed() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let mut d = Dev::online(addr(&h), "9277", "abc123", true);
    d.publish(
        "$dp",
        &common::dataplane::framed(3, r#"{"t":1.5}"#),
        false,
        1,
    );
    let out = dir.path().join("out.csv");
    h.state_mut().handle(Action::ExportDatapoints(ExportSpec {
        device: Some("9277".into()),
        streams: vec![],
        since: None,
        until: None,
        format: ExportFormat::Csv,
        path: Some(out.clone()),
        bom: false,
    }));
    step_until(&mut h, "the export's notice", |h| {
        h.state()
            .model
            .notices
            .iter()
            .any(|n| n.text.contains("out.csv"))
    });
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "device_id,stream,at,value,type,received_at,kind,desc"
    );
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].starts_with("9277,t,"), "{text}");
    assert!(lines[1].contains(",1.5,3,"), "{text}");
    let id = h.state().model.notices.back().unwrap().id;
    h.state_mut().handle(Action::DismissNotice(id));
    assert!(h.state().model.notices.iter().all(|n| n.id != id));
    h.state_mut().shutdown();
}

#[test]
fn traffic_pauses_and_clears() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    h.state_mut().handle(Action::Navigate(Tab::Traffic));
    let d = Dev::online(addr(&h), "9277", "abc123", true);
    step_until(&mut h, "the CONNECT in the traffic log", |h| {
        !h.state().model.traffic.rows.is_empty()
    });
    h.state_mut().handle(Action::SetTrafficPaused(true));
    assert!(h.state().model.traffic.paused_at.is_some());
    h.state_mut().handle(Action::SetTrafficPaused(false));
    assert!(h.state().model.traffic.paused_at.is_none());
    d.leave();
    h.state_mut().handle(Action::ClearTraffic);
    assert!(h.state().model.traffic.rows.is_empty());
    h.state_mut().shutdown();
}
