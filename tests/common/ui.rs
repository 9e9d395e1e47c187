//! Console test support (feature `gui`): the model fixture the panel tests draw, kittest harness
//! builders for one panel, for the whole app over a model, and for the real app over a real broker, and
//! a deadline loop that steps the app until the window shows something.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{WAIT, connack, connect_packet, publish, subscribe};
use bytes::BytesMut;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use onenet_desk::config::Config;
use onenet_desk::events::{Direction, Event, StoredPoints};
use onenet_desk::mqtt::{Packet, QoS, decode};
use onenet_desk::onenet::datapoint::{Datapoint, DpValue};
use onenet_desk::onenet::registry::{Device, Product};
use onenet_desk::service::api::{RetainedInfo, SessionInfo};
use onenet_desk::store::{Db, NewDevice, NewProduct};
use onenet_desk::ui::ConsoleApp;
use onenet_desk::ui::actions::Action;
use onenet_desk::ui::prefs::Prefs;
use onenet_desk::ui::state::Model;

/// A device on a blocking socket (the app's harness runs on this thread; the broker on the app's runtime).
pub struct Dev {
    s: TcpStream,
    buf: BytesMut,
}

impl Dev {
    /// Logs in; returns the connection and the CONNACK code (None: closed without one).
    pub fn login(addr: SocketAddr, id: &str, pass: &str, clean: bool) -> (Dev, Option<u8>) {
        Dev::login_with(
            addr,
            &connect_packet(id, Some("339"), Some(pass), clean, 120),
        )
    }

    /// Connects with CONNECT `p`; returns the connection and the CONNACK code (None: closed without one).
    pub fn login_with(addr: SocketAddr, p: &Packet) -> (Dev, Option<u8>) {
        let s = TcpStream::connect(addr).expect("tcp connect");
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut d = Dev {
            s,
            buf: BytesMut::new(),
        };
        d.send(p);
        let code = d.next().map(|p| connack(&p).0);
        (d, code)
    }

    pub fn send_bytes(&mut self, b: &[u8]) {
        self.s.write_all(b).expect("write");
    }

    /// Logs in and asserts CONNACK 0.
    pub fn online(addr: SocketAddr, id: &str, pass: &str, clean: bool) -> Dev {
        let (d, code) = Dev::login(addr, id, pass, clean);
        assert_eq!(code, Some(0), "{id} logs in");
        d
    }

    pub fn send(&mut self, p: &Packet) {
        self.s.write_all(&p.to_bytes().unwrap()).expect("write");
    }

    /// The next packet; None when the broker closed the connection. Fails after [`WAIT`].
    pub fn next(&mut self) -> Option<Packet> {
        loop {
            if let Some(d) = decode(&mut self.buf, 1 << 24).expect("valid packet") {
                return Some(d.packet);
            }
            let mut chunk = [0u8; 4096];
            match self.s.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                // A signal landed during the read (EINTR): nothing was read, read again.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => panic!("no packet within {WAIT:?}: {e}"),
            }
        }
    }

    /// A round trip through the broker (UNSUBSCRIBE → UNSUBACK); returns what came before.
    pub fn barrier(&mut self) -> Vec<Packet> {
        self.send(&Packet::Unsubscribe(onenet_desk::mqtt::Unsubscribe {
            pid: super::pid(0xFFF1),
            filters: vec![onenet_desk::mqtt::TopicFilter::new("test/barrier").unwrap()],
        }));
        let mut before = Vec::new();
        loop {
            match self.next().expect("connection open") {
                Packet::UnsubAck(_) => return before,
                p => before.push(p),
            }
        }
    }

    pub fn subscribe(&mut self, filter: &str) {
        self.send(&subscribe(1, &[(filter, QoS::AtLeastOnce)]));
        assert!(matches!(self.next(), Some(Packet::SubAck(_))));
    }

    /// Publishes at QoS 1 and waits for the PUBACK.
    pub fn publish(&mut self, topic: &str, payload: &[u8], retain: bool, id: u16) {
        self.send(&publish(topic, payload, QoS::AtLeastOnce, id, retain));
        assert_eq!(self.next(), Some(Packet::PubAck(super::pid(id))));
    }

    pub fn leave(mut self) {
        self.send(&Packet::Disconnect);
        assert_eq!(self.next(), None);
    }
}

/// How long the real app may take to show something (a broker start, a device's upload …).
pub const UI_WAIT: Duration = Duration::from_secs(20);

pub fn session(id: &str, online: bool, msgs_in: u64) -> SessionInfo {
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
        held_bytes: if online { 0 } else { 2_048 },
        dropped: 0,
        dropped_qos0: 0,
        held_back: 0,
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
pub fn fixture() -> Model {
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
    m.retained = std::sync::Arc::new(vec![RetainedInfo {
        namespace: "339".into(),
        topic: "/lab/state".into(),
        payload: bytes::Bytes::from_static(b"{\"on\":true}"),
        qos: 1,
        from_will_of: None,
    }]);
    m.apply_event(Event::Datapoints(Arc::new(StoredPoints::new(
        "9277".into(),
        1_700_000_000_000,
        3,
        vec![
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
    ))));
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
            dp: None,
        });
    }
    m
}

/// A panel, the model it draws and the actions it emitted.
pub struct Fx<P> {
    pub panel: P,
    pub model: Model,
    pub out: Vec<Action>,
}

pub fn harness<P: 'static>(
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

/// The whole console over `model`, without a broker (panels draw, actions are logged).
pub fn app_harness(model: Model, size: [f32; 2]) -> Harness<'static, ConsoleApp> {
    Harness::builder()
        .with_size(size)
        .allow_missing_glyphs()
        .build_ui_state(
            |ui, app: &mut ConsoleApp| {
                app.draw(ui);
            },
            ConsoleApp::offline(&egui::Context::default(), model),
        )
}

/// Config → registry → start: the config of a console whose broker listens on 127.0.0.1:0 in `dir`,
/// with the sample registry (product 339 / KEY339; devices 9277/abc123, 9278/def456, 9279/ghi789)
/// written to its database before it starts.
pub fn live_config(dir: &Path) -> Config {
    let mut cfg = Config::new(dir.to_path_buf());
    cfg.mqtt_addr = "127.0.0.1:0".parse().unwrap();
    let db = Db::open(&cfg.db_path()).unwrap();
    db.add_product(NewProduct {
        id: Some("339".into()),
        name: Some("lab".into()),
        api_key: Some("KEY339".into()),
    })
    .unwrap();
    for (id, auth) in [("9277", "abc123"), ("9278", "def456"), ("9279", "ghi789")] {
        db.add_device(NewDevice {
            product_id: "339".into(),
            id: Some(id.into()),
            auth_info: Some(auth.into()),
            ..Default::default()
        })
        .unwrap();
    }
    cfg
}

/// The real console (eframe harness over `ConsoleApp::start`) with its broker running on `cfg`.
pub fn live_app(cfg: Config) -> Harness<'static, ConsoleApp> {
    let prefs = Prefs::from_config(&cfg);
    let mut h = Harness::builder()
        .with_size([1400.0, 900.0])
        .allow_missing_glyphs()
        .build_eframe(move |cc| ConsoleApp::start(&cc.egui_ctx, cfg, prefs));
    step_until(&mut h, "the broker to run", |h| {
        h.state().service().is_some()
    });
    h
}

/// Some node has exactly this label.
pub fn has(h: &Harness<'_, ConsoleApp>, label: &str) -> bool {
    h.query_all_by_label(label).next().is_some()
}

/// Some node's label contains `part`.
pub fn has_part(h: &Harness<'_, ConsoleApp>, part: &str) -> bool {
    h.query_all_by_label_contains(part).next().is_some()
}

/// Steps the app until `check` holds, failing after [`UI_WAIT`] with what the app logged.
pub fn step_until(
    h: &mut Harness<'_, ConsoleApp>,
    what: &str,
    check: impl Fn(&Harness<'_, ConsoleApp>) -> bool,
) {
    let deadline = Instant::now() + UI_WAIT;
    loop {
        h.step();
        if check(h) {
            return;
        }
        if Instant::now() >= deadline {
            let app = h.state();
            panic!(
                "timed out waiting for {what}; actions: {:?}; notices: {:?}",
                app.log, app.model.notices
            );
        }
        // The backend works on its own runtime; give it the CPU between frames.
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Steps the app until its service reports `client` offline. A device's `Dev::leave` returns when the
/// broker closed the socket, which is before the router has heard of it; a publish routed in between goes
/// to the closing connection (in flight), not to the offline queue.
pub fn until_offline(h: &mut Harness<'_, ConsoleApp>, client: &str) {
    let rt = rt();
    step_until(h, &format!("{client} offline"), |h| {
        h.state().service().is_some_and(|s| {
            rt.block_on(s.sessions())
                .iter()
                .any(|s| s.client_id == client && !s.online)
        })
    });
}

/// The MQTT address of the app's running broker.
pub fn addr(h: &Harness<'_, ConsoleApp>) -> std::net::SocketAddr {
    h.state().service().expect("the broker runs").mqtt_addr()
}

/// A runtime of the test's own for the service's async queries.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
