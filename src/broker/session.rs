//! One client's session (MQTT 3.1.1 §3.1.2.4, OneNET spec §3.2): subscriptions, deliveries in flight and
//! waiting, packet-id allocation, QoS 2 messages held until PUBREL, and the will. It outlives connections
//! when clean session is 0, and every change to such a session is mirrored to the store.
//!
//! Plain data: what a session sends and stores goes into the router's [`Effects`] buffer.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::mqtt::{LastWill, Packet, Pid, QoS, TopicFilter};
use crate::store::StoreOp;

use super::message::{ConnId, Message, Outbound};
use super::router::Effects;

/// A QoS 1/2 delivery owed to this session. `seq` orders deliveries and keys them in the store.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub seq: u64,
    pub msg: Arc<Message>,
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
}

/// Limits a session applies to itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionLimits {
    pub inflight_window: usize,
    pub max_queued: usize,
}

#[derive(Debug)]
pub(crate) struct Session {
    pub client_id: Arc<str>,
    pub namespace: String,
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
    pub inflight: VecDeque<InFlight>,
    /// Waiting for room in the window (or for the client to come back).
    pub queue: VecDeque<Delivery>,
    /// QoS 2 messages received and PUBREC'd: pid → (message, retain flag) to route on PUBREL, or `None`
    /// when it was already handled at PUBLISH time (`$dp`, `$crsp`: stored before PUBREC).
    pub incoming: HashMap<u16, Option<(Arc<Message>, bool)>>,
    pub next_seq: u64,
    next_pid: u16,
    pub messages_in: u64,
    pub messages_out: u64,
    pub connected_at: Option<i64>,
    pub last_seen: Option<i64>,
    /// Deliveries discarded: queue full, or offline messages past the count/age limits.
    pub dropped: u64,
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
            namespace,
            persistent,
            conn: None,
            remote: None,
            keep_alive: 0,
            will: None,
            subscriptions: BTreeMap::new(),
            inflight: VecDeque::new(),
            queue: VecDeque::new(),
            incoming: HashMap::new(),
            next_seq: 1,
            next_pid: 1,
            messages_in: 0,
            messages_out: 0,
            connected_at: None,
            last_seen: None,
            dropped: 0,
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
        msg: Arc<Message>,
        qos: QoS,
        retain: bool,
        offline: Offline,
        now: i64,
        fx: &mut Effects,
        limits: SessionLimits,
    ) -> bool {
        let online = self.online();
        if qos == QoS::AtMostOnce && online {
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
        if !online {
            let keep = self.persistent
                && match offline {
                    Offline::QueueAll => true,
                    Offline::QueueQos12 => qos != QoS::AtMostOnce,
                    Offline::Skip => false,
                };
            if !keep {
                return false;
            }
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
        if self.queue.len() > limits.max_queued
            && let Some(old) = self.queue.pop_front()
        {
            self.dropped += 1;
            tracing::warn!(client = %self.client_id, topic = %old.msg.topic,
                "queue full ({} messages): oldest undelivered message dropped", limits.max_queued);
            self.forget(&old, fx);
        }
        self.pump(fx, limits);
        !online
    }

    fn forget(&self, d: &Delivery, fx: &mut Effects) {
        if self.persistent {
            fx.store(StoreOp::Dequeue {
                client_id: self.client(),
                seq: d.seq,
            });
        }
    }

    /// Drops every queued (not in-flight) delivery; returns how many.
    pub fn clear_queue(&mut self, fx: &mut Effects) -> usize {
        let q = std::mem::take(&mut self.queue);
        for d in &q {
            self.forget(d, fx);
        }
        q.len()
    }

    /// OneNET offline topic (§9 rule 5): of the messages waiting, keep only the latest `max_n` not older
    /// than `max_age_ms`. Returns how many were dropped.
    pub fn trim_offline(
        &mut self,
        max_n: usize,
        max_age_ms: i64,
        now: i64,
        fx: &mut Effects,
    ) -> usize {
        let before = self.queue.len();
        let cutoff = now - max_age_ms;
        let mut kept = std::collections::VecDeque::with_capacity(self.queue.len().min(max_n));
        let mut dropped = Vec::new();
        while let Some(d) = self.queue.pop_back() {
            if d.queued_at >= cutoff && kept.len() < max_n {
                kept.push_front(d);
            } else {
                dropped.push(d);
            }
        }
        for d in &dropped {
            self.forget(d, fx);
        }
        self.queue = kept;
        self.dropped += dropped.len() as u64;
        before - self.queue.len()
    }

    fn alloc_pid(&mut self) -> Pid {
        loop {
            let candidate =
                Pid::new(self.next_pid).unwrap_or_else(|| Pid::new(1).expect("1 is non-zero"));
            self.next_pid = candidate.next().get();
            if !self.inflight.iter().any(|f| f.pid == candidate) {
                return candidate;
            }
        }
    }

    /// Moves waiting deliveries into the window while online.
    pub fn pump(&mut self, fx: &mut Effects, limits: SessionLimits) {
        while self.online() && self.inflight.len() < limits.inflight_window {
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
            });
        }
    }

    /// Resends what is in flight (PUBLISH with DUP=1, or PUBREL), then fills the window: MQTT 3.1.1 §4.4.
    pub fn resume(&mut self, fx: &mut Effects, limits: SessionLimits) {
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
    pub fn on_pubrec(&mut self, pid: Pid, fx: &mut Effects) -> bool {
        let persistent = self.persistent;
        let client = self.client();
        let Some(f) = self
            .inflight
            .iter_mut()
            .find(|f| f.pid == pid && f.state != FlightState::Ack)
        else {
            return false;
        };
        if f.state == FlightState::Rec {
            f.state = FlightState::Comp;
            if persistent {
                fx.store(StoreOp::MarkReleased {
                    client_id: client,
                    seq: f.delivery.seq,
                });
            }
        }
        self.send(fx, Outbound::Packet(Packet::PubRel(pid)));
        true
    }
}
