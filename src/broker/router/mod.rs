//! The router: the one owner of sessions, the subscription index, retained messages, live commands and
//! diagnostics, as a state machine.
//!
//! [`Router::handle`] takes one [`Input`] and the time, and pushes [`Effect`]s (output for a connection, a
//! numbered store op, an event, a pause) into a reusable buffer; it never touches a channel, a socket or
//! the clock, so every rule here is unit-tested as plain data with virtual time (`tests`). The `driver`
//! feeds it inputs and applies the effects, in a connection's task or the router task (`hub`). Durable effects are numbered store ops, and an
//! acknowledgement that depends on them is queued behind an [`Outbound::Barrier`].
//!
//! Split by concern: this file has inputs, logins and disconnects; `subscribe` SUBSCRIBE and UNSUBSCRIBE; `publish` routing, retained and
//! wills; `onenet` the data plane (datapoints, commands, diagnostics); `admin` the service's requests;
//! `load` restart; `driver` applies the effects; `hub` decides who runs the router for an input (the
//! connection that read it, or the router task).

mod acks;
mod admin;
#[cfg(test)]
mod burst_tests;
#[cfg(test)]
mod churn_tests;
mod driver;
mod effects;
#[cfg(test)]
mod flow_tests;
mod holds;
#[cfg(test)]
mod holds_tests;
mod hub;
mod load;
mod onenet;
mod publish;
#[cfg(test)]
mod retained_tests;
mod stats;
mod subscribe;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod window_tests;

pub(crate) use driver::Driver;
pub(crate) use effects::{Effect, Effects};
pub(crate) use hub::{Hub, Lane};
pub(crate) use onenet::dp_options;

use std::sync::Arc;

use crate::config::{Config, Profile};
use crate::events::Event;
use crate::mqtt::{ConnAck, ConnectReturnCode, Packet};
use crate::onenet::commands::CommandBook;
use crate::onenet::diagnostics::{DiagKind, Diagnostics};
use crate::store::{LoadedState, StoreOp};

use super::message::{
    CloseReason, ConnId, ConnMap, Ending, Input, Login, Outbound, SameClient, SessionMap,
};
use super::retained::RetainedStore;
use super::session::{FlightState, Offline, Session, SessionLimits};
use super::subscriptions::SubscriptionIndex;

pub(crate) struct Router {
    cfg: Arc<Config>,
    /// Boxed: the map's slots stay small (a session is ~450 bytes), so 10,000 idle clients do not pay for
    /// the table's spare capacity at full session size.
    sessions: SessionMap<Box<Session>>,
    /// Live connection → its session's client id. A message from a connection not in here (taken over,
    /// already closed) is ignored.
    conns: ConnMap<Arc<str>>,
    subs: SubscriptionIndex,
    retained: RetainedStore,
    /// Output of the input being handled; drained by the driver.
    fx: Effects,
    /// Unix ms of the input being handled (virtual in tests).
    now: i64,
    diags: Diagnostics,
    commands: CommandBook,
    metrics: Arc<crate::metrics::Metrics>,
    /// The connection whose PUBLISH (or PUBREL) is being routed: the one to pause if a subscriber fills up.
    source: Option<ConnId>,
    /// Publishing connections held back by full sessions (backpressure), and holds carried over to a
    /// held client's next connection.
    holds: holds::Holds,
    /// When the acknowledgement-timeout sweep is next due; `None` while nothing is in flight.
    sweep_due: Option<i64>,
    /// When sessions' drops counted and not yet logged are next due to be logged (see
    /// [`Router::log_due_drops`]).
    drops_due: Option<i64>,
    /// When publishers' refused retained messages counted and not yet reported are next due to be
    /// reported (see [`Router::report_due_refusals`]).
    refusals_due: Option<i64>,
    /// Per-client totals kept across connections and restarts (`stats`).
    stats: stats::StatsBook,
    /// The namespace of the PUBLISH being handled, copied (see `Router::publish`); one namespace long.
    ns_buf: String,
}

/// How often in-flight deliveries are checked against `ack_timeout` (Unix ms).
const SWEEP_MS: i64 = 1000;

/// Passes for summaries that fell due (over the sessions for drops, over the publishers for refused
/// retained messages) are at least this far apart (Unix ms).
const SUMMARY_PASS_MS: i64 = 1000;

impl Router {
    pub fn new(
        cfg: Arc<Config>,
        metrics: Arc<crate::metrics::Metrics>,
        mut state: LoadedState,
    ) -> Router {
        let stats = stats::StatsBook::load(std::mem::take(&mut state.device_stats));
        let o = &cfg.onenet;
        let mut r = Router {
            diags: Diagnostics::new(o.diagnostics_per_device),
            commands: CommandBook::new(
                o.command_response_window.as_millis() as i64,
                o.command_reply_limit,
            ),
            cfg,
            sessions: SessionMap::default(),
            conns: ConnMap::default(),
            subs: SubscriptionIndex::default(),
            retained: RetainedStore::new(metrics.clone()),
            fx: Effects::default(),
            now: 0,
            metrics,
            source: None,
            holds: holds::Holds::default(),
            sweep_due: None,
            drops_due: None,
            refusals_due: None,
            ns_buf: String::new(),
            stats,
        };
        r.load(state);
        for s in r.sessions.values_mut() {
            r.stats.seed(s);
        }
        r
    }

    fn onenet(&self) -> bool {
        self.cfg.profile == Profile::OneNet
    }

    fn limits(&self) -> SessionLimits {
        let l = &self.cfg.limits;
        SessionLimits {
            inflight_window: l.inflight_window,
            max_inflight_bytes: l.max_inflight_bytes,
            max_queued: l.max_queued_per_session,
            max_queued_bytes: l.max_queued_bytes_per_session,
            max_out_bytes: l.max_outbound_bytes,
            max_out_msgs: l.max_outbound_messages,
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

    /// Whether anyone reads events (see `Effects::set_watched`); the driver tells before each batch.
    pub fn set_watched(&mut self, watched: bool) {
        self.fx.set_watched(watched);
    }

    /// Takes the effects produced so far, in order.
    pub fn effects(&mut self) -> std::vec::Drain<'_, Effect> {
        self.fx.drain()
    }

    /// Effects produced and not yet taken by [`Router::effects`].
    pub fn pending_effects(&self) -> usize {
        self.fx.pending()
    }

    /// See [`Effects::trim`].
    pub fn trim_effects(&mut self) {
        self.fx.trim();
    }

    /// Number of the last store op issued.
    #[cfg(test)]
    pub fn last_op(&self) -> u64 {
        self.fx.last_op()
    }

    /// When [`Input::Tick`] is next due (Unix ms), if anything waits for time.
    pub fn next_deadline(&self) -> Option<i64> {
        [
            self.commands.next_deadline(),
            self.sweep_due,
            self.drops_due,
            self.refusals_due,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// True when the store has so many ops, or so many payload bytes, not yet committed (`committed` is
    /// the writer's watermark) that the router should take no more input: publishers then wait, as for
    /// a full subscriber.
    pub fn store_backlogged(&mut self, committed: u64) -> bool {
        let limits = &self.cfg.limits;
        self.fx.last_op().saturating_sub(committed) >= limits.max_store_backlog as u64
            || self.fx.uncommitted_bytes(committed) >= limits.max_store_backlog_bytes as u64
    }

    /// Handles one input at `now` (Unix ms).
    pub fn handle(&mut self, input: Input, now: i64) {
        self.now = now;
        self.fx.set_now(now);
        match input {
            Input::Login(l) => self.login(*l),
            Input::Publish { conn, publish, dp } => {
                self.source = Some(conn);
                self.publish(conn, publish, dp);
                self.source = None;
            }
            Input::PubAck { conn, pid } => {
                self.with_session(conn, |s, fx, limits| s.on_puback(pid, fx, limits));
            }
            Input::PubRec { conn, pid } => {
                self.with_session(conn, |s, fx, limits| s.on_pubrec(pid, fx, limits));
            }
            Input::PubComp { conn, pid } => {
                self.with_session(conn, |s, fx, limits| s.on_pubcomp(pid, fx, limits));
            }
            Input::PubRel { conn, pid } => {
                self.source = Some(conn);
                self.pubrel(conn, pid);
                self.source = None;
            }
            Input::Subscribe { conn, pid, filters } => self.subscribe(conn, pid, filters),
            Input::Unsubscribe { conn, pid, filters } => self.unsubscribe(conn, pid, filters),
            Input::Closed { conn, ending } => self.closed(conn, ending),
            Input::Diagnostic {
                conn,
                kind,
                message,
            } => {
                if let Some(client) = self.conns.get(&conn).cloned() {
                    self.diag(&client, kind, message);
                }
            }
            Input::Tick => {
                self.command_tick();
                if self.sweep_due.is_some_and(|t| t <= now) {
                    self.sweep();
                }
                if self.drops_due.is_some_and(|t| t <= now) {
                    self.log_due_drops();
                }
                if self.refusals_due.is_some_and(|t| t <= now) {
                    self.report_due_refusals();
                }
            }
        }
        self.settle();
    }

    /// Takes up what sessions reported through the effects during the last input or request: the
    /// in-flight sweep's schedule, the drop summaries' deadline, the QoS 0 drop count (one shared
    /// counter add, and only when something was dropped: the connection threads write that line too).
    /// After every input ([`Router::handle`]) and every request the driver carries out (push, ingest,
    /// commands deliver outside `handle`).
    pub fn settle(&mut self) {
        if self.sweep_due.is_none() && self.fx.take_inflight_sent() {
            self.sweep_due = Some(self.now + SWEEP_MS);
        }
        if let Some(at) = self.fx.take_drops_due() {
            self.drops_due = Some(self.drops_due.map_or(at, |d| d.min(at)));
        }
        let dropped = self.fx.take_qos0_dropped();
        if dropped > 0 {
            crate::metrics::Metrics::add(&self.metrics.qos0_dropped, dropped);
        }
    }

    /// Logs every session's drops that are due and were not logged because no drop came after them (the
    /// last interval of a burst); the next such time, if any are left. A pass over the sessions at most
    /// once per `SUMMARY_PASS_MS` (sessions' summaries fall due at different times: a pass for each would
    /// be one per session), and only while some drop waits to be logged; a summary is that much late at
    /// most.
    fn log_due_drops(&mut self) {
        let limits = self.limits();
        let mut next: Option<i64> = None;
        for s in self.sessions.values_mut() {
            s.log_drops(self.now, limits, false);
            if let Some(at) = s.drops_unlogged.due_at() {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        self.drops_due = next.map(|n| n.max(self.now + SUMMARY_PASS_MS));
    }

    /// Closes connections whose oldest in-flight delivery waited longer than `ack_timeout` for its
    /// acknowledgement (spec §5: the platform disconnects a device that does not answer in time).
    fn sweep(&mut self) {
        let timeout = self.cfg.limits.ack_timeout;
        let ms = timeout.as_millis() as i64;
        let mut late = Vec::new();
        let mut busy = false;
        for s in self.sessions.values_mut() {
            let Some(conn) = s.conn else { continue };
            if s.closing {
                continue;
            }
            let Some(f) = s.inflight.iter().min_by_key(|f| f.sent_at) else {
                continue;
            };
            busy = true;
            if self.now - f.sent_at >= ms {
                let what = match f.state {
                    FlightState::Ack => "PUBACK",
                    FlightState::Rec => "PUBREC",
                    FlightState::Comp => "PUBCOMP",
                };
                late.push((s.client_id.clone(), conn, what, f.pid));
                s.closing = true;
            }
        }
        for (client, conn, what, pid) in late {
            let why = format!(
                "no {what} for packet id {} within {timeout:?}: connection closed (spec §5)",
                pid.get()
            );
            self.diag(&client, DiagKind::AckTimeout, why.clone());
            self.fx
                .send(conn, Outbound::Close(CloseReason::Protocol(why)));
        }
        self.sweep_due = busy.then_some(self.now + SWEEP_MS);
    }

    /// Runs `f` on the session whose live connection is `conn` (an acknowledgement from the client).
    fn with_session(
        &mut self,
        conn: ConnId,
        f: impl FnOnce(&mut Session, &mut Effects, SessionLimits) -> bool,
    ) {
        let limits = self.limits();
        if let Some((_, s)) = live_session(&self.conns, &mut self.sessions, conn) {
            f(s, &mut self.fx, limits);
            self.holds.release(&mut self.fx, s, limits, false);
        }
    }

    /// The client and session whose live connection is `conn`: the one preamble of every connection
    /// input. A connection that is not live (taken over, already closed) gets `None` and is ignored.
    fn live(&mut self, conn: ConnId) -> Option<(Arc<str>, &mut Session)> {
        live_session(&self.conns, &mut self.sessions, conn).map(|(c, s)| (c.clone(), s))
    }

    /// [`Router::live`] without the client id (no reference count taken per message).
    fn live_mut(&mut self, conn: ConnId) -> Option<&mut Session> {
        live_session(&self.conns, &mut self.sessions, conn).map(|(_, s)| s)
    }

    /// Sends `packet` to `conn`; when ops were issued since `since`, behind a barrier so the
    /// acknowledgement leaves only after they are committed.
    fn ack(&mut self, conn: ConnId, since: u64, packet: Packet) {
        let last = self.fx.last_op();
        if last > since {
            self.fx.send(conn, Outbound::Barrier(last));
        }
        self.fx.send(conn, Outbound::Packet(packet));
    }

    /// Records a conformance diagnostic, logs it and tells watchers.
    fn diag(&mut self, client: &str, kind: DiagKind, message: String) {
        let d = self.diags.record(self.now, client, kind, message);
        tracing::warn!(client, kind = ?d.kind, section = d.section, "{}", d.message);
        self.fx.event(Event::Diagnostic(Box::new(d)));
    }

    fn login(&mut self, l: Login) {
        let client: Arc<str> = Arc::from(l.client_id.as_str());
        let onenet = self.onenet();
        let now = self.now;
        // What the session it replaces or resumes counted so far is written before anything changes it.
        self.save_stats(&client);
        if let Some(old) = self.sessions.get_mut(&client)
            && let Some(c) = old.conn.take()
        {
            tracing::info!(client = %client, "client id logged in again: previous connection closed (takeover)");
            self.conns.remove(&c);
            self.holds.ended(c, &client);
            self.fx.send(c, Outbound::Close(CloseReason::TakenOver));
        }
        if onenet {
            // OneNET: a device's retained will is cleared at its next normal login (spec §5).
            for (ns, topic) in self.retained.take_wills_of(&client) {
                self.fx.store(StoreOp::ClearRetained {
                    namespace: ns.clone(),
                    topic: topic.clone(),
                });
                self.fx.event(Event::Retained {
                    namespace: ns,
                    topic,
                    present: false,
                });
            }
        }
        let resumable = self
            .sessions
            .get(&client)
            .is_some_and(|s| s.persistent && *s.namespace == *l.namespace);
        let session_present = !l.clean_session && resumable;
        if !session_present && let Some(mut old) = self.sessions.remove(&client) {
            // The publishers it held go on: its queue goes with it.
            let limits = self.limits();
            self.holds.release(&mut self.fx, &mut old, limits, true);
            // Its drops not yet logged go with a last summary, not silently.
            old.log_drops(self.now, limits, true);
            self.drop_subscriptions(&old);
            if old.persistent {
                self.fx.store(StoreOp::DeleteSession {
                    client_id: client.to_string(),
                });
            }
        }
        if !session_present {
            let mut s = Session::new(client.clone(), l.namespace.clone(), !l.clean_session);
            self.stats.seed(&mut s);
            if s.persistent {
                self.fx.store(StoreOp::UpsertSession {
                    client_id: client.to_string(),
                    namespace: l.namespace.clone(),
                });
            }
            self.sessions.insert(client.clone(), Box::new(s));
        }
        // Held when its last connection ended, and still: held now, before its CONNACK goes out (the
        // driver sets the hold before it queues the CONNACK), so it reads nothing more.
        self.holds.carry_over(
            &mut self.fx,
            &client,
            l.conn,
            self.sessions.values_mut().map(|b| &mut **b),
        );
        let limits = self.limits();
        let o = &self.cfg.onenet;
        let (max_n, max_age) = (o.offline_max_messages, o.offline_max_age.as_millis() as i64);
        let Some(s) = self.sessions.get_mut(&client) else {
            return;
        };
        s.conn = Some(l.conn);
        s.gauge = Some(l.gauge);
        s.closing = false;
        s.connected_at = Some(now);
        s.last_seen = Some(now);
        s.remote = Some(l.remote);
        s.keep_alive = l.keep_alive;
        s.will = l.will;
        // The session's own id (its key), not this login's copy: a resumed session keeps the allocation
        // its key and subscriptions hold, so lookups from the connection compare pointers (`SameClient`).
        self.conns.insert(l.conn, s.client_id.clone());
        self.fx.send(
            l.conn,
            Outbound::Packet(Packet::ConnAck(ConnAck {
                session_present,
                code: ConnectReturnCode::Accepted,
            })),
        );
        // OneNET offline topic (§9): after CONNACK, the latest N within the age limit.
        let trimmed = if onenet {
            s.trim_offline((max_n, limits.max_queued_bytes), max_age, now, &mut self.fx)
        } else {
            0
        };
        s.resume(&mut self.fx, limits);
        let (queued, dropped) = (s.queue.len() + s.inflight.len(), s.dropped);
        if self.fx.watched() {
            self.fx.event(Event::Connected {
                client_id: client.to_string(),
                namespace: l.namespace,
                remote: l.remote.to_string(),
                clean_session: l.clean_session,
                keep_alive: l.keep_alive,
                session_present,
            });
        }
        if trimmed > 0 {
            tracing::info!(client = %client, trimmed, "offline messages beyond the count/age limits dropped (§9)");
            self.fx.event(Event::OfflineQueue {
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

    fn closed(&mut self, conn: ConnId, ending: Ending) {
        // A held publisher that is gone needs no resume; its client's next connection is held instead.
        let Some(client) = self.conns.remove(&conn) else {
            self.holds.forget(conn);
            return;
        };
        self.holds.ended(conn, &client);
        let limits = self.limits();
        let Some(s) = self.sessions.get_mut(&client) else {
            return;
        };
        if s.conn != Some(conn) {
            return;
        }
        s.conn = None;
        s.gauge = None;
        // Offline now: the publishers it held back go on, and its queue follows the offline rules.
        self.holds.release(&mut self.fx, s, limits, true);
        if s.persistent {
            s.trim_queue(limits.max_queued, limits.max_queued_bytes, &mut self.fx);
            s.detach_kept();
        }
        s.log_drops(self.now, limits, true);
        let will = s.will.take();
        let ns = s.namespace.clone();
        let persistent = s.persistent;
        self.save_stats(&client);
        if !persistent && let Some(s) = self.sessions.remove(&client) {
            self.drop_subscriptions(&s);
        }
        if self.fx.watched() {
            let reason = match &ending {
                Ending::Graceful => "DISCONNECT".to_string(),
                Ending::Abnormal(why) => why.clone(),
                Ending::ClosedByBroker => "closed by the broker".to_string(),
            };
            self.fx.event(Event::Disconnected {
                client_id: client.to_string(),
                reason,
            });
        }
        if let (Ending::Abnormal(why), Some(will)) = (&ending, will) {
            tracing::info!(client = %client, topic = %will.topic, "publishing will: {why}");
            self.publish_will(&client, &ns, will);
        }
    }
}

/// See [`Router::live`]; on the fields, so a caller can borrow the effects buffer alongside.
fn live_session<'a>(
    conns: &'a ConnMap<Arc<str>>,
    sessions: &'a mut SessionMap<Box<Session>>,
    conn: ConnId,
) -> Option<(&'a Arc<str>, &'a mut Session)> {
    let client = conns.get(&conn)?;
    let s = sessions.get_mut(&SameClient(client))?;
    (s.conn == Some(conn)).then_some((client, &mut **s))
}
