//! Panel tests on model fixtures (egui_kittest): find widgets by label, click and type, assert on the
//! actions the panel emits or on the model.
#![cfg(feature = "gui")]

mod common;

use common::ui::{app_harness, fixture, harness};
use egui_kittest::kittest::Queryable;
use onenet_desk::ui::actions::{Action, Tab};
use onenet_desk::ui::panels::{commands, datapoints, devices, offline, registry, retained};
use onenet_desk::ui::panels::{settings, subscriptions, traffic};
use onenet_desk::ui::prefs::Lang;

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
        qos: 0,
    }));
    // Ticked, the same body goes with qos=1 (sent again at each login until answered).
    h.get_by_label("Send again at each login while valid (qos=1)")
        .click();
    h.run();
    h.get_by_label("Send").click();
    h.run();
    assert!(h.state().out.contains(&Action::SendCommand {
        device: "9277".into(),
        body: b"{\"led\":1}".to_vec(),
        validity_s: 0,
        qos: 1,
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
        qos: 0,
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

/// Retained messages the broker refused at its bound are counted in the panel's header (from the
/// metrics reading), and nothing is said while there are none.
#[test]
fn the_retained_panel_counts_what_the_broker_did_not_keep() {
    let mut m = fixture();
    let mut snap = onenet_desk::ui::state::Snapshot {
        retained: m.retained.clone(),
        ..Default::default()
    };
    m.apply_snapshot(snap.clone(), std::time::Instant::now());
    let mut h = harness(retained::RetainedPanel::default(), m, |p, ui, m, o| {
        p.ui(ui, m, o)
    });
    h.run();
    assert!(h.query_by_label_contains("not kept").is_none());
    snap.metrics.retained_refused = 3;
    h.state_mut()
        .model
        .apply_snapshot(snap, std::time::Instant::now());
    h.run();
    assert!(
        h.query_by_label_contains("3 not kept since the broker started")
            .is_some()
    );
}

#[test]
fn deleting_all_retained_can_be_cancelled_or_confirmed() {
    let mut h = harness(
        retained::RetainedPanel::default(),
        fixture(),
        |p, ui, m, o| p.ui(ui, m, o),
    );
    h.run();
    h.get_by_label("Delete all").click();
    h.run();
    assert!(h.query_by_label("Please confirm").is_some());
    h.get_by_label("Cancel").click();
    h.run();
    assert!(h.state().out.is_empty(), "cancelled: nothing deleted");
    assert!(h.query_by_label("Please confirm").is_none());
    h.get_by_label("Delete all").click();
    h.run();
    assert!(
        h.state().out.is_empty(),
        "nothing deleted before confirming"
    );
    h.get_by_label("Yes, delete").click();
    h.run();
    assert_eq!(h.state().out, vec![Action::DeleteAllRetained]);
    assert!(h.query_by_label("Please confirm").is_none());
}

#[test]
fn offline_queue_lists_and_clears_after_confirming() {
    let mut m = fixture();
    let now = onenet_desk::ui::format::now_ms();
    m.queues.insert(
        "9278".into(),
        vec![
            onenet_desk::service::api::QueuedInfo {
                topic: "/lab/cmd".into(),
                qos: 1,
                payload_len: 4,
                payload: bytes::Bytes::from_static(b"ping"),
                queued_at: now - 47 * 3600 * 1000,
                packet_id: None,
                released: false,
            },
            onenet_desk::service::api::QueuedInfo {
                topic: "/lab/new".into(),
                qos: 0,
                payload_len: 4,
                payload: bytes::Bytes::from_static(b"ping"),
                queued_at: now,
                packet_id: None,
                released: false,
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
    assert!(h.state().out.iter().any(
        |a| matches!(a, Action::ApplySettings(p) if p.broker.profile == onenet_desk::Profile::Mqtt)
    ));
}

#[test]
fn the_app_navigates_with_shortcuts_and_speaks_chinese() {
    let mut h = app_harness(fixture(), [1280.0, 800.0]);
    h.run();
    h.key_press_modifiers(egui::Modifiers::ALT, egui::Key::Num2);
    h.run();
    assert_eq!(h.state().model.tab, Tab::Devices);
    assert!(h.query_by_label("Device filter").is_some());
    h.key_press_modifiers(egui::Modifiers::ALT, egui::Key::Num7);
    h.run();
    assert_eq!(h.state().model.tab, Tab::Datapoints);
    h.key_press_modifiers(egui::Modifiers::ALT, egui::Key::Num2);
    h.run();
    // Chinese: the very widgets of the Devices panel carry their translations, and no English is left
    h.state_mut().model.prefs.lang = Lang::Chinese;
    h.run();
    assert!(
        h.query_by_label("设备筛选").is_some(),
        "Device filter in Chinese"
    );
    assert!(h.query_by_label("Device filter").is_none());
    assert!(
        h.query_by_label("概览").is_some(),
        "the Overview tab in Chinese"
    );
    assert!(h.query_by_label("Overview").is_none());
    // and back
    h.state_mut().model.prefs.lang = Lang::English;
    h.run();
    assert!(h.query_by_label("Device filter").is_some());
    assert!(h.query_by_label("设备筛选").is_none());
    assert!(h.query_by_label("Overview").is_some());
}
