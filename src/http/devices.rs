//! Datapoint endpoints (spec §11): upload as if by `$dp` type 1, query datapoints and datastreams in
//! OneNET's shapes.

use axum::extract::{Path, State};
use serde_json::json;

use super::envelope::{ApiError, ApiResult, Errno, data, succ};
use super::extract::{Body, KeyDevice, KeyProduct, Params, device_of};
use crate::onenet::datapoint::time::format_datetime;
use crate::service::api::DpFilter;
use crate::service::{IngestError, ServiceHandle};

const UTC8: i32 = 8 * 3600;

/// `POST /devices/{device_id}/datapoints` with a type 1 body.
pub async fn upload(
    State(s): State<ServiceHandle>,
    KeyProduct(p): KeyProduct,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    device_of(&s, &p, &id).await?;
    // The same checks the fuzzer runs (errno 9, 5, 4, 6), before the device's store is touched.
    super::bodies::datapoints(&body, &s.dp_options())?;
    s.ingest_datapoints(&id, &body).await.map_err(|e| match e {
        IngestError::UnknownDevice(d) => ApiError::new(Errno::NotFound, format!("device {d}")),
        IngestError::TooLarge(_) => ApiError::new(Errno::TooLarge, e.to_string()),
        IngestError::Invalid(d) => ApiError::new(Errno::InvalidParameter, d.to_string()),
        IngestError::Store(_) | IngestError::Stopped => {
            ApiError::new(Errno::Internal, e.to_string())
        }
    })?;
    Ok(succ())
}

/// `GET /devices/{device_id}/datapoints?datastream_id=a,b&start=&end=&limit=` → `{"count","datastreams":[…]}`.
pub async fn query(State(s): State<ServiceHandle>, k: KeyDevice, q: Params) -> ApiResult {
    let since = q.time("start", UTC8)?;
    let until = q.time("end", UTC8)?;
    let limit = q.int("limit", 100, 1..=6000)? as usize;
    let filters = match q.opt("datastream_id") {
        Some(list) => list
            .split(',')
            .map(|x| Some(x.trim().to_string()))
            .collect::<Vec<_>>(),
        None => vec![None],
    }
    .into_iter()
    .map(|stream| DpFilter {
        device_id: Some(k.device.id.clone()),
        stream,
        since,
        until,
    })
    .collect();
    // Newest `limit` when no start is given, like the platform; oldest first within them.
    let points = s.datapoints(filters, limit, since.is_none()).await?;
    let mut by_stream: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
    for dp in &points {
        let entry = json!({"at": format_datetime(dp.at, UTC8), "value": dp.value.display_json()});
        match by_stream.iter_mut().find(|(n, _)| *n == dp.stream) {
            Some((_, v)) => v.push(entry),
            None => by_stream.push((dp.stream.clone(), vec![entry])),
        }
    }
    let datastreams: Vec<_> = by_stream
        .into_iter()
        .map(|(id, dps)| json!({"id": id, "datapoints": dps}))
        .collect();
    Ok(data(
        json!({"count": points.len(), "datastreams": datastreams}),
    ))
}

/// `GET /devices/{device_id}/datastreams` → each stream with its latest value.
pub async fn streams(State(s): State<ServiceHandle>, k: KeyDevice) -> ApiResult {
    let list = s.datastreams(&k.device.id).await?;
    let out: Vec<_> = list
        .into_iter()
        .map(|st| {
            json!({
                "id": st.stream,
                "count": st.count,
                "current_value": st.last.as_ref().map(|l| l.value.display_json()),
                "update_at": st.last.as_ref().map(|l| format_datetime(l.at, UTC8)),
            })
        })
        .collect();
    Ok(data(out))
}
