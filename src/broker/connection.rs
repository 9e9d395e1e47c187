//! One network connection: the CONNECT handshake, then a loop that decodes what the client sends, writes
//! what the router queues, and enforces keepalive and the PUBREL timeout.
//!
//! The connection owns no session state (the router does); it owns the socket, its buffers and its
//! timers. Everything it writes comes through one ordered queue, so CONNACK precedes redeliveries and an
//! acknowledgement held behind a store barrier is never overtaken by later output.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Profile};
use crate::events::{Direction, Event, Events};
use crate::metrics::Metrics;
use crate::mqtt::{
    Conformance, ConnAck, Connect, ConnectReturnCode, DecodeOptions, Packet, Pid, Publish, QosPid,
    check, decode, decode_with,
};
use crate::onenet::auth::{Decision, Lookup, decide};
use crate::onenet::datapoint::DpOptions;
use crate::onenet::diagnostics::DiagKind;
use crate::onenet::registry::{Device, Product};
use crate::store::{Db, NewDevice, StoreError};

use super::message::{
    CloseReason, ConnTx, Ending, Input, Login, OutGauge, Outbound, Outbox, RouterMsg,
};

/// What every connection task shares.
pub(crate) struct ConnCtx {
    pub cfg: Arc<Config>,
    /// The router's mailbox. Bounded: when the router is behind, readers wait, and TCP slows publishers.
    pub router: mpsc::Sender<RouterMsg>,
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

/// The bytes of the next complete frame in `buf`, copied for a packet event (only while watched).
fn peek_frame(buf: &BytesMut, max: usize) -> Option<bytes::Bytes> {
    let h = check(buf, max).ok()??;
    buf.get(..h.total_len()).map(bytes::Bytes::copy_from_slice)
}

fn packet_event(
    events: &Events,
    client_id: Option<&str>,
    direction: Direction,
    bytes: bytes::Bytes,
) {
    events.send(Event::Packet {
        at: crate::store::now_millis(),
        client_id: client_id.map(str::to_string),
        direction,
        bytes,
    });
}

struct DbLookup<'a>(&'a Db);

impl Lookup for DbLookup<'_> {
    type Error = StoreError;
    fn product(&self, id: &str) -> Result<Option<Product>, StoreError> {
        self.0.product(id)
    }
    fn device(&self, id: &str) -> Result<Option<Device>, StoreError> {
        self.0.device(id)
    }
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

async fn write_packet(stream: &mut TcpStream, p: &Packet) {
    if let Ok(bytes) = p.to_bytes() {
        let _ = stream.write_all(&bytes).await;
    }
}

/// Runs one connection to its end.
pub(crate) async fn serve(mut stream: TcpStream, remote: SocketAddr, ctx: Arc<ConnCtx>) {
    let _ = stream.set_nodelay(true);
    // Allocated when the first bytes arrive: a socket that never sends CONNECT holds no buffer.
    let mut inbuf = BytesMut::new();
    let Some(connect) = read_connect(&mut stream, &mut inbuf, remote, &ctx).await else {
        return;
    };
    // Admission: the registry is SQLite, so it runs off the async threads. The `mqtt` profile reads no
    // registry (anonymous), so it is decided here without the hop to a blocking thread.
    let cfg = ctx.live.borrow().clone();
    let db = ctx.db.clone();
    let decision = if cfg.profile == Profile::Mqtt {
        let d = decide(cfg.profile, &connect, cfg.auto_register, &DbLookup(&db));
        Ok((d, connect))
    } else {
        tokio::task::spawn_blocking(move || {
            let d = decide(cfg.profile, &connect, cfg.auto_register, &DbLookup(&db));
            (d, connect)
        })
        .await
    };
    let Ok((decision, mut connect)) = decision else {
        return;
    };
    let refuse = |code: ConnectReturnCode| {
        Packet::ConnAck(ConnAck {
            session_present: false,
            code,
        })
    };
    let namespace = match decision {
        Err(e) => {
            tracing::error!(%remote, error = %e, "registry unavailable during CONNECT: CONNACK 3");
            write_packet(&mut stream, &refuse(ConnectReturnCode::ServerUnavailable)).await;
            return;
        }
        Ok(Decision::Close(why)) => {
            tracing::warn!(%remote, client = %connect.client_id, "CONNECT refused without CONNACK: {why}");
            return;
        }
        Ok(Decision::Refuse(code, why)) => {
            tracing::warn!(%remote, client = %connect.client_id, code = code as u8, "CONNECT refused: {why}");
            write_packet(&mut stream, &refuse(code)).await;
            return;
        }
        Ok(Decision::Accept {
            namespace,
            register,
            method,
        }) => {
            if let Some((id, auth_info)) = register {
                let db = ctx.db.clone();
                let product = namespace.clone();
                let added = tokio::task::spawn_blocking(move || {
                    db.add_device(NewDevice {
                        product_id: product,
                        id: Some(id),
                        name: None,
                        auth_info: Some(auth_info),
                        auto_registered: true,
                    })
                })
                .await;
                match added {
                    Ok(Ok(d)) => {
                        tracing::info!(device = %d.id, product = %d.product_id, "new device auto-registered")
                    }
                    Ok(Err(e)) => {
                        // A store failure (busy, disk full) is not the device's fault: CONNACK 3, not 4.
                        let code = if e.is_transient() {
                            ConnectReturnCode::ServerUnavailable
                        } else {
                            ConnectReturnCode::BadUserNameOrPassword
                        };
                        tracing::warn!(%remote, client = %connect.client_id, error = %e, "auto-register failed: CONNACK {}", code as u8);
                        write_packet(&mut stream, &refuse(code)).await;
                        return;
                    }
                    Err(_) => return,
                }
            }
            tracing::debug!(%remote, client = %connect.client_id, ?method, "CONNECT accepted");
            namespace
        }
    };
    if ctx.online.fetch_add(1, Ordering::SeqCst) >= ctx.cfg.limits.max_connections {
        ctx.online.fetch_sub(1, Ordering::SeqCst);
        tracing::warn!(%remote, "connection limit reached: CONNACK 3");
        write_packet(&mut stream, &refuse(ConnectReturnCode::ServerUnavailable)).await;
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
    if ctx
        .router
        .send(RouterMsg::Login(handle, Box::new(login)))
        .await
        .is_err()
    {
        return;
    }
    if super::conn_log::admit() {
        tracing::info!(%remote, client = %client_id, keep_alive, "connected");
    } else {
        tracing::debug!(%remote, client = %client_id, keep_alive, "connected");
    }
    let (rd, wr) = stream.into_split();
    let mut conn = Conn {
        id,
        ctx: ctx.clone(),
        rd,
        wr,
        // Buffers are sized on demand and released when empty: an idle connection holds none (the
        // CONNECT's read buffer is dropped here, not kept alive until the task ends).
        inbuf: if inbuf.is_empty() {
            drop(inbuf);
            BytesMut::new()
        } else {
            inbuf
        },
        outbuf: BytesMut::new(),
        outbox,
        gauge,
        keep_alive: (keep_alive > 0).then(|| Duration::from_millis(keep_alive as u64 * 1500)),
        pubrel_waits: VecDeque::new(),
        held: VecDeque::new(),
        barrier: None,
        connack_sent: false,
        input_held: false,
        client_id,
    };
    let ending = conn.run().await;
    // Output queued after the end is dropped; what is left is uncounted from the gauge.
    for o in conn.outbox.close() {
        conn.gauge.sub(o.weight());
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
        .router
        .send(RouterMsg::Conn(Input::Closed { conn: id, ending }))
        .await;
}

/// Waits for CONNECT (at most `connect_timeout`). `onenet` drops other packets before it (spec §3.2);
/// `mqtt` closes [MQTT-3.1.0-1].
async fn read_connect(
    stream: &mut TcpStream,
    inbuf: &mut BytesMut,
    remote: SocketAddr,
    ctx: &ConnCtx,
) -> Option<Box<Connect>> {
    let deadline = Instant::now() + ctx.cfg.limits.connect_timeout;
    loop {
        let raw = ctx
            .events
            .watched()
            .then(|| peek_frame(inbuf, ctx.cfg.limits.max_packet))
            .flatten();
        match decode(inbuf, ctx.cfg.limits.max_packet) {
            Ok(Some(d)) => match d.packet {
                Packet::Connect(mut c) => {
                    if let Some(raw) = raw {
                        packet_event(&ctx.events, Some(&c.client_id), Direction::In, raw);
                    }
                    // The password and will payload are slices of the read buffer: copied, so the
                    // buffer is freed now rather than held for the whole connection.
                    if let Some(p) = c.password.as_mut() {
                        *p = bytes::Bytes::copy_from_slice(p);
                    }
                    if let Some(w) = c.will.as_mut() {
                        w.message = bytes::Bytes::copy_from_slice(&w.message);
                    }
                    return Some(c);
                }
                other if ctx.cfg.profile == Profile::OneNet => {
                    tracing::warn!(%remote, packet = other.packet_type().name(), "packet before CONNECT dropped (spec §3.2)");
                }
                other => {
                    tracing::warn!(%remote, packet = other.packet_type().name(),
                        "[MQTT-3.1.0-1] the first packet must be CONNECT: connection closed");
                    return None;
                }
            },
            // Readiness first, then a buffer (as after CONNECT).
            Ok(None) => match tokio::time::timeout_at(deadline, stream.readable()).await {
                Err(_) => {
                    tracing::warn!(%remote, "no CONNECT within {:?}: connection closed", ctx.cfg.limits.connect_timeout);
                    return None;
                }
                Ok(Err(_)) => return None,
                Ok(Ok(())) => {
                    inbuf.reserve(READ_CHUNK);
                    match stream.try_read_buf(inbuf) {
                        Ok(0) => return None,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => return None,
                    }
                }
            },
            Err(e) => {
                tracing::warn!(%remote, "malformed packet before CONNECT: {e}");
                return None;
            }
        }
    }
}

struct Conn {
    id: u64,
    ctx: Arc<ConnCtx>,
    rd: OwnedReadHalf,
    wr: tokio::net::tcp::OwnedWriteHalf,
    inbuf: BytesMut,
    outbuf: BytesMut,
    /// What the router queues here, and its pause flag: set while a subscriber this connection publishes
    /// to is over its window, so the connection stops reading and TCP slows the publisher down
    /// (backpressure instead of loss).
    outbox: Arc<Outbox>,
    /// What the router queued here and is not yet encoded (see `OutGauge`).
    gauge: Arc<OutGauge>,
    keep_alive: Option<Duration>,
    /// PUBREC sent, PUBREL awaited: (packet id, deadline), oldest first.
    pubrel_waits: VecDeque<(Pid, Instant)>,
    /// Output waiting behind `barrier`.
    held: VecDeque<Outbound>,
    barrier: Option<u64>,
    /// OneNET drops what a client sends before CONNACK (spec §3.2).
    connack_sent: bool,
    /// Reading stopped for a pause with bytes left in `inbuf`: handled as soon as the pause is lifted.
    input_held: bool,
    client_id: String,
}

enum Flow {
    Continue,
    Stop(Ending),
}

impl Conn {
    async fn run(&mut self) -> Ending {
        let mut committed = self.ctx.committed.clone();
        let mut ka_deadline = self.keep_alive.map(|k| Instant::now() + k);
        let shutdown = self.ctx.shutdown.clone();
        let mut was_paused = false;
        // Bytes that arrived with the CONNECT (a client that pipelines) are handled now, not at the next
        // read: processed in `mqtt`, dropped as "before CONNACK" in `onenet`.
        if !self.inbuf.is_empty()
            && let Flow::Stop(e) = self.read_packets_boxed().await
        {
            return e;
        }
        loop {
            let pubrel_deadline = self.pubrel_waits.front().map(|(_, d)| *d);
            let paused = self.outbox.paused();
            if was_paused && !paused {
                // Keepalive counts from when reading resumes: a paused client was not silent.
                ka_deadline = self.keep_alive.map(|k| Instant::now() + k);
            }
            was_paused = paused;
            let flow = if !paused && self.input_held {
                // The pause was lifted: the packets already read are handled now, since the socket may
                // have nothing more to wake the read branch (the client waits for acks).
                self.read_packets_boxed().await
            } else {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => Flow::Stop(Ending::ClosedByBroker),
                    // New output, or the pause flag changed (the next turn looks at it).
                    _ = self.outbox.changed() => {
                        self.outbox.take(&mut self.held);
                        if self.barrier.is_none() {
                            self.drain_output(&committed)
                        } else {
                            Flow::Continue
                        }
                    }
                    _ = wait_committed(&mut committed, self.barrier), if self.barrier.is_some() => {
                        self.barrier = None;
                        self.drain_output(&committed)
                    }
                    // Readiness first, then a buffer: an idle connection waits without one.
                    r = self.rd.readable(), if !paused => match r.and_then(|()| {
                        self.inbuf.reserve(READ_CHUNK);
                        self.rd.try_read_buf(&mut self.inbuf)
                    }) {
                        Ok(0) => Flow::Stop(Ending::Abnormal("the client closed the connection without DISCONNECT".into())),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            // Stale readiness (the first turn after CONNECT sees it): nothing was read,
                            // so the buffer reserved for it goes again.
                            if self.inbuf.is_empty() {
                                self.inbuf = BytesMut::new();
                            }
                            Flow::Continue
                        }
                        Err(e) => Flow::Stop(Ending::Abnormal(format!("socket error: {e}"))),
                        Ok(n) => {
                            Metrics::add(&self.ctx.metrics.bytes_in, n as u64);
                            ka_deadline = self.keep_alive.map(|k| Instant::now() + k);
                            let flow = self.read_packets_boxed().await;
                            if self.inbuf.is_empty() {
                                self.inbuf = BytesMut::new();
                            }
                            flow
                        }
                    },
                    _ = sleep_until_opt(ka_deadline), if ka_deadline.is_some() && !paused => Flow::Stop(Ending::Abnormal(format!(
                        "keepalive expired: nothing received for 1.5 × {} s", self.keep_alive.map(|k| k.as_millis() / 1500).unwrap_or(0)
                    ))),
                    _ = sleep_until_opt(pubrel_deadline), if pubrel_deadline.is_some() => {
                        let pid = self.pubrel_waits.front().map(|(p, _)| p.get()).unwrap_or(0);
                        Flow::Stop(Ending::Abnormal(format!(
                            "PUBREL for packet id {pid} not received within {:?} (spec §5)", self.ctx.cfg.limits.pubrel_timeout
                        )))
                    }
                }
            };
            if !self.outbuf.is_empty() {
                let stuck = self.ctx.cfg.limits.stuck_timeout;
                match tokio::time::timeout(stuck, self.wr.write_all(&self.outbuf)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Ending::Abnormal(format!("socket error: {e}")),
                    Err(_) => {
                        let why = format!(
                            "stuck reader: {} bytes of output not taken by the client within {stuck:?}; connection closed",
                            self.outbuf.len()
                        );
                        tracing::warn!(client = %self.client_id, "{why}");
                        self.diagnostic(DiagKind::StuckReader, why.clone()).await;
                        return Ending::Abnormal(why);
                    }
                }
                Metrics::add(&self.ctx.metrics.bytes_out, self.outbuf.len() as u64);
                // Kept while more output waits (a burst); released otherwise, so an idle connection
                // holds no write buffer.
                if self.outbuf.capacity() > KEEP_OUTBUF || self.held.is_empty() {
                    self.outbuf = BytesMut::new();
                } else {
                    self.outbuf.clear();
                }
            }
            if self.held.is_empty() && self.held.capacity() > 0 {
                self.held = VecDeque::new();
            }
            if let Flow::Stop(e) = flow {
                let _ = self.wr.shutdown().await;
                return e;
            }
        }
    }

    /// Encodes queued output up to the first barrier that is not yet committed.
    fn drain_output(&mut self, committed: &watch::Receiver<u64>) -> Flow {
        while let Some(o) = self.held.pop_front() {
            self.gauge.sub(o.weight());
            match o {
                Outbound::Barrier(n) => {
                    if *committed.borrow() < n {
                        self.barrier = Some(n);
                        return Flow::Continue;
                    }
                }
                Outbound::Packet(p) => {
                    match &p {
                        Packet::ConnAck(_) => self.connack_sent = true,
                        Packet::PubRec(pid) => self
                            .pubrel_waits
                            .push_back((*pid, Instant::now() + self.ctx.cfg.limits.pubrel_timeout)),
                        _ => {}
                    }
                    self.encode(&p);
                }
                Outbound::Publish {
                    msg,
                    qos,
                    pid,
                    dup,
                    retain,
                } => {
                    Metrics::add(&self.ctx.metrics.publishes_out, 1);
                    let qos_pid = match pid {
                        Some(pid) => QosPid::from_parts(qos, pid),
                        None => QosPid::AtMostOnce,
                    };
                    self.encode(&Packet::Publish(Publish {
                        dup,
                        qos_pid,
                        retain,
                        topic: msg.topic.clone(),
                        payload: msg.payload.clone(),
                    }));
                }
                Outbound::Close(reason) => {
                    tracing::info!(client = %self.client_id, ?reason, "closing connection");
                    // A protocol violation is an abnormal end (the will goes out); takeover, kick and
                    // shutdown are not.
                    return Flow::Stop(match reason {
                        CloseReason::Protocol(why) => Ending::Abnormal(why),
                        _ => Ending::ClosedByBroker,
                    });
                }
            }
        }
        Flow::Continue
    }

    fn encode(&mut self, p: &Packet) {
        let start = self.outbuf.len();
        if let Err(e) = p.encode(&mut self.outbuf) {
            tracing::error!(client = %self.client_id, packet = p.packet_type().name(), "cannot encode: {e}");
            return;
        }
        if self.ctx.events.watched()
            && let Some(b) = self.outbuf.get(start..)
        {
            packet_event(
                &self.ctx.events,
                Some(&self.client_id),
                Direction::Out,
                bytes::Bytes::copy_from_slice(b),
            );
        }
    }

    async fn diagnostic(&self, kind: DiagKind, message: String) {
        let _ = self
            .ctx
            .router
            .send(RouterMsg::Conn(Input::Diagnostic {
                conn: self.id,
                kind,
                message,
            }))
            .await;
    }

    /// [`Conn::read_packets`] on the heap: its state (a decoded packet, the batch, the mailbox send) is
    /// then allocated only while input is handled, instead of being part of every idle connection's task.
    fn read_packets_boxed(
        &mut self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Flow> + Send + '_>> {
        Box::pin(self.read_packets())
    }

    /// Decodes every complete packet in the input buffer and acts on it.
    async fn read_packets(&mut self) -> Flow {
        let max = self.ctx.cfg.limits.max_packet;
        let onenet = self.ctx.cfg.profile == Profile::OneNet;
        self.input_held = false;
        // What this read decoded, handed to the router in one mailbox message (one wake-up of the router
        // per read, not per packet); at most `MAX_BATCH`, and sent before anything else the connection
        // tells the router, so the router sees this client's packets in order.
        let mut batch = Vec::new();
        let flow = loop {
            // Paused (a subscriber this client feeds is full): the rest waits in the buffer.
            if self.outbox.paused() {
                self.input_held = !self.inbuf.is_empty();
                break Flow::Continue;
            }
            let raw = self
                .ctx
                .events
                .watched()
                .then(|| peek_frame(&self.inbuf, max))
                .flatten();
            // OneNET refuses a `room#1` filter with 0x80 and grants the rest (§13): the router refuses it.
            let opts = DecodeOptions {
                lenient_wildcards: onenet,
            };
            let d = match decode_with(&mut self.inbuf, max, opts) {
                Ok(Some(d)) => d,
                Ok(None) => break Flow::Continue,
                Err(e) => {
                    if !self.send_batch(&mut batch).await {
                        return Flow::Stop(Ending::ClosedByBroker);
                    }
                    self.diagnostic(
                        DiagKind::Malformed,
                        format!("malformed packet, connection closed: {e}"),
                    )
                    .await;
                    return Flow::Stop(Ending::Abnormal(format!("malformed packet: {e}")));
                }
            };
            if let Some(raw) = raw {
                packet_event(&self.ctx.events, Some(&self.client_id), Direction::In, raw);
            }
            if (d.conformance.is_some() || (!self.connack_sent && onenet))
                && !self.send_batch(&mut batch).await
            {
                return Flow::Stop(Ending::ClosedByBroker);
            }
            if let Some(c) = d.conformance {
                let kind = match c {
                    Conformance::PubRelFlags0000 => DiagKind::PubRelFlags,
                    _ => DiagKind::ReservedFlags,
                };
                self.diagnostic(
                    kind,
                    format!("{c} (accepted; MQTT 3.1.1 requires flags 0010)"),
                )
                .await;
            }
            if !self.connack_sent && onenet {
                let name = d.packet.packet_type().name();
                self.diagnostic(
                    DiagKind::BeforeConnAck,
                    format!("{name} sent before CONNACK was dropped, as the platform does"),
                )
                .await;
                continue;
            }
            let id = self.id;
            let msg = match d.packet {
                Packet::PingReq => {
                    self.encode(&Packet::PingResp);
                    continue;
                }
                Packet::Disconnect => break Flow::Stop(Ending::Graceful),
                Packet::Publish(publish) => {
                    Metrics::add(&self.ctx.metrics.publishes_in, 1);
                    let dp = (onenet && publish.topic.as_str() == "$dp").then(|| {
                        crate::onenet::datapoint::decode(&publish.payload, &self.ctx.dp())
                    });
                    Input::Publish {
                        conn: id,
                        publish,
                        dp,
                    }
                }
                Packet::PubAck(pid) => Input::PubAck { conn: id, pid },
                Packet::PubRec(pid) => Input::PubRec { conn: id, pid },
                Packet::PubRel(pid) => {
                    self.pubrel_waits.retain(|(p, _)| *p != pid);
                    Input::PubRel { conn: id, pid }
                }
                Packet::PubComp(pid) => Input::PubComp { conn: id, pid },
                Packet::Subscribe(s) => Input::Subscribe {
                    conn: id,
                    pid: s.pid,
                    filters: s.filters,
                },
                Packet::Unsubscribe(u) => Input::Unsubscribe {
                    conn: id,
                    pid: u.pid,
                    filters: u.filters,
                },
                Packet::Connect(_) => {
                    break Flow::Stop(Ending::Abnormal(
                        "[MQTT-3.1.0-2] a second CONNECT is a protocol violation".into(),
                    ));
                }
                other => {
                    break Flow::Stop(Ending::Abnormal(format!(
                        "{} is sent by servers only: protocol violation",
                        other.packet_type().name()
                    )));
                }
            };
            batch.push(msg);
            if batch.len() >= MAX_BATCH && !self.send_batch(&mut batch).await {
                return Flow::Stop(Ending::ClosedByBroker);
            }
        };
        if !self.send_batch(&mut batch).await {
            return Flow::Stop(Ending::ClosedByBroker);
        }
        flow
    }

    /// Hands the decoded inputs to the router; false when the router is gone.
    async fn send_batch(&self, batch: &mut Vec<Input>) -> bool {
        let msg = match batch.len() {
            0 => return true,
            1 => match batch.pop() {
                Some(i) => RouterMsg::Conn(i),
                None => return true,
            },
            _ => RouterMsg::Batch(std::mem::take(batch)),
        };
        self.ctx.router.send(msg).await.is_ok()
    }
}

/// Inputs per router mailbox message at most: the mailbox is bounded in messages, so this times its
/// depth bounds the inputs waiting for the router.
const MAX_BATCH: usize = 64;

/// Bytes reserved for one read.
const READ_CHUNK: usize = 4096;

/// An output buffer larger than this is released after it is written (a burst does not stay allocated).
const KEEP_OUTBUF: usize = 64 * 1024;

async fn wait_committed(rx: &mut watch::Receiver<u64>, barrier: Option<u64>) {
    let n = barrier.unwrap_or(0);
    if rx.wait_for(|c| *c >= n).await.is_err() {
        // The writer is gone (shutdown): nothing will commit; park until the shutdown branch fires.
        std::future::pending::<()>().await;
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
