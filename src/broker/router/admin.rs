//! The router's answers to the service handle: snapshots (sessions, queues) and operator actions
//! (retained deletion, queue clearing, HTTP push).

use std::sync::Arc;

use bytes::Bytes;

use crate::broker::message::{Message, QueuedInfo, SessionInfo};
use crate::broker::session::{Delivery, Offline, Session};
use crate::events::Event;
use crate::mqtt::{QoS, TopicName};
use crate::store::StoreOp;

use super::Router;
use super::publish::DeliveryQos;

impl Router {
    pub(super) fn session_infos(&self) -> Vec<SessionInfo> {
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
                dropped: s.dropped,
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
    pub(super) fn delete_retained(
        &mut self,
        namespace: Option<String>,
        topic: Option<String>,
    ) -> usize {
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
            self.store.send(StoreOp::ClearRetained {
                namespace: ns.clone(),
                topic: t.clone(),
            });
            self.events.send(Event::Retained {
                namespace: ns.clone(),
                topic: t.clone(),
                present: false,
            });
        }
        gone.len()
    }

    /// HTTP push (§8.3): QoS 0 to online subscribers only; returns how many got it.
    pub(super) fn push(&mut self, namespace: &str, topic: TopicName, payload: Bytes) -> usize {
        let msg = Arc::new(Message { topic, payload });
        let mut targets = Vec::new();
        self.subs.collect(namespace, &msg.topic, &mut targets);
        let online = targets
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
    pub(super) fn clear_queue(&mut self, client_id: String) -> usize {
        let store = self.store.clone();
        let Some(s) = self.sessions.get_mut(client_id.as_str()) else {
            return 0;
        };
        let n = s.clear_queue(&store);
        let (queued, dropped) = (s.inflight.len(), s.dropped);
        self.events.send(Event::OfflineQueue {
            client_id,
            queued,
            dropped,
        });
        n
    }
}

pub(super) fn queue_infos(s: &Session) -> Vec<QueuedInfo> {
    let info = |d: &Delivery, pid: Option<u16>| QueuedInfo {
        topic: d.msg.topic.as_str().to_string(),
        qos: d.qos as u8,
        payload_len: d.msg.payload.len(),
        payload: d.msg.payload.clone(),
        queued_at: d.queued_at,
        packet_id: pid,
    };
    s.inflight
        .iter()
        .map(|f| info(&f.delivery, Some(f.pid.get())))
        .chain(s.queue.iter().map(|d| info(d, None)))
        .collect()
}
