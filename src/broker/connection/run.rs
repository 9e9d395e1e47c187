//! The connection's loop after CONNECT: reads and decodes what the client sends (handing the router one
//! mailbox message per read), writes what the router queues in order (holding output behind an
//! uncommitted store barrier), and enforces keepalive, the PUBREL timeout and the stuck-reader timeout.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::Profile;
use crate::events::Direction;
use crate::metrics::Metrics;
use crate::mqtt::{
    Conformance, DecodeOptions, EncodeError, LastTopic, Packet, Pid, QosPid, decode_stream,
    decode_stream_frameless, encode_publish,
};
use crate::onenet::diagnostics::DiagKind;

use super::super::message::{
    CloseReason, Ending, Input, Message, OutGauge, Outbound, Outbox, RouterMsg,
};
use super::super::router::Lane;
use super::read::Taken;
use super::{ConnCtx, packet_event};

pub(super) struct Conn {
    pub(super) id: u64,
    pub(super) ctx: Arc<ConnCtx>,
    /// Shared with the outbox, which may write an acknowledgement to it while this task is idle
    /// (`Outbox::write_direct`); this task reads it and writes everything else.
    pub(super) stream: Arc<TcpStream>,
    /// This task told the outbox it holds output not yet written (`Outbox::take`, `Outbox::writing`).
    pub(super) writing: bool,
    pub(super) inbuf: BytesMut,
    /// The last PUBLISH topic read, shared by the next PUBLISH to the same topic (no copy).
    pub(super) last_topic: LastTopic,
    pub(super) outbuf: BytesMut,
    /// What the router queues here, and its pause flag: set while a subscriber this connection publishes
    /// to is over its window, so the connection stops reading and TCP slows the publisher down
    /// (backpressure instead of loss).
    pub(super) outbox: Arc<Outbox>,
    /// What the router queued here and is not yet encoded (see `OutGauge`).
    pub(super) gauge: Arc<OutGauge>,
    pub(super) keep_alive: Option<Duration>,
    /// PUBREC sent, PUBREL awaited: (packet id, deadline), oldest first.
    pub(super) pubrel_waits: VecDeque<(Pid, Instant)>,
    /// Output waiting behind `barrier`.
    pub(super) held: VecDeque<Outbound>,
    pub(super) barrier: Option<u64>,
    /// When the socket must next take a byte of the waiting output (`stuck_timeout` from the first wait
    /// since it last took one), and that timeout; cleared whenever it takes one (see
    /// `write::write_progressing`).
    pub(super) write_deadline: Option<(Instant, Duration)>,
    /// OneNET drops what a client sends before CONNACK (spec §3.2).
    pub(super) connack_sent: bool,
    /// Reading stopped for a pause with bytes left in `inbuf`: handled as soon as the pause is lifted.
    pub(super) input_held: bool,
    /// A read while held found the end of the stream: no more reads until the hold ends (the read
    /// branch then sees it again, after the packets already buffered).
    pub(super) held_eof: bool,
    /// How much of `inbuf` reads while held have looked through for acknowledgements (`read::take_acks`);
    /// 0 again once packets are handled from its front.
    pub(super) held_scanned: usize,
    pub(super) client_id: String,
    /// This connection's inputs waiting in the router's mailbox (see `Hub::send`).
    pub(super) lane: Arc<Lane>,
}

enum Flow {
    Continue,
    Stop(Ending),
}

impl Conn {
    pub(super) async fn run(&mut self) -> Ending {
        let mut committed = self.ctx.committed.clone();
        // Keepalive: one timer, moved only when it fires early (bytes came since it was set), not at
        // every read: re-arming a timer per packet cost a timer-wheel insert and removal per message.
        let mut last_heard = Instant::now();
        let ka_timer = tokio::time::sleep_until(last_heard + self.keep_alive.unwrap_or_default());
        tokio::pin!(ka_timer);
        // One waiter for the whole connection, on a token of its own: a future made afresh every turn
        // registered with (and left) the shared token's waiter list under its locks, which every
        // connection's thread took several times per turn.
        let shutdown = self.ctx.shutdown.child_token();
        let cancelled = shutdown.cancelled();
        tokio::pin!(cancelled);
        let mut was_paused = false;
        // Bytes that arrived with the CONNECT (a client that pipelines) are handled now, not at the next
        // read: held until the CONNACK in `mqtt` (see `input_waits`), dropped as "before CONNACK" in
        // `onenet`.
        if !self.inbuf.is_empty()
            && let Flow::Stop(e) = self.read_packets_boxed().await
        {
            return e;
        }
        loop {
            let pubrel_deadline = self.pubrel_waits.front().map(|(_, d)| *d);
            let paused = self.input_waits();
            if was_paused && !paused {
                // Keepalive counts from when reading resumes: a paused client was not silent.
                last_heard = Instant::now();
            }
            was_paused = paused;
            let flow = if !paused && self.input_held {
                // The pause was lifted: the packets already read are handled now, since the socket may
                // have nothing more to wake the read branch (the client waits for acks).
                self.read_packets_boxed().await
            } else {
                let draining = self.barrier.is_none() && !self.held.is_empty();
                tokio::select! {
                    biased;
                    _ = &mut cancelled => Flow::Stop(Ending::ClosedByBroker),
                    // The rest of a backlog taken earlier: its next chunk (see `drain_output`), after the
                    // shutdown check, so a long backlog to a slow reader does not hold up a shutdown.
                    () = std::future::ready(()), if draining => self.drain_output(&committed),
                    // New output, or the pause flag changed (the next turn looks at it).
                    _ = self.outbox.changed() => {
                        self.writing |= self.outbox.take(&mut self.held);
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
                    // Readiness first, then a buffer: an idle connection waits without one. The socket's
                    // one reader slot (this task is its only reader), not `readable()`, whose future
                    // joins the socket's waiter list when polled and leaves it when dropped, a lock
                    // each way every turn; the slot takes that lock only to store the waker.
                    r = std::future::poll_fn(|cx| self.stream.poll_read_ready(cx)), if !paused => match r.and_then(|()| {
                        super::read::read_some(
                            &self.stream,
                            &mut self.inbuf,
                            Some(self.ctx.cfg.limits.max_packet),
                        )
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
                            last_heard = Instant::now();
                            let flow = self.read_packets_boxed().await;
                            if self.inbuf.is_empty() {
                                self.inbuf = BytesMut::new();
                            }
                            flow
                        }
                    },
                    // Held back by a full subscriber: the client's acknowledgements are still read (up
                    // to `HELD_READ` buffered), since they may be what drains that subscriber.
                    r = std::future::poll_fn(|cx| self.stream.poll_read_ready(cx)), if paused && self.reads_acks() => {
                        match r.and_then(|()| super::read::read_some(&self.stream, &mut self.inbuf, None)) {
                            Ok(0) => {
                                // Seen again when let go, after what it sent before.
                                self.held_eof = true;
                                Flow::Continue
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Flow::Continue,
                            Err(e) => Flow::Stop(Ending::Abnormal(format!("socket error: {e}"))),
                            Ok(n) => {
                                Metrics::add(&self.ctx.metrics.bytes_in, n as u64);
                                let flow = self.held_acks().await;
                                self.input_held = !self.inbuf.is_empty();
                                if !self.input_held {
                                    self.inbuf = BytesMut::new();
                                }
                                flow
                            }
                        }
                    }
                    _ = &mut ka_timer, if self.keep_alive.is_some() && !paused => {
                        let due = last_heard + self.keep_alive.unwrap_or_default();
                        if Instant::now() < due {
                            ka_timer.as_mut().reset(due);
                            Flow::Continue
                        } else {
                            Flow::Stop(Ending::Abnormal(format!(
                                "keepalive expired: nothing received for 1.5 × {} s", self.keep_alive.map(|k| k.as_millis() / 1500).unwrap_or(0)
                            )))
                        }
                    }
                    _ = sleep_until_opt(pubrel_deadline), if pubrel_deadline.is_some() => {
                        let pid = self.pubrel_waits.front().map(|(p, _)| p.get()).unwrap_or(0);
                        Flow::Stop(Ending::Abnormal(format!(
                            "PUBREL for packet id {pid} not received within {:?} (spec §5)", self.ctx.cfg.limits.pubrel_timeout
                        )))
                    }
                }
            };
            if !self.outbuf.is_empty()
                && let Err(e) = self.write_out(cancelled.as_mut()).await
            {
                return e;
            }
            // (`write_deadline` needs no reset here: a write that returns took bytes, which clears it.)
            self.keep_or_release_buffers();
            if self.writing && self.outbuf.is_empty() && self.held.is_empty() {
                self.outbox.written();
                self.writing = false;
            }
            if let Flow::Stop(e) = flow {
                return e;
            }
        }
    }

    /// Encodes taken output up to the first barrier that is not yet committed, or up to about
    /// `KEEP_OUTBUF` bytes (the rest waits in `held` for the next turn).
    fn drain_output(&mut self, committed: &watch::Receiver<u64>) -> Flow {
        // The whole burst's room at once (the gauge counts about the encoded size of what is queued),
        // instead of growing the buffer by doubling as packets are encoded: those reallocations were
        // the largest allocation cost per message in the QoS 1 profile.
        if !self.held.is_empty() {
            self.outbuf.reserve(self.gauge.load().0.min(KEEP_OUTBUF));
        }
        let watched = self.ctx.events.watched();
        // Counted here and added once: the counter is shared by every connection's thread.
        let mut publishes = 0u64;
        // What leaves the gauge, subtracted once at the end of the burst (see `OutGauge::sub_n`); the
        // gauge reads a little high meanwhile, which only errs towards the bound.
        let (mut taken_bytes, mut taken) = (0usize, 0usize);
        let flow = loop {
            // At most about `KEEP_OUTBUF` per write: a backlog goes out in chunks through one buffer
            // that stays in cache, not through a buffer grown (copied, faulted in) to the backlog's size.
            // The margin covers a packet's encoding overhead beyond its weight.
            let next = self.held.front().map_or(0, Outbound::weight);
            if !self.outbuf.is_empty() && self.outbuf.len() + next + 16 > KEEP_OUTBUF {
                break Flow::Continue;
            }
            let Some(o) = self.held.pop_front() else {
                break Flow::Continue;
            };
            taken_bytes += o.weight();
            taken += 1;
            match o {
                Outbound::Barrier(n) => {
                    if *committed.borrow() < n {
                        self.barrier = Some(n);
                        break Flow::Continue;
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
                    self.encode(&p, watched);
                }
                Outbound::Publish {
                    msg,
                    qos,
                    pid,
                    dup,
                    retain,
                } => {
                    publishes += 1;
                    let qos_pid = match pid {
                        Some(pid) => QosPid::from_parts(qos, pid),
                        None => QosPid::AtMostOnce,
                    };
                    self.encode_delivery(&msg, qos_pid, dup, retain, watched);
                }
                Outbound::Raw(b) => self.outbuf.extend_from_slice(&b),
                Outbound::Close(reason) => {
                    tracing::info!(client = %self.client_id, ?reason, "closing connection");
                    // A protocol violation is an abnormal end (the will goes out); takeover, kick and
                    // shutdown are not.
                    break Flow::Stop(match reason {
                        CloseReason::Protocol(why) => Ending::Abnormal(why),
                        _ => Ending::ClosedByBroker,
                    });
                }
            }
        };
        if taken > 0 {
            self.gauge.sub_n(taken_bytes, taken);
        }
        if publishes > 0 {
            Metrics::add(&self.ctx.metrics.publishes_out, publishes);
        }
        flow
    }

    /// After a write: the write buffer and the taken-output deque are kept while the burst goes on (more
    /// output held or queued), so neither is allocated and grown afresh for every write, and the deque
    /// goes back to the outbox at the next take (`Outbox::take` swaps buffers). When the connection goes
    /// idle both are released, and the outbox lets go of its own, so an idle connection holds none. A
    /// write buffer that one large packet grew past `KEEP_OUTBUF` is released at once.
    fn keep_or_release_buffers(&mut self) {
        // Nothing held: nothing to decide (and no read of the gauge, a line the router writes from
        // other threads,
        // on every turn of a connection that only reads).
        if self.outbuf.capacity() == 0 && self.held.capacity() == 0 {
            return;
        }
        let idle = self.held.is_empty() && self.gauge.load().1 == 0;
        if self.outbuf.capacity() > KEEP_OUTBUF || idle {
            self.outbuf = BytesMut::new();
        } else {
            self.outbuf.clear();
        }
        if idle && self.held.capacity() > 0 {
            self.held = VecDeque::new();
            self.outbox.release_room();
        } else if self.held.is_empty() && self.held.capacity() > HELD_KEEP {
            // Not handed back to the outbox beyond this: spare room there is not counted in the gauge.
            self.held = VecDeque::new();
        }
    }

    /// Tells the outbox that this task holds output not yet written (once until it is written).
    pub(super) fn mark_writing(&mut self) {
        if !self.writing {
            self.outbox.writing();
            self.writing = true;
        }
    }

    /// Answers a PINGREQ, here rather than in the router. Marked as writing before the bytes are in the
    /// buffer: a direct write to the socket (see `Outbox::write_direct`) must not start between the
    /// encoding and the write.
    fn answer_ping(&mut self, watched: bool) {
        self.mark_writing();
        self.encode(&Packet::PingResp, watched);
    }

    /// Encodes `p` into the output buffer; `watched`: whether anyone reads events, asked once per burst
    /// by the caller (asking takes the event channel's lock, shared by every connection: once per
    /// packet in both directions, that was a contended lock per packet).
    fn encode(&mut self, p: &Packet, watched: bool) {
        let start = self.outbuf.len();
        let result = p.encode(&mut self.outbuf);
        self.encoded(start, result, p.packet_type().name(), watched);
    }

    /// [`Conn::encode`] for a routed message, written from the shared `Message` without cloning its
    /// topic and payload into a `Packet`.
    fn encode_delivery(
        &mut self,
        msg: &Message,
        qos_pid: QosPid,
        dup: bool,
        retain: bool,
        watched: bool,
    ) {
        let start = self.outbuf.len();
        let topic = msg.topic.as_str();
        let result = encode_publish(&mut self.outbuf, topic, qos_pid, dup, retain, &msg.payload);
        self.encoded(start, result, "PUBLISH", watched);
    }

    /// After an encode that began at `start`: the error logged, or the packet event sent when watched.
    fn encoded(&self, start: usize, result: Result<(), EncodeError>, packet: &str, watched: bool) {
        if let Err(e) = result {
            tracing::error!(client = %self.client_id, packet, "cannot encode: {e}");
            return;
        }
        if watched && let Some(b) = self.outbuf.get(start..) {
            packet_event(
                &self.ctx.events,
                Some(&self.client_id),
                Direction::Out,
                b,
                None,
            );
        }
    }

    pub(super) async fn diagnostic(&self, kind: DiagKind, message: String) {
        let _ = self
            .ctx
            .hub
            .send(
                &self.lane,
                RouterMsg::Conn(Input::Diagnostic {
                    conn: self.id,
                    kind,
                    message,
                }),
            )
            .await;
    }

    /// [`Conn::read_packets`] on the heap: its state (a decoded packet, the batch, the mailbox send) is
    /// then allocated only while input is handled, instead of being part of every idle connection's task.
    fn read_packets_boxed(
        &mut self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Flow> + Send + '_>> {
        Box::pin(self.read_packets())
    }

    /// Whether input waits: while the router holds this client back (a subscriber it feeds is full), and,
    /// in `mqtt`, until its CONNACK is written (a client that sends before it waits for its login to be
    /// handled: a hold carried over from its previous connection is in place by then, so a held client
    /// that reconnects gets nothing in first; `onenet` drops such packets, as the platform does).
    #[inline]
    fn input_waits(&self) -> bool {
        self.outbox.paused() || (!self.connack_sent && self.ctx.cfg.profile == Profile::Mqtt)
    }

    /// Whether a held connection reads on: held by the router (not waiting for its CONNACK), its client
    /// still sending, and less than `HELD_READ` buffered. A client that ignores its own flow control and
    /// sends more than that ahead of its acknowledgements is left waiting, as before, for `ack_timeout`
    /// or the subscriber that holds it.
    fn reads_acks(&self) -> bool {
        !self.held_eof && self.connack_sent && self.outbox.paused() && self.inbuf.len() < HELD_READ
    }

    /// Hands the router the acknowledgements in the input buffer and answers its PINGREQs (see
    /// `read::take_acks`), the rest left waiting for the hold to end.
    async fn held_acks(&mut self) -> Flow {
        let max = self.ctx.cfg.limits.max_packet;
        let taken = super::read::take_acks(&mut self.inbuf, &mut self.held_scanned, max);
        if taken.is_empty() {
            return Flow::Continue;
        }
        let watched = self.ctx.events.watched();
        let mut batch = Vec::with_capacity(taken.len());
        let conn = self.id;
        for t in taken {
            if watched {
                let frame: &[u8] = match &t {
                    Taken::Ack(frame, _) => frame,
                    Taken::Ping => &[0xC0, 0],
                };
                packet_event(
                    &self.ctx.events,
                    Some(&self.client_id),
                    Direction::In,
                    frame,
                    None,
                );
            }
            let (first, pid) = match t {
                Taken::Ack(frame, pid) => (frame[0], pid),
                Taken::Ping => {
                    self.answer_ping(watched);
                    continue;
                }
            };
            batch.push(match first {
                0x40 => Input::PubAck { conn, pid },
                0x50 => Input::PubRec { conn, pid },
                _ => Input::PubComp { conn, pid },
            });
            if batch.len() >= MAX_BATCH && !self.send_batch(&mut batch).await {
                return Flow::Stop(Ending::ClosedByBroker);
            }
        }
        if !self.send_batch(&mut batch).await {
            return Flow::Stop(Ending::ClosedByBroker);
        }
        Flow::Continue
    }

    /// Decodes every complete packet in the input buffer and acts on it.
    async fn read_packets(&mut self) -> Flow {
        let max = self.ctx.cfg.limits.max_packet;
        let onenet = self.ctx.cfg.profile == Profile::OneNet;
        self.input_held = false;
        self.held_scanned = 0;
        // What this read decoded, handed to the router in one mailbox message (one wake-up of the router
        // per read, not per packet); at most `MAX_BATCH`, and sent before anything else the connection
        // tells the router, so the router sees this client's packets in order.
        // Sized for what the buffer holds (4 bytes per packet at least, a PUBACK), so it does not grow
        // by doubling while it fills.
        let mut batch = Vec::with_capacity(batch_room(self.inbuf.len()));
        // Asked once per read, not per packet (see `encode`).
        let watched = self.ctx.events.watched();
        let flow = loop {
            // Paused (a subscriber this client feeds is full), or before its CONNACK: the rest waits
            // in the buffer.
            if self.input_waits() {
                self.input_held = !self.inbuf.is_empty();
                break Flow::Continue;
            }
            // OneNET refuses a `room#1` filter with 0x80 and grants the rest (§13): the router refuses it.
            let opts = DecodeOptions {
                lenient_wildcards: onenet,
            };
            // The frame only for packet events (see `decode_stream_frameless`).
            let decoded = if watched {
                decode_stream(&mut self.inbuf, max, opts, &mut self.last_topic)
            } else {
                decode_stream_frameless(&mut self.inbuf, max, opts, &mut self.last_topic)
            };
            let d = match decoded {
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
            // A `$dp` upload is decoded here, once (decoding then runs on every core); the router, the
            // store and the packet event share the result. Not for one dropped before CONNACK.
            let dp = match &d.packet {
                Packet::Publish(p) if onenet && self.connack_sent && p.topic.as_str() == "$dp" => {
                    Some(crate::onenet::datapoint::decode(&p.payload, &self.ctx.dp()).map(Arc::new))
                }
                _ => None,
            };
            if watched {
                packet_event(
                    &self.ctx.events,
                    Some(&self.client_id),
                    Direction::In,
                    &d.frame,
                    dp.clone(),
                );
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
                    self.answer_ping(watched);
                    continue;
                }
                Packet::Disconnect => break Flow::Stop(Ending::Graceful),
                Packet::Publish(publish) => Input::Publish {
                    conn: id,
                    publish,
                    dp,
                },
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
            if batch.len() >= MAX_BATCH {
                if !self.send_batch(&mut batch).await {
                    return Flow::Stop(Ending::ClosedByBroker);
                }
                batch.reserve(batch_room(self.inbuf.len()));
            }
        };
        if !self.send_batch(&mut batch).await {
            return Flow::Stop(Ending::ClosedByBroker);
        }
        flow
    }

    /// Hands the decoded inputs to the router; false when the router is gone.
    async fn send_batch(&self, batch: &mut Vec<Input>) -> bool {
        // Counted per batch, not per packet: the counter is shared by every connection's thread.
        let publishes = batch
            .iter()
            .filter(|i| matches!(i, Input::Publish { .. }))
            .count();
        if publishes > 0 {
            Metrics::add(&self.ctx.metrics.publishes_in, publishes as u64);
        }
        let msg = match batch.len() {
            0 => return true,
            1 => match batch.pop() {
                Some(i) => RouterMsg::Conn(i),
                None => return true,
            },
            _ => RouterMsg::Batch(std::mem::take(batch)),
        };
        self.ctx.hub.send(&self.lane, msg).await
    }
}

/// Room for the inputs `buffered` bytes can hold (at least 1, at most a batch).
fn batch_room(buffered: usize) -> usize {
    (buffered / 4).clamp(1, MAX_BATCH)
}

/// Inputs per router mailbox message at most: the mailbox is bounded in messages, so this times its
/// depth bounds the inputs waiting for the router.
const MAX_BATCH: usize = 64;

/// Bytes a held connection buffers while it looks for acknowledgements: what a client keeps in flight
/// ahead of them (64 PUBLISHes of 1 KiB, say) fits.
const HELD_READ: usize = 64 * 1024;

/// Bytes reserved for one read.
pub(super) const READ_CHUNK: usize = 4096;

/// Entries of spare room the taken-output deque keeps through a burst (and hands to the outbox) at most.
const HELD_KEEP: usize = 1024;

/// Output encoded per write at most (about; one packet larger than it goes alone); a write buffer grown
/// past it is released after the write.
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
