//! The console's Simulator window end to end: typing a product and clicking "Add devices and start" registers
//! three virtual devices that come online at the real broker, the live counts show it, and Stop stops them.
#![cfg(feature = "gui")]

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use onenet_desk::config::Config;
use onenet_desk::store::{Db, NewProduct};
use onenet_desk::ui::ConsoleApp;
use onenet_desk::ui::prefs::Prefs;

const WAIT: Duration = Duration::from_secs(20);

fn step_until(
    h: &mut Harness<'_, ConsoleApp>,
    what: &str,
    check: impl Fn(&Harness<'_, ConsoleApp>) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        h.step();
        if check(h) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn simulator_window_adds_virtual_devices_that_come_online_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(dir.path().to_path_buf());
    cfg.mqtt_addr = "127.0.0.1:0".parse().unwrap();
    Db::open(&cfg.db_path())
        .unwrap()
        .add_product(NewProduct {
            id: Some("339".into()),
            name: None,
            api_key: Some("KEY339".into()),
        })
        .unwrap();
    let prefs = Prefs::from_config(&cfg);
    let mut h = Harness::builder()
        .with_size([1400.0, 900.0])
        .allow_missing_glyphs()
        .build_eframe(|cc| ConsoleApp::start(&cc.egui_ctx, cfg, prefs));
    h.get_by_label("Simulator").click();
    step_until(&mut h, "the Simulator window", |h| {
        h.query_by_label("Add devices and start").is_some()
    });
    // It opens at the right: the navigation stays in sight (at the left it covered it).
    let nav = h.get_by_label("Logs").rect();
    let form = h.get_by_label("Add devices and start").rect();
    assert!(
        form.left() > nav.right(),
        "the window over the navigation: {form:?} vs {nav:?}"
    );
    h.get_by_label("Product").focus();
    h.get_by_label("Product").type_text("339");
    h.step();
    h.get_by_label("Add devices and start").click();
    step_until(
        &mut h,
        "three virtual devices online and an upload acknowledged",
        |h| {
            h.query_all_by_label_contains("online 3/3").next().is_some()
                && h.query_all_by_label_contains("acked 0 ").next().is_none()
        },
    );
    let svc = h.state().service().unwrap().clone();
    let devices = Db::open(&svc.config().db_path())
        .unwrap()
        .devices(Some("339"))
        .unwrap();
    assert_eq!(devices.len(), 3);
    assert!(
        devices
            .iter()
            .all(|d| d.name == format!("virtual {}", d.id)),
        "{devices:?}"
    );
    h.get_by_label("Stop group").click();
    step_until(&mut h, "the group stopped", |h| {
        h.query_by_label("Remove group").is_some()
    });
    assert!(h.query_all_by_label_contains("online 0/3").next().is_some());
    h.state_mut().shutdown();
}
