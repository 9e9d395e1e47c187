//! The router's answers to the service handle: snapshots (sessions, queues) and operator actions
//! (retained deletion, queue clearing, HTTP push).

use std::sync::Arc;

use bytes::Bytes;

use crate::broker::info::{RetainedPage, RetainedQuery};
use crate::broker::message::{
    CloseReason, Message, Outbound, QueuedInfo, RetainedInfo, SessionInfo,
};
use crate::broker::session::{Delivery, Offline, Session};
use crate::events::Event;
use crate::mqtt::{QoS, TopicName};
use crate::onenet::commands::Command;
use crate::onenet::datapoint::DpUpload;
use crate::onenet::diagnostics::Diagnostic;
use crate::store::StoreOp;

use super::Router;
use super::publish::DeliveryQos;

impl Router {
    /// Sets the time for the requests that follow (the service's requests carry no time of their own).
    pub fn at(&mut self, now: i64) -> &mut Router {
        self.now = now;
        self
    }

    /// Settings changed at run time (`ServiceHandle::apply_config`): in effect from the next input on.
    pub fn set_config(&mut self, cfg: Arc<crate::config::Config>) {
        let o = &cfg.onenet;
        self.commands.set_limits(
            o.command_response_window.as_millis() as i64,
            o.command_reply_limit,
        );
        self.diags.set_per_device(o.diagnostics_per_device);
        if cfg.retention != self.cfg.retention {
            self.fx
                .store(crate::store::StoreOp::SetRetention(cfg.retention.clone()));
        }
        self.cfg = cfg;
    }

    /// Closes the client's live connection; false if it is not online.
    pub fn kick(&mut self, client_id: &str) -> bool {
        let conn = self.sessions.get(client_id).and_then(|s| s.conn);
        if let Some(c) = conn {
            self.fx.send(c, Outbound::Close(CloseReason::Kicked));
        }
        conn.is_some()
    }

    pub fn retained_list(&self) -> Vec<RetainedInfo> {
        self.retained.list()
    }

    pub fn retained_page(&self, ns: &str, q: &RetainedQuery) -> RetainedPage {
        self.retained.page(ns, q)
    }

    /// Datapoints uploaded over HTTP as if the device had sent `$dp`; returns the store op to wait for.
    pub fn ingest(&mut self, device_id: &str, ns: &str, payload: Bytes, upload: DpUpload) -> u64 {
        let client: Arc<str> = Arc::from(device_id);
        self.datapoints(&client, ns, QoS::AtLeastOnce, payload, Ok(Arc::new(upload)));
        self.fx.last_op()
    }

    pub fn queue(&self, client_id: &str) -> Vec<QueuedInfo> {
        self.sessions
            .get(client_id)
            .map(|s| queue_infos(s))
            .unwrap_or_default()
    }

    pub fn live_command(&self, uuid: &str) -> Option<Command> {
        self.commands.get(uuid).cloned()
    }

    pub fn diagnostics(&self, device_id: &str) -> Vec<Diagnostic> {
        self.diags.of(device_id)
    }

    pub fn session_infos(&self) -> Vec<SessionInfo> {
        let mut v: Vec<SessionInfo> = self
            .sessions
            .values()
            .map(|s| SessionInfo {
                client_id: s.client_id.to_string(),
                namespace: s.namespace.to_string(),
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
                held_bytes: s.inflight.bytes() + s.queue.bytes(),
                dropped: s.dropped,
                dropped_qos0: s.dropped_qos0,
                held_back: s.conn.and_then(|c| self.holds.count(c)).unwrap_or(0),
                messages_in: s.messages_in,
                messages_out: s.messages_out,
                warnings: self.diags.total(&s.client_id),
                connected_at: s.connected_at,
                last_seen: s.last_seen,
                will: s
                    .will
                    .as_ref()
                    .map(|w| (w.topic.as_str().to_string(), w.qos as u8, w.retain)),
            })
            .collect();
        v.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        v
    }
    /// One retained message (`namespace` and `topic`), a namespace's, or all; returns how many went.
    pub fn delete_retained(&mut self, namespace: Option<String>, topic: Option<String>) -> usize {
        let gone = match (&namespace, &topic) {
            (Some(ns), Some(t)) => {
                if self.retained.clear(ns, t) {
                    vec![(ns.clone(), t.clone())]
                } else {
                    Vec::new()
                }
            }
            _ => self.retained.take_all(namespace.as_deref()),
        };
        for (ns, t) in &gone {
            self.fx.store(StoreOp::ClearRetained {
                namespace: ns.clone(),
                topic: t.clone(),
            });
            self.fx.event(Event::Retained {
                namespace: ns.clone(),
                topic: t.clone(),
                present: false,
            });
        }
        gone.len()
    }

    /// HTTP push (§8.3): QoS 0 to online subscribers only; returns how many got it.
    pub fn push(&mut self, namespace: &str, topic: TopicName, payload: Bytes) -> usize {
        let msg = Message { topic, payload };
        let online = self
            .subs
            .targets(namespace, &msg.topic)
            .iter()
            .filter(|(c, _)| self.sessions.get(c).is_some_and(|s| s.online()))
            .count();
        self.route(
            namespace,
            msg,
            DeliveryQos::Published(QoS::AtMostOnce),
            Offline::Skip,
        );
        online
    }

    /// Drops a session's queued (not in-flight) deliveries; returns how many.
    pub fn clear_queue(&mut self, client_id: String) -> usize {
        let limits = self.limits();
        let Some(s) = self.sessions.get_mut(client_id.as_str()) else {
            return 0;
        };
        let n = s.clear_queue(&mut self.fx);
        self.holds.release(&mut self.fx, s, limits, false);
        let (queued, dropped) = (s.inflight.len(), s.dropped);
        self.fx.event(Event::OfflineQueue {
            client_id,
            queued,
            dropped,
        });
        n
    }
}

pub(crate) fn queue_infos(s: &Session) -> Vec<QueuedInfo> {
    let info = |d: &Delivery, pid: Option<u16>, released: bool| QueuedInfo {
        topic: d.msg.topic.as_str().to_string(),
        qos: d.qos as u8,
        payload_len: d.msg.payload.len(),
        payload: d.msg.payload.clone(),
        queued_at: d.queued_at,
        packet_id: pid,
        released,
    };
    s.inflight
        .iter()
        .map(|f| {
            let released = f.state == crate::broker::session::FlightState::Comp;
            info(&f.delivery, Some(f.pid.get()), released)
        })
        .chain(s.queue.iter().map(|d| info(d, None, false)))
        .collect()
}
