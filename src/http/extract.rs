//! Request parts every endpoint needs, with OneNET's errors: the `api-key` header (errno 2 missing,
//! 3 wrong), a body of at most 64 KB (errno 5), and query parameters (errno 6 invalid, 7 missing).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;

use super::envelope::{ApiError, Errno};
use crate::onenet::registry::Product;
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
        let db = service.db().clone();
        let product = tokio::task::spawn_blocking(move || db.product_by_key(&key))
            .await
            .map_err(|_| ApiError::bare(Errno::Internal))??;
        product
            .map(KeyProduct)
            .ok_or_else(|| ApiError::bare(Errno::AuthFailed))
    }
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
