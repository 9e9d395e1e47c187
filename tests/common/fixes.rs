//! Support of the console-fix tests (`ui_console_fixes`, `ui_settings`): a model with product 339 and
//! devices 9277 (online) and 9278 (offline, persistent), the app over a model or with its real broker on
//! a seeded data dir, and the waits and raw MQTT logins they check with.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use onenet_desk::config::Config;
use onenet_desk::onenet::registry::{Device, Product};
use onenet_desk::service::api::SessionInfo;
use onenet_desk::store::{Db, NewDevice, NewProduct};
use onenet_desk::ui::ConsoleApp;
use onenet_desk::ui::prefs::Prefs;
use onenet_desk::ui::state::{BrokerState, Model};

pub const WAIT: Duration = Duration::from_secs(20);

pub fn session(id: &str, online: bool, clean: bool) -> SessionInfo {
    SessionInfo {
        client_id: id.into(),
        namespace: "339".into(),
        online,
        remote: online.then(|| "192.168.1.20:50000".into()),
        clean_session: clean,
        keep_alive: 120,
        subscriptions: vec![("/lab/cmd".into(), 1), ("/lab/all".into(), 0)],
        inflight: 0,
        queued: 0,
        held_bytes: 0,
        dropped: 0,
        dropped_qos0: 0,
        held_back: 0,
        messages_in: 1,
        messages_out: 1,
        warnings: 0,
        connected_at: online.then_some(1_700_000_000_000),
        last_seen: Some(1_700_000_100_000),
        will: None,
    }
}

/// Product 339 with devices 9277 (online) and 9278 (offline, persistent session).
pub fn fixture() -> Model {
    let mut m = Model::new(
        Config::new(PathBuf::from("/tmp/ui-fixes")),
        Prefs::default(),
    );
    m.products = vec![Product {
        id: "339".into(),
        name: "lab".into(),
        api_key: "KEY339".into(),
        created_at: 0,
    }];
    m.devices = ["9277", "9278"]
        .iter()
        .map(|id| Device {
            id: id.to_string(),
            product_id: "339".into(),
            name: format!("sensor {id}"),
            auth_info: format!("secret{id}"),
            created_at: 0,
            auto_registered: false,
        })
        .collect();
    m.sessions = vec![session("9277", true, true), session("9278", false, false)];
    m
}

/// The app over a model, no broker.
pub fn offline_app(m: Model, size: [f32; 2]) -> Harness<'static, ConsoleApp> {
    Harness::builder()
        .with_size(size)
        .allow_missing_glyphs()
        .build_ui_state(
            |ui, app: &mut ConsoleApp| {
                app.draw(ui);
            },
            ConsoleApp::offline(&egui::Context::default(), m),
        )
}

pub fn data_dir() -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(dir.path().to_path_buf());
    cfg.mqtt_addr = "127.0.0.1:0".parse().unwrap();
    let db = Db::open(&cfg.db_path()).unwrap();
    db.add_product(NewProduct {
        id: Some("339".into()),
        name: Some("lab".into()),
        api_key: Some("KEY339".into()),
    })
    .unwrap();
    db.add_device(NewDevice {
        product_id: "339".into(),
        id: Some("9277".into()),
        auth_info: Some("abc123".into()),
        ..Default::default()
    })
    .unwrap();
    (dir, cfg)
}

/// The real app with its broker.
pub fn real_app(cfg: Config) -> Harness<'static, ConsoleApp> {
    let prefs = Prefs::from_config(&cfg);
    Harness::builder()
        .with_size([1280.0, 800.0])
        .allow_missing_glyphs()
        .build_eframe(|cc| ConsoleApp::start(&cc.egui_ctx, cfg, prefs))
}

/// Steps the app until `check` holds (the console tests' one wait, with what the app logged on failure).
#[allow(unused_imports)]
// re-exported for the tests that use this module; not every test binary does
pub use super::ui::step_until;

pub fn running_addr(app: &ConsoleApp) -> Option<SocketAddr> {
    match app.model.broker {
        BrokerState::Running { addr, .. } => Some(addr),
        _ => None,
    }
}

/// A device of product 339 logged in over a raw socket (MQTT 3.1.1 CONNECT, keepalive 120 s): the socket
/// and the CONNACK return code.
pub fn login(addr: SocketAddr, id: &str, auth: &str) -> (TcpStream, u8) {
    let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xC2, 0x00, 0x78];
    for s in [id, "339", auth] {
        body.extend_from_slice(&(s.len() as u16).to_be_bytes());
        body.extend_from_slice(s.as_bytes());
    }
    let mut p = vec![0x10, body.len() as u8];
    p.extend_from_slice(&body);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(&p).unwrap();
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack).unwrap();
    assert_eq!(ack[0], 0x20, "CONNACK expected, got {ack:?}");
    (s, ack[3])
}

/// Device 9277 of product 339 connects; the CONNACK return code.
pub fn connack(addr: SocketAddr) -> u8 {
    login(addr, "9277", "abc123").1
}

pub fn has_label_containing<S>(h: &Harness<'_, S>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}
