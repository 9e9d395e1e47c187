//! Topic endpoints (spec §8.3, §8.4): HTTP push to online subscribers, and the product's topic list.

use axum::extract::State;

use super::envelope::{ApiError, ApiResult, Errno, data, succ};
use super::extract::{Body, KeyDevice, KeyProduct, Params};
use crate::service::ServiceHandle;

/// `POST /mqtt?topic=T`: the body at QoS 0 to online subscribers of T in the key's product, not queued.
pub async fn push(
    State(s): State<ServiceHandle>,
    KeyProduct(p): KeyProduct,
    q: Params,
    Body(body): Body,
) -> ApiResult {
    let topic = q.required("topic")?;
    if topic.starts_with('$') {
        return Err(ApiError::new(
            Errno::InvalidParameter,
            format!("topic '{topic}' is reserved"),
        ));
    }
    s.push(&p.id, topic, body)
        .await
        .map_err(|e| ApiError::new(Errno::InvalidParameter, format!("topic '{topic}': {e}")))?;
    Ok(succ())
}

/// `POST /mqtt/topic {"name":…}`.
pub async fn create_topic(
    State(s): State<ServiceHandle>,
    KeyProduct(p): KeyProduct,
    Body(body): Body,
) -> ApiResult {
    let name = super::bodies::topic_name(&body)?;
    s.create_topic(&p.id, &name).await?;
    Ok(succ())
}

/// `GET /mqtt/topic`: the product's topics.
pub async fn list_topics(State(s): State<ServiceHandle>, KeyProduct(p): KeyProduct) -> ApiResult {
    Ok(data(s.topics(&p.id).await?))
}

/// `DELETE /mqtt/topic?name=…`.
pub async fn delete_topic(
    State(s): State<ServiceHandle>,
    KeyProduct(p): KeyProduct,
    q: Params,
) -> ApiResult {
    let name = q.required("name")?;
    s.delete_topic(&p.id, name).await?;
    Ok(succ())
}

/// `GET /mqtt/topic_device?topic=&page=&per_page=`: devices of the product subscribed to the topic.
pub async fn topic_devices(
    State(s): State<ServiceHandle>,
    KeyProduct(p): KeyProduct,
    q: Params,
) -> ApiResult {
    let topic = q.required("topic")?.to_string();
    let page = q.int("page", 1, 1..=i64::MAX)?;
    let per_page = q.int("per_page", 30, 1..=1000)?;
    let mut devices: Vec<String> = s
        .sessions()
        .await
        .into_iter()
        .filter(|x| x.namespace == p.id && x.subscriptions.iter().any(|(f, _)| *f == topic))
        .map(|x| x.client_id)
        .collect();
    devices.sort();
    let total = devices.len();
    let start = ((page - 1) as usize).saturating_mul(per_page as usize);
    let shown: Vec<serde_json::Value> = devices
        .into_iter()
        .skip(start)
        .take(per_page as usize)
        .map(|d| {
            d.parse::<u64>()
                .map(serde_json::Value::from)
                .unwrap_or(serde_json::Value::String(d))
        })
        .collect();
    Ok(data(
        serde_json::json!({"per_page": per_page, "devices": shown, "total_count": total, "page": page}),
    ))
}

/// `GET /mqtt/device_topic/{device_id}`: the topics a device subscribes to.
pub async fn device_topics(State(s): State<ServiceHandle>, k: KeyDevice) -> ApiResult {
    let id = k.device.id;
    let topics: Vec<String> = s
        .sessions()
        .await
        .into_iter()
        .find(|x| x.client_id == id)
        .map(|x| x.subscriptions.into_iter().map(|(f, _)| f).collect())
        .unwrap_or_default();
    Ok(data(topics))
}
