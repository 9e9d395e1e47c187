//! One client's session (MQTT 3.1.1 §3.1.2.4, OneNET spec §3.2): subscriptions, deliveries in flight and
//! waiting, packet-id allocation, QoS 2 messages held until PUBREL, and the will. It outlives connections
//! when clean session is 0, and every change to such a session is mirrored to the store.
//!
//! Plain data: what a session sends and stores goes into the router's [`Effects`] buffer.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::mqtt::{LastWill, Packet, Pid, QoS, TopicFilter};
use crate::store::StoreOp;

use super::message::{ConnId, Message, OutGauge, Outbound};
use super::router::Effects;
use super::tally::Tally;

mod queues;
pub(crate) use queues::{Flights, Queue};

/// A QoS 1/2 delivery owed to this session. `seq` orders deliveries and keys them in the store.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub seq: u64,
    pub msg: Message,
    pub qos: QoS,
    pub retain: bool,
    /// Unix ms when queued: offline messages expire by age (spec §9).
    pub queued_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// What an in-flight delivery waits for.
pub(crate) enum FlightState {
    /// QoS 1 sent, waiting for PUBACK.
    Ack,
    /// QoS 2 sent, waiting for PUBREC.
    Rec,
    /// PUBREL sent, waiting for PUBCOMP.
    Comp,
}

#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub pid: Pid,
    pub delivery: Delivery,
    pub state: FlightState,
    /// Unix ms when last sent (PUBLISH or PUBREL): the acknowledgement timeout counts from here.
    pub sent_at: i64,
}

/// Limits a session applies to itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionLimits {
    pub inflight_window: usize,
    /// The window's bound in payload bytes, beside `inflight_window` in messages.
    pub max_inflight_bytes: usize,
    pub max_queued: usize,
    /// The queue's bound in payload bytes, beside `max_queued` in messages.
    pub max_queued_bytes: usize,
    pub max_out_bytes: usize,
    pub max_out_msgs: usize,
}

/// The namespace of every `mqtt` session, shared (an `Arc<str>` of "" is an allocation per session).
static UNNAMED: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from(""));

#[derive(Debug)]
pub(crate) struct Session {
    pub client_id: Arc<str>,
    pub namespace: Arc<str>,
    /// Clean session 0: survives disconnects and restarts, mirrored to the store.
    pub persistent: bool,
    /// The live connection, if any. `None` = offline.
    pub conn: Option<ConnId>,
    pub remote: Option<SocketAddr>,
    pub keep_alive: u16,
    pub will: Option<LastWill>,
    /// Filter text → (filter, requested QoS).
    pub subscriptions: BTreeMap<String, (TopicFilter, QoS)>,
    /// Sent, not yet fully acknowledged; oldest first.
    pub inflight: Flights,
    /// Waiting for room in the window (or for the client to come back).
    pub queue: Queue,
    /// QoS 2 messages received and PUBREC'd: pid → (message, retain flag) to route on PUBREL, or `None`
    /// when it was already handled at PUBLISH time (`$dp`, `$crsp`: stored before PUBREC).
    pub incoming: HashMap<u16, Option<(Message, bool)>>,
    pub next_seq: u64,
    next_pid: u16,
    pub messages_in: u64,
    pub messages_out: u64,
    pub connected_at: Option<i64>,
    pub last_seen: Option<i64>,
    /// Deliveries discarded: queue full, offline messages past the count/age limits, QoS 0 to a full
    /// connection.
    pub dropped: u64,
    /// Of `dropped`: QoS 0 messages dropped because the connection's output was full.
    pub dropped_qos0: u64,
    /// Drops not yet logged: one summary line per interval, not one per drop.
    pub drops_unlogged: Tally,
    /// The live connection's outbound gauge.
    pub gauge: Option<Arc<OutGauge>>,
    /// A close was asked for (acknowledgement timeout); its `Closed` has not arrived yet.
    pub closing: bool,
    /// Publishing connections paused because this session's queue reached the high watermark; resumed
    /// when it is down to half.
    pub blockers: Vec<ConnId>,
}

/// How a delivery to an offline session is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offline {
    /// MQTT 3.1.1: QoS 1/2 are kept for a persistent session, QoS 0 is not.
    QueueQos12,
    /// OneNET offline topic (§9): any QoS is kept for a persistent session.
    QueueAll,
    /// Wills (§9 rule 4) and HTTP pushes: only online sessions receive it.
    Skip,
}

impl Session {
    pub fn new(client_id: Arc<str>, namespace: String, persistent: bool) -> Session {
        Session {
            client_id,
            namespace: if namespace.is_empty() {
                UNNAMED.clone()
            } else {
                Arc::from(namespace)
            },
            persistent,
            conn: None,
            remote: None,
            keep_alive: 0,
            will: None,
            subscriptions: BTreeMap::new(),
            inflight: Flights::default(),
            queue: Queue::default(),
            incoming: HashMap::new(),
            next_seq: 1,
            next_pid: 1,
            messages_in: 0,
            messages_out: 0,
            connected_at: None,
            last_seen: None,
            dropped: 0,
            dropped_qos0: 0,
            drops_unlogged: Tally::default(),
            gauge: None,
            closing: false,
            blockers: Vec::new(),
        }
    }

    pub fn online(&self) -> bool {
        self.conn.is_some()
    }

    fn send(&self, fx: &mut Effects, o: Outbound) {
        if let Some(c) = self.conn {
            fx.send(c, o);
        }
    }

    fn client(&self) -> String {
        self.client_id.to_string()
    }

    /// Delivers `msg` at `qos`. Online: QoS 0 goes out at once, QoS 1/2 through the window. Offline: kept
    /// for a persistent session as `offline` says. Returns true if the message was queued while offline.
    #[allow(clippy::too_many_arguments)]
    pub fn deliver(
        &mut self,
        msg: Message,
        qos: QoS,
        retain: bool,
        offline: Offline,
        now: i64,
        fx: &mut Effects,
        limits: SessionLimits,
    ) -> bool {
        let online = self.online();
        if qos == QoS::AtMostOnce && online {
            if self.out_full(limits) {
                self.dropped += 1;
                self.dropped_qos0 += 1;
                fx.count_qos0_drop();
                self.drops_unlogged.add(1);
                self.report_drops(now, limits, fx);
                return false;
            }
            self.messages_out += 1;
            self.send(
                fx,
                Outbound::Publish {
                    msg,
                    qos,
                    pid: None,
                    dup: false,
                    retain,
                },
            );
            return false;
        }
        if !online && !self.keeps_offline(qos, offline) {
            return false;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.persistent {
            fx.store(StoreOp::Enqueue {
                client_id: self.client(),
                seq,
                topic: msg.topic.as_str().to_string(),
                payload: msg.payload.clone(),
                qos: qos as u8,
                retain,
                queued_at: now,
            });
        }
        self.queue.push_back(Delivery {
            seq,
            msg,
            qos,
            retain,
            queued_at: now,
        });
        // Online, nothing is dropped here: the router pauses the publishers instead (backpressure).
        if !online && self.trim_queue(limits.max_queued, limits.max_queued_bytes, fx) > 0 {
            self.report_drops(now, limits, fx);
        }
        self.pump(fx, limits);
        !online
    }

    /// Gives what the session keeps (queued and in flight) payloads of their own, for a session that goes
    /// offline: what it received while online are slices of the reads they came in, which would stay
    /// alive for as long as the device stays away.
    pub fn detach_kept(&mut self) {
        self.queue.detach_all();
        self.inflight.detach_all();
    }

    /// Whether a delivery at `qos` is kept for this session while it is offline, by `offline`'s rule.
    pub fn keeps_offline(&self, qos: QoS, offline: Offline) -> bool {
        self.persistent
            && match offline {
                Offline::QueueAll => true,
                Offline::QueueQos12 => qos != QoS::AtMostOnce,
                Offline::Skip => false,
            }
    }

    /// True when the connection's queued output is at either bound.
    pub fn out_full(&self, limits: SessionLimits) -> bool {
        self.gauge.as_ref().is_some_and(|g| {
            let (bytes, msgs) = g.load();
            bytes >= limits.max_out_bytes || msgs >= limits.max_out_msgs
        })
    }

    /// After new drops: logs them if a summary is due, else tells the router when it will be (its tick
    /// logs it then if no later drop does).
    fn report_drops(&mut self, now: i64, limits: SessionLimits, fx: &mut Effects) {
        self.log_drops(now, limits, false);
        if let Some(at) = self.drops_unlogged.due_at() {
            fx.drops_due(at);
        }
    }

    /// Logs the drops not yet logged, at most once per `tally::REPORT_EVERY_MS` (or now, when `force`).
    pub fn log_drops(&mut self, now: i64, limits: SessionLimits, force: bool) {
        let Some(dropped) = self.drops_unlogged.due(now, force) else {
            return;
        };
        tracing::warn!(
            client = %self.client_id,
            dropped,
            total = self.dropped,
            qos0_total = self.dropped_qos0,
            "messages dropped since the last report: QoS 0 to a connection whose output is full \
             ({} bytes / {} messages), or offline queue over {} messages / {} bytes",
            limits.max_out_bytes,
            limits.max_out_msgs,
            limits.max_queued,
            limits.max_queued_bytes
        );
    }

    fn forget(&self, d: &Delivery, fx: &mut Effects) {
        if self.persistent {
            fx.store(StoreOp::Dequeue {
                client_id: self.client(),
                seq: d.seq,
            });
        }
    }

    /// Drops the oldest queued deliveries beyond `max` of them or `max_bytes` of payload (an offline
    /// session: as it goes offline, and as more arrive for it); returns how many.
    pub fn trim_queue(&mut self, max: usize, max_bytes: usize, fx: &mut Effects) -> usize {
        let mut n = 0;
        while self.queue.over(max, max_bytes) {
            let Some(old) = self.queue.pop_front() else {
                break;
            };
            self.forget(&old, fx);
            n += 1;
        }
        self.dropped += n as u64;
        self.drops_unlogged.add(n as u64);
        n
    }

    /// Drops every queued (not in-flight) delivery; returns how many.
    pub fn clear_queue(&mut self, fx: &mut Effects) -> usize {
        let q = std::mem::take(&mut self.queue);
        for d in q.iter() {
            self.forget(d, fx);
        }
        q.len()
    }

    /// OneNET offline topic (§9 rule 5): of the messages the device missed, keep only the latest `max_n`
    /// not older than `max_age_ms`. The messages it missed are those queued *and* those sent but not
    /// acknowledged when it went away (in flight, waiting for PUBACK or PUBREC): the cap covers both, and
    /// the in-flight ones kept are then resent with DUP=1 and their packet id (MQTT 3.1.1 §4.4). A delivery
    /// waiting only for PUBCOMP reached the device already; its PUBREL is always resent. The messages kept
    /// also stay within `max_bytes` of payload (the newest is kept whatever its size). Returns how many
    /// were dropped.
    pub fn trim_offline(
        &mut self,
        (max_n, max_bytes): (usize, usize),
        max_age_ms: i64,
        now: i64,
        fx: &mut Effects,
    ) -> usize {
        let cutoff = now - max_age_ms;
        let (mut kept_n, mut kept_bytes, mut full) = (0usize, 0usize, false);
        // The newest run that fits: once one does not, no older one is kept (no gap in what is replayed).
        let mut keep = |d: &Delivery| {
            let size = d.msg.payload.len();
            full = full
                || d.queued_at < cutoff
                || kept_n >= max_n
                || (kept_n > 0 && kept_bytes + size > max_bytes);
            if !full {
                kept_n += 1;
                kept_bytes += size;
            }
            !full
        };
        let mut dropped = Vec::new();
        // Newest first: the queue (later seqs), then what was in flight.
        let mut kept = Queue::default();
        while let Some(d) = self.queue.pop_back() {
            if keep(&d) {
                kept.push_front(d);
            } else {
                dropped.push(d);
            }
        }
        self.queue = kept;
        let mut flights = Flights::default();
        while let Some(f) = self.inflight.pop_back() {
            // A PUBREL owed is always kept (short-circuit: it takes no place among the N).
            if f.state == FlightState::Comp || keep(&f.delivery) {
                flights.push_front(f);
            } else {
                dropped.push(f.delivery);
            }
        }
        self.inflight = flights;
        for d in &dropped {
            self.forget(d, fx);
        }
        self.dropped += dropped.len() as u64;
        dropped.len()
    }

    fn alloc_pid(&mut self) -> Pid {
        loop {
            let candidate = Pid::new(self.next_pid).unwrap_or(Pid::ONE);
            self.next_pid = candidate.next().get();
            if !self.inflight.iter().any(|f| f.pid == candidate) {
                return candidate;
            }
        }
    }

    /// Moves waiting deliveries into the window while online, while the window has room for the next one
    /// (in messages and in payload bytes; a QoS 0 one, queued while offline, takes no room and goes
    /// out as it comes), and while the connection's output is under its bound (one always goes when
    /// nothing is in flight, so an acknowledgement always comes to pump again).
    pub fn pump(&mut self, fx: &mut Effects, limits: SessionLimits) {
        while self.online() && (self.inflight.is_empty() || !self.out_full(limits)) {
            // A QoS 0 message (queued while offline, OneNET §9) takes no place in the window.
            if !self.queue.front().is_some_and(|next| {
                next.qos == QoS::AtMostOnce || self.inflight.room_for(next, limits)
            }) {
                break;
            }
            let Some(d) = self.queue.pop_front() else {
                break;
            };
            if d.qos == QoS::AtMostOnce {
                // Queued while offline (OneNET §9): goes out once, nothing to wait for.
                self.forget(&d, fx);
                self.messages_out += 1;
                self.send(
                    fx,
                    Outbound::Publish {
                        msg: d.msg,
                        qos: d.qos,
                        pid: None,
                        dup: false,
                        retain: d.retain,
                    },
                );
                continue;
            }
            let pid = self.alloc_pid();
            if self.persistent {
                fx.store(StoreOp::MarkSent {
                    client_id: self.client(),
                    seq: d.seq,
                    pid: pid.get(),
                });
            }
            self.messages_out += 1;
            self.send(
                fx,
                Outbound::Publish {
                    msg: d.msg.clone(),
                    qos: d.qos,
                    pid: Some(pid),
                    dup: false,
                    retain: d.retain,
                },
            );
            let state = if d.qos == QoS::ExactlyOnce {
                FlightState::Rec
            } else {
                FlightState::Ack
            };
            self.inflight.push_back(InFlight {
                pid,
                delivery: d,
                state,
                sent_at: fx.now(),
            });
            fx.mark_inflight_sent();
        }
    }

    /// Resends what is in flight (PUBLISH with DUP=1, or PUBREL), then fills the window: MQTT 3.1.1 §4.4.
    pub fn resume(&mut self, fx: &mut Effects, limits: SessionLimits) {
        self.inflight.sent_all_at(fx.now());
        let resend: Vec<Outbound> = self
            .inflight
            .iter()
            .map(|f| match f.state {
                FlightState::Comp => Outbound::Packet(Packet::PubRel(f.pid)),
                _ => Outbound::Publish {
                    msg: f.delivery.msg.clone(),
                    qos: f.delivery.qos,
                    pid: Some(f.pid),
                    dup: true,
                    retain: f.delivery.retain,
                },
            })
            .collect();
        for o in resend {
            self.send(fx, o);
        }
        self.pump(fx, limits);
    }

    fn finish(
        &mut self,
        pid: Pid,
        state: FlightState,
        fx: &mut Effects,
        limits: SessionLimits,
    ) -> bool {
        let Some(i) = self
            .inflight
            .iter()
            .position(|f| f.pid == pid && f.state == state)
        else {
            return false;
        };
        if let Some(f) = self.inflight.remove(i) {
            self.forget(&f.delivery, fx);
        }
        self.pump(fx, limits);
        true
    }

    /// PUBACK from the client. Returns false for an id not awaiting PUBACK.
    pub fn on_puback(&mut self, pid: Pid, fx: &mut Effects, limits: SessionLimits) -> bool {
        self.finish(pid, FlightState::Ack, fx, limits)
    }

    /// PUBCOMP from the client. Returns false for an id not awaiting PUBCOMP.
    pub fn on_pubcomp(&mut self, pid: Pid, fx: &mut Effects, limits: SessionLimits) -> bool {
        self.finish(pid, FlightState::Comp, fx, limits)
    }

    /// PUBREC from the client: answer PUBREL (also for a repeated PUBREC). Returns false for an unknown id.
    /// The payload goes at the first PUBREC (see `Flights::on_pubrec`), which may make room in the
    /// window's byte bound for what waits.
    pub fn on_pubrec(&mut self, pid: Pid, fx: &mut Effects, limits: SessionLimits) -> bool {
        let Some((seq, first)) = self.inflight.on_pubrec(pid, fx.now()) else {
            return false;
        };
        if first && self.persistent {
            fx.store(StoreOp::MarkReleased {
                client_id: self.client(),
                seq,
            });
        }
        self.send(fx, Outbound::Packet(Packet::PubRel(pid)));
        if first {
            self.pump(fx, limits);
        }
        true
    }
}
