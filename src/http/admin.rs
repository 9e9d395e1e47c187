//! Local admin endpoints (not OneNET's; under `/admin`): what the console shows, for scripts and CI.
//! A product's master key, scoped to that product, except the registry itself: any product's key lists,
//! adds and deletes products (keys included: the registry is local, as the console shows it) and reads
//! the broker-wide metrics. In the `mqtt` profile,
//! whose clients log in anonymously to one namespace, the calls about live broker state (sessions,
//! kick, retained, queues, diagnostics) reach those clients with any product's key, by client id.

use axum::extract::{Path, State};
use serde_json::json;

use super::bodies::{DeviceBody, ProductBody, optional};
use super::envelope::{ApiError, ApiResult, Errno, data, succ};
use super::extract::{Body, KeyClient, KeyDevice, KeyProduct, Params};
use crate::service::ServiceHandle;
use crate::service::api::{NewDevice, NewProduct, RetainedQuery};

/// `GET /admin/products`: every product (the registry is local; keys included).
pub async fn products(State(s): State<ServiceHandle>, _k: KeyProduct) -> ApiResult {
    Ok(data(s.products().await?))
}

/// `POST /admin/products {"id","name","api_key"}` (all optional: generated).
pub async fn add_product(
    State(s): State<ServiceHandle>,
    _k: KeyProduct,
    Body(body): Body,
) -> ApiResult {
    let b: ProductBody = optional(&body)?;
    let p = s
        .add_product(NewProduct {
            id: b.id,
            name: b.name,
            api_key: b.api_key,
        })
        .await?;
    Ok(data(p))
}

/// `DELETE /admin/products/{id}` (and its devices).
pub async fn delete_product(
    State(s): State<ServiceHandle>,
    _k: KeyProduct,
    Path(id): Path<String>,
) -> ApiResult {
    s.delete_product(&id).await?;
    Ok(succ())
}

/// `GET /admin/devices`: the key's product's devices.
pub async fn devices(State(s): State<ServiceHandle>, KeyProduct(p): KeyProduct) -> ApiResult {
    Ok(data(s.devices(Some(&p.id)).await?))
}

/// `POST /admin/devices {"id","name","auth_info"}` into the key's product.
pub async fn add_device(
    State(s): State<ServiceHandle>,
    KeyProduct(p): KeyProduct,
    Body(body): Body,
) -> ApiResult {
    let b: DeviceBody = optional(&body)?;
    let d = s
        .add_device(NewDevice {
            product_id: p.id,
            id: b.id,
            name: b.name,
            auth_info: b.auth_info,
            auto_registered: false,
        })
        .await?;
    Ok(data(d))
}

/// `DELETE /admin/devices/{id}`.
pub async fn delete_device(State(s): State<ServiceHandle>, k: KeyDevice) -> ApiResult {
    s.delete_device(&k.device.id).await?;
    Ok(succ())
}

/// `GET /admin/sessions`: the product's sessions, online or kept (in `mqtt`, every client's: see
/// [`ServiceHandle::namespace_for`]).
pub async fn sessions(State(s): State<ServiceHandle>, KeyProduct(p): KeyProduct) -> ApiResult {
    let namespace = s.namespace_for(&p.id);
    let v: Vec<_> = s
        .sessions()
        .await
        .into_iter()
        .filter(|x| x.namespace == namespace)
        .collect();
    Ok(data(v))
}

/// `GET /admin/metrics`: the broker's counters since it started, in all products (messages and bytes in
/// and out, datapoints, connections open, QoS 0 dropped at full connections, retained messages not kept):
/// what the console's Overview shows. Any product's key.
pub async fn metrics(State(s): State<ServiceHandle>, _k: KeyProduct) -> ApiResult {
    Ok(data(s.metrics()))
}

/// `POST /admin/sessions/{id}/kick`.
pub async fn kick(State(s): State<ServiceHandle>, KeyClient(id): KeyClient) -> ApiResult {
    if !s.kick(&id).await {
        return Err(ApiError::new(Errno::DeviceNotOnline, id));
    }
    Ok(succ())
}

/// Payload bytes one `GET /admin/retained` answer carries at most, past its first message (the JSON
/// holds each payload twice more, as text and hex).
const RETAINED_PAGE_BYTES: usize = 4 << 20;

/// `GET /admin/retained[?limit=&after=&topic=]`: the product's retained messages in topic order (payload
/// as text and hex), at most `limit` (default 100, at most 1,000) and about 4 MiB of payload per answer.
/// Data: `{"total_count", "items", "next"}`; `next` is the `after` of the following page, null at the
/// end. `topic` asks for that one message.
pub async fn retained(
    State(s): State<ServiceHandle>,
    KeyProduct(p): KeyProduct,
    q: Params,
) -> ApiResult {
    let query = RetainedQuery {
        after: q.opt("after").map(str::to_string),
        topic: q.opt("topic").map(str::to_string),
        limit: q.int("limit", 100, 1..=1000)? as usize,
        max_bytes: RETAINED_PAGE_BYTES,
    };
    let page = s.retained_page(&s.namespace_for(&p.id), query).await;
    let items: Vec<_> = page
        .items
        .iter()
        .map(|r| {
            json!({"topic": r.topic, "qos": r.qos, "payload": String::from_utf8_lossy(&r.payload),
                   "payload_hex": hex::encode(&r.payload), "from_will_of": r.from_will_of})
        })
        .collect();
    Ok(data(
        json!({"total_count": page.total, "items": items, "next": page.next}),
    ))
}

/// `DELETE /admin/retained[?topic=T]`: one, or all of the product's. Data: how many.
pub async fn delete_retained(
    State(s): State<ServiceHandle>,
    KeyProduct(p): KeyProduct,
    q: Params,
) -> ApiResult {
    let n = s
        .delete_retained(Some(&s.namespace_for(&p.id)), q.opt("topic"))
        .await;
    if n == 0 && q.opt("topic").is_some() {
        return Err(ApiError::new(
            Errno::NotFound,
            "no retained message on that topic",
        ));
    }
    Ok(data(json!({"deleted": n})))
}

/// In `mqtt`, where [`KeyClient`] takes any id: a client the broker knows nothing of (no session, no
/// diagnostic) is errno 8, as an unknown device is in `onenet`, so a mistyped id does not read as "empty".
async fn known(s: &ServiceHandle, id: &str) -> Result<(), ApiError> {
    if s.config().profile == crate::config::Profile::OneNet
        || s.sessions().await.iter().any(|x| x.client_id == id)
        || !s.diagnostics(id).await.is_empty()
    {
        return Ok(());
    }
    Err(ApiError::new(Errno::NotFound, format!("no client {id}")))
}

/// `GET /admin/queues/{device_id}`: deliveries waiting for the device (in flight and offline).
pub async fn queue(State(s): State<ServiceHandle>, KeyClient(id): KeyClient) -> ApiResult {
    known(&s, &id).await?;
    Ok(data(s.queue(&id).await))
}

/// `DELETE /admin/queues/{device_id}`: drops the queued (not in-flight) deliveries.
pub async fn clear_queue(State(s): State<ServiceHandle>, KeyClient(id): KeyClient) -> ApiResult {
    known(&s, &id).await?;
    Ok(data(json!({"deleted": s.clear_queue(&id).await})))
}

/// `GET /admin/diagnostics/{device_id}`.
pub async fn diagnostics(State(s): State<ServiceHandle>, KeyClient(id): KeyClient) -> ApiResult {
    let d = s.diagnostics(&id).await;
    // Diagnostics make it known; only none asks whether it is.
    if d.is_empty() {
        known(&s, &id).await?;
    }
    Ok(data(d))
}
