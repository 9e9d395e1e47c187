//! `onenet-desk cmd send`: a thin client of the running service's HTTP API (`POST /cmds`, then
//! `GET /cmds/{uuid}` and `/resp` with `--wait`). The product key is read from the data dir, so the
//! command needs only the device id.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use onenet_desk::store::Db;

use crate::Failure;

pub struct SendArgs {
    pub device: String,
    pub body: Vec<u8>,
    pub timeout: u32,
    pub wait: bool,
    pub http: String,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(15)))
        .build()
        .into()
}

fn unreachable(http: &str, e: ureq::Error) -> Failure {
    match e {
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => Failure(
            1,
            format!(
                "no onenet-desk serve is running at {http} (start one with `onenet-desk serve`, or pass --http ADDR): {e}"
            ),
        ),
        other => Failure(1, format!("HTTP request to {http} failed: {other}")),
    }
}

/// Reads an API envelope; errno ≠ 0 becomes a failure with the platform's message.
fn envelope(mut resp: ureq::http::Response<ureq::Body>, http: &str) -> Result<Value, Failure> {
    let text = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| unreachable(http, e))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|_| Failure(1, format!("unexpected answer from {http}: {text}")))?;
    let field = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    match field("errno").as_i64() {
        Some(0) => Ok(field("data")),
        _ => Err(Failure(
            1,
            format!(
                "errno {}: {}",
                field("errno"),
                field("error").as_str().unwrap_or("?")
            ),
        )),
    }
}

/// The `status` code of a `GET /cmds/{uuid}` answer.
fn code(status: &Value) -> Option<i64> {
    status.get("status").and_then(Value::as_i64)
}

pub fn send(data_dir: &Path, a: SendArgs) -> Result<(), Failure> {
    let db = Db::open(&data_dir.join(onenet_desk::config::DB_FILE))
        .map_err(|e| Failure(1, e.to_string()))?;
    let device = db
        .device(&a.device)
        .map_err(|e| Failure(1, e.to_string()))?
        .ok_or_else(|| {
            Failure(
                2,
                format!("no device {} in {}", a.device, data_dir.display()),
            )
        })?;
    let product = db
        .product(&device.product_id)
        .map_err(|e| Failure(1, e.to_string()))?
        .ok_or_else(|| Failure(2, format!("no product {}", device.product_id)))?;
    let base = format!("http://{}", a.http);
    let agent = agent();
    let resp = agent
        .post(&format!(
            "{base}/cmds?device_id={}&timeout={}",
            a.device, a.timeout
        ))
        .header("api-key", &product.api_key)
        .send(a.body.as_slice())
        .map_err(|e| unreachable(&a.http, e))?;
    let data = envelope(resp, &a.http)?;
    let uuid = data
        .get("cmd_uuid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let get = |path: String| {
        agent
            .get(&format!("{base}{path}"))
            .header("api-key", &product.api_key)
            .call()
            .map_err(|e| unreachable(&a.http, e))
    };
    let mut status = envelope(get(format!("/cmds/{uuid}"))?, &a.http)?;
    if a.wait {
        // Until final: replied, timed out, too large, failed. Bounded by the validity plus a margin.
        let deadline = Instant::now() + Duration::from_secs(a.timeout as u64 + 30);
        while matches!(code(&status), Some(1 | 2)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            status = envelope(get(format!("/cmds/{uuid}"))?, &a.http)?;
        }
    }
    let mut out = serde_json::Map::new();
    out.insert("cmd_uuid".into(), json!(uuid));
    out.insert("device_id".into(), json!(a.device));
    for k in ["status", "desc"] {
        out.insert(k.into(), status.get(k).cloned().unwrap_or(Value::Null));
    }
    if code(&status) == Some(4) {
        let mut resp = get(format!("/cmds/{uuid}/resp"))?;
        let bytes = resp
            .body_mut()
            .read_to_vec()
            .map_err(|e| unreachable(&a.http, e))?;
        let reply = match std::str::from_utf8(&bytes) {
            Ok(t) => Value::String(t.to_string()),
            Err(_) => Value::Null,
        };
        out.insert("reply".into(), reply);
        out.insert("reply_hex".into(), Value::String(hex::encode(&bytes)));
    }
    println!("{}", Value::Object(out));
    Ok(())
}
