//! Every malformed variant gives its named diagnostic: code, payload offset and a word.

use super::{assert_err, err, err_with, framed, hex, ok};
use crate::onenet::datapoint::{DpError, DpOptions};

/// `(case, payload, code, offset, word in the message)` with default options.
#[rustfmt::skip]
fn table() -> Vec<(&'static str, Vec<u8>, u8, usize, &'static str)> {
    let t1 = |s: &str| framed(0x01, s.as_bytes());
    let t3 = |s: &str| framed(0x03, s.as_bytes());
    let t4 = |s: &str| framed(0x04, s.as_bytes());
    let t5 = |s: &[u8]| framed(0x05, s);
    let with = |mut head: Vec<u8>, tail: &[u8]| {
        head.extend_from_slice(tail);
        head
    };
    let bad_json = r#"{"datastreams":[}"#;
    vec![
        // header (63)
        ("empty payload", vec![], 63, 0, "empty"),
        ("type 0", hex("00 00 02 7B 7D"), 63, 0, "unknown type 0"),
        ("type 8", hex("08 00 02 7B 7D"), 63, 0, "unknown type 8"),
        ("type 63", hex("3F 00 02 7B 7D"), 63, 0, "unknown type 63"),
        ("bit 6 set", hex("43 00 02 7B 7D"), 63, 0, "reserved bit 6"),
        ("time flag on type 3", hex("83 00 02 7B 7D"), 63, 0, "time flag"),
        ("time flag on type 5", hex("85 00 02 2C 3B"), 63, 0, "only types 6 and 7"),
        ("short length (type byte only)", hex("03"), 63, 1, "too short"),
        ("short length (1 byte)", hex("01 00"), 63, 1, "too short"),
        ("short length type 5", hex("05 00"), 63, 1, "2-byte length"),
        ("short descriptor length type 2", hex("02 00"), 63, 1, "descriptor length"),
        // type 1 (64-69, 81, 82)
        ("type 1 bad JSON", t1(bad_json), 64, 3 + bad_json.find('}').unwrap(), "invalid JSON"),
        ("type 1 not UTF-8", framed(0x01, &[b'{', b'"', 0xFF, b'"', b'}']), 64, 5, "invalid JSON"),
        ("type 1 no datastreams", t1(r#"{"streams":[]}"#), 65, 3, "missing datastreams"),
        ("type 1 datastreams object", t1(r#"{"datastreams":{}}"#), 65, 3, "datastreams"),
        ("type 1 body an array", t1("[1]"), 65, 3, "datastreams"),
        ("type 1 stream without id", t1(r#"{"datastreams":[{"datapoints":[]}]}"#), 66, 3, "missing stream id"),
        ("type 1 empty id", t1(r#"{"datastreams":[{"id":"","datapoints":[]}]}"#), 66, 3, "datastream 0"),
        ("type 1 numeric id", t1(r#"{"datastreams":[{"id":"a","datapoints":[]},{"id":5}]}"#), 66, 3, "datastream 1"),
        ("type 1 no datapoints", t1(r#"{"datastreams":[{"id":"a"}]}"#), 67, 3, "missing datapoints"),
        ("type 1 datapoints string", t1(r#"{"datastreams":[{"id":"a","datapoints":"x"}]}"#), 67, 3, "datapoints"),
        ("type 1 no value", t1(r#"{"datastreams":[{"id":"a","datapoints":[{"at":"2015-03-22 22:31:12"}]}]}"#), 68, 3, "missing value"),
        ("type 1 datapoint not object", t1(r#"{"datastreams":[{"id":"a","datapoints":[1]}]}"#), 68, 3, "value"),
        ("type 1 bad at", t1( r#"{"datastreams":[{"id":"a","datapoints":[{"at":"2015-02-29 00:00:00","value":1}]}]}"#),
            69,
            3,
            "bad at",
        ),
        ("type 1 numeric at", t1(r#"{"datastreams":[{"id":"a","datapoints":[{"at":1,"value":1}]}]}"#), 69, 3, "not a datetime"),
        ("type 1 length past the end", hex("01 00 44 7B 7D"), 81, 1, "past the end"),
        ("type 1 trailing bytes", with(t1("{}"), b"\r\n"), 82, 5, "trailing"),
        // type 2 (70-73)
        ("type 2 bad JSON", with(framed(0x02, b"{\"ds_id\":"), &[0, 0, 0, 1, 9]), 70, 3 + 9, "invalid JSON"),
        ("type 2 descriptor not object", with(framed(0x02, b"\"image\""), &[0, 0, 0, 0]), 70, 3, "not an object"),
        ("type 2 bad at", with( framed(0x02, br#"{"ds_id":"a","at":"yesterday"}"#), &[0, 0, 0, 0]),
            70,
            3,
            "bad at",
        ),
        ("type 2 missing ds_id", with(framed(0x02, br#"{"id":"image"}"#), &[0, 0, 0, 1, 9]), 71, 3, "missing ds_id"),
        ("type 2 empty ds_id", with(framed(0x02, br#"{"ds_id":""}"#), &[0, 0, 0, 1, 9]), 71, 3, "ds_id"),
        ("type 2 descriptor past the end", hex("02 00 11 7B 7D"), 73, 1, "descriptor past the end"),
        ("type 2 binary length truncated", hex("02 00 02 7B 7D 00 00"), 73, 5, "binary length truncated"),
        ("type 2 binary past the end", hex("02 00 02 7B 7D 00 00 00 05 DE AD"), 73, 5, "binary past the end"),
        ("type 2 trailing bytes", hex("02 00 02 7B 7D 00 00 00 01 DE AD"), 73, 10, "trailing"),
        ("type 2 binary over 3 MiB (header only)", hex("02 00 02 7B 7D 00 30 00 01"), 72, 5, "too large"),
        // types 3/4 (74-78, 81, 82)
        ("type 3 bad JSON", t3(r#"{"a":}"#), 74, 8, "invalid JSON"),
        ("type 3 not UTF-8", framed(0x03, &[0xC3, 0x28]), 74, 3, "invalid JSON"),
        ("type 3 not an object", t3("[1,2]"), 75, 3, "not an object"),
        ("type 3 empty name", t3(r#"{"a":1,"":2}"#), 76, 3, "empty stream name"),
        ("type 3 length past the end", hex("03 00 10 7B 7D"), 81, 1, "16 bytes but only 2"),
        ("type 3 trailing bytes", with(t3("{}"), b"xx"), 82, 5, "2 extra bytes"),
        ("type 4 bad JSON", t4("{"), 74, 4, "type 4"),
        ("type 4 not an object", t4("7"), 75, 3, "number"),
        ("type 4 empty name", t4(r#"{"":{"2015-03-22 22:31:12":1}}"#), 76, 3, "member 0"),
        ("type 4 member not object", t4(r#"{"t":22.5}"#), 77, 3, "member not an object"),
        ("type 4 bad datetime", t4(r#"{"t":{"2015-13-01 00:00:00":1}}"#), 78, 3, "bad datetime"),
        ("type 4 length past the end", hex("04 01 00 7B 7D"), 81, 1, "256 bytes"),
        // type 5 (79, 80)
        ("type 5 length past the end", hex("05 00 36 2C 3B"), 79, 1, "54 bytes but only 2"),
        ("type 5 trailing bytes", with(t5(b",;1"), b";2"), 79, 6, "trailing"),
        ("type 5 not UTF-8", t5(b",;a,\xFF"), 79, 7, "not UTF-8"),
        ("type 5 same separators", t5(b",,a,1"), 80, 4, "same separators"),
        ("type 5 one separator", t5(b","), 80, 3, "too short for separators"),
        ("type 5 empty text", t5(b""), 80, 3, "0 bytes"),
        ("type 5 non-ASCII separator", t5("é;a".as_bytes()), 80, 3, "not ASCII"),
        ("type 5 four sub-fields", t5(b",;ok,1;a,b,c,d"), 80, 10, "too many sub-fields"),
        ("type 5 bad field datetime", t5(b",;a,2015-03-22 25:00:00,1"), 80, 7, "bad datetime"),
        // type 6 (83, 84)
        ("type 6 month 13", hex("86 10 0D 16 16 1F 0C 00 03 2C 3B 31"), 83, 2, "month"),
        ("type 6 day 30 Feb", hex("86 10 02 1E 16 1F 0C 00 03 2C 3B 31"), 83, 3, "day"),
        ("type 6 truncated time", hex("86 10 03 16"), 83, 1, "time truncated"),
        ("type 6 no length after time", hex("86 10 03 16 16 1F 0C 00"), 63, 7, "too short"),
        ("type 6 same separators", hex("06 00 03 3B 3B 31"), 84, 4, "same separators"),
        ("type 6 four sub-fields", with(hex("06 00 09"), b",;a,b,c,d"), 84, 5, "too many sub-fields"),
        ("type 6 trailing bytes", hex("06 00 03 2C 3B 31 00"), 79, 6, "trailing"),
        // type 7 (85, 86)
        ("type 7 month 13", hex("87 10 0D 16 16 1F 0C 00 01 00 01 00 00 B4 41"), 85, 2, "month"),
        ("type 7 hour 24", hex("87 10 03 16 18 1F 0C 00 01 00 01 00 00 B4 41"), 85, 4, "hour"),
        ("type 7 truncated time", hex("87 10 03"), 85, 1, "time truncated"),
        ("type 7 truncated group header", hex("07 00 01 00 01 00 00 B4 41 00 02 00"), 85, 9, "group truncated"),
        ("type 7 truncated floats", hex("07 00 01 00 02 00 00 B4 41 00 00"), 85, 1, "2 floats"),
        ("type 7 n = 0", hex("07 00 01 00 00"), 86, 3, "zero count"),
        ("type 7 n = 0 in 2nd group", hex("87 10 03 16 16 1F 0C 00 01 00 01 00 00 B4 41 00 02 00 00"), 86, 17, "ds_id 2"),
        ("type 7 no groups", hex("07"), 86, 1, "no groups"),
        ("type 7 no groups after time", hex("87 10 03 16 16 1F 0C"), 86, 7, "no groups"),
    ]
}

#[test]
fn every_malformed_variant_is_named() {
    for (case, payload, code, offset, word) in table() {
        let e = err(&payload);
        assert!(
            e.code == code && e.offset == offset && e.message.contains(word),
            "{case}: got {e}, expected code {code} at {offset} containing {word:?}"
        );
        assert_err(&e, code, offset, word);
    }
}

#[test]
fn codes_are_in_the_edp_range() {
    for (case, payload, ..) in table() {
        let code = err(&payload).code;
        assert!((63..=86).contains(&code), "{case}: {code}");
    }
    assert_eq!(DpError::BAD_HEADER, 63);
    assert_eq!(DpError::T7_COUNT, 86);
}

/// Type 7 with `floats` floats split into groups of at most `per_group`.
fn type7(floats: usize, per_group: usize) -> Vec<u8> {
    let mut p = vec![0x07];
    let mut left = floats;
    let mut ds = 0u16;
    while left > 0 {
        let n = left.min(per_group);
        p.extend_from_slice(&ds.to_be_bytes());
        p.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
        for i in 0..n {
            p.extend_from_slice(&(i as f32).to_le_bytes());
        }
        left -= n;
        ds += 1;
    }
    p
}

#[test]
fn type7_float_limit() {
    assert_eq!(ok(&type7(500, 500)).points.len(), 500);
    assert_eq!(ok(&type7(500, 7)).points.len(), 500);
    assert_err(&err(&type7(501, 501)), 86, 3, "more than 500 floats");
    // 300 + 201: the second group (at 1 + 4 + 1200) pushes it over.
    assert_err(
        &err(&type7(501, 300)),
        86,
        1 + 4 + 1200 + 2,
        "501 with this group",
    );
    let small = DpOptions {
        max_type7_floats: 2,
        ..DpOptions::default()
    };
    assert_err(
        &err_with(&type7(3, 1), &small),
        86,
        1 + 8 * 2 + 2,
        "more than 2 floats",
    );
}

fn type2(binary_len: usize) -> Vec<u8> {
    let mut p = framed(0x02, br#"{"ds_id":"blob"}"#);
    p.extend_from_slice(&u32::try_from(binary_len).unwrap().to_be_bytes());
    p.resize(p.len() + binary_len, 0xA5);
    p
}

#[test]
fn type2_binary_limit_small_option() {
    let opts = DpOptions {
        max_binary: 4,
        ..DpOptions::default()
    };
    assert!(super::super::decode(&type2(4), &opts).is_ok());
    assert_err(
        &err_with(&type2(5), &opts),
        72,
        3 + 16,
        "exceeds the limit of 4 bytes",
    );
}

#[test]
fn type2_binary_limit_real_3_mib() {
    let limit = 3 * 1024 * 1024;
    let up = ok(&type2(limit));
    assert_eq!(up.points[0].value.subscription_payload().len(), limit);
    assert_err(&err(&type2(limit + 1)), 72, 3 + 16, "3145729");
}

#[test]
fn type5_skips_and_ignores() {
    // empty value skipped, empty id ignored, empty field skipped; indices keep counting.
    let up = ok(&framed(0x05, b",;a,;,5;;x;b,,7;"));
    let got: Vec<(&str, String)> = up
        .points
        .iter()
        .map(|p| (p.stream.as_str(), p.value.display_text()))
        .collect();
    assert_eq!(got, [("3", "x".to_owned()), ("b", "7".to_owned())]);
    assert!(ok(&framed(0x05, b",;")).points.is_empty());
}
