//! `$dp` payload encoders for types 1–7 (spec §6), the inverse of the broker's decoders: what a virtual
//! device publishes. Times are written as wall clock at the given UTC offset (the broker reads them at its
//! configured offset, UTC+8 by default, §13).

use crate::onenet::datapoint::time::format_datetime;

use super::generator::Value;

/// One datapoint to encode: stream name and value.
pub type Point<'a> = (&'a str, &'a Value);

/// Why a set of points cannot be sent as the requested type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("$dp type {dp_type}: {why}")]
pub struct DpError {
    pub dp_type: u8,
    pub why: String,
}

fn err(dp_type: u8, why: impl Into<String>) -> DpError {
    DpError {
        dp_type,
        why: why.into(),
    }
}

/// `type | u16 BE len | body` for the JSON and text types.
fn framed(first: u8, time: Option<[u8; 6]>, body: &[u8], dp_type: u8) -> Result<Vec<u8>, DpError> {
    let len =
        u16::try_from(body.len()).map_err(|_| err(dp_type, "body longer than 65535 bytes"))?;
    let mut out = Vec::with_capacity(body.len() + 9);
    out.push(first);
    if let Some(t) = time {
        out.extend_from_slice(&t);
    }
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

/// The six time bytes `YY MM DD hh mm ss` of `millis` at `utc_offset_secs` (types 6, 7).
pub fn six_bytes(millis: i64, utc_offset_secs: i32) -> [u8; 6] {
    let s = format_datetime(millis - millis.rem_euclid(1000), utc_offset_secs);
    let n = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<u16>().ok()).unwrap_or(0);
    [
        (n(0, 4) % 100) as u8,
        n(5, 7) as u8,
        n(8, 10) as u8,
        n(11, 13) as u8,
        n(14, 16) as u8,
        n(17, 19) as u8,
    ]
}

/// Encodes `points` as one `$dp` payload of `dp_type` (1, 3, 4, 5, 6 or 7; type 2 carries one blob, see
/// [`encode_binary`]). Types 1 and 4 carry `at` = `millis`; 6 and 7 carry the six time bytes (bit 7).
pub fn encode(
    dp_type: u8,
    points: &[Point<'_>],
    millis: i64,
    utc_offset_secs: i32,
) -> Result<Vec<u8>, DpError> {
    if points.is_empty() {
        return Err(err(dp_type, "no datapoints"));
    }
    let at = format_datetime(millis, utc_offset_secs);
    match dp_type {
        1 => {
            let streams: Vec<serde_json::Value> = points
                .iter()
                .map(|(name, v)| {
                    serde_json::json!({"id": name, "datapoints": [{"at": at, "value": v.to_json()}]})
                })
                .collect();
            let body = serde_json::json!({ "datastreams": streams }).to_string();
            framed(1, None, body.as_bytes(), 1)
        }
        3 => {
            let obj: serde_json::Map<String, serde_json::Value> = points
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_json()))
                .collect();
            framed(
                3,
                None,
                serde_json::Value::Object(obj).to_string().as_bytes(),
                3,
            )
        }
        4 => {
            let obj: serde_json::Map<String, serde_json::Value> = points
                .iter()
                .map(|(n, v)| {
                    (
                        n.to_string(),
                        serde_json::json!({ at.clone(): v.to_json() }),
                    )
                })
                .collect();
            framed(
                4,
                None,
                serde_json::Value::Object(obj).to_string().as_bytes(),
                4,
            )
        }
        5 | 6 => {
            // Separators: ',' inside a field, ';' between fields; neither may appear in a name or value.
            let mut text = String::from(",;");
            for (i, (n, v)) in points.iter().enumerate() {
                let v = v.to_text();
                if n.contains([',', ';']) || v.contains([',', ';']) || n.is_empty() || v.is_empty()
                {
                    return Err(err(
                        dp_type,
                        format!("stream {n:?} or its value {v:?} is empty or contains ',' or ';'"),
                    ));
                }
                if i > 0 {
                    text.push(';');
                }
                text.push_str(n);
                text.push(',');
                text.push_str(&v);
            }
            if dp_type == 5 {
                framed(5, None, text.as_bytes(), 5)
            } else {
                framed(
                    0x86,
                    Some(six_bytes(millis, utc_offset_secs)),
                    text.as_bytes(),
                    6,
                )
            }
        }
        7 => {
            let mut out = vec![0x87];
            out.extend_from_slice(&six_bytes(millis, utc_offset_secs));
            for (n, v) in points {
                let id: u16 = n
                    .parse()
                    .map_err(|_| err(7, format!("stream name {n:?} is not a number 0..65535")))?;
                let Value::Num(x) = v else {
                    return Err(err(
                        7,
                        format!("stream {n:?} has a value that is not a number"),
                    ));
                };
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&1u16.to_be_bytes());
                out.extend_from_slice(&(*x as f32).to_le_bytes());
            }
            Ok(out)
        }
        2 => Err(err(
            2,
            "type 2 carries one binary stream: use encode_binary",
        )),
        t => Err(err(t, "types are 1..=7")),
    }
}

/// `$dp` type 2: descriptor `{"ds_id":…,"at":…}` and the raw bytes.
pub fn encode_binary(
    stream: &str,
    bytes: &[u8],
    millis: i64,
    utc_offset_secs: i32,
) -> Result<Vec<u8>, DpError> {
    let desc = serde_json::json!({"ds_id": stream, "at": format_datetime(millis, utc_offset_secs)})
        .to_string();
    let dlen = u16::try_from(desc.len()).map_err(|_| err(2, "descriptor too long"))?;
    let blen = u32::try_from(bytes.len()).map_err(|_| err(2, "blob too long"))?;
    let mut out = Vec::with_capacity(desc.len() + bytes.len() + 7);
    out.push(2);
    out.extend_from_slice(&dlen.to_be_bytes());
    out.extend_from_slice(desc.as_bytes());
    out.extend_from_slice(&blen.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(out)
}

/// A `$dp` payload the broker must refuse (type 3 whose body is not JSON): the "bad `$dp`" fault.
pub fn bad_payload() -> Vec<u8> {
    let body = b"{not json";
    let mut out = vec![3];
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples_encode_byte_for_byte() {
        // §6.3: {"temperature":22.5,"humidity":"95.2%"}.
        let t = Value::Num(22.5);
        let h = Value::Text("95.2%".into());
        let got = encode(3, &[("temperature", &t), ("humidity", &h)], 0, 0).unwrap();
        assert_eq!(
            hex::encode(&got),
            "0300277b2274656d7065726174757265223a32322e352c2268756d6964697479223a2239352e3225227d"
        );
        // §6.7: time 2016-03-22 22:31:12 (UTC+8), group 1 with 22.5 → 87 10 03 16 16 1F 0C 00 01 00 01 00 00 B4 41.
        let ms = crate::onenet::datapoint::time::parse_datetime("2016-03-22 22:31:12", 8 * 3600)
            .unwrap();
        let got = encode(7, &[("1", &t)], ms, 8 * 3600).unwrap();
        assert_eq!(
            hex::encode(&got),
            "871003161 61f0c0001000100 00b441".replace(' ', "")
        );
        // §6.6 with time: ",;temperature,22.5;humidity,87".
        let hum = Value::Num(87.0);
        let got = encode(6, &[("temperature", &t), ("humidity", &hum)], ms, 8 * 3600).unwrap();
        assert_eq!(
            hex::encode(&got),
            "861003161 61f0c001e2c3b74656d70657261747572652c32322e353b68756d69646974792c3837"
                .replace(' ', "")
        );
        // §6.2: {"ds_id":"image"} + DE AD BE EF (ours adds "at").
        let b = encode_binary("image", &[0xDE, 0xAD, 0xBE, 0xEF], ms, 8 * 3600).unwrap();
        assert!(b.starts_with(&[2, 0]) && b.ends_with(&[0, 0, 0, 4, 0xDE, 0xAD, 0xBE, 0xEF]));
    }

    #[test]
    fn type_7_needs_numeric_names_and_values() {
        let v = Value::Num(1.0);
        assert!(encode(7, &[("temp", &v)], 0, 0).is_err());
        assert!(encode(7, &[("1", &Value::Text("x".into()))], 0, 0).is_err());
        assert!(encode(5, &[("a;b", &v)], 0, 0).is_err());
    }
}
