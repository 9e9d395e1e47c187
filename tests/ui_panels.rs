//! Panel tests on model fixtures (egui_kittest): find widgets by label, click and type, assert on the
//! actions the panel emits or on the model.
#![cfg(feature = "gui")]

use std::path::PathBuf;
use std::sync::Arc;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use onenet_desk::broker::{RetainedInfo, SessionInfo};
use onenet_desk::config::Config;
use onenet_desk::events::{Direction, Event, StoredPoints};
use onenet_desk::onenet::datapoint::{Datapoint, DpValue};
use onenet_desk::onenet::registry::{Device, Product};
use onenet_desk::ui::actions::{Action, Tab};
use onenet_desk::ui::model::Model;
use onenet_desk::ui::prefs::{Lang, Prefs};
use onenet_desk::ui::{ConsoleApp, commands, datapoints, devices, offline, registry, retained};
use onenet_desk::ui::{settings, subscriptions, traffic};

fn session(id: &str, online: bool, msgs_in: u64) -> SessionInfo {
    SessionInfo {
        client_id: id.into(),
        namespace: "339".into(),
        online,
        remote: online.then(|| "192.168.1.20:50000".into()),
        clean_session: true,
        keep_alive: 120,
        subscriptions: vec![("/lab/cmd".into(), 1)],
        inflight: 0,
        queued: if online { 0 } else { 2 },
        dropped: 0,
        messages_in: msgs_in,
        messages_out: 1,
        warnings: 0,
        connected_at: online.then_some(1_700_000_000_000),
        last_seen: Some(1_700_000_100_000),
        will: None,
    }
}

/// Product 339 with devices 9277 (online), 9278 (offline), 9279 (online); datapoints of 9277; a retained
/// message; some traffic.
fn fixture() -> Model {
    let mut m = Model::new(
        Config::new(PathBuf::from("/tmp/ui-fixture")),
        Prefs::default(),
    );
    m.products = vec![Product {
        id: "339".into(),
        name: "lab".into(),
        api_key: "KEY339".into(),
        created_at: 0,
    }];
    m.devices = ["9277", "9278", "9279"]
        .iter()
        .enumerate()
        .map(|(i, id)| Device {
            id: id.to_string(),
            product_id: "339".into(),
            name: format!("sensor {i}"),
            auth_info: format!("secret{i}"),
            created_at: 0,
            auto_registered: false,
        })
        .collect();
    m.sessions = vec![
        session("9277", true, 30),
        session("9278", false, 5),
        session("9279", true, 12),
    ];
    m.retained = vec![RetainedInfo {
        namespace: "339".into(),
        topic: "/lab/state".into(),
        payload: b"{\"on\":true}".to_vec(),
        qos: 1,
        from_will_of: None,
    }];
    m.apply_event(Event::Datapoints(Arc::new(StoredPoints {
        device_id: "9277".into(),
        dp_type: 3,
        received_at: 1_700_000_000_000,
        points: vec![
            Datapoint {
                stream: "temperature".into(),
                at: Some(1_700_000_000_000),
                value: DpValue::Json(serde_json::json!(22.5)),
            },
            Datapoint {
                stream: "status".into(),
                at: Some(1_700_000_000_000),
                value: DpValue::Json(serde_json::json!("ok")),
            },
        ],
    })));
    for (dev, topic) in [("9277", "/lab/a"), ("9279", "/lab/b")] {
        let mut p = vec![0x30, 0, 0, topic.len() as u8];
        p.extend_from_slice(topic.as_bytes());
        p.extend_from_slice(b"hi");
        p[1] = (p.len() - 2) as u8;
        m.apply_event(Event::Packet {
            at: 1_700_000_000_000,
            client_id: Some(dev.into()),
            direction: Direction::In,
            bytes: p.into(),
        });
    }
    m
}

/// A panel, the model it draws and the actions it emitted.
struct Fx<P> {
    panel: P,
    model: Model,
    out: Vec<Action>,
}

fn harness<P: 'static>(
    panel: P,
    model: Model,
    draw: fn(&mut P, &mut egui::Ui, &Model, &mut Vec<Action>),
) -> Harness<'static, Fx<P>> {
    Harness::builder()
        .with_size([1280.0, 800.0])
        .allow_missing_glyphs()
        .build_ui_state(
            move |ui, fx: &mut Fx<P>| draw(&mut fx.panel, ui, &fx.model, &mut fx.out),
            Fx {
                panel,
                model,
                out: Vec::new(),
            },
        )
}

#[test]
fn devices_table_filters_and_selects() {
    let mut h = harness(
        devices::DevicesPanel::default(),
        fixture(),
        |p, ui, m, o| p.ui(ui, m, o),
    );
    h.run();
    assert!(h.query_by_label("9278").is_some());
    h.get_by_label("Device filter").focus();
    h.get_by_label("Device filter").type_text("9279");
    h.run();
    assert!(h.query_by_label("9278").is_none(), "filtered out");
    assert!(h.query_by_label("9277").is_none(), "filtered out");
    h.get_by_label("9279").click();
    h.run();
    assert!(
        h.state()
            .out
            .contains(&Action::SelectDevice(Some("9279".into())))
    );
}

#[test]
fn devices_rows_sort_and_online_only() {
    let m = fixture();
    let by_in = devices::rows(&m, "", false, devices::SortBy::MessagesIn, false);
    let ids: Vec<&str> = by_in.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["9277", "9279", "9278"]);
    let online = devices::rows(&m, "", true, devices::SortBy::Id, true);
    assert_eq!(online.len(), 2);
    assert_eq!(
        devices::rows(&m, "sensor 1", false, devices::SortBy::Id, true)[0].id,
        "9278"
    );
}

#[test]
fn device_detail_offers_kick_and_commands() {
    let mut m = fixture();
    m.selected = Some("9277".into());
    let mut h = harness(devices::DevicesPanel::default(), m, |p, ui, m, o| {
        p.ui(ui, m, o)
    });
    h.run();
    h.get_by_label("Kick").click();
    h.run();
    h.get_by_label("Send command").click();
    h.run();
    let out = &h.state().out;
    assert!(out.contains(&Action::Kick("9277".into())));
    assert!(out.contains(&Action::OpenCommands("9277".into())));
}

#[test]
fn composing_and_sending_a_command_emits_the_action() {
    let mut m = fixture();
    m.selected = Some("9277".into());
    let mut h = harness(commands::CommandsPanel::default(), m, |p, ui, m, o| {
        p.ui(ui, m, o)
    });
    h.run();
    assert!(
        h.state()
            .out
            .contains(&Action::LoadCommandHistory("9277".into()))
    );
    h.get_by_label("JSON").click();
    h.run();
    let body = h.get_by_label("Command body");
    body.focus();
    body.type_text("{\"led\":");
    h.run();
    assert!(h.query_by_label_contains("Invalid JSON").is_some());
    h.get_by_label("Command body").type_text("1}");
    h.run();
    assert!(h.query_by_label_contains("Invalid JSON").is_none());
    h.get_by_label("Send").click();
    h.run();
    assert!(h.state().out.contains(&Action::SendCommand {
        device: "9277".into(),
        body: b"{\"led\":1}".to_vec(),
        validity_s: 0,
    }));
}

#[test]
fn ctrl_enter_sends_a_hex_command() {
    let mut m = fixture();
    m.selected = Some("9279".into());
    let mut h = harness(commands::CommandsPanel::default(), m, |p, ui, m, o| {
        p.ui(ui, m, o)
    });
    h.run();
    h.get_by_label("Hex").click();
    h.run();
    h.get_by_label("Command body").focus();
    h.get_by_label("Command body").type_text("01 a0 FF");
    h.run();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    h.run();
    assert!(h.state().out.contains(&Action::SendCommand {
        device: "9279".into(),
        body: vec![0x01, 0xA0, 0xFF],
        validity_s: 0,
    }));
    assert_eq!(
        commands::body_bytes(onenet_desk::ui::actions::BodyMode::Hex, "0"),
        Err("odd number of hex digits (1): each byte needs two".into())
    );
}

#[test]
fn deleting_a_retained_message_asks_for_confirmation() {
    let mut h = harness(
        retained::RetainedPanel::default(),
        fixture(),
        |p, ui, m, o| p.ui(ui, m, o),
    );
    h.run();
    h.get_by_label("Delete").click();
    h.run();
    assert!(
        h.state().out.is_empty(),
        "nothing deleted before confirming"
    );
    assert!(h.query_by_label("Please confirm").is_some());
    h.get_by_label("Yes, delete").click();
    h.run();
    assert_eq!(
        h.state().out,
        vec![Action::DeleteRetained {
            namespace: "339".into(),
            topic: "/lab/state".into()
        }]
    );
    assert!(h.query_by_label("Please confirm").is_none());
}

#[test]
fn deleting_all_retained_can_be_cancelled() {
    let mut h = harness(
        retained::RetainedPanel::default(),
        fixture(),
        |p, ui, m, o| p.ui(ui, m, o),
    );
    h.run();
    h.get_by_label("Delete all").click();
    h.run();
    h.get_by_label("Cancel").click();
    h.run();
    assert!(h.state().out.is_empty());
}

#[test]
fn offline_queue_lists_and_clears_after_confirming() {
    let mut m = fixture();
    let now = onenet_desk::ui::format::now_ms();
    m.queues.insert(
        "9278".into(),
        vec![
            onenet_desk::broker::QueuedInfo {
                topic: "/lab/cmd".into(),
                qos: 1,
                payload_len: 4,
                payload: bytes::Bytes::from_static(b"ping"),
                queued_at: now - 47 * 3600 * 1000,
                packet_id: None,
            },
            onenet_desk::broker::QueuedInfo {
                topic: "/lab/new".into(),
                qos: 0,
                payload_len: 4,
                payload: bytes::Bytes::from_static(b"ping"),
                queued_at: now,
                packet_id: None,
            },
        ],
    );
    assert!(offline::expiring(&m, now - 47 * 3600 * 1000, now));
    assert!(!offline::expiring(&m, now, now));
    let mut panel = offline::OfflinePanel::default();
    panel.open = Some("9278".into());
    let mut h = harness(panel, m, |p, ui, m, o| p.ui(ui, m, o));
    h.run();
    assert!(h.query_by_label("expiring").is_some());
    h.get_by_label("Clear queue").click();
    h.run();
    // Nothing cleared before confirming (the open queue itself is loaded live).
    assert!(
        !h.state()
            .out
            .iter()
            .any(|a| matches!(a, Action::ClearQueue(_)))
    );
    h.get_by_label("Yes, clear").click();
    h.run();
    assert!(h.state().out.contains(&Action::ClearQueue("9278".into())));
}

#[test]
fn registry_adds_a_device_and_toggles_auto_register() {
    let mut h = harness(
        registry::RegistryPanel::default(),
        fixture(),
        |p, ui, m, o| p.ui(ui, m, o),
    );
    h.run();
    h.get_by_label("New device id").focus();
    h.get_by_label("New device id").type_text("9300");
    h.get_by_label("New auth_info").focus();
    h.get_by_label("New auth_info").type_text("pw9300");
    h.run();
    h.get_by_label("Add device").click();
    h.run();
    h.get_by_label("Auto-register unknown devices of known products")
        .click();
    h.run();
    let out = &h.state().out;
    assert!(out.contains(&Action::AddDevice {
        product: "339".into(),
        id: Some("9300".into()),
        name: None,
        auth_info: Some("pw9300".into()),
    }));
    assert!(out.contains(&Action::SetAutoRegister(true)));
}

#[test]
fn traffic_filters_by_device_and_pauses() {
    let m = fixture();
    let f = traffic::TrafficFilter {
        device: "9279".into(),
        ..Default::default()
    };
    assert_eq!(f.select(&m.traffic).len(), 1);
    let mut h = harness(traffic::TrafficPanel::default(), m, |p, ui, m, o| {
        p.ui(ui, m, o)
    });
    h.run();
    assert!(h.query_by_label("/lab/a").is_some());
    h.get_by_label("Device filter").focus();
    h.get_by_label("Device filter").type_text("9279");
    h.run();
    assert!(h.query_by_label("/lab/a").is_none());
    assert!(h.query_by_label("/lab/b").is_some());
    h.get_by_label("Pause").click();
    h.run();
    assert!(h.state().out.contains(&Action::SetTrafficPaused(true)));
}

#[test]
fn datapoints_show_latest_values_and_plot_numeric_streams() {
    let mut m = fixture();
    m.selected = Some("9277".into());
    let mut h = harness(datapoints::DatapointsPanel::default(), m, |p, ui, m, o| {
        p.ui(ui, m, o)
    });
    h.run();
    assert!(h.query_by_label("temperature").is_some());
    assert!(h.query_by_label("22.5").is_some());
    assert!(h.state().out.contains(&Action::OpenStream {
        device: "9277".into(),
        stream: "temperature".into()
    }));
    // "status" is text: not plotted automatically.
    assert!(!h.state().out.contains(&Action::OpenStream {
        device: "9277".into(),
        stream: "status".into()
    }));
}

#[test]
fn subscriptions_are_grouped_by_topic() {
    let m = fixture();
    let map = subscriptions::by_topic(&m);
    assert_eq!(map["/lab/cmd"].len(), 3);
    let mut h = harness(
        subscriptions::SubscriptionsPanel::default(),
        m,
        |p, ui, m, o| p.ui(ui, m, o),
    );
    h.run();
    assert!(h.query_by_label_contains("/lab/cmd").is_some());
}

#[test]
fn settings_change_language_at_once_and_apply_broker_settings() {
    let mut h = harness(
        settings::SettingsPanel::default(),
        fixture(),
        |p, ui, m, o| p.ui(ui, m, o),
    );
    h.run();
    h.get_by_label("中文").click();
    h.run();
    assert!(
        h.state()
            .out
            .iter()
            .any(|a| matches!(a, Action::ApplySettings(p) if p.lang == Lang::Chinese))
    );
    h.get_by_label("mqtt").click();
    h.run();
    h.get_by_label("Apply").click();
    h.run();
    assert!(
        h.state().out.iter().any(
            |a| matches!(a, Action::ApplySettings(p) if p.profile == onenet_desk::Profile::Mqtt)
        )
    );
}

#[test]
fn the_app_navigates_with_shortcuts_and_speaks_chinese() {
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .allow_missing_glyphs()
        .build_ui_state(
            |ui, app: &mut ConsoleApp| {
                app.draw(ui);
            },
            ConsoleApp::offline(&egui::Context::default(), fixture()),
        );
    h.run();
    h.key_press_modifiers(egui::Modifiers::ALT, egui::Key::Num2);
    h.run();
    assert_eq!(h.state().model.tab, Tab::Devices);
    assert!(h.query_by_label("Device filter").is_some());
    h.state_mut().model.prefs.lang = Lang::Chinese;
    h.run();
    assert!(h.query_all_by_label_contains("设备").next().is_some());
    h.state_mut().model.prefs.lang = Lang::English;
    h.run();
    assert!(h.get_all_by_role(Role::Button).count() > 3);
}
