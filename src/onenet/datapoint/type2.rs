//! Type 2 — binary datapoint (spec §6.2):
//! `0x02 | u16 D | D bytes descriptor JSON | u32 B | B bytes binary`.
//! Descriptor: `{"ds_id":"…", "at":"…" (optional), "desc": … (optional)}`; pretty-printed
//! JSON (the official SDK's `cJSON_Print`, with `\n` and `\t`) is accepted like any JSON.

use bytes::Bytes;
use serde_json::Value;

use super::{Datapoint, DpError, DpOptions, DpValue, json_at, parse_json, u16_at, u32_at};

pub(super) fn decode(payload: &[u8], opts: &DpOptions) -> Result<Vec<Datapoint>, DpError> {
    let Some(desc_len) = u16_at(payload, 1) else {
        return Err(DpError::new(
            DpError::BAD_HEADER,
            1,
            format!(
                "payload too short: type 2 needs a 2-byte descriptor length at byte 1 but the payload has {} bytes",
                payload.len()
            ),
        ));
    };
    let desc_start = 3;
    let desc_end = desc_start + usize::from(desc_len);
    if desc_end > payload.len() {
        return Err(DpError::new(
            DpError::T2_LENGTH,
            1,
            format!(
                "descriptor past the end: type 2 descriptor length says {desc_len} bytes but only {} follow",
                payload.len() - desc_start
            ),
        ));
    }
    let Some(bin_len) = u32_at(payload, desc_end) else {
        return Err(DpError::new(
            DpError::T2_LENGTH,
            desc_end,
            format!(
                "binary length truncated: type 2 needs a 4-byte binary length after the descriptor but only {} bytes remain",
                payload.len() - desc_end
            ),
        ));
    };
    let bin_start = desc_end + 4;
    let available = payload.len() - bin_start;
    // u32 always fits in usize on the 32/64-bit targets this crate builds for; saturate anyway.
    let bin_len = usize::try_from(bin_len).unwrap_or(usize::MAX);
    if bin_len > opts.max_binary {
        return Err(DpError::new(
            DpError::T2_TOO_BIG,
            desc_end,
            format!(
                "binary too large: type 2 binary length {bin_len} exceeds the limit of {} bytes",
                opts.max_binary
            ),
        ));
    }
    if bin_len > available {
        return Err(DpError::new(
            DpError::T2_LENGTH,
            desc_end,
            format!(
                "binary past the end: type 2 binary length says {bin_len} bytes but only {available} follow"
            ),
        ));
    }
    if bin_len < available {
        return Err(DpError::new(
            DpError::T2_LENGTH,
            bin_start + bin_len,
            format!(
                "trailing bytes: {} extra bytes after the {bin_len}-byte type 2 binary",
                available - bin_len
            ),
        ));
    }

    let descriptor = parse_json(
        // Both ends were checked against the length above; an empty slice would only fail as bad JSON.
        payload.get(desc_start..desc_end).unwrap_or_default(),
        desc_start,
        DpError::T2_DESCRIPTOR,
        "type 2 descriptor",
    )?;
    let Value::Object(obj) = descriptor else {
        return Err(DpError::new(
            DpError::T2_DESCRIPTOR,
            desc_start,
            "descriptor not an object: type 2 descriptor must be a JSON object",
        ));
    };
    let stream = match obj.get("ds_id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        _ => {
            return Err(DpError::new(
                DpError::T2_DS_ID,
                desc_start,
                "missing ds_id: type 2 descriptor has no non-empty string `ds_id`",
            ));
        }
    };
    let Ok(at) = json_at(&obj, opts) else {
        return Err(DpError::new(
            DpError::T2_DESCRIPTOR,
            desc_start,
            "bad at: type 2 descriptor `at` is not a datetime",
        ));
    };
    let desc = obj.get("desc").filter(|v| !v.is_null()).cloned();
    let data = Bytes::copy_from_slice(payload.get(bin_start..).unwrap_or_default());
    Ok(vec![Datapoint {
        stream,
        at,
        value: DpValue::Binary { data, desc },
    }])
}
