//! Rebuilding the router's state from what the store kept: sessions resume, retained messages return,
//! live commands continue.

use std::sync::Arc;

use crate::broker::message::Message;
use crate::broker::retained::Retained;
use crate::broker::session::{Delivery, FlightState, InFlight, Session};
use crate::mqtt::{Pid, QoS, TopicFilter, TopicName};
use crate::store::LoadedState;

use super::Router;

impl Router {
    pub(super) fn load(&mut self, state: LoadedState) {
        for ls in state.sessions {
            let client: Arc<str> = Arc::from(ls.client_id.as_str());
            let mut s = Session::new(client.clone(), ls.namespace.clone(), true);
            for (filter, qos) in ls.subscriptions {
                let (Ok(f), Some(q)) = (TopicFilter::new(filter.clone()), QoS::from_u8(qos)) else {
                    tracing::warn!(client = %client, %filter, "stored subscription is not valid; skipped");
                    continue;
                };
                self.subs.insert(&ls.namespace, &f, &client, q);
                s.subscriptions.insert(filter, (f, q));
            }
            for q in ls.queue {
                let (Ok(topic), Some(qos)) = (TopicName::new(q.topic), QoS::from_u8(q.qos)) else {
                    continue;
                };
                let mut d = Delivery {
                    seq: q.seq,
                    msg: Message {
                        topic,
                        payload: q.payload,
                    },
                    qos,
                    retain: q.retain,
                    queued_at: q.created_at,
                };
                s.next_seq = s.next_seq.max(q.seq + 1);
                match q.pid.and_then(Pid::new).filter(|_| qos != QoS::AtMostOnce) {
                    Some(pid) => {
                        let state = match (qos, q.released) {
                            // Released: only PUBREL is resent, the payload is not kept (see
                            // `Flights::on_pubrec`; the store no longer has it either).
                            (QoS::ExactlyOnce, true) => {
                                d.msg.payload = bytes::Bytes::new();
                                FlightState::Comp
                            }
                            (QoS::ExactlyOnce, false) => FlightState::Rec,
                            _ => FlightState::Ack,
                        };
                        s.inflight.push_back(InFlight {
                            pid,
                            delivery: d,
                            state,
                            sent_at: 0,
                        });
                    }
                    None => s.queue.push_back(d),
                }
            }
            for (pid, topic, payload, retain) in ls.incoming {
                if let Ok(topic) = TopicName::new(topic) {
                    s.incoming
                        .insert(pid, Some((Message { topic, payload }, retain)));
                }
            }
            self.sessions.insert(client, Box::new(s));
        }
        for lr in state.retained {
            let (Ok(topic), Some(qos)) = (TopicName::new(lr.topic), QoS::from_u8(lr.qos)) else {
                continue;
            };
            self.retained.set(
                &lr.namespace,
                Retained {
                    msg: Message {
                        topic,
                        payload: lr.payload,
                    },
                    qos,
                    will_of: lr.will_of.map(|w| Arc::from(w.as_str())),
                },
            );
        }
        for c in state.commands {
            self.commands.restore(c);
        }
    }
}
