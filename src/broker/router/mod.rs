//! The router: the one owner of sessions, the subscription index, retained messages, live commands and
//! diagnostics.
//!
//! Connections send [`RouterMsg`]s through a bounded mailbox (a fast publisher is slowed by TCP, not by
//! memory); the router drains many per wake-up and never awaits anything but its mailbox and its command
//! timer, so no lock is held and no publish waits for another. Durable effects go to the store writer as
//! numbered ops, and an acknowledgement that depends on them is queued behind an [`Outbound::Barrier`].
//!
//! Split by concern: this file has the loop, logins and subscriptions; `publish` routing, retained and
//! wills; `onenet` the data plane (datapoints, commands, diagnostics).

mod admin;
mod load;
mod onenet;
mod publish;

use admin::queue_infos;

pub(crate) use onenet::dp_options;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Profile};
use crate::events::{Event, Events};
use crate::mqtt::{ConnAck, ConnectReturnCode, Packet, Pid, QoS, SubAck, SubackCode, TopicFilter};
use crate::onenet::commands::CommandBook;
use crate::onenet::diagnostics::{DiagKind, Diagnostics};
use crate::onenet::topic::{FilterRefusal, check_filter};
use crate::store::{LoadedState, StoreOp, StoreTx, now_millis};

use super::message::{CloseReason, ConnId, ConnTx, Ending, Login, Outbound, RouterMsg};
use super::retained::RetainedStore;
use super::session::{Offline, Session, SessionLimits};
use super::subscriptions::SubscriptionIndex;

pub(crate) struct Router {
    cfg: Arc<Config>,
    sessions: HashMap<Arc<str>, Session>,
    /// Live connection → its session's client id. A message from a connection not in here (taken over,
    /// already closed) is ignored.
    conns: HashMap<ConnId, Arc<str>>,
    subs: SubscriptionIndex,
    retained: RetainedStore,
    store: StoreTx,
    events: Events,
    diags: Diagnostics,
    commands: CommandBook,
    metrics: Arc<crate::metrics::Metrics>,
    /// Reused per publish so routing does not allocate the subscriber list each time.
    scratch: Vec<(Arc<str>, QoS)>,
}

impl Router {
    pub fn new(
        cfg: Arc<Config>,
        store: StoreTx,
        events: Events,
        metrics: Arc<crate::metrics::Metrics>,
        state: LoadedState,
    ) -> Router {
        let o = &cfg.onenet;
        let mut r = Router {
            diags: Diagnostics::new(o.diagnostics_per_device),
            commands: CommandBook::new(
                o.command_response_window.as_millis() as i64,
                o.command_reply_limit,
            ),
            cfg,
            sessions: HashMap::new(),
            conns: HashMap::new(),
            subs: SubscriptionIndex::default(),
            retained: RetainedStore::default(),
            store,
            events,
            metrics,
            scratch: Vec::new(),
        };
        r.load(state);
        r
    }

    fn onenet(&self) -> bool {
        self.cfg.profile == Profile::OneNet
    }

    fn limits(&self) -> SessionLimits {
        SessionLimits {
            inflight_window: self.cfg.limits.inflight_window,
            max_queued: self.cfg.limits.max_queued_per_session,
        }
    }

    /// What happens to a publish for an offline persistent session.
    fn offline_rule(&self) -> Offline {
        if self.onenet() {
            Offline::QueueAll
        } else {
            Offline::QueueQos12
        }
    }

    pub async fn run(mut self, mut rx: mpsc::Receiver<RouterMsg>, shutdown: CancellationToken) {
        let mut batch = Vec::with_capacity(512);
        loop {
            let deadline = self.commands.next_deadline();
            tokio::select! {
                n = rx.recv_many(&mut batch, 512) => {
                    if n == 0 {
                        break;
                    }
                    for m in batch.drain(..) {
                        self.handle(m);
                    }
                }
                _ = sleep_until_millis(deadline), if deadline.is_some() => self.command_tick(),
                _ = shutdown.cancelled() => break,
            }
        }
    }

    pub(crate) fn handle(&mut self, m: RouterMsg) {
        match m {
            RouterMsg::Login(l) => self.login(*l),
            RouterMsg::Publish { conn, publish, dp } => self.publish(conn, publish, dp),
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
            RouterMsg::Diagnostic {
                conn,
                kind,
                message,
            } => {
                if let Some(client) = self.conns.get(&conn).cloned() {
                    self.diag(&client, kind, message);
                }
            }
            RouterMsg::Sessions(reply) => {
                let _ = reply.send(self.session_infos());
            }
            RouterMsg::Retained(reply) => {
                let _ = reply.send(self.retained.list());
            }
            RouterMsg::SetConfig { cfg, done } => {
                let o = &cfg.onenet;
                self.commands.set_limits(
                    o.command_response_window.as_millis() as i64,
                    o.command_reply_limit,
                );
                self.diags.set_per_device(o.diagnostics_per_device);
                self.cfg = cfg;
                let _ = done.send(());
            }
            RouterMsg::Kick { client_id, done } => {
                let conn = self
                    .sessions
                    .get(client_id.as_str())
                    .and_then(|s| s.conn.clone());
                if let Some(c) = &conn {
                    c.send(Outbound::Close(CloseReason::Kicked));
                }
                let _ = done.send(conn.is_some());
            }
            RouterMsg::DeleteRetained {
                namespace,
                topic,
                reply,
            } => {
                let _ = reply.send(self.delete_retained(namespace, topic));
            }
            RouterMsg::Push {
                namespace,
                topic,
                payload,
                reply,
            } => {
                let _ = reply.send(self.push(&namespace, topic, payload));
            }
            RouterMsg::Ingest {
                device_id,
                namespace,
                payload,
                upload,
                reply,
            } => {
                let client: Arc<str> = Arc::from(device_id.as_str());
                self.datapoints(&client, &namespace, QoS::AtLeastOnce, payload, Ok(upload));
                let _ = reply.send(self.store.last());
            }
            RouterMsg::Queue { client_id, reply } => {
                let _ = reply.send(
                    self.sessions
                        .get(client_id.as_str())
                        .map(queue_infos)
                        .unwrap_or_default(),
                );
            }
            RouterMsg::ClearQueue { client_id, reply } => {
                let _ = reply.send(self.clear_queue(client_id));
            }
            RouterMsg::SendCommand {
                device_id,
                body,
                validity_s,
                reply,
            } => {
                let _ = reply.send(self.send_command(&device_id, body, validity_s));
            }
            RouterMsg::LiveCommand { uuid, reply } => {
                let _ = reply.send(self.commands.get(&uuid).cloned());
            }
            RouterMsg::Diagnostics { device_id, reply } => {
                let _ = reply.send(self.diags.of(&device_id));
            }
        }
    }

    fn session_of(&mut self, conn: ConnId) -> Option<&mut Session> {
        let client = self.conns.get(&conn)?;
        self.sessions.get_mut(client)
    }

    /// Sends `packet` to `conn`; when ops were issued since `since`, behind a barrier so the
    /// acknowledgement leaves only after they are committed.
    fn ack(&self, conn: &ConnTx, since: u64, packet: Packet) {
        let last = self.store.last();
        if last > since {
            conn.send(Outbound::Barrier(last));
        }
        conn.send(Outbound::Packet(packet));
    }

    /// Records a conformance diagnostic, logs it and tells watchers.
    fn diag(&mut self, client: &str, kind: DiagKind, message: String) {
        let d = self.diags.record(now_millis(), client, kind, message);
        tracing::warn!(client, kind = ?d.kind, section = d.section, "{}", d.message);
        self.events.send(Event::Diagnostic(Box::new(d)));
    }

    fn login(&mut self, l: Login) {
        let client: Arc<str> = Arc::from(l.client_id.as_str());
        let onenet = self.onenet();
        let now = now_millis();
        if let Some(old) = self.sessions.get_mut(&client)
            && let Some(c) = old.conn.take()
        {
            tracing::info!(client = %client, "client id logged in again: previous connection closed (takeover)");
            self.conns.remove(&c.id);
            c.send(Outbound::Close(CloseReason::TakenOver));
        }
        if onenet {
            // OneNET: a device's retained will is cleared at its next normal login (spec §5).
            for (ns, topic) in self.retained.take_wills_of(&client) {
                self.store.send(StoreOp::ClearRetained {
                    namespace: ns.clone(),
                    topic: topic.clone(),
                });
                self.events.send(Event::Retained {
                    namespace: ns,
                    topic,
                    present: false,
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
        let o = &self.cfg.onenet;
        let (max_n, max_age) = (o.offline_max_messages, o.offline_max_age.as_millis() as i64);
        let Some(s) = self.sessions.get_mut(&client) else {
            return;
        };
        s.conn = Some(l.conn.clone());
        s.connected_at = Some(now);
        s.last_seen = Some(now);
        s.remote = Some(l.remote);
        s.keep_alive = l.keep_alive;
        s.will = l.will;
        self.conns.insert(l.conn.id, client.clone());
        l.conn.send(Outbound::Packet(Packet::ConnAck(ConnAck {
            session_present,
            code: ConnectReturnCode::Accepted,
        })));
        // OneNET offline topic (§9): after CONNACK, the latest N within the age limit.
        let trimmed = if onenet {
            s.trim_offline(max_n, max_age, now, &store)
        } else {
            0
        };
        s.resume(&store, limits);
        let (queued, dropped) = (s.queue.len() + s.inflight.len(), s.dropped);
        self.events.send(Event::Connected {
            client_id: client.to_string(),
            namespace: l.namespace,
            remote: l.remote.to_string(),
            clean_session: l.clean_session,
            keep_alive: l.keep_alive,
            session_present,
        });
        if trimmed > 0 {
            tracing::info!(client = %client, trimmed, "offline messages beyond the count/age limits dropped (§9)");
            self.events.send(Event::OfflineQueue {
                client_id: client.to_string(),
                queued,
                dropped,
            });
        }
        if onenet && !(120..=1200).contains(&l.keep_alive) {
            self.diag(
                &client,
                DiagKind::KeepAlive,
                format!(
                    "keepalive {} s is outside 120–1200 s, which the platform may refuse",
                    l.keep_alive
                ),
            );
        }
        if onenet {
            self.deliver_pending_commands(&client, now);
        }
    }

    fn drop_subscriptions(&mut self, s: &Session) {
        for (f, _) in s.subscriptions.values() {
            self.subs.remove(&s.namespace, f, &s.client_id);
        }
    }

    fn subscribe(&mut self, conn: ConnId, pid: Pid, filters: Vec<(TopicFilter, QoS)>) {
        let Some(client) = self.conns.get(&conn).cloned() else {
            return;
        };
        let since = self.store.last();
        let onenet = self.onenet();
        let max = self.cfg.limits.max_subscriptions;
        let retain_flag = !onenet || self.cfg.onenet.retain_flag_on_delivery;
        let Some(s) = self.sessions.get_mut(&client) else {
            return;
        };
        let Some(c) = s.conn.clone() else { return };
        let ns = s.namespace.clone();
        let mut codes = Vec::with_capacity(filters.len());
        let mut granted = Vec::new();
        let mut refused = Vec::new();
        for (f, req) in filters {
            let refusal = if onenet {
                check_filter(f.as_str()).err().map(|e| {
                    let kind = match e {
                        FilterRefusal::Reserved | FilterRefusal::Wildcard => {
                            DiagKind::ReservedOrWildcardFilter
                        }
                        FilterRefusal::Charset(_) | FilterRefusal::TooLong(_) => {
                            DiagKind::TopicCharset
                        }
                    };
                    (kind, e.to_string())
                })
            } else if f.as_str().starts_with('$') && !f.as_str().starts_with("$SYS/") {
                Some((
                    DiagKind::ReservedOrWildcardFilter,
                    "filters starting with '$' are reserved".to_string(),
                ))
            } else {
                None
            };
            let refusal = refusal.or_else(|| {
                (!s.subscriptions.contains_key(f.as_str()) && s.subscriptions.len() >= max).then(
                    || {
                        (
                            DiagKind::TooManySubscriptions,
                            format!("limit of {max} subscriptions per client reached"),
                        )
                    },
                )
            });
            if let Some((kind, why)) = refusal {
                codes.push(SubackCode::Failure);
                refused.push((
                    kind,
                    format!("SUBSCRIBE '{}' refused (0x80): {why}", f.as_str()),
                ));
                continue;
            }
            if s.persistent {
                self.store.send(StoreOp::PutSubscription {
                    client_id: client.to_string(),
                    filter: f.as_str().to_string(),
                    qos: req as u8,
                });
            }
            if onenet {
                // Subscribing creates the topic in the product's list (§8.1).
                self.store.send(StoreOp::EnsureTopic {
                    product_id: ns.clone(),
                    name: f.as_str().to_string(),
                });
            }
            self.subs.insert(&ns, &f, &client, req);
            s.subscriptions
                .insert(f.as_str().to_string(), (f.clone(), req));
            codes.push(SubackCode::Granted(req));
            granted.push((f, req));
        }
        self.ack(&c, since, Packet::SubAck(SubAck { pid, codes }));
        for (kind, msg) in refused {
            self.diag(&client, kind, msg);
        }
        // Retained messages follow the SUBACK (MQTT 3.1.1 §3.8.4).
        let (limits, now) = (self.limits(), now_millis());
        for (f, req) in granted {
            self.events.send(Event::Subscription {
                client_id: client.to_string(),
                filter: f.as_str().to_string(),
                qos: Some(req as u8),
            });
            for r in self.retained.matching(&ns, &f) {
                let qos = if onenet { req } else { r.qos.min(req) };
                if let Some(s) = self.sessions.get_mut(&client) {
                    s.deliver(
                        r.msg,
                        qos,
                        retain_flag,
                        Offline::Skip,
                        now,
                        &self.store,
                        limits,
                    );
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
        let mut removed = Vec::new();
        for f in filters {
            if s.subscriptions.remove(f.as_str()).is_some() {
                self.subs.remove(&ns, &f, &client);
                if s.persistent {
                    self.store.send(StoreOp::DelSubscription {
                        client_id: client.to_string(),
                        filter: f.as_str().to_string(),
                    });
                }
                removed.push(f);
            }
        }
        self.ack(&c, since, Packet::UnsubAck(pid));
        for f in removed {
            self.events.send(Event::Subscription {
                client_id: client.to_string(),
                filter: f.as_str().to_string(),
                qos: None,
            });
        }
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
        let reason = match &ending {
            Ending::Graceful => "DISCONNECT".to_string(),
            Ending::Abnormal(why) => why.clone(),
            Ending::ClosedByBroker => "closed by the broker".to_string(),
        };
        self.events.send(Event::Disconnected {
            client_id: client.to_string(),
            reason,
        });
        if let (Ending::Abnormal(why), Some(will)) = (&ending, will) {
            tracing::info!(client = %client, topic = %will.topic, "publishing will: {why}");
            self.publish_will(&client, &ns, will);
        }
    }
}

/// Sleeps until a wall-clock time in Unix ms (command deadlines are wall-clock: they survive restarts).
async fn sleep_until_millis(t: Option<i64>) {
    match t {
        Some(t) => {
            let wait = (t - now_millis()).max(0) as u64;
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        }
        None => std::future::pending().await,
    }
}
