//! The reducers together, as the app drives them: events, replies and readings into one model.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::Config;
use crate::events::{Direction, StoredPoints};
use crate::events::{Event, Received};
use crate::onenet::commands::{Command, CommandStatus};
use crate::onenet::datapoint::Datapoint;
use crate::onenet::datapoint::DpValue;
use crate::service::api::StoredDatapoint;
use crate::ui::prefs::Prefs;

fn model() -> Model {
    Model::new(Config::new(PathBuf::from("/tmp/m")), Prefs::default())
}

fn command(status: CommandStatus) -> Command {
    Command {
        uuid: "u1".into(),
        device_id: "9277".into(),
        body: bytes::Bytes::from_static(b"on"),
        status,
        created_at: 1,
        sent_at: Some(1),
        replied_at: None,
        reply: None,
        expire_at: None,
        validity_s: 0,
        qos: 0,
        sends: Default::default(),
    }
}

#[test]
fn events_update_sessions_streams_traffic_and_commands() {
    let mut m = model();
    m.apply_event(Event::Connected {
        client_id: "9277".into(),
        namespace: "339".into(),
        remote: "1.2.3.4:5".into(),
        clean_session: true,
        keep_alive: 120,
        session_present: false,
    });
    assert!(m.is_online("9277"));
    m.apply_event(Event::Subscription {
        client_id: "9277".into(),
        filter: "/a".into(),
        qos: Some(1),
    });
    assert_eq!(
        m.session("9277").unwrap().subscriptions,
        vec![("/a".into(), 1)]
    );
    m.apply_event(Event::Datapoints(Arc::new(StoredPoints::new(
        "9277".into(),
        1000,
        7,
        vec![Datapoint {
            stream: "1".into(),
            at: None,
            value: DpValue::Float(34.0),
        }],
    ))));
    let st = &m.streams["9277"]["1"];
    assert_eq!(st.latest, Some((1000, DpValue::Float(34.0))));
    assert!(st.is_numeric());
    assert!(
        st.series.is_empty(),
        "closed streams keep only the latest value"
    );
    m.apply_event(Event::Packet {
        at: 5,
        client_id: Some("9277".into()),
        direction: Direction::In,
        bytes: bytes::Bytes::from_static(&[0x30, 0x05, 0x00, 0x01, b'/', b'h', b'i']),
        dp: None,
    });
    assert_eq!(m.topic_counts["/"], (1, 0));
    m.apply_received(Received::Missed(7));
    assert_eq!(m.traffic.dropped(), 7);
    m.apply_event(Event::Command(Box::new(command(CommandStatus::Sent))));
    m.apply_event(Event::Command(Box::new(command(CommandStatus::Replied))));
    assert_eq!(m.commands["9277"].len(), 1);
    assert_eq!(m.command("u1").unwrap().status, CommandStatus::Replied);
    // The reply of the send request may arrive after the events: it does not undo them.
    m.apply_reply(Reply::CommandSent(Ok(command(CommandStatus::Sent))));
    assert_eq!(m.command("u1").unwrap().status, CommandStatus::Replied);
    m.apply_event(Event::Disconnected {
        client_id: "9277".into(),
        reason: "bye".into(),
    });
    assert!(!m.is_online("9277"));
}

#[test]
fn rates_come_from_two_readings() {
    let mut m = model();
    let t0 = Instant::now();
    m.apply_snapshot(Snapshot::default(), t0);
    let mut s = Snapshot::default();
    s.metrics.publishes_in = 500;
    s.metrics.datapoints = 1000;
    m.apply_snapshot(s, t0 + Duration::from_secs(2));
    assert_eq!(m.rates.msg_in, 250.0);
    assert_eq!(m.rates.dp, 500.0);
    assert_eq!(m.rate_history.len(), 1);
}

#[test]
fn history_merges_into_an_open_stream() {
    let mut m = model();
    let st = m
        .streams
        .entry("d".into())
        .or_default()
        .entry("s".into())
        .or_default();
    st.open = true;
    st.add(3000, &DpValue::Json(serde_json::json!(3)));
    let point = |at: i64, v: f64| StoredDatapoint {
        id: at,
        device_id: "d".into(),
        stream: "s".into(),
        at,
        value: DpValue::Json(serde_json::json!(v)),
        dp_type: 3,
        received_at: at,
        upload_id: 1,
    };
    m.apply_reply(Reply::History {
        device: "d".into(),
        stream: "s".into(),
        points: vec![point(1000, 1.0), point(2000, 2.0)],
    });
    let st = &m.streams["d"]["s"];
    assert_eq!(st.series.len(), 3);
    assert_eq!(st.series.last(), Some((3.0, 3.0)));
    assert_eq!(st.latest.as_ref().map(|l| l.0), Some(3000));
}

#[test]
fn a_restarted_broker_clears_the_old_store_error() {
    let mut m = model();
    m.apply_event(Event::StoreStatus {
        error: Some("disk full".into()),
    });
    assert_eq!(m.store_error.as_deref(), Some("disk full"));
    m.apply_reply(Reply::BrokerStarted {
        addr: "127.0.0.1:6002".parse().unwrap(),
        config: Box::new(m.config.clone()),
        http: Ok(None),
    });
    assert_eq!(m.store_error, None);
}
