//! Tests of the `$dp` decoder: the spec's hex examples and captures, every malformed
//! variant, property tests and the time helpers.

mod examples;
mod malformed;
mod props;
mod time_tests;

use super::{Datapoint, DpError, DpOptions, DpUpload, DpValue, decode};

/// Bytes of a hex dump such as `"01 00 44 7B"` (whitespace ignored).
pub(super) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd hex digit count");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// The payload of an MQTT PUBLISH frame to `$dp` (fixed header, remaining length, topic,
/// packet id when QoS > 0 are removed; the remaining length must match the frame).
pub(super) fn publish_payload(frame: &[u8]) -> Vec<u8> {
    assert_eq!(frame[0] & 0xF0, 0x30, "not a PUBLISH");
    let qos = (frame[0] >> 1) & 3;
    let (mut len, mut mult, mut i) = (0usize, 1usize, 1usize);
    loop {
        let b = frame[i];
        len += usize::from(b & 0x7F) * mult;
        mult *= 128;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
    }
    assert_eq!(frame.len() - i, len, "remaining length mismatch");
    assert_eq!(
        &frame[i..i + 5],
        &[0x00, 0x03, 0x24, 0x64, 0x70],
        "topic is not $dp"
    );
    let start = i + 5 + if qos > 0 { 2 } else { 0 };
    frame[start..].to_vec()
}

/// `[dp_type | flags] u16 len | body`.
pub(super) fn framed(first: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![first];
    p.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    p.extend_from_slice(body);
    p
}

pub(super) fn ok(payload: &[u8]) -> DpUpload {
    match decode(payload, &DpOptions::default()) {
        Ok(up) => up,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

pub(super) fn err_with(payload: &[u8], opts: &DpOptions) -> DpError {
    match decode(payload, opts) {
        Ok(up) => panic!("expected an error, got {up:?}"),
        Err(e) => e,
    }
}

pub(super) fn err(payload: &[u8]) -> DpError {
    err_with(payload, &DpOptions::default())
}

/// Asserts code, offset and that the message contains `word`.
#[track_caller]
pub(super) fn assert_err(e: &DpError, code: u8, offset: usize, word: &str) {
    assert_eq!((e.code, e.offset), (code, offset), "{e}");
    assert!(
        e.message.contains(word),
        "message {:?} lacks {word:?}",
        e.message
    );
    let shown = e.to_string();
    assert!(shown.starts_with(&format!("$dp error {code}: ")), "{shown}");
    assert!(
        shown.ends_with(&format!("(payload byte {offset})")),
        "{shown}"
    );
}

pub(super) fn dp(stream: &str, at: Option<i64>, value: DpValue) -> Datapoint {
    Datapoint {
        stream: stream.to_owned(),
        at,
        value,
    }
}

pub(super) fn json(v: serde_json::Value) -> DpValue {
    DpValue::Json(v)
}

pub(super) fn text(s: &str) -> DpValue {
    DpValue::Text(s.to_owned())
}
