//! Record & replay end to end: a session made of the official SDK's captured packets (spec §14) is recorded
//! through `GET /admin/record/{device}`, replays against the broker with no difference (library and
//! `onenet-desk replay`), and a deliberately changed broker reply in the recording is reported (exit 1).

mod common;

use std::io::BufRead;

use common::{BIN, Raw, WAIT, seed_registry};
use onenet_desk::config::Profile;
use onenet_desk::mqtt::Packet;
use onenet_desk::record::{self, Dir, replay};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// The device's side of the session, in order: each packet and how many broker packets answer it.
fn sdk_session() -> Vec<(Vec<u8>, usize)> {
    vec![
        // CONNECT 9277 / 339 / abc123, keepalive 1200 (official sample).
        (
            h(
                "10 1D 00 04 4D 51 54 54 04 C2 04 B0 00 04 39 32 37 37 00 03 33 33 39 00 06 61 62 63 31 32 33",
            ),
            1,
        ),
        // SUBSCRIBE "/topic_test" QoS 1 with the SDK's 0x80 first byte.
        (
            h("80 10 00 0B 00 0B 2F 74 6F 70 69 63 5F 74 65 73 74 01"),
            1,
        ),
        // $dp type 3 QoS 1 (sample), then §14.1's type 3 and type 2.
        (
            h(
                "32 1E 00 03 24 64 70 00 03 03 00 14 7B 22 74 65 6D 70 65 72 61 74 75 72 65 22 3A 32 32 2E 35 7D",
            ),
            1,
        ),
        (
            h(
                "32 31 00 03 24 64 70 00 01 03 00 27 7B 22 74 65 6D 70 65 72 61 74 75 72 65 22 3A 32 32 2E 35 2C 22 68 75 6D 69 64 69 74 79 22 3A 22 39 35 2E 32 25 22 7D",
            ),
            1,
        ),
        (
            h(
                "32 23 00 03 24 64 70 00 02 02 00 11 7B 22 64 73 5F 69 64 22 3A 22 69 6D 61 67 65 22 7D 00 00 00 04 DE AD BE EF",
            ),
            1,
        ),
        // $dp type 7 with time, QoS 1 then QoS 0 (sample).
        (
            h(
                "32 1A 00 03 24 64 70 00 07 87 1A 0B 19 13 25 33 00 00 00 02 00 00 08 42 66 66 A2 C1",
            ),
            1,
        ),
        (
            h("30 18 00 03 24 64 70 87 1A 0B 19 13 25 34 00 00 00 02 00 00 08 42 66 66 A2 C1"),
            0,
        ),
        // push "hi" to /topic_test QoS 1: PUBACK, and the message back to us (we subscribed).
        (
            h("32 11 00 0B 2F 74 6F 70 69 63 5F 74 65 73 74 00 05 68 69"),
            2,
        ),
        (h("C0 00"), 1),
        (h("E0 00"), 0),
    ]
}

/// Streams the recording of `device` until its DISCONNECT; returns the lines.
fn record_until_disconnect(
    http: std::net::SocketAddr,
    device: &str,
    ready: std::sync::mpsc::Sender<()>,
) -> Vec<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent
        .get(&format!("http://{http}/admin/record/{device}?duration=60"))
        .header("api-key", "KEY339")
        .call()
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    ready.send(()).unwrap();
    let mut out = Vec::new();
    for line in std::io::BufReader::new(resp.into_body().into_reader()).lines() {
        let line = line.unwrap();
        let done = line.contains("\"dir\":\"up\"") && line.contains("\"summary\":\"DISCONNECT\"");
        out.push(line);
        if done {
            break;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_session_records_and_replays_without_difference_and_a_changed_reply_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path(), Profile::OneNet);
    cfg.http_addr = Some("127.0.0.1:0".parse().unwrap());
    let svc = onenet_desk::start(cfg).await.unwrap();
    seed_registry(&svc);
    let http = svc.http_addr().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let rec = std::thread::spawn(move || record_until_disconnect(http, "9277", ready_tx));
    ready_rx.recv_timeout(WAIT).unwrap();

    // The live session, answering like the firmware: PUBACK for the broker's QoS 1 PUBLISH.
    let mut dev = Raw::connect(svc.mqtt_addr()).await;
    for (bytes, answers) in sdk_session() {
        dev.send_bytes(&bytes).await;
        for _ in 0..answers {
            let p = dev.recv().await;
            if let Packet::Publish(p) = &p {
                let pid = p.qos_pid.pid().unwrap();
                dev.send(&Packet::PubAck(pid)).await;
            }
        }
    }
    let lines = tokio::task::spawn_blocking(move || rec.join().unwrap())
        .await
        .unwrap();
    let text = lines.join("\n") + "\n";
    let parsed = record::parse(&text).unwrap();
    let ups = parsed.iter().filter(|l| l.dir == Some(Dir::Up)).count();
    let downs = parsed.iter().filter(|l| l.dir == Some(Dir::Down)).count();
    assert_eq!(ups, 11, "10 SDK packets and our PUBACK: {text}");
    assert_eq!(
        downs, 9,
        "CONNACK, SUBACK, 5 PUBACK, PUBLISH, PINGRESP: {text}"
    );
    assert_eq!(
        parsed[0].summary,
        "CONNECT client 9277 user 339 keepalive 1200 clean"
    );
    assert!(parsed.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));

    // Replayed (10× faster) against the same broker: the broker answers exactly as recorded.
    let mut opts = replay::ReplayOptions::new(svc.mqtt_addr().to_string());
    opts.speed = 10.0;
    let report = replay::replay(&parsed, &opts).await.unwrap();
    assert_eq!(report.differences, vec![], "{report:?}");
    assert_eq!((report.sent, report.compared), (11, 9));

    // The CLI agrees and exits 0.
    let file = dir.path().join("session.jsonl");
    std::fs::write(&file, &text).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["--data-dir"])
        .arg(dir.path())
        .arg("replay")
        .arg(&file)
        .args(["--speed", "20", "--mqtt", &svc.mqtt_addr().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Change the recorded SUBACK (granted QoS 1 → 0): the real broker's answer now differs.
    let changed: Vec<String> = lines
        .iter()
        .map(|l| {
            if l.contains("SUBACK") {
                l.replace("\"hex\":\"9003000b01\"", "\"hex\":\"9003000b00\"")
            } else {
                l.clone()
            }
        })
        .collect();
    assert_ne!(changed, lines, "the SUBACK line was found and changed");
    let changed_file = dir.path().join("changed.jsonl");
    std::fs::write(&changed_file, changed.join("\n")).unwrap();
    let out = std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("replay")
        .arg(&changed_file)
        .args(["--speed", "20", "--mqtt", &svc.mqtt_addr().to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let diff: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(diff["what"], "SUBACK return codes");
    assert_eq!(diff["line"], 4);
    assert_eq!(diff["expected"], "SUBACK pid 11 codes [0]");
    assert_eq!(diff["got"], "SUBACK pid 11 codes [1]");
    assert_eq!(stdout.lines().count(), 1, "only that difference: {stdout}");
    svc.shutdown().await;
}
