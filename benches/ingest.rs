//! Load benchmark: `$dp` type 3 uploads at QoS 1 from 100 devices, each PUBACK meaning "stored"
//! (the broker acknowledges only after the batch holding the datapoints is committed).
//!
//! `cargo bench --bench ingest` (release). Bounded: a fixed number of messages per device and a 120 s
//! deadline; prints datapoints/s and messages/s, then checks the stored count.
//! Environment: INGEST_DEVICES (100), INGEST_MESSAGES (per device, 1000), INGEST_POINTS (per message, 10),
//! INGEST_WINDOW (unacknowledged messages per device, 64).

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use onenet_desk::config::{Config, Profile};
use onenet_desk::mqtt::{Connect, Packet, Pid, Publish, QosPid, TopicName, decode};
use onenet_desk::store::{NewDevice, NewProduct};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Message `seq` of `device`: `{"s0":N.0,"s1":N.1,…}` with N = device + seq. Written into one string (no
/// allocation per datapoint): the client shares the two cores with the broker it measures, and its
/// payload building was 6% of the samples of the whole run (`perf record`).
fn type3(device: usize, seq: usize, points: usize) -> Bytes {
    use std::fmt::Write;
    let mut json = String::with_capacity(2 + points * 16);
    json.push('{');
    for i in 0..points {
        if i > 0 {
            json.push(',');
        }
        let _ = write!(json, "\"s{i}\":{}.{}", device + seq, i);
    }
    json.push('}');
    let mut v = vec![0x03, (json.len() >> 8) as u8, json.len() as u8];
    v.extend_from_slice(json.as_bytes());
    Bytes::from(v)
}

async fn device(
    addr: std::net::SocketAddr,
    id: String,
    messages: usize,
    points: usize,
    window: usize,
) -> usize {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).unwrap();
    let connect = Packet::Connect(Box::new(Connect {
        protocol_name: "MQTT".into(),
        level: 4,
        clean_session: true,
        keep_alive: 300,
        client_id: id.clone(),
        will: None,
        username: Some("339".into()),
        password: Some(Bytes::from(format!("auth{id}"))),
    }));
    s.write_all(&connect.to_bytes().unwrap()).await.unwrap();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut acked = 0usize;
    let mut sent = 0usize;
    let mut connacked = false;
    let topic = TopicName::new("$dp").unwrap();
    let dev: usize = id.parse().unwrap_or(0);
    loop {
        if connacked && sent < messages && sent - acked < window {
            let mut out = BytesMut::new();
            while sent < messages && sent - acked < window {
                let pid = Pid::new((sent % 65535 + 1) as u16).unwrap();
                Packet::Publish(Publish {
                    dup: false,
                    qos_pid: QosPid::AtLeastOnce(pid),
                    retain: false,
                    topic: topic.clone(),
                    payload: type3(dev, sent, points),
                })
                .encode(&mut out)
                .unwrap();
                sent += 1;
            }
            s.write_all(&out).await.unwrap();
        }
        if acked == messages {
            return acked;
        }
        while let Some(d) = decode(&mut buf, 1 << 20).expect("valid packet") {
            match d.packet {
                Packet::ConnAck(a) => {
                    assert_eq!(a.code as u8, 0, "CONNACK");
                    connacked = true;
                }
                Packet::PubAck(_) => acked += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        if acked == messages || (connacked && sent < messages && sent - acked < window) {
            continue;
        }
        if s.read_buf(&mut buf).await.unwrap() == 0 {
            panic!("broker closed the connection");
        }
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful: run a tiny load then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let devices = env("INGEST_DEVICES", if quick { 4 } else { 100 });
    let messages = env("INGEST_MESSAGES", if quick { 20 } else { 1000 });
    let points = env("INGEST_POINTS", 10);
    let window = env("INGEST_WINDOW", 64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::new(dir.path().to_path_buf());
        cfg.mqtt_addr = "127.0.0.1:0".parse().unwrap();
        cfg.profile = Profile::OneNet;
        let h = onenet_desk::start(cfg).await.unwrap();
        onenet_desk::store::Db::open(&h.config().db_path()).unwrap()
            .add_product(NewProduct { id: Some("339".into()), name: None, api_key: Some("KEY".into()) })
            .unwrap();
        for d in 0..devices {
            onenet_desk::store::Db::open(&h.config().db_path()).unwrap()
                .add_device(NewDevice {
                    product_id: "339".into(),
                    id: Some(format!("{}", 10_000 + d)),
                    auth_info: Some(format!("auth{}", 10_000 + d)),
                    ..Default::default()
                })
                .unwrap();
        }
        let addr = h.mqtt_addr();
        let started = Instant::now();
        let tasks: Vec<_> = (0..devices)
            .map(|d| tokio::spawn(device(addr, format!("{}", 10_000 + d), messages, points, window)))
            .collect();
        let all = async {
            let mut n = 0;
            for t in tasks {
                n += t.await.unwrap();
            }
            n
        };
        let acked = tokio::time::timeout(Duration::from_secs(120), all).await.expect("finished within 120 s");
        let secs = started.elapsed().as_secs_f64();
        let dps = (acked * points) as f64 / secs;
        println!(
            "ingest: {devices} devices x {messages} msgs x {points} datapoints (type 3, QoS 1, window {window}): \
             {} datapoints stored in {secs:.2} s = {dps:.0} datapoints/s, {:.0} msgs/s",
            acked * points,
            acked as f64 / secs
        );
        h.flush().await;
        let stored = onenet_desk::store::Db::open(&h.config().db_path()).unwrap().datapoint_count().unwrap();
        assert_eq!(stored as usize, acked * points, "every acknowledged datapoint is stored");
        println!("ingest: database {} MiB", onenet_desk::store::Db::open(&h.config().db_path()).unwrap().size_on_disk() / (1 << 20));
        h.shutdown().await;
    });
}
