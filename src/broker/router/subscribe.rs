//! SUBSCRIBE and UNSUBSCRIBE: the profile's filter rules (OneNET refuses some filters with 0x80, §13), the
//! subscription index, a persistent session's subscriptions made durable before SUBACK, and the retained
//! messages that follow SUBACK.

use crate::events::Event;
use crate::mqtt::{Packet, Pid, QoS, SubAck, SubackCode, TopicFilter};
use crate::onenet::diagnostics::DiagKind;
use crate::onenet::topic::{FilterRefusal, check_subscription};
use crate::store::StoreOp;

use super::super::message::ConnId;
use super::super::session::{Offline, Session};
use super::{Router, live_session};

impl Router {
    pub(super) fn drop_subscriptions(&mut self, s: &Session) {
        for (f, _) in s.subscriptions.values() {
            self.subs.remove(&s.namespace, f, &s.client_id);
        }
    }

    pub(super) fn subscribe(&mut self, conn: ConnId, pid: Pid, filters: Vec<(TopicFilter, QoS)>) {
        let since = self.fx.last_op();
        let onenet = self.onenet();
        let max = self.cfg.limits.max_subscriptions;
        let retain_flag = !onenet || self.cfg.onenet.retain_flag_on_delivery;
        let Some((client, s)) =
            live_session(&self.conns, &mut self.sessions, conn).map(|(c, s)| (c.clone(), s))
        else {
            return;
        };
        let ns = s.namespace.clone();
        let mut codes = Vec::with_capacity(filters.len());
        let mut granted = Vec::new();
        let mut refused = Vec::new();
        for (f, req) in filters {
            let refusal = if onenet {
                check_subscription(f.as_str()).err().map(|e| {
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
                self.fx.store(StoreOp::PutSubscription {
                    client_id: client.to_string(),
                    filter: f.as_str().to_string(),
                    qos: req as u8,
                });
            }
            if onenet {
                // Subscribing creates the topic in the product's list (§8.1).
                self.fx.store(StoreOp::EnsureTopic {
                    product_id: ns.to_string(),
                    name: f.as_str().to_string(),
                });
            }
            self.subs.insert(&ns, &f, &client, req);
            s.subscriptions
                .insert(f.as_str().to_string(), (f.clone(), req));
            codes.push(SubackCode::Granted(req));
            granted.push((f, req));
        }
        self.ack(conn, since, Packet::SubAck(SubAck { pid, codes }));
        for (kind, msg) in refused {
            self.diag(&client, kind, msg);
        }
        // Retained messages follow the SUBACK (MQTT 3.1.1 §3.8.4).
        let (limits, now) = (self.limits(), self.now);
        for (f, req) in granted {
            self.fx.event(Event::Subscription {
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
                        &mut self.fx,
                        limits,
                    );
                }
            }
        }
    }

    pub(super) fn unsubscribe(&mut self, conn: ConnId, pid: Pid, filters: Vec<TopicFilter>) {
        let since = self.fx.last_op();
        let Some((client, s)) =
            live_session(&self.conns, &mut self.sessions, conn).map(|(c, s)| (c.clone(), s))
        else {
            return;
        };
        let ns = s.namespace.clone();
        let mut removed = Vec::new();
        for f in filters {
            if s.subscriptions.remove(f.as_str()).is_some() {
                self.subs.remove(&ns, &f, &client);
                if s.persistent {
                    self.fx.store(StoreOp::DelSubscription {
                        client_id: client.to_string(),
                        filter: f.as_str().to_string(),
                    });
                }
                removed.push(f);
            }
        }
        self.ack(conn, since, Packet::UnsubAck(pid));
        for f in removed {
            self.fx.event(Event::Subscription {
                client_id: client.to_string(),
                filter: f.as_str().to_string(),
                qos: None,
            });
        }
    }
}
