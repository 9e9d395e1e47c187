//! Export benchmark: 100,000 datapoints uploaded over MQTT (`$dp` type 3, QoS 1, 10 points per message),
//! then exported to CSV and to JSON Lines from the database, timed. Speed lives here; the row-by-row
//! correctness of the same export is `tests/export.rs`.
//!
//! `cargo bench --bench export` (release). Bounded: a fixed workload and a 120 s deadline for the upload.
//! Environment: EXPORT_MESSAGES (10000), EXPORT_POINTS (per message, 10).

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use onenet_desk::config::{Config, Profile};
use onenet_desk::export::{ExportFormat, ExportRequest, export_to_file};
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

/// Pipelines `messages` type 3 uploads of `points` values each and waits for every PUBACK (= stored).
async fn upload(addr: std::net::SocketAddr, messages: usize, points: usize) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let connect = Packet::Connect(Box::new(Connect {
        protocol_name: "MQTT".into(),
        level: 4,
        clean_session: true,
        keep_alive: 300,
        client_id: "9277".into(),
        will: None,
        username: Some("339".into()),
        password: Some(Bytes::from_static(b"abc123")),
    }));
    s.write_all(&connect.to_bytes().unwrap()).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        let mut out = BytesMut::new();
        for m in 0..messages {
            let body: Vec<String> = (0..points)
                .map(|i| format!("\"s{i}\":{}.{i}", m % 1000))
                .collect();
            let json = format!("{{{}}}", body.join(","));
            let mut payload = vec![0x03, (json.len() >> 8) as u8, json.len() as u8];
            payload.extend_from_slice(json.as_bytes());
            Packet::Publish(Publish {
                dup: false,
                qos_pid: QosPid::AtLeastOnce(Pid::new((m % 65_535 + 1) as u16).unwrap()),
                retain: false,
                topic: TopicName::new("$dp").unwrap(),
                payload: Bytes::from(payload),
            })
            .encode(&mut out)
            .unwrap();
            if out.len() >= 64 * 1024 {
                wr.write_all(&out).await.unwrap();
                out.clear();
            }
        }
        wr.write_all(&out).await.unwrap();
        wr
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let (mut buf, mut acked) = (BytesMut::new(), 0usize);
    while acked < messages {
        while let Some(d) = decode(&mut buf, 1 << 20).expect("valid packet") {
            if matches!(d.packet, Packet::PubAck(_)) {
                acked += 1;
            }
        }
        if acked == messages {
            break;
        }
        match tokio::time::timeout_at(deadline, rd.read_buf(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => panic!("only {acked}/{messages} PUBACKs"),
        }
    }
    writer.await.unwrap();
}

fn main() {
    let (messages, points) = (env("EXPORT_MESSAGES", 10_000), env("EXPORT_POINTS", 10));
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::new(dir.path().to_path_buf());
    cfg.mqtt_addr = "127.0.0.1:0".parse().unwrap();
    cfg.profile = Profile::OneNet;
    let db_path = cfg.db_path();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    rt.block_on(async {
        let h = onenet_desk::start(cfg).await.expect("broker starts");
        onenet_desk::store::Db::open(&h.config().db_path())
            .unwrap()
            .add_product(NewProduct {
                id: Some("339".into()),
                name: None,
                api_key: Some("KEY339".into()),
            })
            .unwrap();
        onenet_desk::store::Db::open(&h.config().db_path())
            .unwrap()
            .add_device(NewDevice {
                product_id: "339".into(),
                id: Some("9277".into()),
                auth_info: Some("abc123".into()),
                ..Default::default()
            })
            .unwrap();
        upload(h.mqtt_addr(), messages, points).await;
        h.shutdown().await;
    });
    let total = (messages * points) as u64;
    println!("upload of {total} datapoints: {:.2?}", t.elapsed());
    for (format, name) in [
        (ExportFormat::Csv, "csv"),
        (ExportFormat::JsonLines, "jsonl"),
    ] {
        let out = dir.path().join(format!("all.{name}"));
        let req = ExportRequest {
            format,
            ..Default::default()
        };
        let t = Instant::now();
        let n = export_to_file(&db_path, &req, &out, &mut |_| true).expect("export");
        let took = t.elapsed();
        assert_eq!(n, total, "every datapoint exported");
        println!(
            "export {name}: {n} datapoints in {took:.2?} ({:.0} datapoints/s, {} bytes)",
            n as f64 / took.as_secs_f64(),
            std::fs::metadata(&out).unwrap().len()
        );
    }
}
