//! The HTTP listener, with every resource a client can hold bounded: connections open at once, the
//! size and number of request headers, the time to send the headers, and the time a request may take
//! (reading its body included). A client that breaks a limit loses only its own connection or gets
//! OneNET's errno; the API and the MQTT broker keep serving everybody else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::envelope::{ApiError, Errno};

/// The listener's limits. The defaults suit a local admin surface used by scripts and the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections served at once; one more is closed at accept (a script's retry gets through later).
    pub max_connections: usize,
    /// Largest request head (request line + headers), in bytes; past it hyper answers 431.
    pub max_header_bytes: usize,
    /// Most request headers; past it hyper answers 431.
    pub max_headers: usize,
    /// Time allowed to send the whole request head (slowloris); then the connection is closed.
    pub header_timeout: Duration,
    /// Time allowed for one request, body and handler included; then errno 14 (network latency).
    pub request_timeout: Duration,
    /// At shutdown, how long requests in flight may still finish.
    pub drain_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 256,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// Answers errno 14 when a request (body included) takes longer than `limit`.
async fn time_limit(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            Errno::NetworkLatency,
            format!("the request took longer than {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

/// Tells whether an address is reachable only from this machine.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Serves `app` on `listener` under `limits` until `shutdown` fires, then lets requests in flight finish
/// (at most `drain_timeout`).
pub async fn serve_with_limits(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) {
    if let Ok(addr) = listener.local_addr()
        && !is_loopback(&addr)
    {
        tracing::warn!(
            %addr,
            "the HTTP API (with /admin) listens beyond this machine: anyone who can reach {addr} and knows a product's key can manage that product"
        );
    }
    let timeout = limits.request_timeout;
    let app = app.layer(axum::middleware::from_fn(move |req, next| {
        time_limit(timeout, req, next)
    }));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers);
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, limit = limits.max_connections, "HTTP connection limit reached: connection closed");
            drop(stream);
            continue;
        };
        let svc = TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "HTTP connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("HTTP requests still running after the drain time were cut off");
    }
}
