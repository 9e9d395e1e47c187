//! The time helpers: parse / format, leap years, `T` and fractions, zone offsets, 6 bytes.

use crate::onenet::datapoint::time::{
    format_datetime, from_six_bytes, is_leap_year, parse_datetime,
};

const CN: i32 = 8 * 3600;
// `TZ=Asia/Shanghai date -d '2016-03-22 22:31:12' +%s`
const T_2016: i64 = 1_458_657_072_000;

#[test]
fn plain_and_t_separator() {
    assert_eq!(parse_datetime("2016-03-22 22:31:12", CN), Some(T_2016));
    assert_eq!(parse_datetime("2016-03-22T22:31:12", CN), Some(T_2016));
    assert_eq!(parse_datetime("1970-01-01 00:00:00", 0), Some(0));
    assert_eq!(parse_datetime("1970-01-01 08:00:00", CN), Some(0));
    assert_eq!(parse_datetime("1969-12-31 23:59:59", 0), Some(-1000));
}

#[test]
fn fractions_keep_milliseconds() {
    assert_eq!(
        parse_datetime("2016-03-22 22:31:12.5", CN),
        Some(T_2016 + 500)
    );
    assert_eq!(
        parse_datetime("2016-03-22T22:31:12.123456", CN),
        Some(T_2016 + 123)
    );
    assert_eq!(
        parse_datetime("2016-03-22T22:31:12.999999999", CN),
        Some(T_2016 + 999)
    );
    assert_eq!(parse_datetime("2016-03-22 22:31:12.", CN), None);
    assert_eq!(parse_datetime("2016-03-22 22:31:12.1234567890", CN), None);
}

#[test]
fn zone_suffixes() {
    assert_eq!(parse_datetime("2016-03-22T14:31:12Z", CN), Some(T_2016));
    assert_eq!(parse_datetime("2016-03-22T22:31:12+08:00", 0), Some(T_2016));
    assert_eq!(parse_datetime("2016-03-22T22:31:12+0800", 0), Some(T_2016));
    assert_eq!(parse_datetime("2016-03-22T22:31:12+08", 0), Some(T_2016));
    assert_eq!(
        parse_datetime("2016-03-22T09:01:12-05:30", CN),
        Some(T_2016)
    );
    assert_eq!(
        parse_datetime("2016-03-22T14:31:12.250Z", CN),
        Some(T_2016 + 250)
    );
    for bad in [
        "2016-03-22T22:31:12+8",
        "2016-03-22T22:31:12+24:00",
        "2016-03-22T22:31:12+08:60",
        "2016-03-22T22:31:12 Z",
    ] {
        assert_eq!(parse_datetime(bad, CN), None, "{bad}");
    }
}

#[test]
fn leap_years() {
    assert!(is_leap_year(2000) && is_leap_year(2024) && !is_leap_year(1900) && !is_leap_year(2023));
    assert!(parse_datetime("2000-02-29 00:00:00", CN).is_some());
    assert!(parse_datetime("2024-02-29 23:59:59", CN).is_some());
    assert_eq!(parse_datetime("1900-02-29 00:00:00", CN), None);
    assert_eq!(parse_datetime("2023-02-29 00:00:00", CN), None);
    // `TZ=Asia/Shanghai date -d '2000-02-29 00:00:00' +%s` = 951753600
    assert_eq!(
        parse_datetime("2000-02-29 00:00:00", CN),
        Some(951_753_600_000)
    );
    assert_eq!(
        parse_datetime("2024-02-29 23:59:59", CN),
        Some(1_709_222_399_000)
    );
}

#[test]
fn ranges_are_validated() {
    for bad in [
        "2016-13-01 00:00:00",
        "2016-00-01 00:00:00",
        "2016-04-31 00:00:00",
        "2016-01-00 00:00:00",
        "2016-01-01 24:00:00",
        "2016-01-01 00:60:00",
        "2016-01-01 00:00:60",
        "2016-1-01 00:00:00",
        "2016/01/01 00:00:00",
        "2016-01-01",
        "2016-01-01 00:00:00 ",
        " 2016-01-01 00:00:00",
        "",
        "２016-01-01 00:00:00",
    ] {
        assert_eq!(parse_datetime(bad, CN), None, "{bad:?}");
    }
}

#[test]
fn format_is_the_inverse() {
    assert_eq!(format_datetime(T_2016, CN), "2016-03-22 22:31:12");
    assert_eq!(format_datetime(T_2016 + 7, CN), "2016-03-22 22:31:12.007");
    assert_eq!(format_datetime(T_2016, 0), "2016-03-22 14:31:12");
    assert_eq!(format_datetime(0, 0), "1970-01-01 00:00:00");
    assert_eq!(format_datetime(-1, 0), "1969-12-31 23:59:59.999");
    assert_eq!(format_datetime(951_753_600_000, CN), "2000-02-29 00:00:00");
    for text in [
        "2024-02-29 23:59:59.001",
        "0000-01-01 00:00:00",
        "9999-12-31 23:59:59.999",
        "1900-03-01 12:00:00",
    ] {
        let ms = parse_datetime(text, CN).unwrap();
        assert_eq!(format_datetime(ms, CN), text);
    }
    // extremes do not panic
    let _ = format_datetime(i64::MAX, i32::MAX);
    let _ = format_datetime(i64::MIN, i32::MIN);
}

#[test]
fn six_bytes() {
    assert_eq!(from_six_bytes([16, 3, 22, 22, 31, 12], CN), Some(T_2016));
    // `TZ=Asia/Shanghai date -d '2026-11-25 19:37:51' +%s` (the §14 capture)
    assert_eq!(
        from_six_bytes([0x1A, 0x0B, 0x19, 0x13, 0x25, 0x33], CN),
        Some(1_795_606_671_000)
    );
    assert_eq!(
        from_six_bytes([0, 2, 29, 0, 0, 0], CN),
        Some(951_753_600_000)
    );
    assert_eq!(
        from_six_bytes([99, 12, 31, 23, 59, 59], CN),
        Some(4_102_415_999_000)
    );
    for bad in [
        [100, 1, 1, 0, 0, 0],
        [16, 13, 1, 0, 0, 0],
        [16, 0, 1, 0, 0, 0],
        [23, 2, 29, 0, 0, 0],
        [16, 1, 0, 0, 0, 0],
        [16, 1, 1, 24, 0, 0],
        [16, 1, 1, 0, 60, 0],
        [16, 1, 1, 0, 0, 60],
    ] {
        assert_eq!(from_six_bytes(bad, CN), None, "{bad:?}");
    }
}
