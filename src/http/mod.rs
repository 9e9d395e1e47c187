//! The OneNET-compatible HTTP API (spec §7.2, §8.3, §8.4, §11) plus local admin endpoints, on axum.
//!
//! [`router`] builds the whole API from a [`ServiceHandle`], so tests call it without a socket; the
//! service serves it on its own listener (loopback by default: it is an admin surface) and stops it with
//! everything else. Every answer is OneNET's envelope at HTTP 200; see [`envelope`].

mod admin;
pub mod bodies;
mod cmds;
mod devices;
pub mod envelope;
pub mod extract;
mod mqtt;
mod record;
pub mod server;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::service::ServiceHandle;
use envelope::{ApiError, Errno};

/// The API with every route.
pub fn router(service: ServiceHandle) -> Router {
    Router::new()
        .route("/mqtt", post(mqtt::push))
        .route(
            "/mqtt/topic",
            post(mqtt::create_topic)
                .get(mqtt::list_topics)
                .delete(mqtt::delete_topic),
        )
        .route("/mqtt/topic_device", get(mqtt::topic_devices))
        .route("/mqtt/device_topic/{device_id}", get(mqtt::device_topics))
        .route("/cmds", post(cmds::send))
        .route("/cmds/history/{device_id}", get(cmds::history))
        .route("/cmds/{uuid}", get(cmds::status))
        .route("/cmds/{uuid}/resp", get(cmds::response))
        .route(
            "/devices/{device_id}/datapoints",
            post(devices::upload).get(devices::query),
        )
        .route("/devices/{device_id}/datastreams", get(devices::streams))
        .route(
            "/admin/products",
            get(admin::products).post(admin::add_product),
        )
        .route("/admin/products/{id}", delete(admin::delete_product))
        .route(
            "/admin/devices",
            get(admin::devices).post(admin::add_device),
        )
        .route("/admin/devices/{id}", delete(admin::delete_device))
        .route("/admin/sessions", get(admin::sessions))
        .route("/admin/metrics", get(admin::metrics))
        .route("/admin/sessions/{id}/kick", post(admin::kick))
        .route(
            "/admin/retained",
            get(admin::retained).delete(admin::delete_retained),
        )
        .route(
            "/admin/queues/{device_id}",
            get(admin::queue).delete(admin::clear_queue),
        )
        .route("/admin/diagnostics/{device_id}", get(admin::diagnostics))
        .route("/admin/record/{device_id}", get(record::record))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(service)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(Errno::NotFound, format!("no API at {}", uri.path()))
}

/// [`serve`] as the service's [`crate::service::HttpServer`] hook.
pub fn serve_boxed(
    listener: tokio::net::TcpListener,
    service: ServiceHandle,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(serve(listener, service, shutdown))
}

/// Serves the API until `shutdown` fires, finishing requests in flight, under the default
/// [`server::HttpLimits`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: ServiceHandle,
    shutdown: tokio_util::sync::CancellationToken,
) {
    server::serve_with_limits(
        listener,
        router(service),
        server::HttpLimits::default(),
        shutdown,
    )
    .await
}
