//! The HTTP API called through its router, without a socket: the tests of the API, of commands and of the
//! fidelity issue share these calls, the sample product's key and a seeded broker to call.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use onenet_desk::ServiceHandle;
use serde_json::Value;
use tower::ServiceExt;

/// One request with `api-key: key` (none when `None`) → the HTTP status and the body.
pub async fn call(
    h: &ServiceHandle,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: impl Into<Bytes>,
) -> (StatusCode, Bytes) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(k) = key {
        req = req.header("api-key", k);
    }
    let resp = onenet_desk::http::router(h.clone())
        .oneshot(req.body(Body::from(body.into())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    (
        status,
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap(),
    )
}

/// Calls and parses the envelope; asserts HTTP 200.
pub async fn api(
    h: &ServiceHandle,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: impl Into<Bytes>,
) -> Value {
    let (status, bytes) = call(h, method, uri, key, body).await;
    assert_eq!(status, StatusCode::OK, "{method} {uri}");
    serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("{method} {uri}: not JSON: {bytes:?}"))
}

/// The sample product's (339) master key.
pub const KEY: Option<&str> = Some("KEY339");

/// An envelope's errno (-1 when it has none).
pub fn errno(v: &Value) -> i64 {
    v["errno"].as_i64().unwrap_or(-1)
}

/// A `onenet` broker with the sample registry in a temporary directory, kept alive by the returned guard.
pub async fn setup() -> (tempfile::TempDir, ServiceHandle) {
    let dir = tempfile::tempdir().unwrap();
    let h = super::seeded(dir.path()).await;
    (dir, h)
}
