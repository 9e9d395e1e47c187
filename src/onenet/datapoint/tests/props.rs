//! Property tests: no input panics; generated valid type 7 and type 3 payloads round-trip.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::framed;
use crate::onenet::datapoint::time::{format_datetime, parse_datetime};
use crate::onenet::datapoint::{DpOptions, DpValue, decode};

/// Unix milliseconds of a wall-clock time at `offset` seconds east of UTC, by counting days
/// one year and one month at a time (independent of the decoder's days-from-civil).
fn naive_millis(year: i64, month: u32, day: u32, hms: (u32, u32, u32), offset: i64) -> i64 {
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut days = 0i64;
    for y in 1970..year {
        days += if leap(y) { 366 } else { 365 };
    }
    let lengths = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    days += lengths[..(month - 1) as usize].iter().sum::<i64>() + i64::from(day) - 1;
    let secs = days * 86_400 + i64::from(hms.0 * 3600 + hms.1 * 60 + hms.2) - offset;
    secs * 1000
}

/// A valid `YY MM DD hh mm ss`.
fn six_bytes() -> impl Strategy<Value = [u8; 6]> {
    (0u8..100, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60, 0u8..60)
        .prop_map(|(y, mo, d, h, mi, s)| [y, mo, d, h, mi, s])
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        "[ -~]{0,16}".prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
        Just(Value::Null),
        vec(any::<i32>(), 0..4).prop_map(Value::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..4096)) {
        let _ = decode(&bytes, &DpOptions::default());
    }

    #[test]
    fn arbitrary_bodies_of_each_type_never_panic(t in 1u8..=7, timed in any::<bool>(), body in vec(any::<u8>(), 0..512)) {
        let mut p = vec![t | if timed { 0x80 } else { 0 }];
        p.extend_from_slice(&body);
        let _ = decode(&p, &DpOptions::default());
        // The same body behind a correct length field reaches the inner parsers.
        let _ = decode(&framed(t, &body), &DpOptions::default());
    }

    #[test]
    fn separator_texts_never_panic(t in "[,;#@a-z0-9: .\\-é]{0,64}", six in six_bytes()) {
        let _ = decode(&framed(0x05, t.as_bytes()), &DpOptions::default());
        let mut p = vec![0x86];
        p.extend_from_slice(&six);
        p.extend_from_slice(&framed(0, t.as_bytes())[1..]);
        let _ = decode(&p, &DpOptions::default());
    }

    #[test]
    fn time_functions_never_panic(s in "\\PC{0,40}", ms in any::<i64>(), off in any::<i32>()) {
        let _ = parse_datetime(&s, off);
        let _ = format_datetime(ms, off);
    }

    #[test]
    fn type7_round_trip(
        time in proptest::option::of(six_bytes()),
        groups in vec((any::<u16>(), vec(any::<u32>(), 1..20)), 1..10),
        offset in -12 * 3600i32..=14 * 3600,
    ) {
        let mut p = vec![if time.is_some() { 0x87 } else { 0x07 }];
        if let Some(t) = time {
            p.extend_from_slice(&t);
        }
        for (ds, floats) in &groups {
            p.extend_from_slice(&ds.to_be_bytes());
            p.extend_from_slice(&u16::try_from(floats.len()).unwrap().to_be_bytes());
            for bits in floats {
                p.extend_from_slice(&f32::from_bits(*bits).to_le_bytes());
            }
        }
        let opts = DpOptions { utc_offset_secs: offset, ..DpOptions::default() };
        let up = decode(&p, &opts).unwrap();
        prop_assert_eq!(up.dp_type, 7);
        let at = time.map(|[y, mo, d, h, mi, s]| {
            naive_millis(2000 + i64::from(y), u32::from(mo), u32::from(d), (h.into(), mi.into(), s.into()), offset.into())
        });
        let expected: Vec<(String, u32)> = groups
            .iter()
            .flat_map(|(ds, floats)| floats.iter().map(move |b| (ds.to_string(), *b)))
            .collect();
        prop_assert_eq!(up.points.len(), expected.len());
        for (point, (stream, bits)) in up.points.iter().zip(expected) {
            prop_assert_eq!(&point.stream, &stream);
            prop_assert_eq!(point.at, at);
            match point.value {
                DpValue::Float(x) => prop_assert_eq!(x.to_bits(), bits),
                ref other => prop_assert!(false, "not a float: {:?}", other),
            }
        }
    }

    #[test]
    fn type3_round_trip(members in vec(("[A-Za-z0-9_.\\-]{1,12}", json_value()), 0..20)) {
        let mut map = Map::new();
        for (name, value) in members {
            map.entry(name).or_insert(value);
        }
        let body = serde_json::to_vec(&Value::Object(map.clone())).unwrap();
        let up = decode(&framed(0x03, &body), &DpOptions::default()).unwrap();
        prop_assert_eq!(up.dp_type, 3);
        let got: Vec<(String, Option<i64>, DpValue)> =
            up.points.into_iter().map(|p| (p.stream, p.at, p.value)).collect();
        let expected: Vec<(String, Option<i64>, DpValue)> =
            map.into_iter().map(|(k, v)| (k, None, DpValue::Json(v))).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn datetime_format_parse_round_trip(ms in -62_167_219_200_000i64..253_402_300_799_000, offset in -12 * 3600i32..=14 * 3600) {
        // years 0000..=9999 as wall clock at any offset stay within the 4-digit range here
        let text = format_datetime(ms, offset);
        if text.len() >= 19 && !text.starts_with('-') && text.as_bytes()[4] == b'-' {
            prop_assert_eq!(parse_datetime(&text, offset), Some(ms), "{}", text);
        }
    }

    #[test]
    fn datetime_matches_naive_count(y in 1970i64..2200, mo in 1u32..=12, d in 1u32..=28, h in 0u32..24, mi in 0u32..60, s in 0u32..60) {
        let text = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}");
        let expected = naive_millis(y, mo, d, (h, mi, s), 8 * 3600);
        prop_assert_eq!(parse_datetime(&text, 8 * 3600), Some(expected));
        prop_assert_eq!(format_datetime(expected, 8 * 3600), text);
    }
}
