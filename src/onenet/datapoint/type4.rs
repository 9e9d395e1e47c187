//! Type 4 — JSON "format 3" (spec §6.4):
//! `0x04 | u16 N | {"stream":{"YYYY-MM-DD hh:mm:ss":value,…},…}`.
//! One datapoint per datetime member, streams and times in document order.

use super::type3::{empty_name, json_kind, object_body};
use super::{Datapoint, DpError, DpOptions, DpValue, clip, time};

pub(super) fn decode(payload: &[u8], opts: &DpOptions) -> Result<Vec<Datapoint>, DpError> {
    let (start, map) = object_body(payload, 4)?;
    let mut points = Vec::new();
    for (i, (name, member)) in map.into_iter().enumerate() {
        if name.is_empty() {
            return Err(empty_name(4, start, i));
        }
        let serde_json::Value::Object(times) = member else {
            return Err(DpError::new(
                DpError::T4_MEMBER,
                start,
                format!(
                    "member not an object: \"{}\" is a JSON {}, expected {{datetime: value}}",
                    clip(&name),
                    json_kind(&member)
                ),
            ));
        };
        for (datetime, value) in times {
            let Some(at) = time::parse_datetime(&datetime, opts.utc_offset_secs) else {
                return Err(DpError::new(
                    DpError::T4_DATETIME,
                    start,
                    format!(
                        "bad datetime: \"{}\" in \"{}\" is not YYYY-MM-DD hh:mm:ss",
                        clip(&datetime),
                        clip(&name)
                    ),
                ));
            };
            points.push(Datapoint {
                stream: name.clone(),
                at: Some(at),
                value: DpValue::Json(value),
            });
        }
    }
    Ok(points)
}
