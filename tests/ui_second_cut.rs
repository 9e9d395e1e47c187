//! The console's second cut (issue 14), checked as a first-time user would see it: notices that go
//! away and never move the panel, readable registry fields, device names where devices are picked, the
//! throughput chart, settings in the user's words, the first-run path, idle repaints, JSON fields
//! plotted, and the smaller fixes. The whole app over a model fixture where drawing is the point; the
//! real app with its broker on 127.0.0.1:0 where the effect matters.
#![cfg(feature = "gui")]

mod common;

use common::ui::{app_harness, fixture};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use onenet_desk::ui::ConsoleApp;
use onenet_desk::ui::actions::Tab;
use onenet_desk::ui::model::Level;

/// Sets the window's clock (egui's input time, which the console's notices read) to `t` seconds and
/// draws a frame.
fn at(h: &mut Harness<'_, ConsoleApp>, t: f64) {
    h.input_mut().time = Some(t);
    h.step();
    h.step();
}

fn visible(h: &Harness<'_, ConsoleApp>, text: &str) -> bool {
    h.query_all_by_label(text).next().is_some()
}

fn rects(h: &Harness<'_, ConsoleApp>, label: &str) -> Vec<egui::Rect> {
    h.query_all_by_label(label).map(|n| n.rect()).collect()
}

#[test]
fn info_notices_fade_errors_stay() {
    let mut h = app_harness(fixture(), [1280.0, 800.0]);
    at(&mut h, 100.0);
    let m = &mut h.state_mut().model;
    m.notify(Level::Info, "Product 339 added.");
    m.notify(Level::Error, "The broker did not start: port in use");
    at(&mut h, 100.0);
    assert!(visible(&h, "Product 339 added."));
    assert!(visible(&h, "The broker did not start: port in use"));
    at(&mut h, 103.0);
    assert!(visible(&h, "Product 339 added."), "still there after 3 s");
    at(&mut h, 107.0);
    h.step();
    assert!(
        !visible(&h, "Product 339 added."),
        "an info notice is gone after its time"
    );
    assert_eq!(h.state().model.notices.len(), 1);
    at(&mut h, 1000.0);
    h.step();
    assert!(
        visible(&h, "The broker did not start: port in use"),
        "errors stay until dismissed"
    );
    h.get_by_label("×").click();
    h.step();
    h.step();
    assert!(!visible(&h, "The broker did not start: port in use"));
    assert!(h.state().model.notices.is_empty());
}

#[test]
fn notices_overlay_the_panel_instead_of_moving_it() {
    let mut m = fixture();
    m.tab = Tab::Registry;
    let mut h = app_harness(m, [1280.0, 800.0]);
    h.run_steps(3);
    let before = h.get_by_label("Add device").rect();
    let titles = rects(&h, "Registry");
    for i in 0..3 {
        h.state_mut()
            .model
            .notify(Level::Error, format!("Device {i} could not be added."));
    }
    h.run_steps(3);
    assert!(visible(&h, "Device 2 could not be added."));
    assert_eq!(h.get_by_label("Add device").rect(), before);
    assert_eq!(rects(&h, "Registry"), titles);
}

/// A 32-character API key and a device name can be read while typing: the fields are wide enough.
#[test]
fn registry_fields_fit_a_key_and_a_name() {
    let mut m = fixture();
    m.tab = Tab::Registry;
    let mut h = app_harness(m, [1280.0, 800.0]);
    h.run_steps(2);
    h.get_by_label("New product").click();
    h.run_steps(3);
    let key = h.get_by_label("New API key").rect().width();
    let name = h.get_by_label("New device name").rect().width();
    let auth = h.get_by_label("New auth_info").rect().width();
    // 32 characters of the body font (about 7 px each) and a margin.
    assert!(key >= 260.0, "API key field is {key} px wide");
    assert!(name >= 200.0, "device name field is {name} px wide");
    assert!(auth >= 200.0, "auth_info field is {auth} px wide");
}

/// A device named 温湿度传感器 is picked by its name: in the command composer's list (the real app, the
/// name read from the registry by the broker's poll) and in the Datapoints tree.
#[test]
fn device_pickers_show_names() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::ui::live_config(dir.path());
    {
        let db = onenet_desk::store::Db::open(&cfg.db_path()).unwrap();
        db.update_device("9277", Some("温湿度传感器".into()), None)
            .unwrap();
    }
    let mut h = common::ui::live_app(cfg);
    h.state_mut()
        .handle(onenet_desk::ui::actions::Action::Navigate(Tab::Commands));
    common::ui::step_until(&mut h, "the registry to be read", |h| {
        !h.state().model.devices.is_empty()
    });
    h.get_by_role_and_label(egui::accesskit::Role::ComboBox, "Device")
        .click();
    h.run_steps(2);
    assert!(
        visible(&h, "○ 温湿度传感器 (9277)"),
        "the list names the device"
    );
    assert!(
        visible(&h, "○ 9278"),
        "a device without a name shows its id"
    );
    h.get_by_label("○ 温湿度传感器 (9277)").click();
    h.run_steps(2);
    assert_eq!(h.state().panels.commands.device, "9277");
    assert_eq!(
        h.get_by_role_and_label(egui::accesskit::Role::ComboBox, "Device")
            .value()
            .as_deref(),
        Some("温湿度传感器 (9277)"),
        "the choice shows the name"
    );
    h.state_mut().shutdown();

    let mut m = fixture();
    m.devices[0].name = "温湿度传感器".into();
    let devices = m.devices.clone();
    m.set_devices(devices);
    m.tab = Tab::Datapoints;
    let mut h = app_harness(m, [1280.0, 800.0]);
    h.run_steps(3);
    assert!(
        h.query_all_by_label_contains("温湿度传感器 (9277)")
            .next()
            .is_some(),
        "the Datapoints tree names the device"
    );
}

/// The throughput chart: an empty chart from 0 up (no negative axis) over the last 5 minutes of the
/// wall clock; one message every other second reads as a steady ~0.5/s, not a 0↔1 comb; a short first
/// interval makes no spike.
#[test]
fn throughput_chart_is_smoothed_on_the_wall_clock() {
    use onenet_desk::ui::model::Snapshot;
    use std::time::{Duration, Instant};

    let mut h = app_harness(fixture(), [1280.0, 800.0]);
    h.run_steps(2);
    let ([x0, x1], [y0, y1]) = h.state().panels.overview.drawn.expect("chart drawn");
    let now = onenet_desk::ui::format::now_ms() as f64 / 1000.0;
    assert!(y0 >= 0.0 && y1 > 0.0, "empty chart's y axis: {y0}..{y1}");
    assert!(
        (x1 - now).abs() < 5.0,
        "x axis ends now on the wall clock: {x1} vs {now}"
    );
    assert!((x1 - x0 - 300.0).abs() < 0.5, "5 minutes shown");

    let m = &mut h.state_mut().model;
    let t0 = Instant::now();
    let snap = |n: u64| {
        let mut s = Snapshot::default();
        s.metrics.publishes_in = n;
        s
    };
    // The broker had handled 1000 messages before; one more arrives 0.1 s after the first reading.
    m.apply_snapshot(snap(1000), t0);
    m.apply_snapshot(snap(1001), t0 + Duration::from_millis(100));
    assert!(m.rate_history.is_empty(), "no rate from a 0.1 s interval");
    let mut n = 1001;
    for s in 1..=30 {
        if s % 2 == 0 {
            n += 1;
        }
        m.apply_snapshot(snap(n), t0 + Duration::from_secs(s));
    }
    let rates: Vec<f64> = m.rate_history.iter().map(|(_, r)| r.msg_in).collect();
    assert!(
        rates.iter().all(|r| (0.15..=1.0).contains(r)),
        "rates spike or drop to 0: {rates:?}"
    );
    let late = &rates[rates.len() - 20..];
    assert!(
        late.iter().all(|r| (0.35..=0.65).contains(r)),
        "steady ~0.5/s once the window is full: {late:?}"
    );
    let (t_last, _) = *m.rate_history.back().unwrap();
    let wall = m.started_ms as f64 / 1000.0 + 30.0;
    assert!(
        (t_last - wall).abs() < 2.0,
        "samples are on the wall clock: {t_last} vs {wall}"
    );
}
