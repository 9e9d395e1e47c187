//! OneNET's response envelope (spec §11): `{"errno":N,"error":"…"[,"data":…]}`, `"succ"` for 0, HTTP 200
//! whatever the errno (only a request that cannot be parsed as HTTP gets another status, from hyper).

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

/// The errno table of §11 (the ones this API produces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Errno {
    Internal = 1,
    ApiKeyRequired = 2,
    AuthFailed = 3,
    InvalidJson = 4,
    TooLarge = 5,
    InvalidParameter = 6,
    ParameterRequired = 7,
    NotFound = 8,
    EntityRequired = 9,
    DeviceNotOnline = 10,
    AlreadyExists = 12,
    SystemLimit = 13,
    NetworkLatency = 14,
    Unsuccess = 16,
}

impl Errno {
    /// The `error` text of the table.
    pub fn text(self) -> &'static str {
        match self {
            Errno::Internal => "internal server error",
            Errno::ApiKeyRequired => "api-key required",
            Errno::AuthFailed => "auth failed",
            Errno::InvalidJson => "invalid JSON",
            Errno::TooLarge => "request entity too large",
            Errno::InvalidParameter => "invalid parameter",
            Errno::ParameterRequired => "parameter required",
            Errno::NotFound => "not found",
            Errno::EntityRequired => "entity data required",
            Errno::DeviceNotOnline => "device not online",
            Errno::AlreadyExists => "already exists",
            Errno::SystemLimit => "system limit",
            Errno::NetworkLatency => "network latency",
            Errno::Unsuccess => "unsuccess",
        }
    }
}

/// A failed request: errno plus the detail the platform appends (`"device not online: 8029377"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub errno: Errno,
    pub detail: Option<String>,
}

impl ApiError {
    pub fn new(errno: Errno, detail: impl Into<String>) -> ApiError {
        ApiError {
            errno,
            detail: Some(detail.into()),
        }
    }

    pub fn bare(errno: Errno) -> ApiError {
        ApiError {
            errno,
            detail: None,
        }
    }

    pub fn message(&self) -> String {
        match &self.detail {
            Some(d) => format!("{}: {d}", self.errno.text()),
            None => self.errno.text().to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        Json(json!({"errno": self.errno as u8, "error": self.message()})).into_response()
    }
}

impl From<crate::service::api::StoreError> for ApiError {
    fn from(e: crate::service::api::StoreError) -> Self {
        use crate::service::api::StoreError as S;
        let errno = match &e {
            S::Invalid(_) => Errno::InvalidParameter,
            S::Conflict(_) => Errno::AlreadyExists,
            S::NotFound(_) => Errno::NotFound,
            S::Limit(_) => Errno::SystemLimit,
            _ => Errno::Internal,
        };
        ApiError::new(errno, e.to_string())
    }
}

impl From<crate::service::DataError> for ApiError {
    fn from(e: crate::service::DataError) -> Self {
        match e {
            crate::service::DataError::Store(e) => e.into(),
            crate::service::DataError::Stopped => ApiError::bare(Errno::Internal),
        }
    }
}

/// Success without data: `{"errno":0,"error":"succ"}`.
pub fn succ() -> Response {
    Json(json!({"errno": 0, "error": "succ"})).into_response()
}

/// Success with data: `{"errno":0,"data":…,"error":"succ"}`.
pub fn data<T: Serialize>(d: T) -> Response {
    Json(json!({"errno": 0, "data": d, "error": "succ"})).into_response()
}

pub type ApiResult = Result<Response, ApiError>;
