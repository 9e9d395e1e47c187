//! The console's settings, each checked the way a user would see it: switching profile names what it
//! drops and asks first; settings that need no new listener apply without a restart, reach the running
//! broker and are saved where `serve` reads them; the HTTP API the console serves answers with the key it
//! shows. Split from `ui_console_fixes` (same fixtures, `common::fixes`).
#![cfg(feature = "gui")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

mod common;

use common::fixes::{
    WAIT, data_dir, fixture, has_label_containing, login, real_app, running_addr, step_until,
};
use common::ui::harness as panel;
use egui_kittest::kittest::Queryable;
use onenet_desk::config::{Config, Profile};
use onenet_desk::ui::actions::Action;
use onenet_desk::ui::panels::settings;
use onenet_desk::ui::state::BrokerState;

#[test]
fn switching_profile_names_the_sessions_it_drops_and_asks() {
    let mut m = fixture();
    m.broker = BrokerState::Running {
        addr: "127.0.0.1:6002".parse().unwrap(),
        since: Instant::now(),
    };
    let mut h = panel(settings::SettingsPanel::default(), m, |p, ui, m, o| {
        p.ui(ui, m, o)
    });
    h.run();
    h.get_by_label("mqtt").click();
    h.run();
    h.get_by_label("Apply").click();
    h.run();
    assert!(h.state().out.is_empty(), "{:?}", h.state().out);
    assert!(has_label_containing(&h, "1 device will reconnect"));
    assert!(has_label_containing(
        &h,
        "Persistent sessions are lost when switching profile onenet → mqtt: 9278 (2 subscriptions, 0 queued)"
    ));
    h.get_by_label("Apply and restart").click();
    h.run();
    let out = &h.state().out;
    assert!(
        matches!(out.as_slice(), [Action::ApplySettings(p)] if p.broker.profile == Profile::Mqtt),
        "{out:?}"
    );
}

/// Whether the device still answers PINGREQ with PINGRESP.
fn still_connected(s: &mut TcpStream) -> bool {
    let mut r = [0u8; 2];
    s.write_all(&[0xC0, 0x00]).is_ok() && s.read_exact(&mut r).is_ok() && r == [0xD0, 0x00]
}

#[test]
fn settings_that_need_no_new_listener_apply_without_a_restart_and_are_saved() {
    let (dir, cfg) = data_dir();
    let mut h = real_app(cfg);
    step_until(&mut h, "the broker running", |h| {
        running_addr(h.state()).is_some()
    });
    let addr = running_addr(h.state()).unwrap();
    let (mut dev, code) = login(addr, "9277", "abc123");
    assert_eq!(code, 0);
    // Ticked in Registry.
    h.state_mut().handle(Action::SetAutoRegister(true));
    assert!(!h.state().model.is_busy(), "no restart");
    step_until(&mut h, "the settings applied", |h| {
        h.state()
            .model
            .notices
            .iter()
            .any(|n| n.text.contains("applied without a restart"))
    });
    assert!(still_connected(&mut dev), "the device was not disconnected");
    let (_new, code) = login(addr, "9999", "fresh-secret");
    assert_eq!(code, 0, "auto-register is in effect");
    // "Offline messages kept" and Apply in Settings.
    let mut p = h.state().model.prefs.clone();
    p.broker.onenet.offline_max_messages = 20;
    // "Messages in flight per device", for a device that cannot take a burst.
    p.broker.limits.inflight_window = 20;
    // "Retained messages kept at most", "Retained payloads kept at most (MiB)".
    p.broker.limits.max_retained_messages = 5;
    p.broker.limits.max_retained_bytes = 8 << 20;
    // "Output waiting per connection (messages)", "Disconnect a device that stops reading after (s)".
    p.broker.limits.max_outbound_messages = 5_000;
    p.broker.limits.stuck_timeout = std::time::Duration::from_secs(30);
    h.state_mut().handle(Action::ApplySettings(Box::new(p)));
    assert!(!h.state().model.is_busy(), "no restart");
    step_until(&mut h, "the second change applied", |h| {
        let c = &h.state().model.config;
        c.onenet.offline_max_messages == 20
            && c.limits.inflight_window == 20
            && c.limits.max_retained_messages == 5
            && c.limits.max_retained_bytes == 8 << 20
            && c.limits.max_outbound_messages == 5_000
            && c.limits.stuck_timeout.as_secs() == 30
    });
    assert!(still_connected(&mut dev));
    assert_eq!(running_addr(h.state()), Some(addr));
    let file = std::fs::read_to_string(dir.path().join("onenet-desk.toml")).unwrap();
    assert!(file.contains("auto_register = true"), "{file}");
    assert!(file.contains("offline_max_messages = 20"), "{file}");
    assert!(file.contains("inflight_window = 20"), "{file}");
    assert!(file.contains("max_retained_messages = 5"), "{file}");
    assert!(file.contains("max_retained_bytes = 8388608"), "{file}");
    assert!(file.contains("max_outbound_messages = 5000"), "{file}");
    assert!(file.contains("stuck_timeout_secs = 30"), "{file}");
    // The same file is what `serve` and the next console start read.
    let loaded = Config::load(dir.path()).unwrap();
    assert!(loaded.auto_register);
    assert_eq!(loaded.onenet.offline_max_messages, 20);
    h.state_mut().shutdown();
}

#[test]
fn auto_register_is_one_setting_and_an_unrelated_apply_keeps_it() {
    let mut m = fixture();
    m.sessions.clear();
    let mut h = panel(settings::SettingsPanel::default(), m, |p, ui, m, o| {
        p.ui(ui, m, o)
    });
    h.run();
    // The Settings draft exists; auto-register is then ticked in Registry (the applied prefs change).
    h.state_mut().model.prefs.broker.auto_register = true;
    h.run();
    h.get_by_label("mqtt").click();
    h.run();
    h.get_by_label("Apply").click();
    h.run();
    let out = &h.state().out;
    assert!(
        matches!(out.as_slice(), [Action::ApplySettings(p)] if p.broker.profile == Profile::Mqtt && p.broker.auto_register),
        "the unrelated Apply keeps auto-register on: {out:?}"
    );
}

#[test]
fn the_console_serves_the_http_api_and_shows_it_with_the_product_key() {
    let (_dir, mut cfg) = data_dir();
    cfg.http_addr = Some("127.0.0.1:0".parse().unwrap());
    let mut h = real_app(cfg);
    step_until(&mut h, "the broker running", |h| {
        running_addr(h.state()).is_some()
    });
    let http = h
        .state()
        .service()
        .unwrap()
        .http_addr()
        .expect("HTTP API on");
    step_until(&mut h, "the HTTP line on the Overview", |h| {
        has_label_containing(h, &format!("http://{http}"))
            && has_label_containing(h, "api-key: KEY339")
    });
    let mut s = TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(
        b"GET /cmds/history/9277 HTTP/1.1\r\nHost: x\r\napi-key: KEY339\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    h.state_mut().shutdown();
}

/// Values from the settings file outside a row's range (valid for the broker: a 64 KiB output bound, a
/// 0.5 s stuck timeout, two million connections) are shown as they are, not rewritten: drawing the panel
/// once changed them to the rows' bounds, which lit Apply with nothing edited and would have saved them.
#[test]
fn values_outside_a_rows_range_are_not_rewritten_by_showing_them() {
    let mut m = fixture();
    let l = &mut m.prefs.broker.limits;
    l.max_outbound_bytes = 64 * 1024;
    l.max_retained_bytes = 512 * 1024;
    l.stuck_timeout = std::time::Duration::from_millis(500);
    l.max_connections = 2_000_000;
    m.prefs.broker.onenet.command_reply_limit = 32 << 20;
    let before = m.prefs.clone();
    let mut h = panel(settings::SettingsPanel::default(), m, |p, ui, m, o| {
        p.ui(ui, m, o)
    });
    h.run_steps(3);
    h.get_by_label("Apply").click();
    h.run_steps(2);
    assert!(
        h.state().out.is_empty(),
        "nothing was edited, so nothing is applied: {:?}",
        h.state().out
    );
    assert_eq!(h.state().model.prefs, before);
}

/// Apply, Revert and Defaults stay in the window however many settings scroll above them: at the
/// README's 1024×700 the last rows had pushed them below its edge.
#[test]
fn apply_stays_in_sight_in_a_small_window() {
    let mut m = fixture();
    m.tab = onenet_desk::ui::actions::Tab::Settings;
    let mut h = common::ui::app_harness(m, [1024.0, 700.0]);
    h.run_steps(3);
    for label in ["Apply", "Revert", "Defaults"] {
        let r = h.get_by_label(label).rect();
        assert!(r.bottom() <= 700.0, "{label} at {r:?}, below the window");
    }
}
