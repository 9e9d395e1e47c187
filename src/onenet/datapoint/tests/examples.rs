//! The hex examples of spec §6 and the byte captures of §14 / §14.1.

use bytes::Bytes;
use serde_json::json;

use super::{dp, framed, hex, json, ok, publish_payload, text};
use crate::onenet::datapoint::{DpOptions, DpUpload, DpValue, decode};

// Expected times, computed outside this crate (`TZ=Asia/Shanghai date -d … +%s`).
const T_2016_03_22_223112: i64 = 1_458_657_072_000;
const T_2015_03_22_223112: i64 = 1_427_034_672_000;
const T_2013_04_22_222222: i64 = 1_366_640_542_000;
const T_2026_11_25_193751: i64 = 1_795_606_671_000;
const T_2026_11_25_193752: i64 = 1_795_606_672_000;

const TYPE5_TEXT_HEX: &str = "2C 3B 74 65 6D 70 65 72 61 74 75 72 65 2C 32 30 31 35 2D 30 33 2D 32 32 20 32 32 3A 33 31 3A 31 32 2C 32
32 2E 35 3B 31 30 32 3B 70 6D 32 2E 35 2C 38 39 3B 31 30";

fn type5_points() -> Vec<crate::onenet::datapoint::Datapoint> {
    vec![
        dp("temperature", Some(T_2015_03_22_223112), text("22.5")),
        dp("1", None, text("102")),
        dp("pm2.5", None, text("89")),
        dp("3", None, text("10")),
    ]
}

#[test]
fn type1_example_6_1() {
    let p = hex("01 00 44 7B 22 64 61 74 61 73 74 72 65 61 6D 73 22 3A 5B 7B 22 69 64 22 3A 22 74 65 6D 70 65 72 61 74 75 72 65 22
        2C 22 64 61 74 61 70 6F 69 6E 74 73 22 3A 5B 7B 22 76 61 6C 75 65 22 3A 33 36 2E 35 7D 5D 7D 5D 7D");
    let up = ok(&p);
    assert_eq!(up.dp_type, 1);
    assert_eq!(up.points, vec![dp("temperature", None, json(json!(36.5)))]);
    assert_eq!(&up.points[0].value.subscription_payload()[..], b"36.5");
}

#[test]
fn type1_with_times_and_several_streams() {
    let body = br#"{"datastreams":[{"id":"temperature","datapoints":[{"at":"2013-04-22 22:22:22","value":36.5},{"at":"2015-03-22T22:31:12.250","value":37}]},{"id":"location","datapoints":[{"value":{"lon":106.5,"lat":29.5}},{"at":null,"value":"on"}]}]}"#;
    let up = ok(&framed(0x01, body));
    assert_eq!(
        up.points,
        vec![
            dp("temperature", Some(T_2013_04_22_222222), json(json!(36.5))),
            dp(
                "temperature",
                Some(T_2015_03_22_223112 + 250),
                json(json!(37))
            ),
            dp("location", None, json(json!({"lon":106.5,"lat":29.5}))),
            dp("location", None, json(json!("on"))),
        ]
    );
    assert_eq!(
        &up.points[2].value.subscription_payload()[..],
        br#"{"lon":106.5,"lat":29.5}"#
    );
    assert_eq!(&up.points[3].value.subscription_payload()[..], b"on");
}

#[test]
fn type2_example_6_2_and_frame_14_1() {
    let p =
        hex("02 00 11 7B 22 64 73 5F 69 64 22 3A 22 69 6D 61 67 65 22 7D 00 00 00 04 DE AD BE EF");
    let frame = hex(
        "32 23 00 03 24 64 70 00 02 02 00 11 7B 22 64 73 5F 69 64 22 3A 22 69 6D 61 67 65 22 7D 00 00 00 04 DE AD BE EF",
    );
    assert_eq!(publish_payload(&frame), p);
    let up = ok(&p);
    assert_eq!(up.dp_type, 2);
    let data = Bytes::from_static(&[0xDE, 0xAD, 0xBE, 0xEF]);
    assert_eq!(
        up.points,
        vec![dp(
            "image",
            None,
            DpValue::Binary {
                data: data.clone(),
                desc: None
            }
        )]
    );
    let v = &up.points[0].value;
    assert_eq!(v.subscription_payload(), data);
    assert_eq!(v.display_text(), "<4 bytes>");
    assert_eq!(v.kind(), "binary");
}

/// §14's type 2 capture (10333-byte frame, pretty-printed cJSON descriptor of 0x4C bytes) is
/// shown truncated; rebuild a frame with the same header bytes and lengths and decode it.
#[test]
fn type2_capture_14_pretty_descriptor() {
    let desc = "{\n\t\"ds_id\":\t\"image\",\n\t\"at\":\t\"2026-11-25 19:37:51\",\n\t\"desc\":\t\"binary image\"\n}";
    assert_eq!(desc.len(), 0x4C);
    let binary: Vec<u8> = (0..10240u32).map(|i| (i % 251) as u8).collect();
    let mut payload = vec![0x02, 0x00, 0x4C];
    payload.extend_from_slice(desc.as_bytes());
    payload.extend_from_slice(&10240u32.to_be_bytes());
    payload.extend_from_slice(&binary);
    let mut frame = hex("32 DA 50 00 03 24 64 70 00 02");
    frame.extend_from_slice(&payload);
    assert_eq!(frame.len(), 10333);
    let captured = hex(
        "32 DA 50 00 03 24 64 70 00 02 02 00 4C 7B 0A 09 22 64 73 5F 69 64 22 3A 09 22 69 6D 61 67 65 22",
    );
    assert_eq!(&frame[..captured.len()], &captured[..]);
    let up = ok(&publish_payload(&frame));
    let expected = DpValue::Binary {
        data: Bytes::from(binary),
        desc: Some(json!("binary image")),
    };
    assert_eq!(
        up.points,
        vec![dp("image", Some(T_2026_11_25_193751), expected)]
    );
}

#[test]
fn type2_desc_object() {
    let mut p = framed(0x02, br#"{"ds_id":"cam","desc":{"fmt":"jpg"}}"#);
    p.extend_from_slice(&[0, 0, 0, 1, 0xFF]);
    let up = ok(&p);
    let expected = DpValue::Binary {
        data: Bytes::from_static(&[0xFF]),
        desc: Some(json!({"fmt":"jpg"})),
    };
    assert_eq!(up.points, vec![dp("cam", None, expected)]);
}

#[test]
fn type3_example_6_3_and_frame_14_1() {
    let p = hex("03 00 27 7B 22 74 65 6D 70 65 72 61 74 75 72 65 22 3A 32 32 2E 35 2C 22 68 75 6D 69 64 69 74 79 22 3A 22 39 35 2E
        32 25 22 7D");
    let frame = hex(
        "32 31 00 03 24 64 70 00 01 03 00 27 7B 22 74 65 6D 70 65 72 61 74 75 72 65 22 3A 32 32 2E 35 2C 22 68 75 6D 69 64 69 74 79 22 3A 22 39 35 2E 32 25 22 7D",
    );
    assert_eq!(publish_payload(&frame), p);
    let up = ok(&p);
    assert_eq!(up.dp_type, 3);
    assert_eq!(
        up.points,
        vec![
            dp("temperature", None, json(json!(22.5))),
            dp("humidity", None, json(json!("95.2%")))
        ]
    );
    assert_eq!(&up.points[0].value.subscription_payload()[..], b"22.5");
    assert_eq!(&up.points[1].value.subscription_payload()[..], b"95.2%");
    assert_eq!(up.points[1].value.kind(), "json");
}

#[test]
fn type3_keeps_document_order() {
    let up = ok(&framed(0x03, br#"{"zeta":1,"alpha":2,"mid":3}"#));
    let names: Vec<&str> = up.points.iter().map(|p| p.stream.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha", "mid"]);
}

#[test]
fn type3_captures_14() {
    let sdk = hex(
        "32 1E 00 03 24 64 70 00 03 03 00 14 7B 22 74 65 6D 70 65 72 61 74 75 72 65 22 3A 32 32 2E 35 7D",
    );
    assert_eq!(
        ok(&publish_payload(&sdk)).points,
        vec![dp("temperature", None, json(json!(22.5)))]
    );
    let aio = hex(
        "30 1F 00 03 24 64 70 03 00 17 7B 22 74 65 73 74 5F 64 61 74 61 5F 73 74 72 65 61 6D 22 3A 39 39 7D",
    );
    let up = ok(&publish_payload(&aio));
    assert_eq!(
        up.points,
        vec![dp("test_data_stream", None, json(json!(99)))]
    );
    assert_eq!(&up.points[0].value.subscription_payload()[..], b"99");
}

#[test]
fn type4_example_6_4_and_capture_14() {
    let p = hex("04 00 2C 7B 22 74 65 6D 70 65 72 61 74 75 72 65 22 3A 7B 22 32 30 31 35 2D 30 33 2D 32 32 20 32 32 3A 33 31 3A 31
        32 22 3A 32 32 2E 35 7D 7D");
    let up = ok(&p);
    assert_eq!(up.dp_type, 4);
    assert_eq!(
        up.points,
        vec![dp(
            "temperature",
            Some(T_2015_03_22_223112),
            json(json!(22.5))
        )]
    );
    // §14 shows this frame truncated: same header, remaining length 0x36.
    let mut frame = hex("32 36 00 03 24 64 70 00 04");
    frame.extend_from_slice(&p);
    assert_eq!(publish_payload(&frame), p);
}

#[test]
fn type5_example_6_5_and_capture_14() {
    let p = hex(&format!("05 00 36 {TYPE5_TEXT_HEX}"));
    let up = ok(&p);
    assert_eq!(up.dp_type, 5);
    assert_eq!(up.points, type5_points());
    assert_eq!(up.points[0].value.kind(), "text");
    assert_eq!(&up.points[1].value.subscription_payload()[..], b"102");
    let mut frame = hex("32 40 00 03 24 64 70 00 05");
    frame.extend_from_slice(&p);
    assert_eq!(publish_payload(&frame), p);
}

#[test]
fn type5_second_doc_example() {
    let up = ok(&framed(
        0x05,
        "#@temperature#2015-03-22 22:31:12#22.5@102@pm2.5#89@10".as_bytes(),
    ));
    assert_eq!(up.points, type5_points());
}

#[test]
fn type6_example_6_6_with_time() {
    let p = hex(
        "86 10 03 16 16 1F 0C 00 1E 2C 3B 74 65 6D 70 65 72 61 74 75 72 65 2C 32 32 2E 35 3B 68 75 6D 69 64 69 74 79 2C 38 37",
    );
    let up = ok(&p);
    assert_eq!(up.dp_type, 6);
    assert_eq!(
        up.points,
        vec![
            dp("temperature", Some(T_2016_03_22_223112), text("22.5")),
            dp("humidity", Some(T_2016_03_22_223112), text("87")),
        ]
    );
}

#[test]
fn type6_example_6_6_without_time() {
    let mut p = hex("06 00 1E");
    p.extend_from_slice(b",;temperature,22.5;humidity,87");
    let up = ok(&p);
    assert_eq!(
        up.points,
        vec![
            dp("temperature", None, text("22.5")),
            dp("humidity", None, text("87"))
        ]
    );
}

#[test]
fn type6_capture_14_without_time() {
    let p = hex(&format!("06 00 36 {TYPE5_TEXT_HEX}"));
    let mut frame = hex("32 40 00 03 24 64 70 00 06");
    frame.extend_from_slice(&p);
    assert_eq!(publish_payload(&frame), p);
    assert_eq!(ok(&p).points, type5_points());
}

#[test]
fn type6_own_time_beats_default() {
    let mut p = hex("86 10 03 16 16 1F 0C");
    p.extend_from_slice(&framed(0, b",;a,2015-03-22 22:31:12,1;b,,2;3")[1..]);
    let up = ok(&p);
    assert_eq!(
        up.points,
        vec![
            dp("a", Some(T_2015_03_22_223112), text("1")),
            dp("b", Some(T_2016_03_22_223112), text("2")),
            dp("2", Some(T_2016_03_22_223112), text("3")),
        ]
    );
}

#[test]
fn type7_example_6_7_with_time() {
    let p = hex("87 10 03 16 16 1F 0C 00 01 00 02 00 00 08 42 66 66 A2 C1 00 02 00 01 00 00 B4 41");
    let up = ok(&p);
    assert_eq!(up.dp_type, 7);
    let t = Some(T_2016_03_22_223112);
    assert_eq!(
        up.points,
        vec![
            dp("1", t, DpValue::Float(34.0)),
            dp("1", t, DpValue::Float(-20.3)),
            dp("2", t, DpValue::Float(22.5)),
        ]
    );
    let shown: Vec<Bytes> = up
        .points
        .iter()
        .map(|p| p.value.subscription_payload())
        .collect();
    assert_eq!(shown, [&b"34"[..], b"-20.3", b"22.5"]);
    assert_eq!(up.points[0].value.kind(), "float");
}

#[test]
fn type7_example_6_7_without_time_and_frame_14_1() {
    let p = hex("07 00 01 00 01 00 00 B4 41");
    assert_eq!(
        publish_payload(&hex("30 0E 00 03 24 64 70 07 00 01 00 01 00 00 B4 41")),
        p
    );
    assert_eq!(
        ok(&p),
        DpUpload {
            dp_type: 7,
            points: vec![dp("1", None, DpValue::Float(22.5))]
        }
    );
}

#[test]
fn type7_captures_14_qos1_and_qos0() {
    let cases = [
        (
            "32 1A 00 03 24 64 70 00 07 87 1A 0B 19 13 25 33 00 00 00 02 00 00 08 42 66 66 A2 C1",
            T_2026_11_25_193751,
        ),
        (
            "30 18 00 03 24 64 70 87 1A 0B 19 13 25 34 00 00 00 02 00 00 08 42 66 66 A2 C1",
            T_2026_11_25_193752,
        ),
    ];
    for (frame, t) in cases {
        let up = ok(&publish_payload(&hex(frame)));
        assert_eq!(
            up.points,
            vec![
                dp("0", Some(t), DpValue::Float(34.0)),
                dp("0", Some(t), DpValue::Float(-20.3))
            ]
        );
    }
}

#[test]
fn type7_large_ds_id_and_utc_option() {
    let p = hex("87 10 03 16 16 1F 0C FF FF 00 01 00 00 B4 41");
    let opts = DpOptions {
        utc_offset_secs: 0,
        ..DpOptions::default()
    };
    let up = decode(&p, &opts).unwrap();
    assert_eq!(
        up.points,
        vec![dp(
            "65535",
            Some(T_2016_03_22_223112 + 8 * 3_600_000),
            DpValue::Float(22.5)
        )]
    );
}

#[test]
fn subscription_payload_of_json_kinds() {
    let cases = [
        (json!("raw text"), "raw text"),
        (json!(12), "12"),
        (json!(true), "true"),
        (json!(null), "null"),
        (json!([1, "a"]), r#"[1,"a"]"#),
    ];
    for (v, expected) in cases {
        let v = DpValue::Json(v);
        assert_eq!(&v.subscription_payload()[..], expected.as_bytes());
        assert_eq!(v.display_text(), expected);
    }
}
