//! Request parts every endpoint needs, with OneNET's errors: the `api-key` header (errno 2 missing,
//! 3 wrong), the device of the path within the key's product (errno 8), a body of at most 64 KB
//! (errno 5), and query parameters (errno 6 invalid, 7 missing). These are the handlers' whole
//! preamble: a handler takes what it needs and calls one `ServiceHandle` method.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::envelope::{ApiError, Errno};
use crate::config::Profile;
use crate::onenet::registry::{Device, Product};
use crate::service::ServiceHandle;

/// The body limit (§8.3, §7.2: "< 64 KB"): a body must be strictly smaller than this.
pub const MAX_BODY: usize = 64 * 1024;

/// The product whose master key came in the `api-key` header.
pub struct KeyProduct(pub Product);

impl FromRequestParts<ServiceHandle> for KeyProduct {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &ServiceHandle,
    ) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get("api-key")
            .ok_or_else(|| ApiError::bare(Errno::ApiKeyRequired))?
            .to_str()
            .map_err(|_| ApiError::bare(Errno::AuthFailed))?
            .to_string();
        if key.is_empty() {
            return Err(ApiError::bare(Errno::ApiKeyRequired));
        }
        service
            .product_by_key(&key)
            .await?
            .map(KeyProduct)
            .ok_or_else(|| ApiError::bare(Errno::AuthFailed))
    }
}

/// The device named by the path's one parameter, which must belong to the key's product (an unknown
/// device and another product's device are both errno 8, so a key learns nothing about other products).
pub struct KeyDevice {
    pub product: Product,
    pub device: Device,
}

impl FromRequestParts<ServiceHandle> for KeyDevice {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &ServiceHandle,
    ) -> Result<Self, Response> {
        let (product, id) = key_and_path(parts, service).await?;
        let device = device_of(service, &product, &id)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(KeyDevice { product, device })
    }
}

/// The client named by the path's one parameter, for the calls about what the broker holds for it
/// (kick, queue, diagnostics). In `onenet` it is a device of the key's product, checked as for
/// [`KeyDevice`]; in `mqtt` clients log in anonymously with any id, so it is the id as given, with any
/// product's key (the registry knows no such clients).
pub struct KeyClient(pub String);

impl FromRequestParts<ServiceHandle> for KeyClient {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &ServiceHandle,
    ) -> Result<Self, Response> {
        if service.config().profile == Profile::OneNet {
            return KeyDevice::from_request_parts(parts, service)
                .await
                .map(|k| KeyClient(k.device.id));
        }
        key_and_path(parts, service)
            .await
            .map(|(_, id)| KeyClient(id))
    }
}

/// The key's product and the path's one parameter.
async fn key_and_path(
    parts: &mut Parts,
    service: &ServiceHandle,
) -> Result<(Product, String), Response> {
    let KeyProduct(product) = KeyProduct::from_request_parts(parts, service)
        .await
        .map_err(IntoResponse::into_response)?;
    let axum::extract::Path(id) = axum::extract::Path::<String>::from_request_parts(parts, service)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((product, id))
}

/// The device, if it belongs to the key's product (errno 8 otherwise, as for an unknown one).
pub async fn device_of(s: &ServiceHandle, p: &Product, id: &str) -> Result<Device, ApiError> {
    s.device(id)
        .await?
        .filter(|d| d.product_id == p.id)
        .ok_or_else(|| ApiError::new(Errno::NotFound, format!("device {id}")))
}

/// The request body, refused past [`MAX_BODY`] with errno 5.
pub struct Body(pub Bytes);

impl FromRequest<ServiceHandle> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &ServiceHandle) -> Result<Self, ApiError> {
        let too_large = || {
            ApiError::new(
                Errno::TooLarge,
                format!("the body must be smaller than {MAX_BODY} bytes"),
            )
        };
        // A declared length is refused before a byte of the body is read.
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n >= MAX_BODY as u64) {
            return Err(too_large());
        }
        // "< 64 KB": at most MAX_BODY - 1 bytes, so exactly 65,536 is refused too.
        axum::body::to_bytes(req.into_body(), MAX_BODY - 1)
            .await
            .map(Body)
            .map_err(|_| too_large())
    }
}

/// Query parameters, read by name with OneNET's errors.
pub struct Params(pub HashMap<String, String>);

impl FromRequestParts<ServiceHandle> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &ServiceHandle) -> Result<Self, ApiError> {
        Query::<HashMap<String, String>>::from_request_parts(parts, s)
            .await
            .map(|Query(m)| Params(m))
            .map_err(|e| ApiError::new(Errno::InvalidParameter, e.body_text()))
    }
}

impl Params {
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.opt(name)
            .ok_or_else(|| ApiError::new(Errno::ParameterRequired, name))
    }

    /// An integer within `range`, or `default` when absent.
    pub fn int(
        &self,
        name: &str,
        default: i64,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<i64, ApiError> {
        match self.opt(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    ApiError::new(
                        Errno::InvalidParameter,
                        format!(
                            "{name}={v}: expected an integer from {} to {}",
                            range.start(),
                            range.end()
                        ),
                    )
                }),
        }
    }

    /// A time `YYYY-MM-DDThh:mm:ss` (or with a space, or a fraction) at UTC+8 like the platform's, as Unix ms.
    pub fn time(&self, name: &str, utc_offset_secs: i32) -> Result<Option<i64>, ApiError> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) => crate::onenet::datapoint::time::parse_datetime(v, utc_offset_secs)
                .map(Some)
                .ok_or_else(|| {
                    ApiError::new(
                        Errno::InvalidParameter,
                        format!("{name}={v}: expected YYYY-MM-DDThh:mm:ss"),
                    )
                }),
        }
    }
}
