//! `GET /admin/record/{device_id}?duration=S`: streams one device's packets, both directions, as recording
//! lines (JSON Lines, see [`crate::record`]) for S seconds (default: until the client hangs up, at most a
//! day). `onenet-desk record` is its client. Same key rule as the other admin endpoints (in `mqtt`, any
//! client id, connected yet or not: see `KeyClient`).

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::envelope::{ApiError, Errno};
use super::extract::{KeyClient, Params};
use crate::record::recorder::Recorder;
use crate::service::ServiceHandle;

/// Longest recording one request may ask for.
const MAX_DURATION_S: u64 = 86_400;

pub async fn record(
    State(s): State<ServiceHandle>,
    KeyClient(id): KeyClient,
    Params(params): Params,
) -> Result<Response, ApiError> {
    let secs = match params.get("duration") {
        None => MAX_DURATION_S,
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (1..=MAX_DURATION_S).contains(&n) => n,
            _ => {
                return Err(ApiError::new(
                    Errno::InvalidParameter,
                    format!("duration must be 1..={MAX_DURATION_S} seconds, not {v:?}"),
                ));
            }
        },
    };
    let until = tokio::time::Instant::now() + Duration::from_secs(secs);
    let rec = Recorder::new(&s, &id);
    // One line per poll; the recorder reads a bounded broadcast, so nothing here grows.
    let stream = futures_util::stream::unfold(rec, move |mut rec| async move {
        let line = tokio::time::timeout_at(until, rec.next())
            .await
            .ok()
            .flatten()?;
        let mut text = serde_json::to_string(&line).ok()?;
        text.push('\n');
        Some((Ok::<_, std::convert::Infallible>(text), rec))
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}
