//! One network connection: the CONNECT handshake, then a loop that decodes what the client sends, writes
//! what the router queues, and enforces keepalive and the PUBREL timeout.
//!
//! The connection owns no session state (the router does); it owns the socket, its buffers and its
//! timers. Everything it writes comes through one ordered queue, so CONNACK precedes redeliveries and an
//! acknowledgement held behind a store barrier is never overtaken by later output.

//!
//! Split by phase: `handshake` waits for CONNECT and admits it (auth, auto-registration, refusals);
//! this file carries a connection from admission to its end (login, then the loop, then the router told);
//! `run` is the loop itself (reading, output in order behind store barriers, timers).

mod handshake;
mod read;
mod run;
mod write;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::events::{Direction, Event, Events, SharedDp};
use crate::metrics::Metrics;
use crate::mqtt::{Connect, ConnectReturnCode};
use crate::onenet::datapoint::DpOptions;
use crate::store::Db;

use super::message::{ConnTx, Ending, Input, Login, OutGauge, Outbox, RouterMsg};
use super::router::{Hub, Lane};

/// What every connection task shares.
pub(crate) struct ConnCtx {
    pub cfg: Arc<Config>,
    /// The router: run in the connection's task when free, its bounded mailbox otherwise (when the
    /// router is behind, readers wait, and TCP slows publishers).
    pub hub: Arc<Hub>,
    pub db: Db,
    /// Store watermark; see `Outbound::Barrier`.
    pub committed: watch::Receiver<u64>,
    pub shutdown: CancellationToken,
    pub next_conn_id: AtomicU64,
    /// Authenticated connections now open (CONNACK 3 past `max_connections`).
    pub online: AtomicUsize,
    pub events: Events,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The settings that change at run time (auto-register, `$dp` options); `cfg` holds the rest.
    pub live: watch::Receiver<Arc<Config>>,
}

impl ConnCtx {
    /// `$dp` payloads are decoded in the connection task, so decoding runs on every core.
    fn dp(&self) -> DpOptions {
        crate::broker::router::dp_options(&self.live.borrow())
    }
}

/// Tells watchers about one packet; callers ask [`Events::watched`] first (once per read or output burst,
/// since the question takes the channel's lock), so nothing is built while nobody listens. The frame is
/// copied once, to exactly its length: an event kept by a slow reader (the console holds 20,000) then
/// never keeps the socket's read buffer, which the frame shares, alive.
fn packet_event(
    events: &Events,
    client_id: Option<&str>,
    direction: Direction,
    frame: &[u8],
    dp: Option<SharedDp>,
) {
    events.send(Event::Packet {
        at: crate::store::now_millis(),
        client_id: client_id.map(str::to_string),
        direction,
        bytes: bytes::Bytes::copy_from_slice(frame),
        dp,
    });
}

/// Keeps `metrics.connections` equal to the connections open.
struct ConnectionCount<'a>(&'a crate::metrics::Metrics);
impl Drop for ConnectionCount<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Decrements the online count however the connection ends.
struct OnlineGuard<'a>(&'a AtomicUsize);
impl Drop for OnlineGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs one connection to its end.
pub(crate) async fn serve(mut stream: TcpStream, remote: SocketAddr, ctx: Arc<ConnCtx>) {
    // Allocated when the first bytes arrive: a socket that never sends CONNECT holds no buffer.
    let mut inbuf = BytesMut::new();
    let Some(connect) = handshake::read_connect(&mut stream, &mut inbuf, remote, &ctx).await else {
        return;
    };
    let Some((namespace, mut connect)) = handshake::admit(&mut stream, remote, &ctx, connect).await
    else {
        return;
    };
    if ctx.online.fetch_add(1, Ordering::SeqCst) >= ctx.cfg.limits.max_connections {
        ctx.online.fetch_sub(1, Ordering::SeqCst);
        tracing::warn!(%remote, "connection limit reached: CONNACK 3");
        handshake::write_packet(
            &mut stream,
            &handshake::refuse(ConnectReturnCode::ServerUnavailable),
        )
        .await;
        return;
    }
    let _online = OnlineGuard(&ctx.online);
    Metrics::add(&ctx.metrics.connections, 1);
    let _counted = ConnectionCount(&ctx.metrics);
    if connect.client_id.is_empty() {
        // MQTT 3.1.1 §3.1.3.1: the server assigns an id to an empty one (clean session 1 only, checked by auth).
        connect.client_id = format!("auto-{}", crate::onenet::registry::generate_secret(12));
    }
    let id = ctx.next_conn_id.fetch_add(1, Ordering::Relaxed);
    // Bounded by accounting, not by capacity: the router counts every message and byte it queues here in
    // `OutGauge` and stops at `max_outbound_messages` / `max_outbound_bytes` (QoS 0 dropped, QoS 1/2 held).
    let outbox = Arc::new(Outbox::default());
    let keep_alive = connect.keep_alive;
    let client_id = connect.client_id.clone();
    let gauge = Arc::new(OutGauge::default());
    let handle = ConnTx {
        id,
        outbox: outbox.clone(),
        gauge: gauge.clone(),
    };
    // Taken apart here, so the rest of the CONNECT (its box, user name, password) is freed now rather
    // than held in this task for the connection's whole life.
    let Connect {
        client_id: login_id,
        clean_session,
        will,
        ..
    } = *connect;
    let login = Login {
        conn: id,
        gauge: gauge.clone(),
        client_id: login_id,
        namespace,
        clean_session,
        keep_alive,
        will,
        remote,
    };
    // What this connection has in the router's mailbox: its inputs are handled in the order it sent them.
    let lane = Arc::new(Lane::default());
    if !ctx
        .hub
        .send(&lane, RouterMsg::Login(handle, Box::new(login)))
        .await
    {
        return;
    }
    if super::conn_log::admit() {
        tracing::info!(%remote, client = %client_id, keep_alive, "connected");
    } else {
        tracing::debug!(%remote, client = %client_id, keep_alive, "connected");
    }
    let stream = Arc::new(stream);
    outbox.attach(stream.clone());
    let mut conn = run::Conn {
        id,
        ctx: ctx.clone(),
        stream,
        writing: false,
        // Buffers are sized on demand and released when empty: an idle connection holds none (the
        // CONNECT's read buffer is dropped here, not kept alive until the task ends).
        inbuf: if inbuf.is_empty() {
            drop(inbuf);
            BytesMut::new()
        } else {
            inbuf
        },
        last_topic: Default::default(),
        outbuf: BytesMut::new(),
        outbox,
        gauge,
        keep_alive: (keep_alive > 0).then(|| Duration::from_millis(keep_alive as u64 * 1500)),
        pubrel_waits: VecDeque::new(),
        held: VecDeque::new(),
        barrier: None,
        write_deadline: None,
        connack_sent: false,
        input_held: false,
        held_eof: false,
        held_scanned: 0,
        client_id,
        lane,
    };
    let ending = conn.run().await;
    // Output queued after the end is dropped; what is left (taken or still queued) is uncounted from
    // the gauge.
    for o in conn.held.drain(..).chain(conn.outbox.close()) {
        conn.gauge.sub(o.weight());
    }
    // The outbox has let go of the socket: this task holds its last handle, and ends the stream (FIN)
    // before closing it. Closing alone sends the FIN too, but cost more broker CPU per connection
    // (`connect-rate`, 10 interleaved runs each with `scripts/bench-ab.sh`: median 205 → 270 ms of broker
    // CPU per 5,000 cycles).
    if let Ok(mut s) = Arc::try_unwrap(conn.stream) {
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut s).await;
    }
    // A DISCONNECT is the normal end and the console shows it (Event::Disconnected): one info line per
    // connection ("connected"), a second only when the end says something (an error, a timeout, a
    // takeover). Half the log lines for clients that connect often.
    if ending == Ending::Graceful {
        tracing::debug!(%remote, client = %conn.client_id, "disconnected (DISCONNECT)");
    } else if super::conn_log::admit() {
        tracing::info!(%remote, client = %conn.client_id, ?ending, "disconnected");
    } else {
        tracing::debug!(%remote, client = %conn.client_id, ?ending, "disconnected");
    }
    let _ = ctx
        .hub
        .send(
            &conn.lane,
            RouterMsg::Conn(Input::Closed { conn: id, ending }),
        )
        .await;
}
