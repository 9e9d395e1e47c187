//! Decoder for the payload of a PUBLISH to `$dp` (OneNET datapoint upload, spec §6).
//!
//! Byte 0 carries the type in bits 0–5 (1–7) and flags in bits 6–7: bit 6 is reserved,
//! bit 7 means "a 6-byte time follows" and is only valid on types 6 and 7. Each type has its
//! own module (`type1` … `type7`; types 5 and 6 share the text format in `text`). Decoding
//! is strict: any malformed byte yields a [`DpError`] with an EDP-style code (63–86, table
//! in [`error`]) and the payload offset, and no datapoint of that payload is kept (§13).
//! Times are Unix milliseconds; wall-clock times are read at [`DpOptions::utc_offset_secs`].

use std::fmt;

use bytes::Bytes;
use serde_json::Value;

pub mod error;
pub mod time;

mod text;
mod type1;
mod type2;
mod type3;
mod type4;
mod type5;
mod type6;
mod type7;

#[cfg(test)]
mod tests;

pub use error::DpError;

/// Settings of the decoder (spec §13 decisions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpOptions {
    /// Offset of the devices' wall clock from UTC, in seconds (default UTC+8).
    pub utc_offset_secs: i32,
    /// Most floats one type 7 payload may carry, all groups together (default 500).
    pub max_type7_floats: usize,
    /// Largest type 2 binary accepted, in bytes (default 3 MiB).
    pub max_binary: usize,
}

impl Default for DpOptions {
    fn default() -> Self {
        DpOptions {
            utc_offset_secs: 8 * 3600,
            max_type7_floats: 500,
            max_binary: 3 * 1024 * 1024,
        }
    }
}

/// The value of one datapoint.
#[derive(Debug, Clone, PartialEq)]
pub enum DpValue {
    /// Types 1, 3, 4: the JSON value as uploaded (number, string, object, array, bool, null).
    Json(Value),
    /// Types 5, 6: values are strings.
    Text(String),
    /// Type 7.
    Float(f32),
    /// Type 2; `desc` is the descriptor's `"desc"` member when present and not null.
    Binary { data: Bytes, desc: Option<Value> },
}

/// One decoded datapoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    /// Datastream name (type 7: the decimal ds_id; type 5/6 without id: the field index).
    pub stream: String,
    /// Device time as Unix milliseconds; `None` = use the arrival time.
    pub at: Option<i64>,
    pub value: DpValue,
}

/// Everything one `$dp` payload carried.
#[derive(Debug, Clone, PartialEq)]
pub struct DpUpload {
    /// The type, 1–7 (flags removed).
    pub dp_type: u8,
    /// Datapoints in payload order (may be empty, e.g. `{}` in type 3).
    pub points: Vec<Datapoint>,
}

/// Decodes a `$dp` PUBLISH payload (the bytes after the topic and packet id).
pub fn decode(payload: &[u8], opts: &DpOptions) -> Result<DpUpload, DpError> {
    let Some(&first) = payload.first() else {
        return Err(DpError::new(
            DpError::BAD_HEADER,
            0,
            "empty payload: no type byte",
        ));
    };
    let dp_type = first & 0x3F;
    if !(1..=7).contains(&dp_type) {
        return Err(DpError::new(
            DpError::BAD_HEADER,
            0,
            format!("unknown type {dp_type} in type byte 0x{first:02X}: only types 1-7 exist"),
        ));
    }
    if first & 0x40 != 0 {
        return Err(DpError::new(
            DpError::BAD_HEADER,
            0,
            format!("reserved bit 6 set in type byte 0x{first:02X}"),
        ));
    }
    if first & 0x80 != 0 && dp_type < 6 {
        return Err(DpError::new(
            DpError::BAD_HEADER,
            0,
            format!(
                "time flag (bit 7) set on type {dp_type}: only types 6 and 7 carry a 6-byte time"
            ),
        ));
    }
    let points = match dp_type {
        1 => type1::decode(payload, opts)?,
        2 => type2::decode(payload, opts)?,
        3 => type3::decode(payload, opts)?,
        4 => type4::decode(payload, opts)?,
        5 => type5::decode(payload, opts)?,
        6 => type6::decode(payload, opts)?,
        _ => type7::decode(payload, opts)?,
    };
    Ok(DpUpload { dp_type, points })
}

impl DpValue {
    /// The bytes delivered to a datapoint subscriber (spec §10/§13):
    /// * `Json`: a JSON **string** is sent as its raw text without quotes (`"95.2%"` → `95.2%`),
    ///   every other JSON value as its compact JSON text (`22.5`, `{"a":1}`, `true`, `null`);
    /// * `Text`: the raw string;
    /// * `Float`: the shortest decimal that round-trips (Rust `Display`: `22.5`, `-20.3`, `34`);
    /// * `Binary`: the raw bytes.
    pub fn subscription_payload(&self) -> Bytes {
        match self {
            DpValue::Binary { data, .. } => data.clone(),
            other => Bytes::from(other.to_string()),
        }
    }

    /// The value as a JSON value: JSON as uploaded, text as a string, a float as the number its shortest
    /// text reads as (NaN and ±infinity as the strings of [`non_finite_name`]), binary as a base64
    /// string. Used by the JSON forms (subscription setting, exports, HTTP API).
    pub fn display_json(&self) -> Value {
        match self {
            DpValue::Json(v) => v.clone(),
            DpValue::Text(t) => Value::String(t.clone()),
            DpValue::Float(f) if !f.is_finite() => Value::String(non_finite_name(*f).into()),
            DpValue::Float(f) => f
                .to_string()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            DpValue::Binary { data, .. } => {
                use base64::Engine as _;
                Value::String(base64::engine::general_purpose::STANDARD.encode(data))
            }
        }
    }

    /// A short human / CSV text: the same as [`Self::subscription_payload`], except that a
    /// binary value is shown as `<N bytes>`. Also available through `Display`.
    pub fn display_text(&self) -> String {
        self.to_string()
    }

    /// `"json"`, `"text"`, `"float"` or `"binary"`.
    pub fn kind(&self) -> &'static str {
        match self {
            DpValue::Json(_) => "json",
            DpValue::Text(_) => "text",
            DpValue::Float(_) => "float",
            DpValue::Binary { .. } => "binary",
        }
    }
}

/// How a JSON form writes a float JSON has no number for: `"NaN"`, `"Infinity"`, `"-Infinity"` (the
/// names JavaScript and most JSON readers' lenient modes use), so the three stay distinguishable and
/// differ from a missing value (`null`). Finite values get `"NaN"` too but are never passed here.
pub fn non_finite_name(f: f32) -> &'static str {
    if f == f32::INFINITY {
        "Infinity"
    } else if f == f32::NEG_INFINITY {
        "-Infinity"
    } else {
        "NaN"
    }
}

impl fmt::Display for DpValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DpValue::Json(Value::String(s)) => f.write_str(s),
            DpValue::Json(v) => write!(f, "{v}"),
            DpValue::Text(s) => f.write_str(s),
            DpValue::Float(x) => write!(f, "{x}"),
            DpValue::Binary { data, .. } => write!(f, "<{} bytes>", data.len()),
        }
    }
}

/// A big-endian u16 at `at`, if the payload is long enough.
fn u16_at(payload: &[u8], at: usize) -> Option<u16> {
    let b = payload.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(b.try_into().ok()?))
}

/// A big-endian u32 at `at`, if the payload is long enough.
fn u32_at(payload: &[u8], at: usize) -> Option<u32> {
    let b = payload.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

/// Error codes of a `u16 N | N bytes` body that must end the payload.
struct BodyCodes {
    /// e.g. "type 3 JSON", used in messages.
    what: &'static str,
    past_end: u8,
    trailing: u8,
}

/// Reads the `u16 N` length at `at` and returns `(offset of the body, body)`; the body must
/// end exactly at the end of the payload.
fn framed_body<'a>(
    payload: &'a [u8],
    at: usize,
    codes: &BodyCodes,
) -> Result<(usize, &'a [u8]), DpError> {
    let Some(len) = u16_at(payload, at) else {
        return Err(DpError::new(
            DpError::BAD_HEADER,
            at,
            format!(
                "payload too short: {} needs a 2-byte length at byte {at} but the payload has {} bytes",
                codes.what,
                payload.len()
            ),
        ));
    };
    let start = at + 2;
    let len = usize::from(len);
    let available = payload.len() - start;
    if len > available {
        return Err(DpError::new(
            codes.past_end,
            at,
            format!(
                "length past the end: {} length field says {len} bytes but only {available} follow",
                codes.what
            ),
        ));
    }
    if len < available {
        return Err(DpError::new(
            codes.trailing,
            start + len,
            format!(
                "trailing bytes: {} extra bytes after the {len}-byte {} body",
                available - len,
                codes.what
            ),
        ));
    }
    Ok((start, payload.get(start..).unwrap_or_default()))
}

/// Parses a JSON document found at payload offset `start`; a syntax error is reported with
/// the payload offset of the offending byte (the end of the body for a premature end).
fn parse_json(body: &[u8], start: usize, code: u8, what: &str) -> Result<Value, DpError> {
    serde_json::from_slice(body).map_err(|e| {
        let index = if e.is_eof() {
            body.len()
        } else {
            json_error_index(body, e.line(), e.column())
        };
        let offset = start + index;
        DpError::new(code, offset, format!("invalid JSON in {what}: {e}"))
    })
}

/// Byte index in `text` of serde_json's 1-based line / column position (clamped).
fn json_error_index(text: &[u8], line: usize, column: usize) -> usize {
    let line_start = text
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c == b'\n')
        .nth(line.saturating_sub(2))
        .map_or(0, |(i, _)| i + 1);
    let line_start = if line <= 1 { 0 } else { line_start };
    (line_start + column.saturating_sub(1)).min(text.len())
}

/// The datetime of a JSON `at` member: absent or null → `None`, a valid datetime string →
/// `Some(Some(ms))`, anything else → `Err(())`.
fn json_at(obj: &serde_json::Map<String, Value>, opts: &DpOptions) -> Result<Option<i64>, ()> {
    match obj.get("at") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => time::parse_datetime(s, opts.utc_offset_secs)
            .map(Some)
            .ok_or(()),
        Some(_) => Err(()),
    }
}

/// `s` shortened to at most 40 characters for a message (user text can be 64 KiB long).
fn clip(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}
