//! The router as plain data: inputs in, effects out, virtual time. No socket, no store, no sleep.

use std::sync::Arc;

use bytes::Bytes;

use super::{Effect, Router};
use crate::broker::message::{CloseReason, ConnId, Ending, Input, Login, OutGauge, Outbound};
use crate::config::{Config, Profile};
use crate::events::Event;
use crate::mqtt::{LastWill, Packet, Pid, Publish, QoS, QosPid, TopicFilter, TopicName};
use crate::onenet::commands::CommandStatus;
use crate::store::{LoadedState, StoreOp};

pub(super) const T0: i64 = 1_700_000_000_000;

pub(super) fn config(profile: Profile) -> Config {
    let mut c = Config::new(std::path::PathBuf::from("unused"));
    c.profile = profile;
    c
}

pub(super) struct H {
    pub r: Router,
    pub now: i64,
    /// Each connection's outbound gauge, as its task would hold it.
    pub gauges: std::collections::HashMap<ConnId, Arc<OutGauge>>,
}

pub(super) fn pid(n: u16) -> Pid {
    Pid::new(n).expect("non-zero")
}

impl H {
    pub fn new(cfg: Config) -> H {
        H {
            r: Router::new(Arc::new(cfg), Arc::default(), LoadedState::default()),
            now: T0,
            gauges: Default::default(),
        }
    }

    pub fn mqtt() -> H {
        H::new(config(Profile::Mqtt))
    }

    pub fn onenet() -> H {
        H::new(config(Profile::OneNet))
    }

    /// Handles `input` and returns its effects.
    pub fn on(&mut self, input: Input) -> Vec<Effect> {
        self.r.handle(input, self.now);
        self.r.effects().collect()
    }

    pub fn login_with(
        &mut self,
        conn: ConnId,
        client: &str,
        clean: bool,
        will: Option<LastWill>,
    ) -> Vec<Effect> {
        let gauge = self.gauges.entry(conn).or_default().clone();
        self.on(Input::Login(Box::new(Login {
            conn,
            gauge,
            client_id: client.into(),
            namespace: if self.r.onenet() {
                "p1".into()
            } else {
                String::new()
            },
            clean_session: clean,
            keep_alive: 300,
            will,
            remote: "127.0.0.1:1".parse().expect("addr"),
        })))
    }

    pub fn login(&mut self, conn: ConnId, client: &str, clean: bool) -> Vec<Effect> {
        self.login_with(conn, client, clean, None)
    }

    pub fn subscribe(&mut self, conn: ConnId, filter: &str, qos: QoS) -> Vec<Effect> {
        self.on(Input::Subscribe {
            conn,
            pid: pid(1),
            filters: vec![(TopicFilter::new(filter).expect("filter"), qos)],
        })
    }

    pub fn publish(&mut self, conn: ConnId, topic: &str, qos: QoS, id: u16) -> Vec<Effect> {
        self.publish_bytes(conn, topic, qos, id, Bytes::from_static(b"x"))
    }

    pub fn publish_bytes(
        &mut self,
        conn: ConnId,
        topic: &str,
        qos: QoS,
        id: u16,
        payload: Bytes,
    ) -> Vec<Effect> {
        // As the connection does: a OneNET `$dp` payload is decoded before it reaches the router.
        let dp = (self.r.onenet() && topic == "$dp").then(|| {
            crate::onenet::datapoint::decode(&payload, &self.r.dp_options()).map(Arc::new)
        });
        let p = Publish::new(TopicName::new(topic).expect("topic"), qos, pid(id), payload);
        self.on(Input::Publish {
            conn,
            publish: p,
            dp,
        })
    }

    /// A retained QoS 0 PUBLISH of `payload` (stored: one op holding the payload).
    pub fn publish_retained(
        &mut self,
        conn: ConnId,
        topic: &str,
        payload: Bytes,
        id: u16,
    ) -> Vec<Effect> {
        let mut p = Publish::new(
            TopicName::new(topic).expect("topic"),
            QoS::AtMostOnce,
            pid(id),
            payload,
        );
        p.retain = true;
        self.on(Input::Publish {
            conn,
            publish: p,
            dp: None,
        })
    }

    pub fn close(&mut self, conn: ConnId, ending: Ending) -> Vec<Effect> {
        self.on(Input::Closed { conn, ending })
    }
}

/// What went to `conn`, in order.
pub(super) fn to(fx: &[Effect], conn: ConnId) -> Vec<&Outbound> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Send(c, o) if *c == conn => Some(o),
            _ => None,
        })
        .collect()
}

/// PUBLISHes to `conn`: (topic, qos, pid, dup).
pub(super) fn pubs(fx: &[Effect], conn: ConnId) -> Vec<(String, QoS, Option<u16>, bool)> {
    to(fx, conn)
        .into_iter()
        .filter_map(|o| match o {
            Outbound::Publish {
                msg, qos, pid, dup, ..
            } => Some((
                msg.topic.as_str().to_string(),
                *qos,
                pid.map(|p| p.get()),
                *dup,
            )),
            _ => None,
        })
        .collect()
}

pub(super) fn packets(fx: &[Effect], conn: ConnId) -> Vec<Packet> {
    to(fx, conn)
        .into_iter()
        .filter_map(|o| match o {
            Outbound::Packet(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn ops(fx: &[Effect]) -> Vec<&StoreOp> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Store(_, op) => Some(op),
            _ => None,
        })
        .collect()
}

#[test]
fn connack_then_suback_then_retained_in_order() {
    let mut h = H::mqtt();
    h.login(1, "pub", true);
    h.publish(1, "a/b", QoS::AtMostOnce, 1);
    let mut retained = Publish::new(
        TopicName::new("r/1").expect("t"),
        QoS::AtLeastOnce,
        pid(2),
        Bytes::from_static(b"kept"),
    );
    retained.retain = true;
    let fx = h.on(Input::Publish {
        conn: 1,
        publish: retained,
        dp: None,
    });
    // The retained message is stored, so its PUBACK waits behind a barrier on that op.
    let n = match fx
        .iter()
        .find(|e| matches!(e, Effect::Store(_, StoreOp::SetRetained { .. })))
    {
        Some(Effect::Store(n, _)) => *n,
        _ => panic!("no SetRetained in {fx:?}"),
    };
    let out = to(&fx, 1);
    assert!(matches!(out[0], Outbound::Barrier(b) if *b == n), "{out:?}");
    assert!(matches!(out[1], Outbound::Packet(Packet::PubAck(p)) if p.get() == 2));

    let fx = h.login(2, "sub", true);
    assert!(matches!(
        packets(&fx, 2)[0],
        Packet::ConnAck(ref a) if !a.session_present
    ));
    let fx = h.subscribe(2, "r/#", QoS::AtLeastOnce);
    let out = to(&fx, 2);
    assert!(
        matches!(out[0], Outbound::Packet(Packet::SubAck(_))),
        "{out:?}"
    );
    assert_eq!(
        pubs(&fx, 2),
        vec![("r/1".to_string(), QoS::AtLeastOnce, Some(1), false)]
    );
}

#[test]
fn qos1_without_anything_durable_is_acked_without_a_barrier() {
    let mut h = H::mqtt();
    h.login(1, "pub", true);
    h.login(2, "sub", true);
    h.subscribe(2, "t", QoS::AtLeastOnce);
    let fx = h.publish(1, "t", QoS::AtLeastOnce, 7);
    assert!(ops(&fx).is_empty(), "clean subscriber: nothing to store");
    let out = to(&fx, 1);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(matches!(out[0], Outbound::Packet(Packet::PubAck(p)) if p.get() == 7));
}

#[test]
fn inflight_window_holds_the_rest_until_puback() {
    let mut cfg = config(Profile::Mqtt);
    cfg.limits.inflight_window = 2;
    let mut h = H::new(cfg);
    h.login(1, "pub", true);
    h.login(2, "sub", true);
    h.subscribe(2, "t", QoS::AtLeastOnce);
    let mut sent = Vec::new();
    for i in 1..=5 {
        sent.extend(pubs(&h.publish(1, "t", QoS::AtLeastOnce, i), 2));
    }
    assert_eq!(sent.len(), 2, "window of 2: {sent:?}");
    let fx = h.on(Input::PubAck {
        conn: 2,
        pid: pid(1),
    });
    assert_eq!(
        pubs(&fx, 2),
        vec![("t".into(), QoS::AtLeastOnce, Some(3), false)]
    );
    // An id not awaiting PUBACK changes nothing.
    let fx = h.on(Input::PubAck {
        conn: 2,
        pid: pid(9),
    });
    assert!(pubs(&fx, 2).is_empty());
}

#[test]
fn qos2_outbound_goes_rec_rel_comp() {
    let mut h = H::mqtt();
    h.login(1, "pub", true);
    h.login(2, "sub", true);
    h.subscribe(2, "t", QoS::ExactlyOnce);
    let fx = h.publish(1, "t", QoS::ExactlyOnce, 3);
    // Held until PUBREL (spec §5): nothing to the subscriber yet.
    assert!(pubs(&fx, 2).is_empty());
    assert!(matches!(packets(&fx, 1)[..], [Packet::PubRec(p)] if p.get() == 3));
    let fx = h.on(Input::PubRel {
        conn: 1,
        pid: pid(3),
    });
    assert!(matches!(packets(&fx, 1)[..], [Packet::PubComp(p)] if p.get() == 3));
    assert_eq!(
        pubs(&fx, 2),
        vec![("t".into(), QoS::ExactlyOnce, Some(1), false)]
    );
    let fx = h.on(Input::PubRec {
        conn: 2,
        pid: pid(1),
    });
    assert!(matches!(packets(&fx, 2)[..], [Packet::PubRel(p)] if p.get() == 1));
    let fx = h.on(Input::PubComp {
        conn: 2,
        pid: pid(1),
    });
    assert!(fx.is_empty(), "{fx:?}");
    assert_eq!(h.r.session_infos()[1].inflight, 0);
}

#[test]
fn takeover_closes_the_old_connection_and_ignores_it_afterwards() {
    let mut h = H::mqtt();
    h.login(1, "dev", false);
    h.subscribe(1, "t", QoS::AtLeastOnce);
    let fx = h.login(2, "dev", false);
    assert!(matches!(
        to(&fx, 1)[..],
        [Outbound::Close(CloseReason::TakenOver)]
    ));
    assert!(matches!(packets(&fx, 2)[0], Packet::ConnAck(ref a) if a.session_present));
    // The old connection's late inputs and its close do nothing.
    assert!(h.subscribe(1, "u", QoS::AtMostOnce).is_empty());
    assert!(h.close(1, Ending::Abnormal("gone".into())).is_empty());
    assert!(h.r.session_infos()[0].online);
}

#[test]
fn persistent_session_resumes_with_dup_redelivery_and_queue() {
    let mut cfg = config(Profile::Mqtt);
    cfg.limits.inflight_window = 1;
    let mut h = H::new(cfg);
    h.login(1, "pub", true);
    h.login(2, "sub", false);
    h.subscribe(2, "t", QoS::AtLeastOnce);
    h.publish(1, "t", QoS::AtLeastOnce, 1);
    h.close(2, Ending::Abnormal("cable".into()));
    // Offline: QoS 1 kept, QoS 0 not (MQTT 3.1.1).
    h.publish(1, "t", QoS::AtLeastOnce, 2);
    let fx = h.publish(1, "t", QoS::AtMostOnce, 3);
    assert!(
        fx.iter()
            .all(|e| !matches!(e, Effect::Store(_, StoreOp::Enqueue { .. }))),
        "QoS 0 is not queued offline in mqtt"
    );
    h.now += 1000;
    let fx = h.login(3, "sub", false);
    assert!(matches!(packets(&fx, 3)[0], Packet::ConnAck(ref a) if a.session_present));
    assert_eq!(
        pubs(&fx, 3),
        vec![("t".into(), QoS::AtLeastOnce, Some(1), true)],
        "the unacknowledged one again with DUP; the queued one waits for the window"
    );
    let fx = h.on(Input::PubAck {
        conn: 3,
        pid: pid(1),
    });
    assert_eq!(
        pubs(&fx, 3),
        vec![("t".into(), QoS::AtLeastOnce, Some(2), false)]
    );
}

#[test]
fn clean_login_discards_a_persistent_session() {
    let mut h = H::mqtt();
    h.login(1, "dev", false);
    h.subscribe(1, "t", QoS::AtLeastOnce);
    h.close(1, Ending::Graceful);
    let fx = h.login(2, "dev", true);
    assert!(
        ops(&fx)
            .iter()
            .any(|op| matches!(op, StoreOp::DeleteSession { client_id } if client_id == "dev"))
    );
    assert!(matches!(packets(&fx, 2)[0], Packet::ConnAck(ref a) if !a.session_present));
    assert!(h.r.session_infos()[0].subscriptions.is_empty());
}

#[test]
fn onenet_offline_replay_keeps_the_latest_10_within_two_days() {
    let mut h = H::onenet();
    h.login(1, "sub", false);
    h.subscribe(1, "t", QoS::AtMostOnce);
    h.close(1, Ending::Graceful);
    h.login(2, "pub", true);
    // Three days ago: 5 messages (too old); then 15 recent ones, of which the latest 10 remain.
    for i in 0..5 {
        h.now = T0 - 3 * 24 * 3_600_000 + i;
        h.publish(2, "t", QoS::AtMostOnce, 1);
    }
    for i in 0..15 {
        h.now = T0 + i;
        let topic = "t";
        h.publish_bytes(2, topic, QoS::AtMostOnce, 1, Bytes::from(i.to_string()));
    }
    h.now = T0 + 100;
    let fx = h.login(3, "sub", false);
    let got: Vec<String> = to(&fx, 3)
        .into_iter()
        .filter_map(|o| match o {
            Outbound::Publish { msg, .. } => {
                Some(String::from_utf8_lossy(&msg.payload).into_owned())
            }
            _ => None,
        })
        .collect();
    let want: Vec<String> = (5..15).map(|i| i.to_string()).collect();
    assert_eq!(got, want);
    assert_eq!(h.r.session_infos()[1].dropped, 10);
}

#[test]
fn will_on_abnormal_end_not_on_disconnect() {
    let will = || LastWill {
        topic: TopicName::new("w").expect("t"),
        message: Bytes::from_static(b"bye"),
        qos: QoS::AtMostOnce,
        retain: false,
    };
    let mut h = H::mqtt();
    h.login(1, "sub", true);
    h.subscribe(1, "w", QoS::AtMostOnce);
    h.login_with(2, "a", true, Some(will()));
    assert!(pubs(&h.close(2, Ending::Graceful), 1).is_empty());
    h.login_with(3, "b", true, Some(will()));
    assert_eq!(
        pubs(&h.close(3, Ending::Abnormal("keepalive".into())), 1),
        vec![("w".into(), QoS::AtMostOnce, None, false)]
    );
}

#[test]
fn onenet_retained_will_is_cleared_at_next_login() {
    let mut h = H::onenet();
    h.login_with(
        1,
        "dev",
        true,
        Some(LastWill {
            topic: TopicName::new("status").expect("t"),
            message: Bytes::from_static(b"offline"),
            qos: QoS::AtLeastOnce,
            retain: true,
        }),
    );
    h.close(1, Ending::Abnormal("socket".into()));
    assert_eq!(h.r.retained_list().len(), 1);
    let fx = h.login(2, "dev", true);
    assert!(h.r.retained_list().is_empty());
    assert!(
        ops(&fx)
            .iter()
            .any(|op| matches!(op, StoreOp::ClearRetained { topic, .. } if topic == "status"))
    );
}

#[test]
fn command_times_out_on_the_routers_clock() {
    let mut h = H::onenet();
    h.login(1, "dev", true);
    let c =
        h.r.at(h.now)
            .send_command("dev", Bytes::from_static(b"on"), 0)
            .expect("command");
    let fx: Vec<Effect> = h.r.effects().collect();
    assert_eq!(c.status, CommandStatus::Sent);
    assert_eq!(
        pubs(&fx, 1),
        vec![(format!("$creq/{}", c.uuid), QoS::AtMostOnce, None, false)]
    );
    let due = h.r.next_deadline().expect("response window deadline");
    assert_eq!(due, T0 + 10_000);
    h.now = due - 1;
    assert!(h.on(Input::Tick).is_empty());
    h.now = due;
    let fx = h.on(Input::Tick);
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Event(Event::Command(c)) if c.status == CommandStatus::Timeout
    )));
    assert_eq!(h.r.next_deadline(), None);
}

#[test]
fn offline_command_validity_runs_out_on_the_routers_clock() {
    let mut h = H::onenet();
    let c =
        h.r.at(h.now)
            .send_command("dev", Bytes::from_static(b"later"), 1)
            .expect("command");
    let _: Vec<Effect> = h.r.effects().collect();
    assert_eq!(c.status, CommandStatus::Created, "offline: waits");
    let due = h.r.next_deadline().expect("validity deadline");
    assert_eq!(due, T0 + 1_000, "validity 1 s");
    h.now = due - 1;
    assert!(h.on(Input::Tick).is_empty());
    h.now = due;
    let fx = h.on(Input::Tick);
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Event(Event::Command(c)) if c.status == CommandStatus::SendFailed
    )));
    // the device comes after the validity: nothing is delivered
    let fx = h.login(1, "dev", true);
    assert!(pubs(&fx, 1).is_empty(), "an expired command is not sent");
}

#[test]
fn offline_max_age_setting_drops_what_is_older_at_login() {
    let mut cfg = config(Profile::OneNet);
    cfg.onenet.offline_max_age = std::time::Duration::from_millis(500);
    let mut h = H::new(cfg);
    h.login(1, "sub", false);
    h.subscribe(1, "t", QoS::AtLeastOnce);
    h.close(1, Ending::Graceful);
    h.login(2, "pub", true);
    for (at, body) in [(T0, "old"), (T0 + 100, "fresh"), (T0 + 400, "fresher")] {
        h.now = at;
        h.publish_bytes(2, "t", QoS::AtMostOnce, 1, Bytes::from(body));
    }
    // 501 ms after the first: only it is past the limit
    h.now = T0 + 501;
    let fx = h.login(3, "sub", false);
    let got: Vec<String> = to(&fx, 3)
        .into_iter()
        .filter_map(|o| match o {
            Outbound::Publish { msg, .. } => {
                Some(String::from_utf8_lossy(&msg.payload).into_owned())
            }
            _ => None,
        })
        .collect();
    assert_eq!(got, ["fresh", "fresher"]);
    assert_eq!(h.r.session_infos()[1].dropped, 1);
}

#[test]
fn datapoint_upload_is_stored_before_its_puback() {
    let mut h = H::onenet();
    h.login(1, "dev", true);
    let payload = Bytes::from_static(b"\x03\x00\x0b{\"temp\":21}");
    let dp = crate::onenet::datapoint::decode(&payload, &h.r.dp_options()).map(Arc::new);
    let p = Publish::new(
        TopicName::new("$dp").expect("t"),
        QoS::AtLeastOnce,
        pid(5),
        payload,
    );
    let fx = h.on(Input::Publish {
        conn: 1,
        publish: p,
        dp: Some(dp),
    });
    let n = match &fx[..] {
        [Effect::Store(n, StoreOp::Datapoints(b)), ..] => {
            assert_eq!(b.upload.points().len(), 1);
            *n
        }
        other => panic!("{other:?}"),
    };
    let out = to(&fx, 1);
    assert!(
        matches!(out[..], [Outbound::Barrier(b), Outbound::Packet(Packet::PubAck(_))] if *b == n)
    );
    assert_eq!(h.r.last_op(), n);
}

#[test]
fn qos_pid_of_a_repeated_qos2_publish_is_acked_once_more_only() {
    let mut h = H::mqtt();
    h.login(1, "pub", true);
    h.login(2, "sub", true);
    h.subscribe(2, "t", QoS::ExactlyOnce);
    h.publish(1, "t", QoS::ExactlyOnce, 4);
    let mut again = Publish::new(
        TopicName::new("t").expect("t"),
        QoS::ExactlyOnce,
        pid(4),
        Bytes::from_static(b"x"),
    );
    again.dup = true;
    assert!(matches!(again.qos_pid, QosPid::ExactlyOnce(_)));
    let fx = h.on(Input::Publish {
        conn: 1,
        publish: again,
        dp: None,
    });
    assert!(matches!(packets(&fx, 1)[..], [Packet::PubRec(p)] if p.get() == 4));
    let fx = h.on(Input::PubRel {
        conn: 1,
        pid: pid(4),
    });
    assert_eq!(pubs(&fx, 2).len(), 1, "delivered once");
}
