//! The console's "no silent failures" fixes, each checked the way a user would see it: the real app
//! (kittest over `ConsoleApp`) with a real broker on 127.0.0.1:0 where the effect matters (restart,
//! listen address, export), panels over model fixtures elsewhere.
#![cfg(feature = "gui")]

use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::fixes::{
    connack, data_dir, fixture, has_label_containing, offline_app, real_app, running_addr, session,
    step_until,
};

use common::ui::{Fx, harness as panel};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use onenet_desk::config::Profile;
use onenet_desk::events::{Event, StoredPoints};
use onenet_desk::onenet::commands::{Command, CommandStatus};
use onenet_desk::onenet::datapoint::{Datapoint, DpValue};
use onenet_desk::service::api::{QueuedInfo, SessionInfo};
use onenet_desk::ui::actions::{Action, Tab};
use onenet_desk::ui::panels::{commands, datapoints, offline, registry};
use onenet_desk::ui::state::{BrokerState, Level, Model, Reply};

#[test]
fn restart_runs_off_the_ui_thread_and_shows_its_progress() {
    let (_dir, cfg) = data_dir();
    let mut h = real_app(cfg);
    step_until(&mut h, "the broker running", |h| {
        running_addr(h.state()).is_some()
    });
    let t = Instant::now();
    h.state_mut().handle(Action::RestartBroker);
    // The frame that asked is not held up by the stop and start: the window shows the step instead.
    assert!(
        t.elapsed() < Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    assert!(h.state().model.is_busy(), "{:?}", h.state().model.broker);
    h.step();
    assert!(
        has_label_containing(&h, "stopping") || has_label_containing(&h, "starting on"),
        "the status bar shows the step"
    );
    step_until(&mut h, "the broker running again", |h| {
        running_addr(h.state()).is_some()
    });
    let addr = running_addr(h.state()).unwrap();
    assert_eq!(connack(addr), 0, "devices connect after the restart");
    h.state_mut().shutdown();
}

#[test]
fn a_taken_listen_address_keeps_the_broker_serving_on_the_old_one() {
    let (_dir, cfg) = data_dir();
    let mut h = real_app(cfg);
    step_until(&mut h, "the broker running", |h| {
        running_addr(h.state()).is_some()
    });
    let old = running_addr(h.state()).unwrap();
    // Another program holds the port the user types.
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = other.local_addr().unwrap();
    let mut p = h.state().model.prefs.clone();
    p.broker.mqtt_addr = taken;
    p.broker.onenet.offline_max_messages = 20;
    h.state_mut().handle(Action::ApplySettings(Box::new(p)));
    step_until(&mut h, "the change to settle", |h| {
        !h.state().model.is_busy()
    });
    let app = h.state();
    assert_eq!(
        running_addr(app),
        Some(old),
        "still serving on the old address"
    );
    let notice = app
        .model
        .notices
        .iter()
        .rev()
        .find(|n| n.level == Level::Error)
        .expect("an error notice");
    assert!(
        notice.text.contains(&taken.to_string()) && notice.text.contains("goes on serving"),
        "{}",
        notice.text
    );
    // Revert goes back to what runs, not to the address that failed.
    assert_eq!(app.model.prefs.broker.mqtt_addr.to_string(), "127.0.0.1:0");
    assert_eq!(app.model.prefs.broker.onenet.offline_max_messages, 10);
    assert_eq!(connack(old), 0, "devices still connect on the old address");
    h.state_mut().shutdown();
}

#[test]
fn export_asks_for_the_path_in_the_window_and_writes_the_file() {
    let (dir, cfg) = data_dir();
    let mut h = real_app(cfg);
    step_until(&mut h, "the broker running", |h| {
        running_addr(h.state()).is_some()
    });
    let svc = h.state().service().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = rt
        .block_on(svc.ingest_datapoints(
            "9277",
            br#"{"datastreams":[{"id":"temp","datapoints":[{"value":21.5},{"value":22.5},{"value":23.5}]}]}"#,
        ))
        .unwrap();
    assert_eq!(n, 3);
    h.state_mut().handle(Action::OpenDatapoints("9277".into()));
    step_until(&mut h, "the Export button", |h| {
        h.query_by_label("Export…").is_some()
    });
    h.get_by_label("Export…").click();
    step_until(&mut h, "the export dialog", |h| {
        h.query_by_label("Export to file…").is_some()
    });
    h.get_by_label("Export to file…").click();
    step_until(&mut h, "the save-as dialog", |h| {
        h.query_by_label("File path").is_some()
    });
    let expected = dir.path().join("exports").join("datapoints-9277.csv");
    assert_eq!(
        h.get_by_label("File path").value().as_deref(),
        Some(expected.display().to_string().as_str()),
        "the path is typed in the window, in the data dir by default"
    );
    h.get_by_label("Save").click();
    step_until(&mut h, "the export to finish", |h| {
        h.state()
            .model
            .notices
            .iter()
            .any(|n| n.text.contains("Exported 3 datapoints"))
    });
    let csv = std::fs::read_to_string(&expected).unwrap();
    assert_eq!(csv.lines().count(), 4, "a header and 3 rows:\n{csv}");
    assert!(csv.contains("22.5"), "{csv}");
    h.state_mut().shutdown();
}

#[test]
fn without_a_system_file_dialog_the_window_says_so_and_keeps_the_typed_path() {
    let mut h = offline_app(fixture(), [1024.0, 700.0]);
    h.state_mut().handle(Action::ExportTraffic);
    h.run();
    assert!(h.query_by_label("File path").is_some());
    h.get_by_label("Browse…").click();
    h.run();
    // No broker here: Browse answers at once as a missing dialog would.
    assert!(has_label_containing(&h, "not available on this desktop"));
    assert_eq!(
        h.get_by_label("File path").value().as_deref(),
        Some("/tmp/ui-fixes/exports/traffic.jsonl")
    );
    h.key_press(egui::Key::Escape);
    h.run();
    assert!(h.query_by_label("File path").is_none(), "Escape closes it");
}

#[test]
fn stop_asks_first_when_devices_are_online_and_escape_cancels() {
    let mut m = fixture();
    m.broker = BrokerState::Running {
        addr: "127.0.0.1:6002".parse().unwrap(),
        since: Instant::now(),
    };
    let mut h = offline_app(m, [1024.0, 700.0]);
    h.run();
    h.get_by_label("Stop").click();
    h.run();
    assert!(!h.state().log.contains(&Action::StopBroker));
    assert!(has_label_containing(&h, "1 device is online"));
    h.key_press(egui::Key::Escape);
    h.run();
    assert!(
        !has_label_containing(&h, "1 device is online"),
        "Escape closes"
    );
    assert!(!h.state().log.contains(&Action::StopBroker));
    h.get_by_label("Stop").click();
    h.run();
    h.get_by_label("Yes, stop").click();
    h.run();
    assert!(h.state().log.contains(&Action::StopBroker));
}

#[test]
fn deleting_an_online_device_says_so_and_disconnects_it() {
    let mut h = panel(
        registry::RegistryPanel::default(),
        fixture(),
        |p, ui, m, o| p.ui(ui, m, o),
    );
    h.run();
    // Rows: 9277 (online) first.
    h.query_all_by_label("Delete").nth(1).unwrap().click();
    h.run();
    assert!(has_label_containing(
        &h,
        "It is online and will be disconnected"
    ));
    h.get_by_label("Yes, delete").click();
    h.run();
    let out = &h.state().out;
    assert!(
        out.contains(&Action::DeleteDevice("9277".into())),
        "{out:?}"
    );
    assert!(out.contains(&Action::Kick("9277".into())), "{out:?}");
}

#[test]
fn a_deleted_product_leaves_no_devices_pane_and_a_failed_add_keeps_the_input() {
    let mut h = panel(
        registry::RegistryPanel::default(),
        fixture(),
        |p, ui, m, o| p.ui(ui, m, o),
    );
    h.run();
    assert!(has_label_containing(&h, "Devices of product 339"));
    let id = h.get_by_label("New device id");
    id.focus();
    id.type_text("9277");
    h.run();
    h.get_by_label("Add device").click();
    h.run();
    h.state_mut().model.apply_reply(Reply::Added(Err(
        "Device not added: device 9277 already exists".into(),
    )));
    h.run();
    assert_eq!(
        h.get_by_label("New device id").value().as_deref(),
        Some("9277"),
        "a failed add keeps what was typed"
    );
    assert!(has_label_containing(&h, "already exists"));
    // The product is deleted (here or elsewhere): its devices pane goes.
    h.state_mut().model.products.clear();
    h.state_mut().model.devices.clear();
    h.run();
    assert!(!has_label_containing(&h, "Devices of product 339"));
    assert!(h.query_by_label("Add device").is_none());
}

fn points(m: &mut Model, device: &str, stream: &str, at: i64, value: DpValue) {
    m.apply_event(Event::Datapoints(Arc::new(StoredPoints::new(
        device.into(),
        at,
        3,
        vec![Datapoint {
            stream: stream.into(),
            at: Some(at),
            value,
        }],
    ))));
}

#[test]
fn the_default_plot_ticks_streams_with_recent_data() {
    let mut m = fixture();
    let now = onenet_desk::ui::format::now_ms();
    for s in ["a", "b", "c", "d"] {
        points(&mut m, "9277", s, now - 86_400_000, DpValue::Float(1.0));
    }
    points(&mut m, "9277", "z-live", now, DpValue::Float(2.0));
    // Another device whose only stream stopped long ago.
    points(&mut m, "1000", "old", now - 86_400_000, DpValue::Float(3.0));
    let (dev, streams) = datapoints::auto_plot(&m).unwrap();
    assert_eq!(dev, "9277");
    assert_eq!(streams[0], "z-live", "{streams:?}");
}

#[test]
fn a_long_value_does_not_push_the_plot_off_screen_at_1024x700() {
    let mut m = fixture();
    let now = onenet_desk::ui::format::now_ms();
    let long = serde_json::json!({"config": "x".repeat(400), "nested": {"a": [1, 2, 3]}});
    points(
        &mut m,
        "9277",
        "a_very_long_stream_name_for_settings",
        now,
        DpValue::Json(long),
    );
    points(&mut m, "9277", "temperature", now, DpValue::Float(22.5));
    m.tab = Tab::Datapoints;
    m.selected = Some("9277".into());
    let mut h = offline_app(m, [1024.0, 700.0]);
    h.run();
    h.run();
    let export = h.get_by_label("Export…").rect();
    assert!(
        export.right() <= 1024.0 && export.left() >= 150.0,
        "Export… is on screen: {export:?}"
    );
    let filter = h.get_by_label("Filter devices or streams").rect();
    assert!(
        filter.right() < 1024.0 / 2.0 + 150.0,
        "the tree keeps to at most half the panel: {filter:?}"
    );
}

/// Every column of the Devices table, Warnings the last, is on screen in a 1024 px window with a lab's
/// figures in it (eight-digit ids, five-digit counters), without scrolling sideways.
#[test]
fn the_devices_table_fits_a_1024_px_window() {
    let mut m = fixture();
    let now = onenet_desk::ui::format::now_ms();
    for (d, s) in m.devices.iter_mut().zip(m.sessions.iter_mut()) {
        d.id = format!("1000{}", d.id);
        d.name = format!("virtual {}", d.id);
        s.client_id = d.id.clone();
        s.remote = Some("127.0.0.1:59020".into());
        s.online = true;
        s.connected_at = Some(now);
        s.last_seen = Some(now);
        s.messages_in = 12_345;
        s.messages_out = 12_345;
        s.dropped = 1_234;
        s.warnings = 12;
    }
    m.tab = Tab::Devices;
    let mut h = offline_app(m, [1024.0, 700.0]);
    h.run();
    h.run();
    let warnings = h.get_by_label("Warnings").rect();
    assert!(
        warnings.right() <= 1024.0,
        "the last column's header is on screen: {warnings:?}"
    );
}

/// With a device's detail open beside it, the Devices table keeps to the columns the detail does not
/// repeat, so Dropped and Warnings stay on screen in a 1024 px window instead of behind a sideways
/// scroll; closing the detail brings every column back.
#[test]
fn the_devices_table_beside_the_detail_keeps_its_last_columns_on_screen() {
    let mut m = fixture();
    for s in m.sessions.iter_mut() {
        s.online = true;
        s.remote = Some("127.0.0.1:59020".into());
        s.dropped = 1_234;
        s.warnings = 12;
    }
    m.selected = Some(m.devices[0].id.clone());
    m.tab = Tab::Devices;
    let mut h = offline_app(m, [1024.0, 700.0]);
    h.run();
    h.run();
    let detail = h.get_by_label("Kick").rect();
    // The table's header (the detail has a "Dropped" line of its own).
    for col in ["Dropped", "Warnings", "Name", "In"] {
        let header = h
            .get_all_by_label(col)
            .map(|n| n.rect())
            .min_by(|a, b| a.left().total_cmp(&b.left()))
            .unwrap();
        assert!(
            header.right() <= detail.left(),
            "{col} is on screen, left of the detail: {header:?}, detail at {detail:?}"
        );
    }
    for col in ["Subs", "Clean"] {
        assert!(
            h.query_by_label(col).is_none(),
            "{col}: the detail says it, the table leaves it out"
        );
    }
    h.state_mut().model.selected = None;
    h.run();
    h.run();
    assert!(
        h.query_by_label("Subs").is_some() && h.query_by_label("Clean").is_some(),
        "every column is back"
    );
}

/// A publisher whose reading the broker holds back (its subscribers' queues full) says so: its In count
/// in the table, amber, on hover, and its detail, with how many it waits for; one read as usual says
/// nothing of it.
#[test]
fn a_device_held_back_by_full_subscribers_says_so() {
    let mut m = fixture();
    m.sessions[0].held_back = 2;
    m.sessions[0].messages_in = 4321;
    m.tab = Tab::Devices;
    let mut h = offline_app(m, [1024.0, 700.0]);
    h.run();
    // In the table, its In count is amber, and says why on hover.
    let at = h.get_by_label("4321").rect().center();
    h.hover_at(at);
    h.run_steps(12);
    assert!(has_label_containing(
        &h,
        "Reading held back until its full subscribers drain: 2"
    ));
    // Its detail says so too.
    h.state_mut().model.selected = Some("9277".into());
    h.run();
    assert!(has_label_containing(&h, "held back by full subscribers: 2"));
    h.state_mut().model.sessions[0].held_back = 0;
    h.run();
    assert!(!has_label_containing(&h, "held back by full subscribers"));
}

fn command(uuid: &str, status: CommandStatus, reply: Option<&[u8]>) -> Command {
    Command {
        uuid: uuid.into(),
        device_id: "9277".into(),
        body: bytes::Bytes::from_static(b"on"),
        status,
        created_at: 1_700_000_000_000,
        sent_at: Some(1_700_000_000_458),
        replied_at: reply.map(|_| 1_700_000_001_000),
        reply: reply.map(bytes::Bytes::copy_from_slice),
        expire_at: None,
        validity_s: 0,
        qos: 0,
        sends: Default::default(),
    }
}

#[test]
fn a_timeout_shows_when_it_timed_out_and_each_reply_picks_its_view() {
    let mut m = fixture();
    m.selected = Some("9277".into());
    m.prefs.time_zone = onenet_desk::ui::prefs::TimeZone::Utc;
    m.commands.insert(
        "9277".into(),
        vec![
            command("t1", CommandStatus::Timeout, None),
            command(
                "j1",
                CommandStatus::Replied,
                Some(br#"{"state":{"led":"on","note":"a long string that stays whole"}}"#),
            ),
            command("x1", CommandStatus::Replied, Some(b"plain pong")),
        ],
    );
    let mut h = panel(commands::CommandsPanel::default(), m, |p, ui, m, o| {
        p.ui(ui, m, o)
    });
    h.state_mut().panel.viewing = Some("t1".into());
    h.run();
    // Sent at 22:13:20.458 UTC; the reply window is 10 s.
    assert!(has_label_containing(&h, "sent 22:13:20.458"));
    assert!(
        has_label_containing(&h, "timeout 22:13:30.458"),
        "the timeout is shown when it happened"
    );
    h.state_mut().panel.viewing = Some("j1".into());
    h.run();
    assert!(
        has_label_containing(&h, "\n    \"led\": \"on\""),
        "JSON indented, as Retained shows it"
    );
    h.state_mut().panel.viewing = Some("x1".into());
    h.run();
    assert!(has_label_containing(&h, "plain pong"));
    assert!(
        !has_label_containing(&h, "not JSON"),
        "a text reply shows as text"
    );
}

#[test]
fn the_offline_queue_follows_the_counts_and_shows_a_payload() {
    let mut m = fixture();
    m.sessions[1].queued = 2;
    m.sessions[1].held_bytes = 15;
    // Queued days ago, so the age column reads the same in every frame ("3 d 0 h"): queued just now, it
    // read "12 ms", "15 ms" … and on a busy machine a width change between frames made the grid lay out
    // again, past the harness's step limit.
    let queued_at = onenet_desk::ui::format::now_ms() - 3 * 86_400_000;
    let q = |topic: &str, payload: &'static [u8]| QueuedInfo {
        topic: topic.into(),
        qos: 1,
        payload_len: payload.len(),
        payload: bytes::Bytes::from_static(payload),
        queued_at,
        packet_id: None,
        released: false,
    };
    m.queues.insert(
        "9278".into(),
        vec![q("/lab/cmd", br#"{"led":1}"#), q("/lab/cmd", b"second")],
    );
    let mut h = panel(offline::OfflinePanel::default(), m, |p, ui, m, o| {
        p.ui(ui, m, o)
    });
    h.state_mut().panel.open = Some("9278".into());
    h.run();
    // The header says what the device's messages hold in memory, beside their counts.
    assert!(has_label_containing(&h, "2 queued · 0 in flight · 15 B"));
    let loads = |h: &Harness<'_, Fx<offline::OfflinePanel>>| {
        h.state()
            .out
            .iter()
            .filter(|a| **a == Action::LoadDetail("9278".into()))
            .count()
    };
    assert_eq!(loads(&h), 1);
    h.run();
    assert_eq!(loads(&h), 1, "no reload while nothing moves");
    // One message was delivered: the poll's count moves, the list is asked for again.
    h.state_mut().model.sessions[1].queued = 1;
    h.run();
    assert_eq!(loads(&h), 2);
    h.query_all_by_label("View").next().unwrap().click();
    h.run();
    assert!(
        has_label_containing(&h, "\"led\": 1"),
        "the payload is shown"
    );
}

#[test]
fn devices_keep_last_seen_and_counts_across_restarts_and_counts_match_rows() {
    use onenet_desk::ui::panels::devices::{SortBy, rows};
    use onenet_desk::ui::state::Snapshot;
    let mut m = fixture();
    let mut first = session("9277", true, true);
    first.messages_in = 5;
    first.last_seen = Some(1_700_000_500_000);
    let snap = |sessions: Vec<SessionInfo>, m: &Model| Snapshot {
        sessions,
        products: m.products.clone(),
        devices: m.devices.clone(),
        ..Default::default()
    };
    let s = snap(vec![first], &m);
    m.apply_snapshot(s, Instant::now());
    // The broker restarts: the clean session is gone.
    let s = snap(vec![], &m);
    m.apply_snapshot(s, Instant::now());
    let row = |m: &Model| {
        rows(m, "", false, SortBy::Id, true)
            .into_iter()
            .find(|r| r.id == "9277")
            .unwrap()
    };
    assert_eq!(row(&m).messages_in, 5, "counts survive the restart");
    assert_eq!(row(&m).last_seen, Some(1_700_000_500_000));
    // It reconnects: the new run's counter adds to the old.
    let mut again = session("9277", true, true);
    again.messages_in = 2;
    let s = snap(vec![again], &m);
    m.apply_snapshot(s, Instant::now());
    assert_eq!(row(&m).messages_in, 7);

    // mqtt profile: an anonymous client is a row too, and the counts say so.
    m.config.profile = Profile::Mqtt;
    let mut anon = session("sensor-x", true, true);
    anon.namespace = String::new();
    let s = snap(vec![session("9277", true, true), anon], &m);
    m.apply_snapshot(s, Instant::now());
    assert_eq!(rows(&m, "", false, SortBy::Id, true).len(), 3);
    m.broker = BrokerState::Running {
        addr: "0.0.0.0:6002".parse().unwrap(),
        since: Instant::now(),
    };
    let mut h = offline_app(m, [1024.0, 700.0]);
    h.run();
    assert!(
        has_label_containing(&h, "online 2/3"),
        "status bar matches the rows"
    );
    assert!(has_label_containing(&h, "plain MQTT 3.1.1: any client id"));
    assert!(!has_label_containing(&h, "user name = product id"));
}
