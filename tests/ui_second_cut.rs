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
use onenet_desk::ui::state::Level;

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
    use onenet_desk::ui::state::Snapshot;
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

    // The rates on a model of their own: the app's model also takes the real broker's readings every
    // second, and one of those landing between the readings below (a slow machine) would be a spike.
    let mut m = fixture();
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
    let wall = m.started_ms as f64 / 1000.0 + (t0 - m.started).as_secs_f64() + 30.0;
    assert!(
        (t_last - wall).abs() < 0.01,
        "samples are on the wall clock: {t_last} vs {wall}"
    );
}

/// The time to the next repaint the last frame asked for.
fn repaint_delay(h: &Harness<'_, ConsoleApp>) -> std::time::Duration {
    h.output().viewport_output[&egui::ViewportId::ROOT].repaint_delay
}

/// An idle window does not redraw on a timer: on a panel without running clocks the next frame is
/// asked for only when the status bar's uptime changes (a minute); Overview's clock asks each second;
/// a device connecting (an event) wakes the window at once. The real app and broker.
#[test]
fn idle_window_repaints_on_events_and_clocks_only() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let mut h = common::ui::live_app(common::ui::live_config(dir.path()));
    let addr = common::ui::addr(&h);
    // The broker has run for two minutes: the status bar shows minutes.
    h.state_mut().model.broker = onenet_desk::ui::state::BrokerState::Running {
        addr,
        since: Instant::now() - Duration::from_secs(120),
    };
    h.state_mut()
        .handle(onenet_desk::ui::actions::Action::Navigate(Tab::Registry));
    h.run_steps(4);
    let d = repaint_delay(&h);
    assert!(
        d > Duration::from_secs(5),
        "Registry asks for its next frame in {d:?}"
    );
    let woken = Arc::new(AtomicBool::new(false));
    let w = woken.clone();
    h.ctx.set_request_repaint_callback(move |info| {
        if info.delay < Duration::from_millis(100) {
            w.store(true, Ordering::SeqCst);
        }
    });
    // Two broker readings (one a second) that find nothing new wake nothing.
    let quiet = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < quiet {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !woken.load(Ordering::SeqCst),
        "an idle broker reading woke the window"
    );
    let _device = common::ui::Dev::online(addr, "9277", "abc123", true);
    let deadline = Instant::now() + common::ui::UI_WAIT;
    while !woken.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "a connecting device did not wake the window"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    common::ui::step_until(&mut h, "the device online", |h| {
        h.state().model.is_online("9277")
    });
    h.state_mut()
        .handle(onenet_desk::ui::actions::Action::Navigate(Tab::Overview));
    h.run_steps(2);
    assert!(repaint_delay(&h) <= Duration::from_secs(1));
    h.state_mut().shutdown();
}

/// Settings say what each option does for the user, with the spec section in the tooltip; in 中文 too.
#[test]
fn settings_speak_the_users_language() {
    let mut m = fixture();
    m.tab = Tab::Settings;
    let mut h = app_harness(m, [1280.0, 1400.0]);
    h.run_steps(3);
    assert!(h.query_all_by_label_contains("spec §13").next().is_none());
    assert!(!visible(&h, "Disconnect on bad $dp"));
    // The row's label (left, where the section's heading starts) on the line of its checkbox.
    let left = h
        .get_by_label("Compatibility with OneNET devices")
        .rect()
        .left();
    let y = h
        .get_by_label("Send subscribed datapoints as JSON")
        .rect()
        .center()
        .y;
    h.hover_at(egui::pos2(left + 10.0, y));
    h.run_steps(12);
    assert!(
        h.query_all_by_label_contains("instead of the bare value. Spec §10")
            .next()
            .is_some(),
        "the tooltip says what it does and names the spec section"
    );
    h.state_mut().model.prefs.lang = onenet_desk::ui::prefs::Lang::Chinese;
    h.run_steps(3);
    assert!(visible(&h, "与 OneNET 设备的兼容"));
    assert!(visible(&h, "以 JSON 发送订阅的数据点"));
    assert!(visible(&h, "为离线设备保留的消息数"));
}

/// An empty registry shows the way to a first device, with the running broker's real port and what
/// goes in the firmware; "turn on auto-register" turns it on in the running broker. The real app.
#[test]
fn empty_registry_shows_the_first_device_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = onenet_desk::config::Config::new(dir.path().to_path_buf());
    cfg.mqtt_addr = "127.0.0.1:0".parse().unwrap();
    let mut h = common::ui::live_app(cfg);
    let port = match h.state().model.broker {
        onenet_desk::ui::state::BrokerState::Running { addr, .. } => addr.port(),
        ref b => panic!("broker not running: {b:?}"),
    };
    h.run_steps(3);
    assert!(visible(&h, "Connect your first device"));
    assert!(visible(&h, "127.0.0.1"), "the host");
    assert!(
        visible(&h, &port.to_string()),
        "the port the broker listens on"
    );
    for what in ["Client id", "User name", "Password"] {
        assert!(visible(&h, what), "{what} row");
    }
    assert!(visible(&h, "the device's auth_info"));
    h.get_by_label("Or turn on auto-register").click();
    common::ui::step_until(&mut h, "auto-register on in the broker", |h| {
        h.state()
            .service()
            .is_some_and(|s| s.config().auto_register)
    });
    assert!(h.state().model.prefs.broker.auto_register);
    h.get_by_label("Add product and device…").click();
    h.run_steps(2);
    assert_eq!(h.state().model.tab, Tab::Registry);
    h.state_mut().model.tab = Tab::Overview;
    h.state_mut().model.prefs.lang = onenet_desk::ui::prefs::Lang::Chinese;
    h.run_steps(3);
    assert!(visible(&h, "连接第一台设备"));
    assert!(visible(&h, "2. 在固件中填入以下值："));
    h.state_mut().shutdown();
}

/// A PUBLISH event on `topic` from device `dev`, as the broker reports it.
fn publish_event(dev: &str, topic: &str) -> onenet_desk::events::Event {
    let mut p = vec![0x30, 0, 0, topic.len() as u8];
    p.extend_from_slice(topic.as_bytes());
    p.extend_from_slice(b"{}");
    p[1] = (p.len() - 2) as u8;
    onenet_desk::events::Event::Packet {
        at: 1_700_000_000_000,
        client_id: Some(dev.into()),
        direction: onenet_desk::events::Direction::Out,
        bytes: p.into(),
        dp: None,
    }
}

/// Subscriptions: the by-device filter finds a device by its name; "1 subscriber"; each command's
/// `$creq/<uuid>` counted in one "$creq/+" row.
#[test]
fn subscriptions_find_names_count_and_group() {
    let mut m = fixture();
    m.devices[0].name = "温湿度传感器".into();
    let devices = m.devices.clone();
    m.set_devices(devices);
    m.sessions[2].subscriptions = vec![("/lab/only-9279".into(), 0)];
    for uuid in ["6b1c7d3e-aaaa", "6b1c7d3e-bbbb", "6b1c7d3e-cccc"] {
        m.apply_event(publish_event("9277", &format!("$creq/{uuid}")));
    }
    m.tab = Tab::Subscriptions;
    let mut h = app_harness(m, [1280.0, 800.0]);
    h.run_steps(2);
    assert!(visible(&h, "/lab/cmd   (2 subscribers)"));
    assert!(visible(&h, "/lab/only-9279   (1 subscriber)"));
    assert!(visible(&h, "$creq/+"), "uuid topics grouped");
    assert!(visible(&h, "3"), "three commands counted in the group");
    assert!(h.query_all_by_label_contains("6b1c7d3e").next().is_none());
    h.get_by_label("By device").click();
    h.run_steps(2);
    h.state_mut().panels.subscriptions.filter = "温湿".into();
    h.run_steps(2);
    assert!(visible(&h, "温湿度传感器 (9277)"), "found by its name");
    assert!(!visible(&h, "9279"), "others filtered out");
}

/// Retained: an empty table says what would be there; a long topic stays on one line and the View and
/// Delete buttons keep their room.
#[test]
fn retained_table_keeps_its_columns_and_hints_when_empty() {
    let mut m = fixture();
    m.retained = Default::default();
    m.tab = Tab::Retained;
    let mut h = app_harness(m, [1280.0, 800.0]);
    h.run_steps(2);
    assert!(
        h.query_all_by_label_contains("No retained messages.")
            .next()
            .is_some()
    );
    let topic =
        "/factory/line-7/station-12/sensors/temperature/calibrated/with/a/very/long/topic/name";
    h.state_mut().model.retained =
        std::sync::Arc::new(vec![onenet_desk::service::api::RetainedInfo {
        namespace: "339".into(),
        topic: topic.into(),
        payload:
            br#"{"on":true,"level":42,"note":"a payload long enough to need eliding in the table"}"#
                .to_vec()
                .into(),
        qos: 1,
        from_will_of: None,
    }]);
    h.run_steps(3);
    let row_h = h.get_by_label("View").rect().height();
    let t = h.get_by_label(topic).rect();
    assert!(t.height() <= row_h + 4.0, "topic wrapped: {t:?}");
    let (view, delete) = (
        h.get_by_label("View").rect(),
        h.get_by_label("Delete").rect(),
    );
    assert!(
        view.right() <= delete.left(),
        "View {view:?} and Delete {delete:?} overlap"
    );
    assert!(
        delete.right() <= 1280.0,
        "Delete cut off at {}",
        delete.right()
    );
    assert!(view.width() >= 30.0 && delete.width() >= 40.0);
}

/// Commands: a template saved for one device serves every device; validity in minutes, hours or days;
/// the status in 中文; a JSON error's column counts characters.
#[test]
fn commands_share_templates_use_units_and_speak_chinese() {
    use onenet_desk::onenet::commands::{Command, CommandStatus};
    use onenet_desk::ui::actions::{Action, BodyMode};

    let mut m = fixture();
    m.tab = Tab::Commands;
    let mut h = app_harness(m, [1280.0, 800.0]);
    h.state_mut().panels.commands.device = "9277".into();
    h.state_mut().panels.commands.body = "on".into();
    h.run_steps(2);
    h.state_mut().panels.commands.template_name = "light on".into();
    h.run_steps(1);
    h.get_by_label("Save template").click();
    h.run_steps(2);
    h.state_mut().panels.commands.device = "9278".into();
    h.state_mut().panels.commands.body.clear();
    h.run_steps(2);
    h.get_by_label("light on").click();
    h.run_steps(2);
    assert_eq!(
        h.state().panels.commands.body,
        "on",
        "the template serves 9278"
    );

    h.state_mut().panels.commands.validity_s = 7200;
    h.run_steps(2);
    h.get_by_label("d").click();
    h.run_steps(2);
    assert_eq!(
        h.state().panels.commands.validity_s,
        2 * 86_400,
        "2 h → 2 d"
    );
    h.get_by_label("Send").click();
    h.run_steps(2);
    assert!(h.state().log.iter().any(|a| matches!(
        a,
        Action::SendCommand { device, validity_s: 172_800, .. } if device == "9278"
    )));

    h.state_mut().panels.commands.mode = BodyMode::Json;
    h.state_mut().panels.commands.body = "{\"温度\": }".into();
    h.run_steps(2);
    assert!(
        h.query_all_by_label_contains("(line 1, column 8)")
            .next()
            .is_some(),
        "the closing brace is the 8th character (the 12th byte)"
    );

    h.state_mut()
        .model
        .apply_event(onenet_desk::events::Event::Command(Box::new(Command {
            uuid: "u1".into(),
            device_id: "9278".into(),
            body: bytes::Bytes::from_static(b"on"),
            status: CommandStatus::Replied,
            created_at: 1_700_000_000_000,
            sent_at: Some(1_700_000_000_000),
            replied_at: Some(1_700_000_000_500),
            reply: Some(bytes::Bytes::from_static(b"ok")),
            expire_at: None,
            validity_s: 0,
            qos: 0,
            sends: Default::default(),
        })));
    h.state_mut().model.prefs.lang = onenet_desk::ui::prefs::Lang::Chinese;
    h.run_steps(3);
    assert!(
        h.query_all_by_label_contains("已收到命令回复")
            .next()
            .is_some(),
        "the status in 中文"
    );
    assert!(
        h.query_all_by_label_contains("Command Response Received")
            .next()
            .is_none()
    );
    assert!(visible(&h, "天"), "the units in 中文");
}

/// The export dialog's date error goes once the date is fixed.
#[test]
fn export_dialog_forgets_a_fixed_date_error() {
    let mut m = fixture();
    m.tab = Tab::Datapoints;
    let mut h = app_harness(m, [1280.0, 800.0]);
    h.run_steps(2);
    h.get_by_label("Export…").click();
    h.run_steps(2);
    h.state_mut().panels.datapoints.export.since = "yesterday".into();
    h.get_by_label("Export to file…").click();
    h.run_steps(2);
    assert!(
        h.query_all_by_label_contains("'yesterday'")
            .next()
            .is_some()
    );
    h.state_mut().panels.datapoints.export.since = "2024-01-02 03:04:05".into();
    h.run_steps(2);
    assert!(
        h.query_all_by_label_contains("'yesterday'")
            .next()
            .is_none(),
        "the stale error is gone"
    );
}

/// JSON-object datapoints: the user picks a numeric field ("pos.x") and the stream's values along it are
/// plotted, history included, and the choice is kept per stream; a text stream gets a table of its
/// history. The real app, a device uploading over MQTT.
#[test]
fn json_fields_are_plotted_and_text_gets_a_table() {
    use onenet_desk::ui::actions::Action;

    let dir = tempfile::tempdir().unwrap();
    let mut h = common::ui::live_app(common::ui::live_config(dir.path()));
    let mut dev = common::ui::Dev::online(common::ui::addr(&h), "9277", "abc123", true);
    for i in 0..3u16 {
        let json = format!(
            r#"{{"location":{{"pos":{{"x":{i}.5,"y":9}},"fix":"gps"}},"status":"state {i}"}}"#
        );
        dev.publish("$dp", &common::dataplane::framed(3, &json), false, i + 1);
    }
    common::ui::step_until(&mut h, "the uploads in the console", |h| {
        h.state()
            .model
            .streams
            .get("9277")
            .and_then(|s| s.get("location"))
            .is_some_and(|st| st.count >= 3)
    });
    h.state_mut().handle(Action::OpenDatapoints("9277".into()));
    h.run_steps(3);
    h.get_by_value("field…").click();
    h.run_steps(2);
    assert!(visible(&h, "pos.y"), "every numeric field is offered");
    assert!(!visible(&h, "fix"), "text fields are not");
    h.get_by_label("pos.x").click();
    common::ui::step_until(&mut h, "pos.x plotted from the history", |h| {
        h.state().model.streams["9277"]["location"].series.len() == 3
    });
    let st = &h.state().model.streams["9277"]["location"];
    assert_eq!(st.series.last().map(|p| p.1), Some(2.5));
    assert_eq!(
        h.state().model.prefs.plot_fields["9277"]["location"],
        "pos.x",
        "kept per stream"
    );
    // Live points go on the plot along the field.
    let live = common::dataplane::framed(3, r#"{"location":{"pos":{"x":7.25,"y":9}}}"#);
    dev.publish("$dp", &live, false, 9);
    common::ui::step_until(&mut h, "a live point plotted", |h| {
        h.state().model.streams["9277"]["location"].series.last()
            == Some((
                h.state().model.streams["9277"]["location"]
                    .series
                    .last()
                    .unwrap()
                    .0,
                7.25,
            ))
    });

    h.get_by_label("Table status").click();
    common::ui::step_until(&mut h, "the text stream's history in a table", |h| {
        ["state 0", "state 1", "state 2"]
            .iter()
            .all(|v| h.query_all_by_label_contains(v).next().is_some())
    });
    h.state_mut().shutdown();
}
