//! `export` and `datapoints` end to end: a real broker in-process, devices uploading 100,000 datapoints
//! over MQTT (`$dp`, QoS 1), then the real binary reading the same database while the broker runs,
//! every exported row checked against what was sent.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::BytesMut;
use common::*;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS, decode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_onenet-desk");
/// 2015-03-22 22:31:12 at UTC+8: the base of the device times sent.
const BASE: i64 = 1_427_034_672_000;
const T3_MESSAGES: usize = 9_500; // × 10 points
const T7_MESSAGES: usize = 490; // × 10 points
const T2_MESSAGES: usize = 50; // per device

fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "failed: {}", stderr(&o));
    o
}

#[test]
fn bad_arguments_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.csv");
    let out = out.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["export"], "--out"),
        (&["export", "--out", out, "--format", "xml"], "xml"),
        (
            &["export", "--out", out, "--since", "yesterday"],
            "invalid --since 'yesterday'",
        ),
        (
            &["export", "--out", out, "--until", "2015-02-30 00:00:00"],
            "invalid --until",
        ),
        (
            &["export", "--out", out, "--since", "2015-03-22 25:00:00"],
            "invalid --since",
        ),
        (
            &[
                "export",
                "--out",
                out,
                "--since",
                "2015-03-22 10:00:00",
                "--until",
                "2015-03-22 09:00:00",
            ],
            "--since is later than --until",
        ),
        (&["export", "--out", out, "--utc-offset", "15"], "15"),
        (&["export", "--out", out, "--utc-offset", "eight"], "eight"),
        (&["datapoints"], "--device"),
        (&["datapoints", "--device", "9277", "--limit", "-1"], "-1"),
        (
            &["datapoints", "--device", "9277", "--utc-offset", "-15"],
            "-15",
        ),
    ];
    for (args, needle) in cases {
        let o = cli(dir.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(needle),
            "{args:?}: no {needle:?} in {}",
            stderr(&o)
        );
        assert!(!Path::new(out).exists(), "{args:?} wrote a file");
    }
}

#[test]
fn empty_exports_and_write_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("none.csv");
    let o = ok(cli(
        dir.path(),
        &[
            "export",
            "--out",
            out.to_str().unwrap(),
            "--device",
            "nobody",
            "--utc-offset",
            "-5",
        ],
    ));
    assert_eq!(
        stderr(&o).trim(),
        format!("exported 0 datapoints to {}", out.display())
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "device_id,stream,at,value,type,received_at,kind,desc\n"
    );

    let o = ok(cli(dir.path(), &["datapoints", "--device", "nobody"]));
    assert!(o.stdout.is_empty());

    let bad = dir.path().join("missing/dir/x.jsonl");
    let o = cli(
        dir.path(),
        &[
            "export",
            "--format",
            "jsonl",
            "--out",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing/dir/x.jsonl"), "{}", stderr(&o));
    assert!(!bad.exists());
}

/// `received_at` (the arrival time, unknown in advance) of every record replaced by `RECV`; the times
/// themselves are returned, read independently. A record ends with `,<29-char ISO time>\n`.
fn mask_received(text: &str) -> (String, Vec<i64>) {
    let mut out = String::new();
    let mut times = Vec::new();
    let mut rest = text;
    while let Some(nl) = rest.find('\n') {
        let (line, tail) = rest.split_at(nl + 1);
        let body = &line[..line.len() - 1];
        // received_at: the last `,YYYY-MM-DDThh:mm:ss.fff+hh:mm,` field (kind and desc follow it).
        let b = body.as_bytes();
        let at = (0..body.len().saturating_sub(30)).rev().find(|&i| {
            b[i] == b','
                && b[i + 30] == b','
                && b[i + 11] == b'T'
                && matches!(b[i + 24], b'+' | b'-')
                && [
                    "float,", "binary,", "string,", "object,", "number,", "text,", "bool,",
                ]
                .iter()
                .any(|k| body.is_char_boundary(i + 31) && body[i + 31..].starts_with(k))
        });
        if let Some(i) = at {
            times.push(unix_ms_of_iso(&body[i + 1..i + 30]));
            out.push_str(&body[..=i]);
            out.push_str("RECV");
            out.push_str(&body[i + 30..]);
            out.push('\n');
        } else {
            out.push_str(line);
        }
        rest = tail;
    }
    out.push_str(rest);
    (out, times)
}

/// A few datapoints of every value kind, exported to exactly these bytes: the expected text is written
/// out, not computed (only the arrival time is masked, and checked to be within the run).
#[test]
fn a_few_datapoints_export_to_exactly_these_lines() {
    assert_eq!(
        unix_ms_of_iso("2015-03-22T22:31:12.000+08:00"),
        BASE,
        "the test's own time reader"
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    rt.block_on(async {
        let h = broker(&data, Profile::OneNet).await;
        seed_registry(&h);
        let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
        let type1 = r#"{"datastreams":[{"id":"s","datapoints":[{"at":"2015-03-22 22:31:13","value":"a,\"b\"\nc"},{"at":"2015-03-22T22:31:14","value":{"k":[1,2.5]}}]}]}"#;
        let mut t7 = vec![0x87, 15, 3, 22, 22, 31, 12, 0x00, 0x01, 0x00, 0x02];
        t7.extend_from_slice(&0.1f32.to_le_bytes());
        t7.extend_from_slice(&(-20.3f32).to_le_bytes());
        let payloads = [
            common::dataplane::framed(1, type1),
            t7,
            binary(
                r#"{"ds_id":"bin","at":"2015-03-22 22:31:15"}"#,
                &[0xDE, 0xAD, 0xBE, 0xEF],
            ),
        ];
        for (i, p) in payloads.iter().enumerate() {
            common::dataplane::publish_acked(
                &mut d,
                publish("$dp", p, QoS::AtLeastOnce, i as u16 + 1, false),
            )
            .await;
        }
        h.shutdown().await;
    });
    let t1 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;

    let csv = dir.path().join("few.csv");
    ok(cli(&data, &["export", "--out", csv.to_str().unwrap()]));
    let (text, recv) = mask_received(&std::fs::read_to_string(&csv).unwrap());
    assert_eq!(
        text,
        "device_id,stream,at,value,type,received_at,kind,desc\n\
         9277,1,2015-03-22T22:31:12.000+08:00,0.1,7,RECV,float,\n\
         9277,1,2015-03-22T22:31:12.000+08:00,-20.3,7,RECV,float,\n\
         9277,bin,2015-03-22T22:31:15.000+08:00,3q2+7w==,2,RECV,binary,\n\
         9277,s,2015-03-22T22:31:13.000+08:00,\"a,\"\"b\"\"\nc\",1,RECV,string,\n\
         9277,s,2015-03-22T22:31:14.000+08:00,\"{\"\"k\"\":[1,2.5]}\",1,RECV,object,\n"
    );
    assert_eq!(recv.len(), 5);
    assert!(recv.iter().all(|t| (t0..=t1).contains(t)), "{recv:?}");

    let jl = dir.path().join("few.jsonl");
    ok(cli(
        &data,
        &[
            "export",
            "--format",
            "jsonl",
            "--out",
            jl.to_str().unwrap(),
            "--utc-offset",
            "-5",
        ],
    ));
    let raw = std::fs::read_to_string(&jl).unwrap();
    let text: String = raw
        .lines()
        .map(|l| {
            let (head, tail) = l.split_once(r#""received_at":""#).expect("received_at");
            let (t, rest) = tail.split_at(29);
            assert!(t.ends_with("-05:00"), "{t}");
            assert!((t0..=t1).contains(&unix_ms_of_iso(t)), "{t}");
            format!("{head}\"received_at\":\"RECV{rest}\n")
        })
        .collect();
    assert_eq!(
        text,
        concat!(
            r#"{"device_id":"9277","stream":"1","at":"2015-03-22T09:31:12.000-05:00","value":0.1,"type":7,"received_at":"RECV","kind":"float","desc":null}"#,
            "\n",
            r#"{"device_id":"9277","stream":"1","at":"2015-03-22T09:31:12.000-05:00","value":-20.3,"type":7,"received_at":"RECV","kind":"float","desc":null}"#,
            "\n",
            r#"{"device_id":"9277","stream":"bin","at":"2015-03-22T09:31:15.000-05:00","value":"3q2+7w==","type":2,"received_at":"RECV","kind":"binary","desc":null}"#,
            "\n",
            r#"{"device_id":"9277","stream":"s","at":"2015-03-22T09:31:13.000-05:00","value":"a,\"b\"\nc","type":1,"received_at":"RECV","kind":"string","desc":null}"#,
            "\n",
            r#"{"device_id":"9277","stream":"s","at":"2015-03-22T09:31:14.000-05:00","value":{"k":[1,2.5]},"type":1,"received_at":"RECV","kind":"object","desc":null}"#,
            "\n",
        )
    );
}

/// What one sent datapoint should look like once exported.
#[derive(Debug, Clone)]
struct Sent {
    device: &'static str,
    stream: String,
    /// Device time; `None` = arrival time.
    at: Option<i64>,
    dp_type: u8,
    value: Val,
    seq: usize,
}

#[derive(Debug, Clone)]
enum Val {
    Json(Value),
    Float(f32),
    Binary(Vec<u8>),
}

impl Val {
    fn csv(&self) -> String {
        match self {
            Val::Json(Value::String(s)) => s.clone(),
            Val::Json(v) => v.to_string(),
            Val::Float(f) => f.to_string(),
            Val::Binary(b) => base64::engine::general_purpose::STANDARD.encode(b),
        }
    }
    fn json(&self) -> Value {
        match self {
            Val::Json(v) => v.clone(),
            Val::Float(f) => json!(f.to_string().parse::<f64>().unwrap()),
            Val::Binary(_) => Value::String(self.csv()),
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Val::Json(Value::Null) => "null",
            Val::Json(Value::Bool(_)) => "bool",
            Val::Json(Value::Number(_)) => "number",
            Val::Json(Value::String(_)) => "string",
            Val::Json(Value::Array(_)) => "array",
            Val::Json(Value::Object(_)) => "object",
            Val::Float(_) => "float",
            Val::Binary(_) => "binary",
        }
    }
}

/// The `$dp` payloads of each device and the datapoints they carry, in send order.
fn workload() -> (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<Sent>) {
    let mut sent = Vec::new();
    let mut push = |device, stream: &str, at, dp_type, value| {
        let seq = sent.len();
        sent.push(Sent {
            device,
            stream: stream.to_string(),
            at,
            dp_type,
            value,
            seq,
        });
    };
    let mut dev1 = Vec::new();
    for k in 0..T3_MESSAGES {
        let body = json!({
            "temp": k as f64 + 0.5,
            "hum": format!("x{k}"),
            "name": format!("温度{k}"),
            "note": format!("a,\"b\" {k}"),
            "line": format!("l1\nl2 {k}"),
            "flag": k % 2 == 0,
            "obj": {"k": k, "s": "v,w"},
            "arr": [k, -(k as i64)],
            "nul": null,
            "int": k,
        });
        for (name, v) in body.as_object().unwrap() {
            push("9277", name, None, 3, Val::Json(v.clone()));
        }
        let text = body.to_string().into_bytes();
        let mut p = vec![0x03];
        p.extend_from_slice(&(text.len() as u16).to_be_bytes());
        p.extend_from_slice(&text);
        dev1.push(p);
    }
    for k in 0..T7_MESSAGES {
        let at = BASE + k as i64 * 1000;
        let mut p = vec![0x87];
        p.extend_from_slice(&six_bytes(at));
        for ds in [1u16, 2] {
            p.extend_from_slice(&ds.to_be_bytes());
            p.extend_from_slice(&5u16.to_be_bytes());
            for j in 0..5 {
                let i = (k * 5 + j) as f32;
                let f = if ds == 1 { i * 0.1 - 100.0 } else { i / 3.0 };
                p.extend_from_slice(&f.to_le_bytes());
                push("9277", &ds.to_string(), Some(at), 7, Val::Float(f));
            }
        }
        dev1.push(p);
    }
    let mut dev2 = Vec::new();
    for k in 0..T2_MESSAGES {
        let data: Vec<u8> = (0..k * 7).map(|i| (i * 31 + k) as u8).collect();
        let at = BASE + 3_600_000 + k as i64 * 1000;
        let d1 = json!({"ds_id": "blob", "at": wall_clock(at), "desc": "d"}).to_string();
        dev1.push(binary(&d1, &data));
        push("9277", "blob", Some(at), 2, Val::Binary(data.clone()));
        dev2.push(binary(&json!({"ds_id": "pic"}).to_string(), &data));
        push("9278", "pic", None, 2, Val::Binary(data));
    }
    (dev1, dev2, sent)
}

fn binary(desc: &str, data: &[u8]) -> Vec<u8> {
    let mut p = vec![0x02];
    p.extend_from_slice(&(desc.len() as u16).to_be_bytes());
    p.extend_from_slice(desc.as_bytes());
    p.extend_from_slice(&(data.len() as u32).to_be_bytes());
    p.extend_from_slice(data);
    p
}

/// `YY MM DD hh mm ss` of Unix ms at UTC+8, for times on 2015-03-22 from [`BASE`] (22:31:12) on:
/// plain arithmetic, independent of the crate's time code.
fn six_bytes(at: i64) -> [u8; 6] {
    let secs = 22 * 3600 + 31 * 60 + 12 + (at - BASE) / 1000;
    assert!((0..86_400).contains(&secs), "stays on 2015-03-22");
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    [15, 3, 22, h as u8, m as u8, s as u8]
}

/// `YYYY-MM-DD hh:mm:ss` of Unix ms at UTC+8 on 2015-03-22 (from [`BASE`] on), for type 2 descriptors.
fn wall_clock(at: i64) -> String {
    let b = six_bytes(at);
    format!("2015-03-22 {:02}:{:02}:{:02}", b[3], b[4], b[5])
}

/// Unix ms of an exported `YYYY-MM-DDThh:mm:ss.mmm±hh:mm`: an independent reading (days from the civil
/// date by the proleptic Gregorian rule), not the crate's parser.
fn unix_ms_of_iso(s: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| -> i64 {
        s[r.clone()]
            .parse()
            .unwrap_or_else(|_| panic!("{s:?}: digits at {r:?}"))
    };
    let (y, mo, d) = (n(0..4), n(5..7), n(8..10));
    let (h, mi, se, ms) = (n(11..13), n(14..16), n(17..19), n(20..23));
    let sign = if &s[23..24] == "-" { -1 } else { 1 };
    let offset_s = sign * (n(24..26) * 3600 + n(27..29) * 60);
    // days since 1970-01-01
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 86_400 + h * 3600 + mi * 60 + se) - offset_s) * 1000 + ms
}

/// Logs in, pipelines every payload to `$dp` at QoS 1 and waits for every PUBACK (= stored).
async fn upload(addr: std::net::SocketAddr, id: &str, auth: &str, payloads: Vec<Vec<u8>>) {
    let n = payloads.len();
    assert!(n < 65_535, "packet ids are not reused");
    let raw = Raw::device(addr, id, auth, true).await;
    let (mut rd, mut wr) = raw.stream.into_split();
    let writer = tokio::spawn(async move {
        let mut buf = BytesMut::new();
        for (i, p) in payloads.iter().enumerate() {
            publish("$dp", p, QoS::AtLeastOnce, (i + 1) as u16, false)
                .encode(&mut buf)
                .unwrap();
            if buf.len() >= 64 * 1024 {
                wr.write_all(&buf).await.unwrap();
                buf.clear();
            }
        }
        wr.write_all(&buf).await.unwrap();
        wr
    });
    let mut acked = vec![false; n + 1];
    let mut count = 0;
    let mut buf = BytesMut::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(50);
    while count < n {
        while let Some(d) = decode(&mut buf, 1 << 20).expect("valid packet") {
            let Packet::PubAck(pid) = d.packet else {
                panic!("unexpected {:?}", d.packet)
            };
            let slot = &mut acked[usize::from(pid.get())];
            assert!(!*slot, "PUBACK {} twice", pid.get());
            *slot = true;
            count += 1;
        }
        if count == n {
            break;
        }
        match tokio::time::timeout_at(deadline, rd.read_buf(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => panic!("connection closed after {count}/{n} PUBACKs"),
            Err(_) => panic!("only {count}/{n} PUBACKs in time"),
            Ok(Ok(_)) => {}
        }
    }
    let mut wr = writer.await.unwrap();
    wr.write_all(&Packet::Disconnect.to_bytes().unwrap())
        .await
        .unwrap();
}

/// An RFC 4180 parser: records of fields (quoted fields may hold commas, quotes and newlines).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => {
                assert!(field.is_empty(), "quote inside an unquoted field");
                quoted = true;
            }
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        !quoted && field.is_empty() && record.is_empty(),
        "file must end with a newline"
    );
    records
}

/// One exported row in a format-neutral shape.
struct Row {
    device: String,
    stream: String,
    at: String,
    value: String,
    dp_type: u8,
    received_at: String,
}

fn time(s: &str, suffix: &str) -> i64 {
    assert!(
        s.ends_with(suffix) && s.len() == 29 && s.as_bytes()[10] == b'T',
        "time {s:?}"
    );
    unix_ms_of_iso(s)
}

/// Checks `rows` against `expected` (already in export order), row by row.
fn check(rows: &[Row], expected: &[&Sent], window: (i64, i64), suffix: &str, what: &str) {
    assert_eq!(rows.len(), expected.len(), "{what}: row count");
    let mut last: Option<(&str, i64)> = None;
    for (i, (r, e)) in rows.iter().zip(expected).enumerate() {
        let ctx = || format!("{what} row {i}: sent {e:?}");
        assert_eq!(
            (r.device.as_str(), r.stream.as_str()),
            (e.device, e.stream.as_str()),
            "{}",
            ctx()
        );
        assert_eq!(r.dp_type, e.dp_type, "{}", ctx());
        assert_eq!(r.value, e.value.csv(), "{}", ctx());
        let (at, received) = (time(&r.at, suffix), time(&r.received_at, suffix));
        assert!(
            (window.0..=window.1).contains(&received),
            "{}: received_at {}",
            ctx(),
            r.received_at
        );
        match e.at {
            Some(t) => assert_eq!(at, t, "{}", ctx()),
            None => assert_eq!(at, received, "{}: arrival time", ctx()),
        }
        if let Some((stream, prev)) = last
            && stream == r.stream
        {
            assert!(at >= prev, "{}: time order", ctx());
        }
        last = Some((&r.stream, at));
    }
}

fn csv_rows(path: &Path) -> Vec<Row> {
    let records = parse_csv(&std::fs::read_to_string(path).unwrap());
    assert_eq!(
        records[0],
        [
            "device_id",
            "stream",
            "at",
            "value",
            "type",
            "received_at",
            "kind",
            "desc"
        ]
    );
    records[1..]
        .iter()
        .map(|f| {
            assert_eq!(f.len(), 8, "{f:?}");
            Row {
                device: f[0].clone(),
                stream: f[1].clone(),
                at: f[2].clone(),
                value: f[3].clone(),
                dp_type: f[4].parse().unwrap(),
                received_at: f[5].clone(),
            }
        })
        .collect()
}

/// JSON Lines rows; the JSON value and kind are checked here against `expected`, the value then
/// compared as CSV text by [`check`].
fn jsonl_rows(text: &str, expected: &[&Sent]) -> Vec<Row> {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len(), "jsonl line count");
    lines
        .iter()
        .zip(expected)
        .map(|(l, e)| {
            let v: serde_json::Map<String, Value> = serde_json::from_str(l).unwrap();
            let keys: Vec<&str> = v.keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                [
                    "device_id",
                    "stream",
                    "at",
                    "value",
                    "type",
                    "received_at",
                    "kind",
                    "desc"
                ]
            );
            assert_eq!(v["value"], e.value.json(), "{l}");
            assert_eq!(v["kind"], e.value.kind(), "{l}");
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            Row {
                device: s("device_id"),
                stream: s("stream"),
                at: s("at"),
                value: e.value.csv(),
                dp_type: v["type"].as_u64().unwrap() as u8,
                received_at: s("received_at"),
            }
        })
        .collect()
}

fn exported(o: &Output, n: usize, path: &Path) {
    assert_eq!(
        stderr(o).trim(),
        format!("exported {n} datapoints to {}", path.display())
    );
    assert!(!Path::new(&format!("{}.tmp", path.display())).exists());
}

#[test]
fn hundred_thousand_datapoints_over_mqtt_export_row_by_row() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (dev1, dev2, sent) = workload();
    assert_eq!(sent.len(), 100_000);
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };

    let t0 = now();
    let handle = rt.block_on(async {
        let handle = broker(&data, Profile::OneNet).await;
        seed_registry(&handle);
        let addr = handle.mqtt_addr();
        upload(addr, "9277", "abc123", dev1).await;
        upload(addr, "9278", "def456", dev2).await;
        handle
    });
    let window = (t0, now());
    let uploaded = started.elapsed();

    // Export order: device, stream (bytewise), time, insertion order.
    let mut expected: Vec<&Sent> = sent.iter().collect();
    expected.sort_by(|a, b| {
        (a.device, a.stream.as_bytes(), a.at.unwrap_or(0), a.seq).cmp(&(
            b.device,
            b.stream.as_bytes(),
            b.at.unwrap_or(0),
            b.seq,
        ))
    });

    // The broker keeps running: the CLI reads the live database.
    let csv = dir.path().join("all.csv");
    let o = ok(cli(&data, &["export", "--out", csv.to_str().unwrap()]));
    exported(&o, 100_000, &csv);
    check(&csv_rows(&csv), &expected, window, "+08:00", "csv");
    let csv_done = started.elapsed();

    let jl = dir.path().join("all.jsonl");
    let o = ok(cli(
        &data,
        &["export", "--format", "jsonl", "--out", jl.to_str().unwrap()],
    ));
    exported(&o, 100_000, &jl);
    let text = std::fs::read_to_string(&jl).unwrap();
    check(
        &jsonl_rows(&text, &expected),
        &expected,
        window,
        "+08:00",
        "jsonl",
    );
    let jsonl_done = started.elapsed();

    // Filters: one stream of one device between two wall-clock times (inclusive, fraction accepted).
    let f = dir.path().join("filtered.csv");
    let args = [
        "export",
        "--out",
        f.to_str().unwrap(),
        "--device",
        "9277",
        "--stream",
        "1",
        "--since",
        "2015-03-22 22:33:00",
        "--until",
        "2015-03-22T22:35:00.5",
    ];
    let o = ok(cli(&data, &args));
    let (lo, hi) = (BASE + 108_000, BASE + 228_000);
    let want: Vec<&Sent> = expected
        .iter()
        .copied()
        .filter(|s| {
            s.device == "9277" && s.stream == "1" && s.at.is_some_and(|t| (lo..=hi).contains(&t))
        })
        .collect();
    assert_eq!(want.len(), 121 * 5);
    exported(&o, want.len(), &f);
    check(&csv_rows(&f), &want, window, "+08:00", "filtered csv");

    // Unix ms bounds and another offset; the other device only.
    let f = dir.path().join("filtered.jsonl");
    let (since, until) = (window.0.to_string(), window.1.to_string());
    let args = [
        "export",
        "--format",
        "jsonl",
        "--out",
        f.to_str().unwrap(),
        "--device",
        "9278",
        "--since",
        &since,
        "--until",
        &until,
        "--utc-offset",
        "0",
    ];
    let o = ok(cli(&data, &args));
    let want: Vec<&Sent> = expected
        .iter()
        .copied()
        .filter(|s| s.device == "9278")
        .collect();
    assert_eq!(want.len(), T2_MESSAGES);
    exported(&o, want.len(), &f);
    let text = std::fs::read_to_string(&f).unwrap();
    check(
        &jsonl_rows(&text, &want),
        &want,
        window,
        "+00:00",
        "filtered jsonl",
    );

    // `datapoints`: the newest N, oldest of them first, same objects as the JSON Lines export.
    for (stream, limit, offset, suffix) in
        [("temp", "5", "8", "+08:00"), ("2", "7", "-5", "-05:00")]
    {
        let o = ok(cli(
            &data,
            &[
                "datapoints",
                "--device",
                "9277",
                "--stream",
                stream,
                "--limit",
                limit,
                "--utc-offset",
                offset,
            ],
        ));
        let all: Vec<&Sent> = expected
            .iter()
            .copied()
            .filter(|s| s.stream == stream)
            .collect();
        let want = &all[all.len() - limit.parse::<usize>().unwrap()..];
        let text = String::from_utf8(o.stdout).unwrap();
        check(&jsonl_rows(&text, want), want, window, suffix, "datapoints");
    }
    let o = ok(cli(&data, &["datapoints", "--device", "9277"]));
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 100);

    rt.block_on(handle.shutdown());
    // Timings for the curious (no bound asserted here: speed is benches/' business, not correctness's).
    eprintln!(
        "upload {uploaded:?}, csv export+check {:?}, jsonl export+check {:?}, total {:?}",
        csv_done - uploaded,
        jsonl_done - csv_done,
        started.elapsed()
    );
}
