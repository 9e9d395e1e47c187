//! Events (`ServiceHandle::events`): what a watcher such as the console sees — connections, subscriptions,
//! datapoints, command status changes, retained changes, offline queues, diagnostics, and every packet
//! with its exact bytes.

mod common;

use bytes::Bytes;
use common::dataplane::*;
use common::*;
use onenet_desk::events::{Direction, Event, EventReceiver, Received};
use onenet_desk::mqtt::{Packet, QoS};
use onenet_desk::onenet::commands::CommandStatus;
use onenet_desk::onenet::datapoint::DpValue;
use onenet_desk::onenet::diagnostics::DiagKind;

/// Every event received so far, so expectations can be checked in any order (events come from several
/// tasks, so e.g. `Connected` and the CONNACK packet event may arrive either way round).
struct Log {
    rx: EventReceiver,
    seen: Vec<Event>,
}

impl Log {
    /// Waits for the packet event going `direction` whose frame is exactly `frame`.
    async fn packet(&mut self, what: &str, direction: Direction, frame: &[u8]) {
        self.find(what, |e| match e {
            Event::Packet {
                direction: d,
                bytes,
                ..
            } => (*d == direction && bytes.as_ref() == frame).then_some(()),
            _ => None,
        })
        .await
    }

    /// The first event (seen or coming) that `f` picks.
    async fn find<T>(&mut self, what: &str, mut f: impl FnMut(&Event) -> Option<T>) -> T {
        if let Some(v) = self.seen.iter().find_map(&mut f) {
            return v;
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Err(_) => panic!("no event {what} within {WAIT:?}; seen {:#?}", self.seen),
                Ok(None) => panic!("event channel closed"),
                Ok(Some(Received::Missed(n))) => panic!("missed {n} events"),
                Ok(Some(Received::Event(e))) => {
                    let hit = f(&e);
                    self.seen.push(e);
                    if let Some(v) = hit {
                        return v;
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn connect_and_connack_packets_carry_their_exact_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut log = Log {
        rx: h.events(),
        seen: Vec::new(),
    };
    let mut d = Raw::connect(h.mqtt_addr()).await;
    d.send_bytes(&hex(SDK_CONNECT)).await;
    assert!(matches!(d.recv().await, Packet::ConnAck(_)));
    let connect = hex(SDK_CONNECT);
    log.find("CONNECT in", |e| match e {
        Event::Packet {
            client_id,
            direction: Direction::In,
            bytes,
            ..
        } if bytes.as_ref() == connect.as_slice() => {
            assert_eq!(client_id.as_deref(), Some("9277"));
            Some(())
        }
        _ => None,
    })
    .await;
    log.find("CONNACK out", |e| match e {
        Event::Packet {
            client_id,
            direction: Direction::Out,
            bytes,
            at,
            ..
        } if bytes.as_ref() == [0x20, 0x02, 0x00, 0x00] => {
            assert_eq!(client_id.as_deref(), Some("9277"));
            assert!(*at > 0);
            Some(())
        }
        _ => None,
    })
    .await;
    log.find("Connected", |e| match e {
        Event::Connected {
            client_id,
            namespace,
            clean_session,
            keep_alive,
            session_present,
            remote,
        } if client_id == "9277" => {
            assert_eq!(namespace, "339");
            assert!(*clean_session);
            assert_eq!(*keep_alive, 1200);
            assert!(!*session_present);
            assert!(remote.starts_with("127.0.0.1:"), "{remote}");
            Some(())
        }
        _ => None,
    })
    .await;
    // a PUBLISH in and its PUBACK out, byte for byte
    let up = hex(
        "32 1E 00 03 24 64 70 00 03 03 00 14 7B 22 74 65 6D 70 65 72 61 74 75 72 65 22 3A 32 32 2E 35 7D",
    );
    d.send_bytes(&up).await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(3)));
    log.packet("PUBLISH in", Direction::In, &up).await;
    log.packet("PUBACK out", Direction::Out, &[0x40, 0x02, 0x00, 0x03])
        .await;
    d.send_bytes(&[0xE0, 0x00]).await;
    d.closed().await;
    log.find("Disconnected", |e| match e {
        Event::Disconnected { client_id, reason } if client_id == "9277" => {
            assert_eq!(reason, "DISCONNECT");
            Some(())
        }
        _ => None,
    })
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn data_plane_events_as_they_happen() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let addr = h.mqtt_addr();
    let mut log = Log {
        rx: h.events(),
        seen: Vec::new(),
    };

    // Subscription, then unsubscription
    let mut sub = Raw::device(addr, "9278", "def456", false).await;
    sub.send(&subscribe(
        1,
        &[("/t", QoS::AtLeastOnce), ("/u", QoS::AtMostOnce)],
    ))
    .await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    log.find("Subscription /t", |e| match e {
        Event::Subscription {
            client_id,
            filter,
            qos,
        } if client_id == "9278" && filter == "/t" => Some(*qos),
        _ => None,
    })
    .await
    .map(|q| assert_eq!(q, 1))
    .expect("a subscription, not an unsubscription");
    sub.send(&Packet::Unsubscribe(onenet_desk::mqtt::Unsubscribe {
        pid: pid(2),
        filters: vec![onenet_desk::mqtt::TopicFilter::new("/u").unwrap()],
    }))
    .await;
    assert_eq!(sub.recv().await, Packet::UnsubAck(pid(2)));
    log.find("unsubscription /u", |e| match e {
        Event::Subscription {
            client_id,
            filter,
            qos: None,
        } if client_id == "9278" && filter == "/u" => Some(()),
        _ => None,
    })
    .await;
    sub.send(&Packet::Disconnect).await;
    sub.closed().await;
    log.find("9278 disconnected", |e| match e {
        Event::Disconnected { client_id, .. } if client_id == "9278" => Some(()),
        _ => None,
    })
    .await;

    // Datapoints, with the stored points and resolved times
    let mut d = Raw::device(addr, "9277", "abc123", true).await;
    d.send(&dp(
        &framed(3, r#"{"temperature":22.5}"#),
        QoS::AtLeastOnce,
        1,
    ))
    .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(1)));
    let sp = log
        .find("Datapoints", |e| match e {
            Event::Datapoints(sp) => Some(sp.clone()),
            _ => None,
        })
        .await;
    assert_eq!(sp.device_id, "9277");
    assert_eq!(sp.dp_type(), 3);
    assert_eq!(sp.points().len(), 1);
    assert_eq!(sp.points()[0].stream, "temperature");
    assert_eq!(sp.points()[0].value, DpValue::Json(serde_json::json!(22.5)));
    assert_eq!(sp.points()[0].at, None, "no device time in the payload");
    assert_eq!(sp.at(&sp.points()[0]), sp.received_at, "arrival time");
    // Decoded once: the traffic view's packet event carries the very upload the store and the
    // datapoint event got, not a second decoding.
    let seen = log
        .find("Packet with $dp", |e| match e {
            Event::Packet {
                direction: Direction::In,
                dp: Some(Ok(u)),
                ..
            } => Some(u.clone()),
            _ => None,
        })
        .await;
    assert!(
        std::sync::Arc::ptr_eq(&seen, &sp.upload),
        "one decoding, shared"
    );

    // OfflineQueue: 9278 is away with clean session 0
    d.send(&publish("/t", b"for later", QoS::AtLeastOnce, 2, false))
        .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(2)));
    log.find("OfflineQueue", |e| match e {
        Event::OfflineQueue {
            client_id,
            queued,
            dropped,
        } if client_id == "9278" => {
            assert_eq!((*queued, *dropped), (1, 0));
            Some(())
        }
        _ => None,
    })
    .await;

    // Retained set and cleared
    d.send(&publish("/cfg", b"v", QoS::AtLeastOnce, 3, true))
        .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(3)));
    log.find("Retained set", |e| match e {
        Event::Retained {
            namespace,
            topic,
            present: true,
        } if topic == "/cfg" => {
            assert_eq!(namespace, "339");
            Some(())
        }
        _ => None,
    })
    .await;
    d.send(&publish("/cfg", b"", QoS::AtLeastOnce, 4, true))
        .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(4)));
    log.find("Retained cleared", |e| match e {
        Event::Retained {
            topic,
            present: false,
            ..
        } if topic == "/cfg" => Some(()),
        _ => None,
    })
    .await;

    // Command: sent, then replied; and one for an offline device
    let c = h
        .send_command("9277", Bytes::from_static(b"go"), 0)
        .await
        .unwrap();
    let p = next_publish(&mut d).await;
    assert_eq!(p.topic.as_str(), format!("$creq/{}", c.uuid));
    log.find("Command sent", |e| match e {
        Event::Command(cmd) if cmd.uuid == c.uuid && cmd.status == CommandStatus::Sent => Some(()),
        _ => None,
    })
    .await;
    d.send(&publish(
        &format!("$crsp/{}", c.uuid),
        b"went",
        QoS::AtMostOnce,
        0,
        false,
    ))
    .await;
    log.find("Command replied", |e| match e {
        Event::Command(cmd) if cmd.uuid == c.uuid && cmd.status == CommandStatus::Replied => {
            assert_eq!(cmd.reply.as_deref(), Some(&b"went"[..]));
            Some(())
        }
        _ => None,
    })
    .await;
    let off = h
        .send_command("9279", Bytes::from_static(b"x"), 0)
        .await
        .unwrap();
    log.find("Command to an offline device", |e| match e {
        Event::Command(cmd) if cmd.uuid == off.uuid => {
            assert_eq!(cmd.status, CommandStatus::DeviceOffline);
            assert_eq!(cmd.device_id, "9279");
            Some(())
        }
        _ => None,
    })
    .await;

    // Diagnostic
    let (_k, _) = Raw::login(
        addr,
        &connect_packet("9279", Some("339"), Some("ghi789"), true, 30),
    )
    .await;
    log.find("Diagnostic", |e| match e {
        Event::Diagnostic(d) if d.device == "9279" => {
            assert_eq!(d.kind, DiagKind::KeepAlive);
            Some(())
        }
        _ => None,
    })
    .await;
    h.shutdown().await;
}

/// The console's reader comes with the broker (`start_watched`), subscribed before the listener accepts:
/// a device that connects the moment the broker is up (as devices do after a restart) is in the traffic
/// log, CONNECT and all, however late the reader is first read.
#[tokio::test]
async fn the_reader_from_start_sees_a_client_that_connected_before_it_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let (h, rx) = onenet_desk::start_watched(config(dir.path(), onenet_desk::Profile::Mqtt))
        .await
        .expect("broker starts");
    let mut d = Raw::connect(h.mqtt_addr()).await;
    d.send_bytes(&hex(SDK_CONNECT)).await;
    assert!(matches!(d.recv().await, Packet::ConnAck(_)));
    let mut log = Log {
        rx,
        seen: Vec::new(),
    };
    let connect = hex(SDK_CONNECT);
    log.packet("CONNECT in", Direction::In, &connect).await;
    log.find("Connected", |e| match e {
        Event::Connected { client_id, .. } => (client_id == "9277").then_some(()),
        _ => None,
    })
    .await;
}
