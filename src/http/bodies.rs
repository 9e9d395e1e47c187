//! The JSON bodies the API accepts, parsed by pure functions: the handlers call them, and the fuzzer
//! (`fuzz/`) feeds them arbitrary bytes, so every body a client can send is exercised without a socket
//! or a database. Each returns OneNET's errno for what is wrong (4 invalid JSON, 7 a field missing, 9 no
//! body, 5 too large, 6 an invalid datapoint).

use serde::Deserialize;

use super::envelope::{ApiError, Errno};
use crate::onenet::datapoint::{DpOptions, DpUpload};

/// `POST /admin/products` (every field optional: generated).
#[derive(Debug, Deserialize, Default)]
pub struct ProductBody {
    pub id: Option<String>,
    pub name: Option<String>,
    pub api_key: Option<String>,
}

/// `POST /admin/devices` (every field optional: generated).
#[derive(Debug, Deserialize, Default)]
pub struct DeviceBody {
    pub id: Option<String>,
    pub name: Option<String>,
    pub auth_info: Option<String>,
}

#[derive(Deserialize)]
struct NewTopic {
    name: Option<String>,
}

/// A body that may be empty (every field then takes its default).
pub fn optional<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::new(Errno::InvalidJson, e.to_string()))
}

/// `POST /mqtt/topic {"name":…}` → the topic name (not yet checked against the topic rules: the store
/// does that, once, for every caller).
pub fn topic_name(body: &[u8]) -> Result<String, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bare(Errno::EntityRequired));
    }
    let t: NewTopic = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(Errno::InvalidJson, e.to_string()))?;
    t.name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::new(Errno::ParameterRequired, "name"))
}

/// `POST /devices/{id}/datapoints`: a type 1 body, decoded exactly as a `$dp` type 1 payload would be.
pub fn datapoints(body: &[u8], opts: &DpOptions) -> Result<(Vec<u8>, DpUpload), ApiError> {
    if body.is_empty() {
        return Err(ApiError::bare(Errno::EntityRequired));
    }
    let len = u16::try_from(body.len()).map_err(|_| {
        ApiError::new(
            Errno::TooLarge,
            format!(
                "body of {} bytes is larger than a type 1 upload can carry (65535)",
                body.len()
            ),
        )
    })?;
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map_err(|e| ApiError::new(Errno::InvalidJson, e.to_string()))?;
    let mut payload = Vec::with_capacity(body.len() + 3);
    payload.push(1);
    payload.extend_from_slice(&len.to_be_bytes());
    payload.extend_from_slice(body);
    let upload = crate::onenet::datapoint::decode(&payload, opts)
        .map_err(|e| ApiError::new(Errno::InvalidParameter, e.to_string()))?;
    Ok((payload, upload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_body_names_what_is_wrong() {
        assert_eq!(topic_name(b"").unwrap_err().errno, Errno::EntityRequired);
        assert_eq!(topic_name(b"{").unwrap_err().errno, Errno::InvalidJson);
        assert_eq!(
            topic_name(b"{}").unwrap_err().errno,
            Errno::ParameterRequired
        );
        assert_eq!(topic_name(br#"{"name":"t/1"}"#).unwrap(), "t/1");
        let p: ProductBody = optional(b"").unwrap();
        assert!(p.id.is_none());
        let e = optional::<DeviceBody>(br#"{"id":5}"#).unwrap_err();
        assert_eq!(e.errno, Errno::InvalidJson);
        let o = DpOptions::default();
        let (_, up) = datapoints(
            br#"{"datastreams":[{"id":"t","datapoints":[{"value":1}]}]}"#,
            &o,
        )
        .unwrap();
        assert_eq!(up.points.len(), 1);
        assert_eq!(datapoints(b"[1", &o).unwrap_err().errno, Errno::InvalidJson);
        assert_eq!(
            datapoints(b"{}", &o).unwrap_err().errno,
            Errno::InvalidParameter
        );
    }

    #[test]
    fn nesting_deeper_than_the_parser_allows_is_invalid_json_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            topic_name(deep.as_bytes()).unwrap_err().errno,
            Errno::InvalidJson
        );
        let deep_obj = format!("{{\"name\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(
            topic_name(deep_obj.as_bytes()).unwrap_err().errno,
            Errno::InvalidJson
        );
    }
}
