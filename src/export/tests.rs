//! Unit tests of the export: CSV quoting, value and time text, JSON Lines shape, streaming with
//! progress, filters, cancellation and errors.

use super::*;
use crate::onenet::datapoint::Datapoint;
use crate::store::datapoints::{StreamIds, insert_batch};
use crate::store::{Db, DpBatch};
use bytes::Bytes;
use serde_json::json;

const AT: i64 = 1_427_034_672_000; // 2015-03-22 22:31:12 at UTC+8
const H8: i32 = 8 * 3600;

fn dp(stream: &str, value: DpValue) -> StoredDatapoint {
    StoredDatapoint {
        id: 1,
        device_id: "9277".into(),
        stream: stream.into(),
        at: AT,
        value,
        dp_type: 3,
        received_at: AT + 5,
        upload_id: 1,
    }
}

fn field(s: &str) -> String {
    let mut out = String::new();
    push_csv_field(&mut out, s);
    out
}

#[test]
fn csv_fields_are_quoted_when_needed() {
    assert_eq!(field("plain"), "plain");
    assert_eq!(field(""), "");
    assert_eq!(field("温度"), "温度");
    assert_eq!(field("a,b"), "\"a,b\"");
    assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(field("l1\nl2"), "\"l1\nl2\"");
    assert_eq!(field("cr\r"), "\"cr\r\"");
    assert_eq!(field("温度,\"高\""), "\"温度,\"\"高\"\"\"");
}

#[test]
fn csv_values() {
    let text = |v: DpValue| csv_value(&v);
    assert_eq!(text(DpValue::Json(json!("95.2%"))), "95.2%");
    assert_eq!(text(DpValue::Json(json!(22.5))), "22.5");
    assert_eq!(
        text(DpValue::Json(json!({"a":1,"b":"x"}))),
        "{\"a\":1,\"b\":\"x\"}"
    );
    assert_eq!(text(DpValue::Json(json!([1, true, null]))), "[1,true,null]");
    assert_eq!(text(DpValue::Text("温度 1".into())), "温度 1");
    assert_eq!(text(DpValue::Float(22.5)), "22.5");
    assert_eq!(text(DpValue::Float(-20.3)), "-20.3");
    assert_eq!(text(DpValue::Float(34.0)), "34");
    assert_eq!(text(DpValue::Float(0.1)), "0.1");
    let bin = |b: &'static [u8]| DpValue::Binary {
        data: Bytes::from_static(b),
        desc: None,
    };
    assert_eq!(text(bin(&[0, 1, 2, 255])), "AAEC/w==");
    assert_eq!(text(bin(b"ab")), "YWI=");
    assert_eq!(text(bin(b"")), "");
    assert_eq!(text(DpValue::Float(f32::NAN)), "NaN");
    assert_eq!(text(DpValue::Float(f32::INFINITY)), "Infinity");
    assert_eq!(text(DpValue::Float(f32::NEG_INFINITY)), "-Infinity");
}

#[test]
fn kinds_tell_json_types_apart() {
    let k = |v: DpValue| value_kind(&v);
    assert_eq!(k(DpValue::Json(json!("22.5"))), "string");
    assert_eq!(k(DpValue::Json(json!(22.5))), "number");
    assert_eq!(k(DpValue::Json(json!(true))), "bool");
    assert_eq!(k(DpValue::Json(json!(null))), "null");
    assert_eq!(k(DpValue::Json(json!([1]))), "array");
    assert_eq!(k(DpValue::Text("22.5".into())), "text");
    assert_eq!(k(DpValue::Float(22.5)), "float");
}

#[test]
fn csv_lines_quote_values_and_names() {
    let line = csv_line(&dp("温度", DpValue::Json(json!({"k":"a,b"}))), H8);
    assert_eq!(
        line,
        "9277,温度,2015-03-22T22:31:12.000+08:00,\"{\"\"k\"\":\"\"a,b\"\"}\",3,2015-03-22T22:31:12.005+08:00,object,\n"
    );
    let line = csv_line(&dp("s,1", DpValue::Text("x\"y".into())), 0);
    assert!(line.starts_with("9277,\"s,1\",2015-03-22T14:31:12.000+00:00,\"x\"\"y\",3,"));
}

#[test]
fn times_carry_the_offset() {
    assert_eq!(iso_datetime(AT, H8), "2015-03-22T22:31:12.000+08:00");
    assert_eq!(iso_datetime(AT + 123, 0), "2015-03-22T14:31:12.123+00:00");
    assert_eq!(iso_datetime(AT, -5 * 3600), "2015-03-22T09:31:12.000-05:00");
    assert_eq!(
        iso_datetime(AT, 5 * 3600 + 1800),
        "2015-03-22T20:01:12.000+05:30"
    );
    assert_eq!(
        iso_datetime(AT, -(9 * 3600 + 1800)),
        "2015-03-22T05:01:12.000-09:30"
    );
    assert_eq!(iso_datetime(AT, 14 * 3600), "2015-03-23T04:31:12.000+14:00");
    assert_eq!(iso_datetime(-1, H8), "1970-01-01T07:59:59.999+08:00");
    assert_eq!(iso_datetime(0, -14 * 3600), "1969-12-31T10:00:00.000-14:00");
    // What is written reads back as the same instant.
    for (t, off) in [(AT + 999, H8), (-1, 0), (AT, -5 * 3600)] {
        let s = iso_datetime(t, off);
        assert_eq!(
            crate::onenet::datapoint::time::parse_datetime(&s, 0),
            Some(t),
            "{s}"
        );
    }
}

#[test]
fn jsonl_objects_have_the_fixed_shape() {
    let line = jsonl_line(&dp("温度", DpValue::Float(-20.3)), H8);
    assert_eq!(
        line,
        r#"{"device_id":"9277","stream":"温度","at":"2015-03-22T22:31:12.000+08:00","value":-20.3,"type":3,"received_at":"2015-03-22T22:31:12.005+08:00","kind":"float","desc":null}"#
    );
    let v: serde_json::Value = serde_json::from_str(&jsonl_line(
        &dp(
            "b",
            DpValue::Binary {
                data: Bytes::from_static(&[0, 1, 2, 255]),
                desc: None,
            },
        ),
        H8,
    ))
    .unwrap();
    assert_eq!(v["value"], "AAEC/w==");
    assert_eq!(v["kind"], "binary");
    let v: serde_json::Value =
        serde_json::from_str(&jsonl_line(&dp("o", DpValue::Json(json!({"a":[1]}))), H8)).unwrap();
    assert_eq!(v["value"], json!({"a":[1]}));
    assert_eq!(v["kind"], "object");
}

/// A database with `n` type 7 floats on stream "1" of device 9277 (at = AT + i s) and two text
/// points on device 9278.
fn database(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    drop(Db::open(&path).unwrap());
    let mut conn = crate::store::connect_with(&path, crate::store::DEFAULT_BUSY_TIMEOUT).unwrap();
    let tx = conn.transaction().unwrap();
    let mut ids = StreamIds::default();
    let batch = |device: &str, dp_type, points| DpBatch {
        qos: 1,
        payload: Bytes::from_static(b"raw"),
        upload: std::sync::Arc::new(crate::events::StoredPoints::new(
            device.into(),
            AT,
            dp_type,
            points,
        )),
    };
    let floats = (0..n)
        .map(|i| Datapoint {
            stream: "1".into(),
            at: Some(AT + i as i64 * 1000),
            value: DpValue::Float(i as f32 / 4.0),
        })
        .collect();
    insert_batch(&tx, &mut ids, &batch("9277", 7, floats)).unwrap();
    let texts = ["a,\"b\"", "温度\n2"]
        .iter()
        .map(|t| Datapoint {
            stream: "s".into(),
            at: Some(AT),
            value: DpValue::Text(t.to_string()),
        })
        .collect();
    insert_batch(&tx, &mut ids, &batch("9278", 5, texts)).unwrap();
    tx.commit().unwrap();
    (dir, path)
}

fn export(db: &Path, req: &ExportRequest) -> (u64, String, Vec<u64>) {
    let mut out = Vec::new();
    let mut calls = Vec::new();
    let n = export_datapoints(db, req, &mut out, &mut |c| {
        calls.push(c);
        true
    })
    .unwrap();
    (n, String::from_utf8(out).unwrap(), calls)
}

#[test]
fn exports_in_order_with_progress_and_filters() {
    let (_dir, db) = database(2500);
    let (n, csv, calls) = export(&db, &ExportRequest::default());
    assert_eq!(n, 2502);
    assert_eq!(calls, [1000, 2000, 2502]);
    let lines: Vec<&str> = csv.split_terminator('\n').collect();
    assert_eq!(lines[0], CSV_HEADER);
    assert_eq!(
        lines[1],
        "9277,1,2015-03-22T22:31:12.000+08:00,0,7,2015-03-22T22:31:12.000+08:00,float,"
    );
    assert_eq!(
        lines[2],
        "9277,1,2015-03-22T22:31:13.000+08:00,0.25,7,2015-03-22T22:31:12.000+08:00,float,"
    );
    assert!(csv.ends_with(
        "9278,s,2015-03-22T22:31:12.000+08:00,\"a,\"\"b\"\"\",5,2015-03-22T22:31:12.000+08:00,text,\n9278,s,2015-03-22T22:31:12.000+08:00,\"温度\n2\",5,2015-03-22T22:31:12.000+08:00,text,\n"
    ));

    let mut req = ExportRequest {
        format: ExportFormat::JsonLines,
        utc_offset_secs: 0,
        ..Default::default()
    };
    req.filter = DpFilter {
        device_id: Some("9277".into()),
        stream: Some("1".into()),
        since: Some(AT + 10_000),
        until: Some(AT + 12_000),
    };
    let (n, jsonl, calls) = export(&db, &req);
    assert_eq!((n, calls), (3, vec![3]));
    let values: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["value"].clone())
        .collect();
    assert_eq!(values, [json!(2.5), json!(2.75), json!(3.0)]);
    assert_eq!(count_datapoints(&db, &req.filter).unwrap(), 3);

    req.filter.device_id = Some("nobody".into());
    assert_eq!(export(&db, &req).0, 0);
}

#[test]
fn cancel_and_errors_leave_no_file() {
    let (dir, db) = database(2500);
    let out = dir.path().join("out.csv");
    std::fs::write(&out, "previous").unwrap();
    let mut seen = 0;
    let r = export_to_file(&db, &ExportRequest::default(), &out, &mut |n| {
        seen = n;
        n < 2000
    });
    assert!(matches!(r, Err(ExportError::Cancelled)), "{r:?}");
    assert_eq!(seen, 2000);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous");
    assert!(!tmp_path(&out).exists());

    let n = export_to_file(&db, &ExportRequest::default(), &out, &mut |_| true).unwrap();
    assert_eq!(n, 2502);
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2504);
    assert!(!tmp_path(&out).exists());

    let missing = dir.path().join("no/such/dir/out.csv");
    let e = export_to_file(&db, &ExportRequest::default(), &missing, &mut |_| true).unwrap_err();
    assert!(
        matches!(e, ExportError::Io { path: Some(ref p), .. } if *p == missing),
        "{e:?}"
    );
    assert!(e.to_string().contains("no/such/dir/out.csv"), "{e}");

    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let e =
        export_datapoints(&db, &ExportRequest::default(), &mut Full, &mut |_| true).unwrap_err();
    assert!(matches!(e, ExportError::Io { path: None, .. }), "{e:?}");
    assert!(e.to_string().contains("disk full"), "{e}");

    let e = count_datapoints(&dir.path().join("absent.sqlite3"), &DpFilter::default()).unwrap_err();
    assert!(matches!(e, ExportError::Sqlite(_)), "{e:?}");
    assert!(!dir.path().join("absent.sqlite3").exists());
}
