//! Type 3 — JSON "format 2" (spec §6.3): `0x03 | u16 N | {"stream":value,…}`, no times.
//! One datapoint per member, in document order (serde_json's `preserve_order`); a name that
//! appears twice keeps its first position and its last value.

use super::{BodyCodes, Datapoint, DpError, DpOptions, DpValue, framed_body, parse_json};

/// Shared by types 3 and 4: the length-framed JSON body, which must be an object.
pub(super) fn object_body(
    payload: &[u8],
    dp_type: u8,
) -> Result<(usize, serde_json::Map<String, serde_json::Value>), DpError> {
    let codes = BodyCodes {
        what: if dp_type == 3 {
            "type 3 JSON"
        } else {
            "type 4 JSON"
        },
        past_end: DpError::LENGTH_PAST_END,
        trailing: DpError::TRAILING,
    };
    let (start, body) = framed_body(payload, 1, &codes)?;
    match parse_json(body, start, DpError::T34_JSON, codes.what)? {
        serde_json::Value::Object(map) => Ok((start, map)),
        other => Err(DpError::new(
            DpError::T34_NOT_OBJECT,
            start,
            format!(
                "not an object: type {dp_type} body is a JSON {}",
                json_kind(&other)
            ),
        )),
    }
}

/// The kind of a JSON value, for messages.
pub(super) fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// The error for an empty datastream name in type 3/4.
pub(super) fn empty_name(dp_type: u8, start: usize, index: usize) -> DpError {
    DpError::new(
        DpError::T34_EMPTY_NAME,
        start,
        format!("empty stream name: member {index} of the type {dp_type} object has an empty name"),
    )
}

pub(super) fn decode(payload: &[u8], _opts: &DpOptions) -> Result<Vec<Datapoint>, DpError> {
    let (start, map) = object_body(payload, 3)?;
    let mut points = Vec::with_capacity(map.len());
    for (i, (name, value)) in map.into_iter().enumerate() {
        if name.is_empty() {
            return Err(empty_name(3, start, i));
        }
        points.push(Datapoint {
            stream: name,
            at: None,
            value: DpValue::Json(value),
        });
    }
    Ok(points)
}
