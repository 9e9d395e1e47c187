//! `$dp` uploads as the official clients send them (spec §14 captures, §6 examples, §14.1 frames), replayed
//! byte for byte: each is acknowledged per its QoS, and its datapoints are in SQLite as soon as the
//! acknowledgement arrives (no flush). Bad payloads (§13): acknowledged, nothing stored, a BadDp diagnostic
//! with the EDP-style code and byte offset; optionally the connection is closed after the ack.

mod common;

use common::dataplane::*;
use common::*;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS};
use onenet_desk::onenet::datapoint::DpValue;
use onenet_desk::onenet::diagnostics::DiagKind;
use onenet_desk::store::StoredDatapoint;
use serde_json::json;

/// 2026-11-25 19:37:51 at UTC+8 (type 7 time bytes `1A 0B 19 13 25 33`), Unix ms.
const T7_QOS1_AT: i64 = 1_795_606_671_000;
/// 2026-11-25 19:37:52 at UTC+8 (`… 25 34`).
const T7_QOS0_AT: i64 = 1_795_606_672_000;
/// 2015-03-22 22:31:12 at UTC+8 (the §6.4 / §6.5 example datetime).
const EXAMPLE_AT: i64 = 1_427_034_672_000;

/// The datapoints of the newest upload of 9277, in payload order.
fn newest_upload(h: &onenet_desk::ServiceHandle) -> Vec<StoredDatapoint> {
    let all = points(h, "9277");
    let newest = all.iter().map(|p| p.upload_id).max().expect("an upload");
    points_of_upload(&all, newest)
}

/// (stream, value, at) of stored points, for comparisons.
fn summary(v: &[StoredDatapoint]) -> Vec<(String, DpValue, i64)> {
    v.iter()
        .map(|p| (p.stream.clone(), p.value.clone(), p.at))
        .collect()
}

fn json(v: serde_json::Value) -> DpValue {
    DpValue::Json(v)
}

fn text(s: &str) -> DpValue {
    DpValue::Text(s.into())
}

/// A frame whose remaining length is one byte: checks the hex was transcribed completely.
fn frame(h: &str) -> Vec<u8> {
    let b = hex(h);
    assert_eq!(b[1] as usize, b.len() - 2, "frame length byte vs bytes");
    b
}

/// Sends one QoS 1 `$dp` frame, checks the exact PUBACK, and returns (sent-at, acked-at) wall clock.
async fn send_qos1(d: &mut Raw, bytes: &[u8], pid: u16) -> (i64, i64) {
    let t0 = now_ms();
    d.send_bytes(bytes).await;
    let ack = d.recv().await;
    let t1 = now_ms();
    assert_eq!(
        ack.to_bytes().unwrap().as_ref(),
        &[0x40, 0x02, 0x00, pid as u8],
        "PUBACK for pid {pid}"
    );
    (t0, t1)
}

fn assert_arrival(p: &StoredDatapoint, (t0, t1): (i64, i64)) {
    assert!(
        (t0..=t1).contains(&p.at),
        "{}: time {} should be the arrival time, within [{t0}, {t1}]",
        p.stream,
        p.at
    );
    assert_eq!(
        p.at, p.received_at,
        "{}: no device time → arrival time",
        p.stream
    );
}

#[tokio::test]
async fn official_sdk_sample_session_is_acked_and_stored_upload_by_upload() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut d = Raw::connect(h.mqtt_addr()).await;
    d.send_bytes(&frame(SDK_CONNECT)).await;
    assert_eq!(
        d.recv().await.to_bytes().unwrap().as_ref(),
        &[0x20, 0x02, 0x00, 0x00],
        "CONNACK accepted, no session present"
    );

    // -t1: type 1, the §6.1 example (the 110-byte capture's JSON is elided in the spec).
    let t = send_qos1(
        &mut d,
        &frame(
            "32 4E 00 03 24 64 70 00 01
             01 00 44 7B 22 64 61 74 61 73 74 72 65 61 6D 73 22 3A 5B 7B 22 69 64 22 3A 22 74 65 6D 70 65 72 61 74 75 72 65 22
             2C 22 64 61 74 61 70 6F 69 6E 74 73 22 3A 5B 7B 22 76 61 6C 75 65 22 3A 33 36 2E 35 7D 5D 7D 5D 7D",
        ),
        1,
    )
    .await;
    let v = newest_upload(&h);
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].stream.as_str(), &v[0].value),
        ("temperature", &json(json!(36.5)))
    );
    assert_eq!(v[0].dp_type, 1);
    assert_arrival(&v[0], t);

    // -t2: type 2, the complete §14.1 frame (the 10 KB capture is elided).
    let t = send_qos1(
        &mut d,
        &frame("32 23 00 03 24 64 70 00 02 02 00 11 7B 22 64 73 5F 69 64 22 3A 22 69 6D 61 67 65 22 7D 00 00 00 04 DE AD BE EF"),
        2,
    )
    .await;
    let v = newest_upload(&h);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].stream, "image");
    assert_eq!(
        v[0].value,
        DpValue::Binary {
            data: bytes::Bytes::from_static(&[0xDE, 0xAD, 0xBE, 0xEF]),
            desc: None
        }
    );
    assert_eq!(v[0].dp_type, 2);
    assert_arrival(&v[0], t);

    // -t3: the capture, complete.
    let t = send_qos1(
        &mut d,
        &frame("32 1E 00 03 24 64 70 00 03 03 00 14 7B 22 74 65 6D 70 65 72 61 74 75 72 65 22 3A 32 32 2E 35 7D"),
        3,
    )
    .await;
    let v = newest_upload(&h);
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].stream.as_str(), &v[0].value),
        ("temperature", &json(json!(22.5)))
    );
    assert_eq!(v[0].dp_type, 3);
    assert_arrival(&v[0], t);

    // -t4: the capture's header with the §6.4 body it starts with.
    send_qos1(
        &mut d,
        &frame(
            "32 36 00 03 24 64 70 00 04
             04 00 2C 7B 22 74 65 6D 70 65 72 61 74 75 72 65 22 3A 7B 22 32 30 31 35 2D 30 33 2D 32 32 20 32 32 3A 33 31 3A 31
             32 22 3A 32 32 2E 35 7D 7D",
        ),
        4,
    )
    .await;
    let v = newest_upload(&h);
    assert_eq!(
        summary(&v),
        vec![("temperature".into(), json(json!(22.5)), EXAMPLE_AT)],
        "type 4 keeps its own datetime, read at UTC+8"
    );

    // -t5: the capture's header with the §6.5 text it starts with.
    let t = send_qos1(
        &mut d,
        &frame(
            "32 40 00 03 24 64 70 00 05
             05 00 36 2C 3B 74 65 6D 70 65 72 61 74 75 72 65 2C 32 30 31 35 2D 30 33 2D 32 32 20 32 32 3A 33 31 3A 31 32 2C 32
             32 2E 35 3B 31 30 32 3B 70 6D 32 2E 35 2C 38 39 3B 31 30",
        ),
        5,
    )
    .await;
    let v = newest_upload(&h);
    let names: Vec<_> = v.iter().map(|p| p.stream.as_str()).collect();
    assert_eq!(names, ["temperature", "1", "pm2.5", "3"]);
    let values: Vec<_> = v.iter().map(|p| p.value.clone()).collect();
    assert_eq!(values, [text("22.5"), text("102"), text("89"), text("10")]);
    assert_eq!(v[0].at, EXAMPLE_AT);
    for p in &v[1..] {
        assert_arrival(p, t);
    }

    // -t6 without time (`06`): the same text.
    let t = send_qos1(
        &mut d,
        &frame(
            "32 40 00 03 24 64 70 00 06
             06 00 36 2C 3B 74 65 6D 70 65 72 61 74 75 72 65 2C 32 30 31 35 2D 30 33 2D 32 32 20 32 32 3A 33 31 3A 31 32 2C 32
             32 2E 35 3B 31 30 32 3B 70 6D 32 2E 35 2C 38 39 3B 31 30",
        ),
        6,
    )
    .await;
    let v = newest_upload(&h);
    assert_eq!(v.len(), 4);
    assert!(v.iter().all(|p| p.dp_type == 6));
    assert_eq!(v[0].at, EXAMPLE_AT);
    for p in &v[1..] {
        assert_arrival(p, t);
    }

    // -t7 at QoS 1: the capture, complete. ds_id 0, two floats, time 2026-11-25 19:37:51 (UTC+8).
    send_qos1(
        &mut d,
        &frame(
            "32 1A 00 03 24 64 70 00 07 87 1A 0B 19 13 25 33 00 00 00 02 00 00 08 42 66 66 A2 C1",
        ),
        7,
    )
    .await;
    assert_eq!(
        summary(&newest_upload(&h)),
        vec![
            ("0".into(), DpValue::Float(34.0), T7_QOS1_AT),
            ("0".into(), DpValue::Float(-20.3), T7_QOS1_AT)
        ]
    );

    // -q0 -t7: no acknowledgement; stored all the same.
    d.send_bytes(&frame(
        "30 18 00 03 24 64 70 87 1A 0B 19 13 25 34 00 00 00 02 00 00 08 42 66 66 A2 C1",
    ))
    .await;
    d.send_bytes(&[0xE0, 0x00]).await;
    assert_eq!(
        d.closed().await,
        vec![],
        "QoS 0 gets no ack; DISCONNECT closes"
    );
    eventually("the QoS 0 type 7 upload", || async {
        let v = newest_upload(&h);
        (v.first().map(|p| p.at) == Some(T7_QOS0_AT)).then_some(())
    })
    .await;
    assert_eq!(
        summary(&newest_upload(&h)),
        vec![
            ("0".into(), DpValue::Float(34.0), T7_QOS0_AT),
            ("0".into(), DpValue::Float(-20.3), T7_QOS0_AT)
        ]
    );

    // The datastreams, with counts and the latest value of each.
    let s = streams(&h, "9277");
    let got: Vec<_> = s.iter().map(|s| (s.stream.as_str(), s.count)).collect();
    assert_eq!(
        got,
        [
            ("0", 4),
            ("1", 2),
            ("3", 2),
            ("image", 1),
            ("pm2.5", 2),
            ("temperature", 5)
        ]
    );
    let temp = s.iter().find(|s| s.stream == "temperature").unwrap();
    let last = temp.last.as_ref().unwrap();
    assert_eq!((last.dp_type, &last.value), (3, &json(json!(22.5))));
    assert!(h.retained().await.is_empty(), "$dp is never retained");
    assert!(
        h.diagnostics("9277").await.is_empty(),
        "the official SDK session raises no diagnostic: {:?}",
        h.diagnostics("9277").await
    );
    h.shutdown().await;
}

#[tokio::test]
async fn spec_14_1_complete_frames_type3_two_streams_and_type7_without_time() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let t = send_qos1(
        &mut d,
        &frame(
            "32 31 00 03 24 64 70 00 01 03 00 27 7B 22 74 65 6D 70 65 72 61 74 75 72 65 22 3A 32 32 2E 35 2C 22 68 75 6D 69 64 69 74 79 22 3A 22 39 35 2E 32 25 22 7D",
        ),
        1,
    )
    .await;
    let v = newest_upload(&h);
    let got: Vec<_> = v
        .iter()
        .map(|p| (p.stream.as_str(), p.value.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("temperature", json(json!(22.5))),
            ("humidity", json(json!("95.2%")))
        ]
    );
    for p in &v {
        assert_arrival(p, t);
    }

    // type 7 without time at QoS 0: `07 | 00 01 | 00 01 | 22.5`
    let t0 = now_ms();
    d.send_bytes(&frame("30 0E 00 03 24 64 70 07 00 01 00 01 00 00 B4 41"))
        .await;
    let p = eventually("the type 7 datapoint", || async {
        points(&h, "9277").into_iter().find(|p| p.stream == "1")
    })
    .await;
    assert_eq!(p.value, DpValue::Float(22.5));
    assert_eq!(p.dp_type, 7);
    assert!(p.at >= t0 && p.at <= now_ms(), "arrival time");
    h.shutdown().await;
}

#[tokio::test]
async fn onenet_aio_c_session_subscribe_0x82_and_qos0_type3() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut d = Raw::connect(h.mqtt_addr()).await;
    // §14 OneNET_AIO_c: CONNECT keepalive 120, SUBSCRIBE 0x82 test_observe_data QoS 1, type 3 at QoS 0.
    d.send_bytes(&frame("10 1D 00 04 4D 51 54 54 04 C2 00 78 00 04 39 32 37 37 00 03 33 33 39 00 06 61 62 63 31 32 33"))
        .await;
    assert_eq!(
        d.recv().await.to_bytes().unwrap().as_ref(),
        &[0x20, 0x02, 0x00, 0x00]
    );
    d.send_bytes(&frame(
        "82 16 00 02 00 11 74 65 73 74 5F 6F 62 73 65 72 76 65 5F 64 61 74 61 01",
    ))
    .await;
    assert_eq!(
        d.recv().await.to_bytes().unwrap().as_ref(),
        &[0x90, 0x03, 0x00, 0x02, 0x01]
    );
    let t0 = now_ms();
    d.send_bytes(&frame(
        "30 1F 00 03 24 64 70 03 00 17 7B 22 74 65 73 74 5F 64 61 74 61 5F 73 74 72 65 61 6D 22 3A 39 39 7D",
    ))
    .await;
    ping(&mut d).await; // no PUBACK for QoS 0: the next thing back is the PINGRESP
    let p = eventually("the AIO_c datapoint", || async {
        points(&h, "9277").into_iter().next()
    })
    .await;
    assert_eq!(p.stream, "test_data_stream");
    assert_eq!(p.value, json(json!(99)));
    assert!(p.at >= t0 && p.at <= now_ms());
    assert!(h.diagnostics("9277").await.is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn crsp_capture_for_an_unknown_uuid_is_acked_and_diagnosed() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    // §7.1: reply to 81572aae-… (never sent here), QoS 1 pid 1, body "hello MQTT\0".
    send_qos1(
        &mut d,
        &frame(
            "32 39 00 2A 24 63 72 73 70 2F 38 31 35 37 32 61 61 65 2D 66 63 33 34 2D 35 64 65 62 2D 38 66 30 36 2D 61 62 34 35
             64 37 33 63 62 31 32 62 00 01 68 65 6C 6C 6F 20 4D 51 54 54 00",
        ),
        1,
    )
    .await;
    let v = wait_diags(&h, "9277", DiagKind::UnknownCommandReply, 1).await;
    assert!(
        v[0].message
            .contains("81572aae-fc34-5deb-8f06-ab45d73cb12b"),
        "{}",
        v[0].message
    );
    assert!(
        h.command("81572aae-fc34-5deb-8f06-ab45d73cb12b")
            .await
            .is_none()
    );
    assert!(points(&h, "9277").is_empty());
    h.shutdown().await;
}

/// A type 7 payload without time: one group, ds_id 1, `n` floats (all 1.0).
fn type7_with(n: u16) -> Vec<u8> {
    let mut v = vec![0x07, 0x00, 0x01];
    v.extend_from_slice(&n.to_be_bytes());
    for _ in 0..n {
        v.extend_from_slice(&1.0f32.to_le_bytes());
    }
    v
}

/// The EDP-style code and payload offset a BadDp diagnostic names.
fn code_and_offset(message: &str) -> (u8, usize) {
    let after = |key: &str| -> usize {
        let i = message
            .find(key)
            .unwrap_or_else(|| panic!("no '{key}' in {message:?}"))
            + key.len();
        message[i..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or_else(|_| panic!("no number after '{key}' in {message:?}"))
    };
    (after("error ") as u8, after("payload byte "))
}

#[tokio::test]
async fn bad_dp_payloads_are_acked_store_nothing_and_are_diagnosed_with_code_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    // (payload, EDP-style code, offset) — codes per the project's table (spec §13: 63–86).
    let cases: Vec<(Vec<u8>, u8, usize)> = vec![
        (vec![0x00], 63, 0),                           // type 0 does not exist
        (framed(3, "{\"t\":}"), 74, 8),                // type 3 bad JSON: the '}' at byte 3+5
        (hex("03 00 10 7B 22 61 22 3A 31 7D"), 81, 1), // length 16, 7 bytes follow
        (hex("07 00 01 00 00"), 86, 3),                // type 7 group with n = 0
        (type7_with(501), 86, 3),                      // more than 500 floats in one payload
        (hex("87 1A 0D 19 13 25 33 00 00 00 01 00 00 B4 41"), 85, 2), // type 7 time, month 13
    ];
    for (i, (payload, _, _)) in cases.iter().enumerate() {
        let id = i as u16 + 1;
        d.send(&dp(payload, QoS::AtLeastOnce, id)).await;
        assert_eq!(d.recv().await, Packet::PubAck(pid(id)), "case {i} is acked");
    }
    // the same at QoS 2 (full handshake) and QoS 0
    publish_acked(&mut d, dp(&[0x00], QoS::ExactlyOnce, 20)).await;
    d.send(&dp(&[0x00], QoS::AtMostOnce, 0)).await;
    ping(&mut d).await;

    let v = wait_diags(&h, "9277", DiagKind::BadDp, cases.len() + 2).await;
    assert_eq!(v.len(), cases.len() + 2);
    for (i, (_, code, offset)) in cases.iter().enumerate() {
        assert_eq!(
            code_and_offset(&v[i].message),
            (*code, *offset),
            "case {i}: {}",
            v[i].message
        );
        assert_eq!(v[i].section, "§6");
        assert_eq!(v[i].device, "9277");
    }
    h.flush().await;
    assert!(
        points(&h, "9277").is_empty(),
        "nothing stored from a bad payload"
    );
    assert!(streams(&h, "9277").is_empty(), "no datastream created");

    // the connection is still good: a valid upload is stored
    d.send(&dp(&framed(3, "{\"ok\":1}"), QoS::AtLeastOnce, 30))
        .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(30)));
    let all = points(&h, "9277");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].stream, "ok");
    let sessions = h.sessions().await;
    let me = sessions.iter().find(|s| s.client_id == "9277").unwrap();
    assert_eq!(me.warnings, cases.len() as u64 + 2);
    h.shutdown().await;
}

#[tokio::test]
async fn disconnect_on_bad_dp_closes_the_connection_after_the_ack() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    cfg.onenet.disconnect_on_bad_dp = true;
    let h = onenet_desk::start(cfg).await.unwrap();
    seed_registry(&h);
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    // a good upload does not close
    d.send(&dp(&framed(3, "{\"a\":1}"), QoS::AtLeastOnce, 1))
        .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(1)));
    ping(&mut d).await;
    // a bad one: PUBACK, then the close
    d.send(&dp(&hex("07 00 01 00 00"), QoS::AtLeastOnce, 2))
        .await;
    assert_eq!(d.closed().await, vec![Packet::PubAck(pid(2))]);
    let v = wait_diags(&h, "9277", DiagKind::BadDp, 1).await;
    assert_eq!(code_and_offset(&v[0].message), (86, 3));
    assert_eq!(points(&h, "9277").len(), 1, "only the good upload");

    // QoS 2: PUBREC, then the close
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    d.send(&dp(&[0x00], QoS::ExactlyOnce, 3)).await;
    assert_eq!(d.closed().await, vec![Packet::PubRec(pid(3))]);
    // QoS 0: closed without anything
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    d.send(&dp(&[0x00], QoS::AtMostOnce, 0)).await;
    assert_eq!(d.closed().await, vec![]);
    eventually("9277 offline", || async {
        h.sessions()
            .await
            .iter()
            .all(|s| s.client_id != "9277" || !s.online)
            .then_some(())
    })
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn qos2_upload_is_stored_at_pubrec_and_a_dup_resend_is_not_stored_twice() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let payload = framed(3, r#"{"temperature":22.5}"#);
    d.send(&dp(&payload, QoS::ExactlyOnce, 5)).await;
    assert_eq!(d.recv().await, Packet::PubRec(pid(5)));
    assert_eq!(points(&h, "9277").len(), 1, "stored before PUBREC left");
    // PUBREC lost: the device sends the PUBLISH again with DUP=1
    let Packet::Publish(mut again) = dp(&payload, QoS::ExactlyOnce, 5) else {
        unreachable!()
    };
    again.dup = true;
    d.send(&Packet::Publish(again)).await;
    assert_eq!(d.recv().await, Packet::PubRec(pid(5)));
    d.send(&Packet::PubRel(pid(5))).await;
    assert_eq!(d.recv().await, Packet::PubComp(pid(5)));
    h.flush().await;
    assert_eq!(points(&h, "9277").len(), 1, "the same message, stored once");
    // the packet id is free again: a new upload with it is a new message
    publish_acked(&mut d, dp(&payload, QoS::ExactlyOnce, 5)).await;
    assert_eq!(points(&h, "9277").len(), 2);
    h.shutdown().await;
}

#[tokio::test]
async fn decoder_settings_apply_time_zone_binary_limit_and_float_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    cfg.onenet.dp_utc_offset_secs = 0;
    cfg.onenet.dp_max_binary = 3;
    cfg.onenet.dp_max_type7_floats = 2;
    let h = onenet_desk::start(cfg).await.unwrap();
    seed_registry(&h);
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    // the §14 type 7 capture, read as UTC: 8 hours later than at UTC+8
    send_qos1(
        &mut d,
        &frame(
            "32 1A 00 03 24 64 70 00 07 87 1A 0B 19 13 25 33 00 00 00 02 00 00 08 42 66 66 A2 C1",
        ),
        7,
    )
    .await;
    let v = newest_upload(&h);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].at, T7_QOS1_AT + 8 * 3_600_000);
    // 4-byte binary over a 3-byte limit: 72
    send_qos1(
        &mut d,
        &frame("32 23 00 03 24 64 70 00 02 02 00 11 7B 22 64 73 5F 69 64 22 3A 22 69 6D 61 67 65 22 7D 00 00 00 04 DE AD BE EF"),
        2,
    )
    .await;
    // three floats over a limit of 2: 86
    d.send(&dp(&type7_with(3), QoS::AtLeastOnce, 3)).await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(3)));
    let bad = wait_diags(&h, "9277", DiagKind::BadDp, 2).await;
    assert_eq!(code_and_offset(&bad[0].message).0, 72, "{}", bad[0].message);
    assert_eq!(
        code_and_offset(&bad[1].message),
        (86, 3),
        "{}",
        bad[1].message
    );
    assert_eq!(points(&h, "9277").len(), 2, "only the type 7 capture");
    h.shutdown().await;
}

#[tokio::test]
async fn bad_dp_disconnect_is_a_protocol_close_so_the_will_is_published() {
    // ARCHITECTURE.md: "A will is published on keepalive expiry, socket error/EOF without DISCONNECT, or
    // protocol error; not on DISCONNECT, not on takeover." Closing for a bad $dp is the broker's
    // protocol-error close (CloseReason::Protocol), not a DISCONNECT, takeover, kick or shutdown.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    cfg.onenet.disconnect_on_bad_dp = true;
    let h = onenet_desk::start(cfg).await.unwrap();
    seed_registry(&h);
    let mut watcher = Raw::device(h.mqtt_addr(), "9278", "def456", true).await;
    watcher
        .send(&subscribe(1, &[("/will", QoS::AtMostOnce)]))
        .await;
    assert!(matches!(watcher.recv().await, Packet::SubAck(_)));
    let (mut d, ack) = Raw::login(
        h.mqtt_addr(),
        &with_will(
            connect_packet("9277", Some("339"), Some("abc123"), true, 120),
            "/will",
            "9277 gone",
            QoS::AtMostOnce,
            false,
        ),
    )
    .await;
    assert!(matches!(ack, Packet::ConnAck(_)));
    let mut events = h.events();
    d.send(&dp(&[0x00], QoS::AtLeastOnce, 1)).await;
    assert_eq!(d.closed().await, vec![Packet::PubAck(pid(1))]);
    let got = take_publishes(&mut watcher, 1).await;
    assert_eq!(
        got[0].payload.as_ref(),
        b"9277 gone",
        "the will is published"
    );
    let reason = wait_event(&mut events, "9277 disconnected", |e| match e {
        onenet_desk::events::Event::Disconnected { client_id, reason } if client_id == "9277" => {
            Some(reason.clone())
        }
        _ => None,
    })
    .await;
    assert!(
        reason.contains("$dp"),
        "the Disconnected event says why the broker closed: {reason:?}"
    );
    h.shutdown().await;
}
