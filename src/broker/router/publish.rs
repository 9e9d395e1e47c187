//! PUBLISH from a client: acknowledgement per QoS, OneNET's `$` topics, retained messages, fan-out, wills.

use std::sync::Arc;

use crate::broker::message::{ConnId, Message, Outbound, SameClient};
use crate::broker::retained::Retained;
use crate::broker::session::Offline;
use crate::events::Event;
use crate::mqtt::{LastWill, Packet, Pid, Publish, QoS, QosPid};
use crate::onenet::diagnostics::DiagKind;
use crate::onenet::topic::{FilterRefusal, PublishTarget, check_filter, classify_publish};
use crate::store::StoreOp;

use super::Router;

/// How the QoS of each delivery is chosen.
#[derive(Debug, Clone, Copy)]
pub(super) enum DeliveryQos {
    /// A publish at this QoS: `onenet` delivers at it, `mqtt` at min(it, subscription).
    Published(QoS),
    /// OneNET retained wills: at each subscriber's requested QoS (spec §5).
    Requested,
}

/// What a PUBLISH became.
enum Handled {
    /// A device topic to route (now, or at PUBREL for QoS 2).
    Route(Message, bool),
    /// Consumed here (`$dp`, `$crsp`, reserved): nothing to route. `bad_dp`: a `$dp` payload that did not
    /// decode.
    Done { bad_dp: bool },
}

impl Router {
    pub(super) fn publish(
        &mut self,
        conn: ConnId,
        p: Publish,
        dp: Option<crate::events::SharedDp>,
    ) {
        // The namespace is copied into a buffer the router keeps, not cloned: a reference count taken
        // and dropped per message was a third of this function's own time in `qos0-4x4` (`perf annotate`).
        let mut ns = std::mem::take(&mut self.ns_buf);
        ns.clear();
        self.publish_in(conn, p, dp, &mut ns);
        self.ns_buf = ns;
    }

    /// [`Router::publish`], with `ns` the (empty) buffer for the publisher's namespace.
    fn publish_in(
        &mut self,
        conn: ConnId,
        p: Publish,
        dp: Option<crate::events::SharedDp>,
        ns: &mut String,
    ) {
        let since = self.fx.last_op();
        let now = self.now;
        // The session without a clone of its client id: that reference count was a tenth of the
        // router's own time per QoS 0 message; the id is looked up where it is needed.
        let Some(s) = self.live_mut(conn) else {
            return;
        };
        s.messages_in += 1;
        s.last_seen = Some(now);
        ns.push_str(&s.namespace);
        let ns = &*ns;
        let persistent = s.persistent;
        let qos = p.qos_pid.qos();
        // A repeated QoS 2 PUBLISH (DUP, same id) is the same message: acknowledge it again, nothing more.
        if let QosPid::ExactlyOnce(id) = p.qos_pid
            && s.incoming.contains_key(&id.get())
        {
            self.ack(conn, since, Packet::PubRec(id));
            return;
        }
        let msg = Message {
            topic: p.topic,
            payload: p.payload,
        };
        // The client id only where it is needed: OneNET's reserved topics and QoS 2's held message.
        let onenet = self.onenet();
        let client = match (onenet, p.qos_pid) {
            (false, QosPid::AtMostOnce | QosPid::AtLeastOnce(_)) => None,
            // Always there: `live_mut` found the session through it.
            _ => match self.conns.get(&conn) {
                Some(c) => Some(c.clone()),
                None => return,
            },
        };
        let handled = match &client {
            Some(client) if onenet => self.consume_onenet(client, ns, msg, qos, p.retain, dp),
            _ => Handled::Route(msg, p.retain),
        };
        let close_after = matches!(handled, Handled::Done { bad_dp: true })
            && self.cfg.onenet.disconnect_on_bad_dp;
        match (p.qos_pid, handled) {
            (QosPid::AtMostOnce, Handled::Route(m, r)) => {
                self.route_publish(ns, m, QoS::AtMostOnce, r)
            }
            (QosPid::AtMostOnce, Handled::Done { .. }) => {}
            (QosPid::AtLeastOnce(id), h) => {
                if let Handled::Route(m, r) = h {
                    self.route_publish(ns, m, QoS::AtLeastOnce, r);
                }
                self.ack(conn, since, Packet::PubAck(id));
            }
            (QosPid::ExactlyOnce(id), h) => {
                // Device topics are held until PUBREL (OneNET forwards after PUBCOMP, spec §5); `$dp`
                // and `$crsp` were handled (and stored) above, before the PUBREC leaves.
                let held = match h {
                    Handled::Route(m, r) => {
                        if persistent && let Some(client) = &client {
                            self.fx.store(StoreOp::HoldIncoming {
                                client_id: client.to_string(),
                                pid: id.get(),
                                topic: m.topic.as_str().to_string(),
                                payload: m.payload.clone(),
                                retain: r,
                            });
                        }
                        Some((m, r))
                    }
                    Handled::Done { .. } => None,
                };
                if let Some(s) = client.as_ref().and_then(|c| self.sessions.get_mut(c)) {
                    s.incoming.insert(id.get(), held);
                }
                self.ack(conn, since, Packet::PubRec(id));
            }
        }
        if close_after {
            let why = "bad $dp payload (the setting \"disconnect on bad $dp\" is on)".to_string();
            self.fx.send(
                conn,
                Outbound::Close(crate::broker::message::CloseReason::Protocol(why)),
            );
        }
    }

    pub(super) fn pubrel(&mut self, conn: ConnId, pid: Pid) {
        let since = self.fx.last_op();
        let Some((client, s)) = self.live(conn) else {
            return;
        };
        let ns = s.namespace.clone();
        let held = s.incoming.remove(&pid.get()).flatten();
        if held.is_some() && s.persistent {
            self.fx.store(StoreOp::ReleaseIncoming {
                client_id: client.to_string(),
                pid: pid.get(),
            });
        }
        self.ack(conn, since, Packet::PubComp(pid));
        if let Some((msg, retain)) = held {
            self.route_publish(&ns, msg, QoS::ExactlyOnce, retain);
        }
    }

    /// OneNET's reserved topics are consumed here; device topics are checked and handed back for routing
    /// (`onenet` profile only).
    fn consume_onenet(
        &mut self,
        client: &Arc<str>,
        ns: &str,
        msg: Message,
        qos: QoS,
        retain: bool,
        dp: Option<crate::events::SharedDp>,
    ) -> Handled {
        match classify_publish(msg.topic.as_str()) {
            PublishTarget::Device => {
                if let Err(e @ (FilterRefusal::Charset(_) | FilterRefusal::TooLong(_))) =
                    check_filter(msg.topic.as_str())
                {
                    self.diag(
                        client,
                        DiagKind::TopicCharset,
                        format!("PUBLISH to '{}': {e}", msg.topic),
                    );
                }
                Handled::Route(msg, retain)
            }
            PublishTarget::Datapoints => {
                if retain {
                    self.diag(
                        client,
                        DiagKind::RetainOnDp,
                        "RETAIN=1 on $dp: datapoint upload does not support retain; stored, not retained".into(),
                    );
                }
                // Decoded once, by the connection (in parallel, on its core); never again here.
                let Some(result) = dp else {
                    tracing::error!(client = %client, "$dp upload reached the router undecoded; not stored");
                    return Handled::Done { bad_dp: true };
                };
                let ok = self.datapoints(client, ns, qos, msg.payload, result);
                Handled::Done { bad_dp: !ok }
            }
            PublishTarget::CommandReply { uuid } => {
                self.command_reply(client, uuid, msg.payload);
                Handled::Done { bad_dp: false }
            }
            PublishTarget::Reserved => {
                self.diag(
                    client,
                    DiagKind::ReservedPublish,
                    format!("PUBLISH to reserved topic '{}': not routed (only $dp and $crsp/… are for devices)", msg.topic),
                );
                Handled::Done { bad_dp: false }
            }
        }
    }

    /// Applies retain, then fans out.
    pub(super) fn route_publish(&mut self, ns: &str, msg: Message, qos: QoS, retain: bool) {
        if retain {
            // The publisher is looked up only if the message is refused (`refuse_retained`).
            self.set_retained(ns, &msg, qos, None, None);
        }
        let offline = self.offline_rule();
        self.route(ns, msg, DeliveryQos::Published(qos), offline);
    }

    pub(super) fn set_retained(
        &mut self,
        ns: &str,
        msg: &Message,
        qos: QoS,
        will_of: Option<Arc<str>>,
        from: Option<Arc<str>>,
    ) {
        let topic = msg.topic.as_str().to_string();
        if msg.payload.is_empty() {
            self.clear_retained(ns, topic);
            return;
        }
        let l = &self.cfg.limits;
        let (max_count, max_bytes) = (l.max_retained_messages, l.max_retained_bytes);
        if !self
            .retained
            .fits(ns, &topic, msg.payload.len(), max_count, max_bytes)
        {
            self.refuse_retained(ns, topic, from);
            return;
        }
        self.fx.store(StoreOp::SetRetained {
            namespace: ns.to_string(),
            topic: topic.clone(),
            payload: msg.payload.clone(),
            qos: qos as u8,
            will_of: will_of.as_ref().map(|w| w.to_string()),
        });
        self.retained.set(
            ns,
            Retained {
                // Kept until replaced: not a slice of the read buffer it came in (`Message::detached`).
                msg: msg.detached(),
                qos,
                will_of,
            },
        );
        self.fx.event(Event::Retained {
            namespace: ns.to_string(),
            topic,
            present: true,
        });
    }

    fn clear_retained(&mut self, ns: &str, topic: String) {
        if self.retained.clear(ns, &topic) {
            self.fx.store(StoreOp::ClearRetained {
                namespace: ns.to_string(),
                topic: topic.clone(),
            });
            self.fx.event(Event::Retained {
                namespace: ns.to_string(),
                topic,
                present: false,
            });
        }
    }

    /// A retained message past `limits.max_retained_*`: delivered (by the caller) but not kept. MQTT
    /// 3.1.1 §3.3.1.3 lets a server discard a retained QoS 0 message but says a QoS 1/2 one MUST be
    /// stored: the bound is this project's decision (ARCHITECTURE, decisions), since unbounded it let one
    /// device grow the broker's memory and database without end. The topic's older message goes too: it
    /// is superseded, and a later subscriber must not take it for the latest. Counted in the metrics;
    /// reported to the publisher (`from`, else the connection being handled; a will's owner for a will)
    /// at most once per `tally::REPORT_EVERY_MS` per publisher, with its count.
    fn refuse_retained(&mut self, ns: &str, topic: String, from: Option<Arc<str>>) {
        crate::metrics::Metrics::add(&self.metrics.retained_refused, 1);
        let from = from
            .or_else(|| self.source.and_then(|c| self.conns.get(&c).cloned()))
            .unwrap_or_else(|| Arc::from("broker"));
        if let Some(n) = self.retained.refused(&from, self.now) {
            let bound = self.retained_bound();
            self.diag(
                &from,
                DiagKind::RetainedFull,
                format!(
                    "retained messages are at their bound ({bound}): '{topic}' was delivered but not kept, \
                     nor its older retained message; {n} of this client's refused since its last report"
                ),
            );
        }
        if let Some(at) = self.retained.refusals_due_at(&from) {
            self.refusals_due = Some(self.refusals_due.map_or(at, |d| d.min(at)));
        }
        self.clear_retained(ns, topic);
    }

    /// The retained store against its bounds, as a diagnostic says it.
    fn retained_bound(&self) -> String {
        let (count, bytes) = self.retained.totals();
        let l = &self.cfg.limits;
        format!(
            "{count} of limits.max_retained_messages {}, {bytes} of limits.max_retained_bytes {} payload bytes",
            l.max_retained_messages, l.max_retained_bytes
        )
    }

    /// Reports to each publisher its refused retained messages that were counted since its last report
    /// and not reported because it published no further refused message (the last interval of a
    /// burst); when the next report falls due, if any is left. A pass at most once per
    /// `SUMMARY_PASS_MS`, as for drops.
    pub(super) fn report_due_refusals(&mut self) {
        let (due, next) = self.retained.due_refusals(self.now);
        if !due.is_empty() {
            let bound = self.retained_bound();
            for (from, n) in due {
                self.diag(
                    &from,
                    DiagKind::RetainedFull,
                    format!(
                        "{n} more of this client's retained messages were delivered but not kept since its last \
                         report, the store being at its bound (now: {bound})"
                    ),
                );
            }
        }
        self.refusals_due = next.map(|n| n.max(self.now + super::SUMMARY_PASS_MS));
    }

    /// Fan-out to every matching session of the namespace.
    pub(super) fn route(&mut self, ns: &str, msg: Message, dq: DeliveryQos, offline: Offline) {
        let onenet = self.onenet();
        let limits = self.limits();
        let now = self.now;
        // Borrowed from the index (no copy of the subscriber list, no reference count per subscriber).
        let targets = self.subs.targets(ns, &msg.topic);
        // The last target gets the message itself, the others a clone: with one subscriber (the usual
        // case) no reference count is touched here. Those counts are shared with the threads that read
        // and write the message, so each touch is a cache line taken from another core.
        let last = targets.len().saturating_sub(1);
        let mut msg = Some(msg);
        // What an offline session keeps may wait for days: it gets a payload of its own (one copy for all
        // of them), not a slice that keeps the whole read it came in alive (`Message::detached`).
        let mut kept: Option<Message> = None;
        for (i, (client, sub_qos)) in targets.iter().enumerate() {
            let m = if i < last { msg.clone() } else { msg.take() };
            let Some(s) = self.sessions.get_mut(&SameClient(client)) else {
                continue;
            };
            let Some(m) = m else {
                continue;
            };
            let qos = match dq {
                DeliveryQos::Published(q) if onenet => q,
                DeliveryQos::Published(q) => q.min(*sub_qos),
                DeliveryQos::Requested => *sub_qos,
            };
            let m = if !s.online() && s.keeps_offline(qos, offline) {
                kept.get_or_insert_with(|| m.detached()).clone()
            } else {
                m
            };
            if s.deliver(m, qos, false, offline, now, &mut self.fx, limits) {
                self.fx.event(Event::OfflineQueue {
                    client_id: client.to_string(),
                    queued: s.queue.len() + s.inflight.len(),
                    dropped: s.dropped,
                });
            }
            self.holds.hold(&mut self.fx, s, limits, self.source);
        }
    }

    /// Spec §5: a retained will goes at each subscriber's requested QoS and stays retained (marked as this
    /// client's, cleared at its next login); otherwise at the will QoS. Wills reach only online subscribers
    /// in OneNET (§9 rule 4).
    pub(super) fn publish_will(&mut self, client: &Arc<str>, ns: &str, will: LastWill) {
        let onenet = self.onenet();
        let msg = Message {
            topic: will.topic,
            payload: will.message,
        };
        if onenet && classify_publish(msg.topic.as_str()) != PublishTarget::Device {
            self.diag(
                client,
                DiagKind::ReservedPublish,
                format!("will topic '{}' is reserved: not published", msg.topic),
            );
            return;
        }
        if will.retain {
            self.set_retained(
                ns,
                &msg,
                will.qos,
                onenet.then(|| client.clone()),
                Some(client.clone()),
            );
        }
        let dq = if onenet && will.retain {
            DeliveryQos::Requested
        } else {
            DeliveryQos::Published(will.qos)
        };
        let offline = if onenet {
            Offline::Skip
        } else {
            Offline::QueueQos12
        };
        self.route(ns, msg, dq, offline);
    }
}
