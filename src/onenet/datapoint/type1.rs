//! Type 1 — JSON "format 1" (spec §6.1):
//! `0x01 | u16 N | {"datastreams":[{"id":"…","datapoints":[{"at":"…","value":…},…]},…]}`.
//! `at` is optional (absent or null = arrival time); `value` may be any JSON value.
//! Structural errors point at the start of the JSON body (offset 3).

use super::{
    BodyCodes, Datapoint, DpError, DpOptions, DpValue, clip, framed_body, json_at, parse_json,
};

const CODES: BodyCodes = BodyCodes {
    what: "type 1 JSON",
    past_end: DpError::LENGTH_PAST_END,
    trailing: DpError::TRAILING,
};

pub(super) fn decode(payload: &[u8], opts: &DpOptions) -> Result<Vec<Datapoint>, DpError> {
    let (start, body) = framed_body(payload, 1, &CODES)?;
    let doc = parse_json(body, start, DpError::T1_JSON, "type 1 body")?;
    let err = |code, message: String| DpError::new(code, start, message);
    let Some(streams) = doc.get("datastreams").and_then(|v| v.as_array()) else {
        return Err(err(
            DpError::T1_DATASTREAMS,
            "missing datastreams: type 1 body has no `datastreams` array".into(),
        ));
    };
    let mut points = Vec::new();
    for (si, stream) in streams.iter().enumerate() {
        let id = match stream.get("id").and_then(|v| v.as_str()) {
            Some(id) if !id.is_empty() => id,
            _ => {
                return Err(err(
                    DpError::T1_ID,
                    format!("missing stream id: datastream {si} has no non-empty string `id`"),
                ));
            }
        };
        let Some(datapoints) = stream.get("datapoints").and_then(|v| v.as_array()) else {
            return Err(err(
                DpError::T1_DATAPOINTS,
                format!(
                    "missing datapoints: datastream \"{}\" has no `datapoints` array",
                    clip(id)
                ),
            ));
        };
        for (pi, dp) in datapoints.iter().enumerate() {
            let Some((obj, value)) = dp.as_object().and_then(|o| Some((o, o.get("value")?))) else {
                return Err(err(
                    DpError::T1_VALUE,
                    format!(
                        "missing value: datapoint {pi} of \"{}\" has no `value`",
                        clip(id)
                    ),
                ));
            };
            let Ok(at) = json_at(obj, opts) else {
                return Err(err(
                    DpError::T1_AT,
                    format!(
                        "bad at: datapoint {pi} of \"{}\" has an `at` that is not a datetime",
                        clip(id)
                    ),
                ));
            };
            points.push(Datapoint {
                stream: id.to_owned(),
                at,
                value: DpValue::Json(value.clone()),
            });
        }
    }
    Ok(points)
}
