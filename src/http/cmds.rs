//! Command endpoints (spec §7.2): send, status, response, history.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;

use super::device_of;
use super::envelope::{ApiError, ApiResult, Errno, data};
use super::extract::{Body, KeyProduct, Params};
use crate::onenet::commands::{Command, CommandError, CommandStatus, MAX_VALIDITY_S};
use crate::onenet::datapoint::time::format_datetime;
use crate::service::ServiceHandle;

const UTC8: i32 = 8 * 3600;

/// `POST /cmds?device_id=…[&qos=0|1][&timeout=S]` → `{"cmd_uuid":…}`; an offline device with timeout 0 is
/// errno 10 "device not online: ID". `qos=1`: resent at each login of the device until answered, while
/// the command is valid (see `CommandBook`).
pub async fn send(
    State(s): State<ServiceHandle>,
    KeyProduct(p): KeyProduct,
    q: Params,
    Body(body): Body,
) -> ApiResult {
    let id = q.required("device_id")?.to_string();
    let qos = q.int("qos", 0, 0..=1)? as u8;
    let timeout = q.int("timeout", 0, 0..=MAX_VALIDITY_S as i64)? as u32;
    device_of(&s, &p, &id).await?;
    let c = s
        .send_command_qos(&id, body, timeout, qos)
        .await
        .map_err(|e| match e {
            CommandError::UnknownDevice(d) => ApiError::new(Errno::NotFound, format!("device {d}")),
            CommandError::Validity(_) | CommandError::Qos(_) => {
                ApiError::new(Errno::InvalidParameter, e.to_string())
            }
            CommandError::BodyTooLarge(..) => ApiError::new(Errno::TooLarge, e.to_string()),
        })?;
    if c.status == CommandStatus::DeviceOffline {
        return Err(ApiError::new(Errno::DeviceNotOnline, id));
    }
    Ok(data(json!({"cmd_uuid": c.uuid})))
}

async fn command_of(s: &ServiceHandle, product: &str, uuid: &str) -> Result<Command, ApiError> {
    let c = s
        .command(uuid)
        .await
        .ok_or_else(|| ApiError::new(Errno::NotFound, format!("command {uuid}")))?;
    let db = s.db().clone();
    let dev = c.device_id.clone();
    let owner = super::mqtt::blocking(move || db.device(&dev)).await??;
    if owner.is_none_or(|d| d.product_id != product) {
        return Err(ApiError::new(Errno::NotFound, format!("command {uuid}")));
    }
    Ok(c)
}

/// `GET /cmds/{uuid}` → `{"status":N,"desc":"…"}`.
pub async fn status(
    State(s): State<ServiceHandle>,
    KeyProduct(p): KeyProduct,
    Path(uuid): Path<String>,
) -> ApiResult {
    let c = command_of(&s, &p.id, &uuid).await?;
    let v = if c.qos == 1 {
        // Additive: OneNET's reply is status and desc, which a qos 0 command keeps exactly (it is sent at
        // most once); a qos 1 command also says how often and when it went out.
        json!({
            "status": c.status.code(),
            "desc": c.status.desc(),
            "qos": c.qos,
            "send_count": c.sends.count,
            "sends": sends_json(&c),
        })
    } else {
        json!({"status": c.status.code(), "desc": c.status.desc()})
    };
    Ok(data(v))
}

/// Each recorded send: `[{"time":"YYYY-MM-DD hh:mm:ss.mmm","pid":null}, …]`, oldest first (UTC+8, as the
/// history's times).
fn sends_json(c: &Command) -> serde_json::Value {
    c.sends
        .recent
        .iter()
        .map(|s| json!({"time": format_datetime(s.at, UTC8), "pid": s.pid}))
        .collect()
}

/// `GET /cmds/{uuid}/resp` → the device's reply bytes as the body, only once the status is 4.
pub async fn response(
    State(s): State<ServiceHandle>,
    KeyProduct(p): KeyProduct,
    Path(uuid): Path<String>,
) -> ApiResult {
    let c = command_of(&s, &p.id, &uuid).await?;
    match (c.status, c.reply) {
        (CommandStatus::Replied, Some(reply)) => {
            Ok(([(header::CONTENT_TYPE, "application/octet-stream")], reply).into_response())
        }
        (status, _) => Err(ApiError::new(
            Errno::NotFound,
            format!(
                "no response: command status is {} ({})",
                status.code(),
                status.desc()
            ),
        )),
    }
}

/// `GET /cmds/history/{device_id}?start=&end=&page=&per_page=` (§7.2 shape; bodies in hex).
pub async fn history(
    State(s): State<ServiceHandle>,
    KeyProduct(p): KeyProduct,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult {
    let start = q
        .time("start", UTC8)?
        .ok_or_else(|| ApiError::new(Errno::ParameterRequired, "start"))?;
    let end = q.time("end", UTC8)?;
    let page = q.int("page", 1, 1..=i64::MAX)?;
    let per_page = q.int("per_page", 30, 1..=100)?;
    device_of(&s, &p, &id).await?;
    let offset = ((page - 1) as usize).saturating_mul(per_page as usize);
    let (cmds, total) = s
        .command_history(&id, Some(start), end, offset, per_page as usize)
        .await?;
    let t = |ms: Option<i64>| ms.map(|m| format_datetime(m, UTC8));
    let items: Vec<_> = cmds
        .iter()
        .map(|c| {
            json!({
                "cmd_uuid": c.uuid,
                "device_id": c.device_id,
                "expire_time": t(c.expire_at),
                "status": c.status.code(),
                "send_time": t(c.sent_at),
                "confirm_time": t(c.replied_at),
                "confirm_body": c.reply.as_ref().map(hex::encode),
                "body": hex::encode(&c.body),
                "qos": c.qos,
                "send_count": c.sends.count,
                "sends": sends_json(c),
            })
        })
        .collect();
    Ok(data(
        json!({"page": page, "per_page": per_page, "total_count": total, "items": items}),
    ))
}
