//! The MQTT broker: TCP listener, one task per connection, one router that owns all routing state (run
//! by a connection's task for its own input when free, else by the router task from its mailbox).
//!
//! ```text
//!  socket ─► connection task ──RouterMsg──► router ──StoreOp──► store writer thread (group commit)
//!  socket ◄─ connection task ◄──Outbound─── router        watermark ─┘ (releases held acks)
//! ```

pub(crate) mod conn_log;
mod connection;
pub mod info;
pub mod message;
mod outbox;
pub(crate) mod retained;
pub(crate) mod router;
pub(crate) mod session;
mod signal;
pub(crate) mod subscriptions;
pub(crate) mod tally;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

pub(crate) use connection::ConnCtx;
pub use message::{Message, QueuedInfo, RetainedInfo, SessionInfo};

/// Accepts connections until shutdown, each on its own tracked task, with TCP_NODELAY on: passed on by
/// the listener where the system does (Linux; see `service::bind_mqtt`), which the first connection
/// shows, and set on each connection otherwise.
pub(crate) async fn accept_loop(listener: TcpListener, ctx: Arc<ConnCtx>, tracker: TaskTracker) {
    let mut inherited = None;
    // One waiter for the loop's life: a future made per accepted connection joined and left the shared
    // token's locked waiter list each time.
    let mut cancelled = std::pin::pin!(ctx.shutdown.cancelled());
    loop {
        tokio::select! {
            _ = &mut cancelled => break,
            r = listener.accept() => match r {
                Ok((stream, remote)) => {
                    if !*inherited.get_or_insert_with(|| stream.nodelay().unwrap_or(false)) {
                        let _ = stream.set_nodelay(true);
                    }
                    tracker.spawn(connection::serve(stream, remote, ctx.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}
