//! The router: the one owner of sessions, the subscription index and retained messages.
//!
//! Connections send [`RouterMsg`]s through a bounded mailbox (a fast publisher is slowed by TCP, not by
//! memory); the router drains many per wake-up and never awaits anything but its mailbox, so no lock is
//! held and no publish waits for another. Durable effects go to the store writer as numbered ops, and an
//! acknowledgement that depends on them is queued behind an [`Outbound::Barrier`].

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Profile};
use crate::mqtt::{
    ConnAck, ConnectReturnCode, LastWill, Packet, Pid, Publish, QoS, QosPid, SubAck, SubackCode,
    TopicFilter,
};
use crate::onenet::topic::{PublishTarget, check_filter, classify_publish};
use crate::store::{LoadedState, StoreOp, StoreTx};

use super::message::{ConnId, Ending, Login, Message, Outbound, RouterMsg, SessionInfo};
use super::retained::{Retained, RetainedStore};
use super::session::{Delivery, FlightState, InFlight, Session, SessionLimits};
use super::subscriptions::SubscriptionIndex;

/// How the QoS of each delivery is chosen.
#[derive(Debug, Clone, Copy)]
enum DeliveryQos {
    /// A publish at this QoS: `onenet` delivers at it, `mqtt` at min(it, subscription).
    Published(QoS),
    /// OneNET retained wills: at each subscriber's requested QoS (spec §5).
    Requested,
}

pub(crate) struct Router {
    cfg: Arc<Config>,
    sessions: HashMap<Arc<str>, Session>,
    /// Live connection → its session's client id. A message from a connection not in here (taken over,
    /// already closed) is ignored.
    conns: HashMap<ConnId, Arc<str>>,
    subs: SubscriptionIndex,
    retained: RetainedStore,
    store: StoreTx,
    /// Reused per publish so routing does not allocate the subscriber list each time.
    scratch: Vec<(Arc<str>, QoS)>,
}

impl Router {
    /// Builds the router from what the store kept: sessions resume, retained messages are back.
    pub fn new(cfg: Arc<Config>, store: StoreTx, state: LoadedState) -> Router {
        let mut r = Router {
            cfg,
            sessions: HashMap::new(),
            conns: HashMap::new(),
            subs: SubscriptionIndex::default(),
            retained: RetainedStore::default(),
            store,
            scratch: Vec::new(),
        };
        for ls in state.sessions {
            let client: Arc<str> = Arc::from(ls.client_id.as_str());
            let mut s = Session::new(client.clone(), ls.namespace.clone(), true);
            for (filter, qos) in ls.subscriptions {
                let (Ok(f), Some(q)) = (TopicFilter::new(filter.clone()), QoS::from_u8(qos)) else {
                    tracing::warn!(client = %client, %filter, "stored subscription is not valid; skipped");
                    continue;
                };
                r.subs.insert(&ls.namespace, &f, &client, q);
                s.subscriptions.insert(filter, (f, q));
            }
            for q in ls.queue {
                let (Ok(topic), Some(qos)) =
                    (crate::mqtt::TopicName::new(q.topic), QoS::from_u8(q.qos))
                else {
                    continue;
                };
                let d = Delivery {
                    seq: q.seq,
                    msg: Arc::new(Message {
                        topic,
                        payload: q.payload,
                    }),
                    qos,
                    retain: q.retain,
                };
                s.next_seq = s.next_seq.max(q.seq + 1);
                match q.pid.and_then(Pid::new) {
                    Some(pid) => {
                        let state = match (qos, q.released) {
                            (QoS::ExactlyOnce, true) => FlightState::Comp,
                            (QoS::ExactlyOnce, false) => FlightState::Rec,
                            _ => FlightState::Ack,
                        };
                        s.inflight.push_back(InFlight {
                            pid,
                            delivery: d,
                            state,
                        });
                    }
                    None => s.queue.push_back(d),
                }
            }
            for (pid, topic, payload, retain) in ls.incoming {
                if let Ok(topic) = crate::mqtt::TopicName::new(topic) {
                    s.incoming
                        .insert(pid, (Arc::new(Message { topic, payload }), retain));
                }
            }
            r.sessions.insert(client, s);
        }
        for lr in state.retained {
            let (Ok(topic), Some(qos)) =
                (crate::mqtt::TopicName::new(lr.topic), QoS::from_u8(lr.qos))
            else {
                continue;
            };
            r.retained.set(
                &lr.namespace,
                Retained {
                    msg: Arc::new(Message {
                        topic,
                        payload: lr.payload,
                    }),
                    qos,
                    will_of: lr.will_of.map(|w| Arc::from(w.as_str())),
                },
            );
        }
        r
    }

    fn limits(&self) -> SessionLimits {
        SessionLimits {
            inflight_window: self.cfg.limits.inflight_window,
            max_queued: self.cfg.limits.max_queued_per_session,
        }
    }

    pub async fn run(mut self, mut rx: mpsc::Receiver<RouterMsg>, shutdown: CancellationToken) {
        let mut batch = Vec::with_capacity(512);
        loop {
            tokio::select! {
                n = rx.recv_many(&mut batch, 512) => {
                    if n == 0 {
                        break;
                    }
                    for m in batch.drain(..) {
                        self.handle(m);
                    }
                }
                _ = shutdown.cancelled() => break,
            }
        }
    }

    pub(crate) fn handle(&mut self, m: RouterMsg) {
        match m {
            RouterMsg::Login(l) => self.login(*l),
            RouterMsg::Publish { conn, publish } => self.publish(conn, publish),
            RouterMsg::PubAck { conn, pid } => {
                let (store, limits) = (self.store.clone(), self.limits());
                if let Some(s) = self.session_of(conn) {
                    s.on_puback(pid, &store, limits);
                }
            }
            RouterMsg::PubRec { conn, pid } => {
                let store = self.store.clone();
                if let Some(s) = self.session_of(conn) {
                    s.on_pubrec(pid, &store);
                }
            }
            RouterMsg::PubComp { conn, pid } => {
                let (store, limits) = (self.store.clone(), self.limits());
                if let Some(s) = self.session_of(conn) {
                    s.on_pubcomp(pid, &store, limits);
                }
            }
            RouterMsg::PubRel { conn, pid } => self.pubrel(conn, pid),
            RouterMsg::Subscribe { conn, pid, filters } => self.subscribe(conn, pid, filters),
            RouterMsg::Unsubscribe { conn, pid, filters } => self.unsubscribe(conn, pid, filters),
            RouterMsg::Closed { conn, ending } => self.closed(conn, ending),
            RouterMsg::Sessions(reply) => {
                let _ = reply.send(self.session_infos());
            }
            RouterMsg::Retained(reply) => {
                let _ = reply.send(self.retained.list());
            }
            RouterMsg::Kick { client_id, done } => {
                let kicked = match self
                    .sessions
                    .get(client_id.as_str())
                    .and_then(|s| s.conn.clone())
                {
                    Some(c) => {
                        c.send(Outbound::Close(super::message::CloseReason::Kicked));
                        true
                    }
                    None => false,
                };
                let _ = done.send(kicked);
            }
        }
    }

    fn session_of(&mut self, conn: ConnId) -> Option<&mut Session> {
        let client = self.conns.get(&conn)?;
        self.sessions.get_mut(client)
    }

    /// Sends `packet` to `conn`; when `since` ops were issued for this input, behind a barrier so the
    /// acknowledgement leaves only after they are committed.
    fn ack(&self, conn: &super::message::ConnTx, since: u64, packet: Packet) {
        let last = self.store.last();
        if last > since {
            conn.send(Outbound::Barrier(last));
        }
        conn.send(Outbound::Packet(packet));
    }

    fn login(&mut self, l: Login) {
        let client: Arc<str> = Arc::from(l.client_id.as_str());
        let onenet = self.cfg.profile == Profile::OneNet;
        if let Some(old) = self.sessions.get_mut(&client)
            && let Some(c) = old.conn.take()
        {
            tracing::info!(client = %client, "client id logged in again: previous connection closed (takeover)");
            self.conns.remove(&c.id);
            c.send(Outbound::Close(super::message::CloseReason::TakenOver));
        }
        if onenet {
            // OneNET: a device's retained will is cleared at its next normal login (spec §5).
            for (ns, topic) in self.retained.take_wills_of(&client) {
                self.store.send(StoreOp::ClearRetained {
                    namespace: ns,
                    topic,
                });
            }
        }
        let resumable = self
            .sessions
            .get(&client)
            .is_some_and(|s| s.persistent && s.namespace == l.namespace);
        let session_present = !l.clean_session && resumable;
        if !session_present && let Some(old) = self.sessions.remove(&client) {
            self.drop_subscriptions(&old);
            if old.persistent {
                self.store.send(StoreOp::DeleteSession {
                    client_id: client.to_string(),
                });
            }
        }
        if !session_present {
            let s = Session::new(client.clone(), l.namespace.clone(), !l.clean_session);
            if s.persistent {
                self.store.send(StoreOp::UpsertSession {
                    client_id: client.to_string(),
                    namespace: l.namespace.clone(),
                });
            }
            self.sessions.insert(client.clone(), s);
        }
        let (store, limits) = (self.store.clone(), self.limits());
        let Some(s) = self.sessions.get_mut(&client) else {
            return;
        };
        s.conn = Some(l.conn.clone());
        s.remote = Some(l.remote);
        s.keep_alive = l.keep_alive;
        s.will = l.will;
        self.conns.insert(l.conn.id, client.clone());
        l.conn.send(Outbound::Packet(Packet::ConnAck(ConnAck {
            session_present,
            code: ConnectReturnCode::Accepted,
        })));
        s.resume(&store, limits);
    }

    fn drop_subscriptions(&mut self, s: &Session) {
        for (f, _) in s.subscriptions.values() {
            self.subs.remove(&s.namespace, f, &s.client_id);
        }
    }

    fn publish(&mut self, conn: ConnId, p: Publish) {
        let Some(client) = self.conns.get(&conn).cloned() else {
            return;
        };
        let since = self.store.last();
        let onenet = self.cfg.profile == Profile::OneNet;
        let Some(s) = self.sessions.get_mut(&client) else {
            return;
        };
        s.messages_in += 1;
        let ns = s.namespace.clone();
        let persistent = s.persistent;
        let Some(c) = s.conn.clone() else { return };
        let msg = Arc::new(Message {
            topic: p.topic,
            payload: p.payload,
        });
        match p.qos_pid {
            QosPid::AtMostOnce => {
                self.route_publish(&client, &ns, msg, QoS::AtMostOnce, p.retain, onenet)
            }
            QosPid::AtLeastOnce(pid) => {
                self.route_publish(&client, &ns, msg, QoS::AtLeastOnce, p.retain, onenet);
                self.ack(&c, since, Packet::PubAck(pid));
            }
            QosPid::ExactlyOnce(pid) => {
                // Held until PUBREL (OneNET forwards after PUBCOMP, spec §5); a repeated PUBLISH with the
                // same id is the same message and is not stored twice.
                if let std::collections::hash_map::Entry::Vacant(slot) = s.incoming.entry(pid.get())
                {
                    if persistent {
                        self.store.send(StoreOp::HoldIncoming {
                            client_id: client.to_string(),
                            pid: pid.get(),
                            topic: msg.topic.as_str().to_string(),
                            payload: msg.payload.clone(),
                            retain: p.retain,
                        });
                    }
                    slot.insert((msg, p.retain));
                }
                self.ack(&c, since, Packet::PubRec(pid));
            }
        }
    }

    fn pubrel(&mut self, conn: ConnId, pid: Pid) {
        let Some(client) = self.conns.get(&conn).cloned() else {
            return;
        };
        let since = self.store.last();
        let onenet = self.cfg.profile == Profile::OneNet;
        let Some(s) = self.sessions.get_mut(&client) else {
            return;
        };
        let Some(c) = s.conn.clone() else { return };
        let ns = s.namespace.clone();
        let held = s.incoming.remove(&pid.get());
        if held.is_some() && s.persistent {
            self.store.send(StoreOp::ReleaseIncoming {
                client_id: client.to_string(),
                pid: pid.get(),
            });
        }
        self.ack(&c, since, Packet::PubComp(pid));
        if let Some((msg, retain)) = held {
            self.route_publish(&client, &ns, msg, QoS::ExactlyOnce, retain, onenet);
        }
    }

    /// A device's PUBLISH: OneNET's `$` topics are not routed; retain is applied; then fan-out.
    fn route_publish(
        &mut self,
        client: &str,
        ns: &str,
        msg: Arc<Message>,
        qos: QoS,
        retain: bool,
        onenet: bool,
    ) {
        if onenet {
            match classify_publish(msg.topic.as_str()) {
                PublishTarget::Device => {}
                PublishTarget::Datapoints => {
                    if retain {
                        tracing::warn!(
                            client,
                            "RETAIN=1 on $dp: datapoint upload does not support retain (spec §6); flag ignored"
                        );
                    }
                    tracing::debug!(client, bytes = msg.payload.len(), "$dp upload received");
                    return;
                }
                PublishTarget::CommandReply { uuid } => {
                    tracing::debug!(client, uuid, "$crsp received");
                    return;
                }
                PublishTarget::Reserved => {
                    tracing::warn!(client, topic = %msg.topic, "publish to a reserved '$' topic: not routed (spec §8.1)");
                    return;
                }
            }
        }
        if retain {
            self.set_retained(ns, &msg, qos, None);
        }
        self.route(ns, msg, DeliveryQos::Published(qos), false);
    }

    fn set_retained(&mut self, ns: &str, msg: &Arc<Message>, qos: QoS, will_of: Option<Arc<str>>) {
        let topic = msg.topic.as_str().to_string();
        if msg.payload.is_empty() {
            if self.retained.clear(ns, &topic) {
                self.store.send(StoreOp::ClearRetained {
                    namespace: ns.to_string(),
                    topic,
                });
            }
            return;
        }
        self.store.send(StoreOp::SetRetained {
            namespace: ns.to_string(),
            topic,
            payload: msg.payload.clone(),
            qos: qos as u8,
            will_of: will_of.as_ref().map(|w| w.to_string()),
        });
        self.retained.set(
            ns,
            Retained {
                msg: msg.clone(),
                qos,
                will_of,
            },
        );
    }

    /// Fan-out to every matching session of the namespace.
    fn route(&mut self, ns: &str, msg: Arc<Message>, dq: DeliveryQos, only_online: bool) {
        let mut targets = std::mem::take(&mut self.scratch);
        self.subs.collect(ns, &msg.topic, &mut targets);
        let onenet = self.cfg.profile == Profile::OneNet;
        let limits = self.limits();
        for (client, sub_qos) in targets.drain(..) {
            let Some(s) = self.sessions.get_mut(&client) else {
                continue;
            };
            if only_online && !s.online() {
                continue;
            }
            let qos = match dq {
                DeliveryQos::Published(q) if onenet => q,
                DeliveryQos::Published(q) => q.min(sub_qos),
                DeliveryQos::Requested => sub_qos,
            };
            s.deliver(msg.clone(), qos, false, &self.store, limits);
        }
        self.scratch = targets;
    }

    fn subscribe(&mut self, conn: ConnId, pid: Pid, filters: Vec<(TopicFilter, QoS)>) {
        let Some(client) = self.conns.get(&conn).cloned() else {
            return;
        };
        let since = self.store.last();
        let onenet = self.cfg.profile == Profile::OneNet;
        let max = self.cfg.limits.max_subscriptions;
        let retain_flag = !onenet || self.cfg.onenet.retain_flag_on_delivery;
        let Some(s) = self.sessions.get_mut(&client) else {
            return;
        };
        let Some(c) = s.conn.clone() else { return };
        let ns = s.namespace.clone();
        let mut codes = Vec::with_capacity(filters.len());
        let mut granted = Vec::new();
        for (f, req) in filters {
            let refusal = if onenet {
                check_filter(f.as_str()).err().map(|e| e.to_string())
            } else if f.as_str().starts_with('$') && !f.as_str().starts_with("$SYS/") {
                Some("filters starting with '$' are reserved".to_string())
            } else {
                None
            };
            let refusal = refusal.or_else(|| {
                (!s.subscriptions.contains_key(f.as_str()) && s.subscriptions.len() >= max)
                    .then(|| format!("limit of {max} subscriptions per client reached"))
            });
            if let Some(why) = refusal {
                tracing::info!(client = %client, filter = f.as_str(), "SUBSCRIBE refused (0x80): {why}");
                codes.push(SubackCode::Failure);
                continue;
            }
            if s.persistent {
                self.store.send(StoreOp::PutSubscription {
                    client_id: client.to_string(),
                    filter: f.as_str().to_string(),
                    qos: req as u8,
                });
            }
            self.subs.insert(&ns, &f, &client, req);
            s.subscriptions
                .insert(f.as_str().to_string(), (f.clone(), req));
            codes.push(SubackCode::Granted(req));
            granted.push((f, req));
        }
        self.ack(&c, since, Packet::SubAck(SubAck { pid, codes }));
        // Retained messages follow the SUBACK (MQTT 3.1.1 §3.8.4).
        let limits = self.limits();
        for (f, req) in granted {
            for r in self.retained.matching(&ns, &f) {
                let qos = if onenet { req } else { r.qos.min(req) };
                if let Some(s) = self.sessions.get_mut(&client) {
                    s.deliver(r.msg, qos, retain_flag, &self.store, limits);
                }
            }
        }
    }

    fn unsubscribe(&mut self, conn: ConnId, pid: Pid, filters: Vec<TopicFilter>) {
        let Some(client) = self.conns.get(&conn).cloned() else {
            return;
        };
        let since = self.store.last();
        let Some(s) = self.sessions.get_mut(&client) else {
            return;
        };
        let Some(c) = s.conn.clone() else { return };
        let ns = s.namespace.clone();
        for f in filters {
            if s.subscriptions.remove(f.as_str()).is_some() {
                self.subs.remove(&ns, &f, &client);
                if s.persistent {
                    self.store.send(StoreOp::DelSubscription {
                        client_id: client.to_string(),
                        filter: f.as_str().to_string(),
                    });
                }
            }
        }
        self.ack(&c, since, Packet::UnsubAck(pid));
    }

    fn closed(&mut self, conn: ConnId, ending: Ending) {
        let Some(client) = self.conns.remove(&conn) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&client) else {
            return;
        };
        if s.conn.as_ref().is_none_or(|c| c.id != conn) {
            return;
        }
        s.conn = None;
        let will = s.will.take();
        let ns = s.namespace.clone();
        let persistent = s.persistent;
        if !persistent && let Some(s) = self.sessions.remove(&client) {
            self.drop_subscriptions(&s);
        }
        if let (Ending::Abnormal(why), Some(will)) = (&ending, will) {
            tracing::info!(client = %client, topic = %will.topic, "publishing will: {why}");
            self.publish_will(&client, &ns, will);
        }
    }

    /// Spec §5: a retained will goes at each subscriber's requested QoS and stays retained (marked as this
    /// client's, cleared at its next login); otherwise at the will QoS. Wills reach only online subscribers
    /// in OneNET (§9 rule 4).
    fn publish_will(&mut self, client: &Arc<str>, ns: &str, will: LastWill) {
        let onenet = self.cfg.profile == Profile::OneNet;
        let msg = Arc::new(Message {
            topic: will.topic,
            payload: will.message,
        });
        if onenet && classify_publish(msg.topic.as_str()) != PublishTarget::Device {
            tracing::warn!(client = %client, topic = %msg.topic, "will topic is reserved: not published");
            return;
        }
        if will.retain {
            self.set_retained(ns, &msg, will.qos, onenet.then(|| client.clone()));
        }
        let dq = if onenet && will.retain {
            DeliveryQos::Requested
        } else {
            DeliveryQos::Published(will.qos)
        };
        self.route(ns, msg, dq, onenet);
    }

    fn session_infos(&self) -> Vec<SessionInfo> {
        let mut v: Vec<SessionInfo> = self
            .sessions
            .values()
            .map(|s| SessionInfo {
                client_id: s.client_id.to_string(),
                namespace: s.namespace.clone(),
                online: s.online(),
                remote: s.remote.map(|r| r.to_string()),
                clean_session: !s.persistent,
                keep_alive: s.keep_alive,
                subscriptions: s
                    .subscriptions
                    .iter()
                    .map(|(f, (_, q))| (f.clone(), *q as u8))
                    .collect(),
                inflight: s.inflight.len(),
                queued: s.queue.len(),
                messages_in: s.messages_in,
                messages_out: s.messages_out,
            })
            .collect();
        v.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        v
    }
}
