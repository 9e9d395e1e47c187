//! Shared test support: a broker on 127.0.0.1:0 in a temp dir, a registry with OneNET's sample ids, and
//! a raw-bytes client that speaks through our codec so tests can send exactly what firmware sends.
#![allow(dead_code)]

/// Data-plane test helpers (`tests/dataplane_*.rs`).
pub mod dataplane;
/// The console-fix tests' fixture, app builders and waits.
#[cfg(feature = "gui")]
pub mod fixes;
/// The HTTP API through its router (no socket).
pub mod http;
/// A tmpfs mounted by a test (the disk-full tests).
pub mod tmpfs;
/// Console test support: model fixtures and kittest harness builders.
#[cfg(feature = "gui")]
pub mod ui;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use onenet_desk::config::{Config, Profile};
use onenet_desk::mqtt::{
    ConnAck, Connect, LastWill, Packet, Pid, Publish, QoS, QosPid, SubAck, SubackCode, Subscribe,
    TopicFilter, TopicName, Unsubscribe, decode,
};
use onenet_desk::store::{NewDevice, NewProduct};
use onenet_desk::{ServiceHandle, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn config(dir: &Path, profile: Profile) -> Config {
    let mut c = Config::new(dir.to_path_buf());
    c.mqtt_addr = "127.0.0.1:0".parse().unwrap();
    c.profile = profile;
    c
}

pub async fn broker(dir: &Path, profile: Profile) -> ServiceHandle {
    start(config(dir, profile)).await.expect("broker starts")
}

/// Starts the broker with `cfg` and seeds the registry (see [`seed_registry`]).
pub async fn seeded_with(cfg: Config) -> ServiceHandle {
    let h = start(cfg).await.expect("broker starts");
    seed_registry(&h);
    h
}

/// A `onenet` broker in `dir` with the sample registry: the usual start of a test.
pub async fn seeded(dir: &Path) -> ServiceHandle {
    seeded_with(config(dir, Profile::OneNet)).await
}

/// Spec §14: the official SDK sample's CONNECT, as hex (device 9277 of product 339, auth_info "abc123",
/// clean session 1, keepalive 1200 s). Turn it into bytes with `dataplane::hex`.
pub const SDK_CONNECT: &str =
    "10 1D 00 04 4D 51 54 54 04 C2 04 B0 00 04 39 32 37 37 00 03 33 33 39 00 06 61 62 63 31 32 33";

/// Product 339 (API key KEY339) with devices 9277/abc123, 9278/def456, 9279/ghi789; product 400 with 5/x.
pub fn seed_registry(h: &ServiceHandle) {
    seed_db(&open_db(h));
}

/// The running service's database opened beside it, as another process would (WAL: both see each
/// other's commits); tests read and seed the store through it, the service has no such door.
pub fn open_db(h: &ServiceHandle) -> onenet_desk::store::Db {
    onenet_desk::store::Db::open(&h.config().db_path()).expect("open the data dir's database")
}

/// The stream of every datapoint `db` holds for `device`, oldest first (what the store kept).
pub fn stored_streams(db: &onenet_desk::store::Db, device: &str) -> Vec<String> {
    db.datapoints(
        &onenet_desk::store::DpFilter {
            device_id: Some(device.into()),
            ..Default::default()
        },
        1_000_000,
        false,
    )
    .unwrap()
    .into_iter()
    .map(|p| p.stream)
    .collect()
}

/// The same registry written straight to a database (e.g. a data dir's, before `serve` starts on it).
pub fn seed_db(db: &onenet_desk::store::Db) {
    db.add_product(NewProduct {
        id: Some("339".into()),
        name: Some("lab".into()),
        api_key: Some("KEY339".into()),
    })
    .unwrap();
    db.add_product(NewProduct {
        id: Some("400".into()),
        name: None,
        api_key: Some("KEY400".into()),
    })
    .unwrap();
    for (id, auth, product) in [
        ("9277", "abc123", "339"),
        ("9278", "def456", "339"),
        ("9279", "ghi789", "339"),
        ("5", "x", "400"),
    ] {
        db.add_device(NewDevice {
            product_id: product.into(),
            id: Some(id.into()),
            auth_info: Some(auth.into()),
            ..Default::default()
        })
        .unwrap();
    }
}

pub fn pid(n: u16) -> Pid {
    Pid::new(n).unwrap()
}

pub fn connect_packet(
    client: &str,
    user: Option<&str>,
    pass: Option<&str>,
    clean: bool,
    keep_alive: u16,
) -> Packet {
    Packet::Connect(Box::new(Connect {
        protocol_name: "MQTT".into(),
        level: 4,
        clean_session: clean,
        keep_alive,
        client_id: client.into(),
        will: None,
        username: user.map(Into::into),
        password: pass.map(|p| Bytes::copy_from_slice(p.as_bytes())),
    }))
}

pub fn with_will(p: Packet, topic: &str, msg: &str, qos: QoS, retain: bool) -> Packet {
    let Packet::Connect(mut c) = p else {
        panic!("not a CONNECT")
    };
    c.will = Some(LastWill {
        topic: TopicName::new(topic).unwrap(),
        message: Bytes::copy_from_slice(msg.as_bytes()),
        qos,
        retain,
    });
    Packet::Connect(c)
}

pub fn publish(topic: &str, payload: &[u8], qos: QoS, id: u16, retain: bool) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos_pid: match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            q => QosPid::from_parts(q, pid(id)),
        },
        retain,
        topic: TopicName::new(topic).unwrap(),
        payload: Bytes::copy_from_slice(payload),
    })
}

pub fn subscribe(id: u16, filters: &[(&str, QoS)]) -> Packet {
    Packet::Subscribe(Subscribe {
        pid: pid(id),
        filters: filters
            .iter()
            .map(|(f, q)| (TopicFilter::new(*f).unwrap(), *q))
            .collect(),
    })
}

/// A QoS 1 PUBLISH to `topic` whose payload is `i` (big-endian), with packet id `i`: the numbered
/// messages [`Raw::numbered_until`] reads back.
pub fn numbered(topic: &str, i: u16) -> Packet {
    publish(topic, &i.to_be_bytes(), QoS::AtLeastOnce, i, false)
}

/// A client that writes raw bytes and reads packets through the codec.
pub struct Raw {
    pub stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).await.expect("tcp connect");
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    pub async fn send_bytes(&mut self, b: &[u8]) {
        self.stream.write_all(b).await.expect("write");
    }

    pub async fn send(&mut self, p: &Packet) {
        let b = p.to_bytes().unwrap();
        self.send_bytes(&b).await;
    }

    /// The next packet, failing the test after [`WAIT`].
    pub async fn recv(&mut self) -> Packet {
        match self.try_recv(WAIT).await {
            Some(p) => p,
            None => panic!("no packet within {WAIT:?} (or connection closed)"),
        }
    }

    /// The next packet within `t`, or None on timeout or close.
    pub async fn try_recv(&mut self, t: Duration) -> Option<Packet> {
        let deadline = tokio::time::Instant::now() + t;
        loop {
            if let Some(d) =
                decode(&mut self.buf, 64 * 1024 * 1024).expect("broker sent a valid packet")
            {
                return Some(d.packet);
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Waits until the broker closes the connection; returns the packets it sent before closing.
    pub async fn closed(&mut self) -> Vec<Packet> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut got = Vec::new();
        loop {
            while let Some(d) = decode(&mut self.buf, 64 * 1024 * 1024).expect("valid packet") {
                got.push(d.packet);
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return got,
                Ok(Ok(_)) => {}
                Err(_) => panic!("connection still open after {WAIT:?}; got {got:?}"),
            }
        }
    }

    /// A round trip through the broker's router and this connection's ordered output: an UNSUBSCRIBE of
    /// a filter nobody uses, answered by UNSUBACK. The router handles a connection's packets in order and
    /// queues its answers behind everything it queued for this connection before, so any packet it owes
    /// this client for what happened earlier arrives first. (A PINGRESP would not do: the connection task
    /// answers PINGREQ itself, ahead of output the router queued behind an unfinished disk write.)
    /// Returns what arrived before the UNSUBACK.
    pub async fn barrier(&mut self) -> Vec<Packet> {
        const BARRIER_PID: u16 = 0xFFF1;
        self.send(&Packet::Unsubscribe(Unsubscribe {
            pid: pid(BARRIER_PID),
            filters: vec![TopicFilter::new("test/barrier/never-subscribed").unwrap()],
        }))
        .await;
        let mut before = Vec::new();
        loop {
            match self.recv().await {
                Packet::UnsubAck(p) if p == pid(BARRIER_PID) => return before,
                other => before.push(other),
            }
        }
    }

    /// Asserts that the broker owes this client nothing: no packet arrives before the [`Raw::barrier`]
    /// answer. Whatever should have caused a packet must have been acknowledged (or barriered) first.
    pub async fn assert_silent(&mut self, what: &str) {
        let got = self.barrier().await;
        assert!(got.is_empty(), "{what}: expected nothing, got {got:?}");
    }

    /// The next packet, which must be a SUBACK; returns its codes.
    pub async fn suback(&mut self) -> Vec<SubackCode> {
        match self.recv().await {
            Packet::SubAck(SubAck { codes, .. }) => codes,
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Subscribes (packet id 1) and returns the SUBACK codes.
    pub async fn subscribe(&mut self, filters: &[(&str, QoS)]) -> Vec<SubackCode> {
        self.send(&subscribe(1, filters)).await;
        self.suback().await
    }

    /// Receives PUBLISHes whose payloads start with a big-endian `u16` number (acknowledging those at
    /// QoS 1) until number `last` arrives; returns the numbers in the order received.
    pub async fn numbered_until(&mut self, last: u16) -> Vec<u16> {
        let mut got = Vec::new();
        while got.last() != Some(&last) {
            match self.recv().await {
                Packet::Publish(m) => {
                    got.push(u16::from_be_bytes([m.payload[0], m.payload[1]]));
                    if let Some(id) = m.qos_pid.pid() {
                        self.send(&Packet::PubAck(id)).await;
                    }
                }
                other => panic!("expected a numbered PUBLISH, got {other:?}"),
            }
        }
        got
    }

    /// Connects with CONNECT `p` and returns the CONNACK.
    pub async fn login(addr: SocketAddr, p: &Packet) -> (Raw, Packet) {
        let mut r = Raw::connect(addr).await;
        r.send(p).await;
        let ack = r.recv().await;
        (r, ack)
    }

    /// Logs in a registered OneNET device and asserts CONNACK 0.
    pub async fn device(addr: SocketAddr, id: &str, auth: &str, clean: bool) -> Raw {
        let (r, ack) = Raw::login(
            addr,
            &connect_packet(id, Some("339"), Some(auth), clean, 120),
        )
        .await;
        assert!(
            matches!(ack, Packet::ConnAck(ref a) if a.code as u8 == 0),
            "CONNACK {ack:?}"
        );
        r
    }
}

/// The CONNACK's (return code, session present); fails on any other packet.
pub fn connack(p: &Packet) -> (u8, bool) {
    match p {
        Packet::ConnAck(ConnAck {
            session_present,
            code,
        }) => (*code as u8, *session_present),
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

/// Waits until the broker reports `client` online (`true`) or not online (`false`: its session is
/// offline, or gone for a clean session).
pub async fn wait_online(h: &ServiceHandle, client: &str, online: bool) {
    eventually(&format!("{client} online = {online}"), || async {
        let now = h
            .sessions()
            .await
            .into_iter()
            .any(|s| s.client_id == client && s.online);
        (now == online).then_some(())
    })
    .await
}

/// Waits for the service to report that the store cannot commit (`Event::StoreStatus` with an error),
/// and returns the error. The writer publishes it after a failed commit, which it does not acknowledge.
pub async fn store_error(events: &mut onenet_desk::events::EventReceiver) -> String {
    use onenet_desk::events::{Event, Received};
    let wait = async {
        loop {
            match events.recv().await {
                Some(Received::Event(Event::StoreStatus { error: Some(e) })) => return e,
                Some(_) => {}
                None => panic!("the service stopped"),
            }
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .expect("the store reports a failed commit")
}

/// Polls `f` until it returns Some, failing after [`WAIT`].
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The real binary of this package.
pub const BIN: &str = env!("CARGO_BIN_EXE_onenet-desk");

/// Runs the CLI with `--data-dir dir` and returns its output (success is not asserted).
pub fn cli(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

/// A `serve` process on free ports (MQTT and HTTP), killed on drop so a failing test leaves nothing behind.
pub struct Serve {
    child: Option<std::process::Child>,
    pub mqtt: SocketAddr,
    pub http: SocketAddr,
    /// Kept open: `serve` may write more and must not see a closed pipe.
    _stdout: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Serve {
    /// Starts `serve --mqtt 127.0.0.1:0 --http 127.0.0.1:0` plus `extra`, and reads the two addresses it prints.
    pub fn start(dir: &Path, extra: &[&str]) -> Serve {
        use std::io::BufRead;
        let mut child = std::process::Command::new(BIN)
            .arg("--data-dir")
            .arg(dir)
            .args(["serve", "--mqtt", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("serve starts");
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut next = |prefix: &str| -> SocketAddr {
            let line = lines.next().and_then(Result::ok).unwrap_or_default();
            line.strip_prefix(prefix)
                .unwrap_or_else(|| panic!("expected '{prefix}…', got {line:?}"))
                .parse()
                .expect("an address")
        };
        let mqtt = next("mqtt listening on ");
        let http = next("http listening on ");
        Serve {
            child: Some(child),
            mqtt,
            http,
            _stdout: lines,
        }
    }

    /// Asks it to stop (SIGTERM on Unix; elsewhere the process is killed) and returns how it exited.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        #[cfg(unix)]
        {
            let ok = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "kill -TERM failed");
        }
        #[cfg(not(unix))]
        child.kill().expect("kill");
        child.wait().expect("wait")
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill");
            c.wait().expect("wait");
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
