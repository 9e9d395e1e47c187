//! The plain MQTT 3.1.1 profile, driven by an independent client (rumqttc): anonymous login, wildcards,
//! min(pub, sub) delivery, `$` filters, QoS 2 exactly once, retained; and OneNET devices through rumqttc.

mod common;

use std::time::Duration;

use common::*;
use onenet_desk::config::Profile;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet as RPacket, QoS as RQoS};
use tokio::sync::mpsc;

/// A rumqttc client whose event loop runs on its own task; incoming packets arrive on `rx`.
struct Client {
    c: AsyncClient,
    rx: mpsc::UnboundedReceiver<RPacket>,
}

impl Client {
    async fn new(
        addr: std::net::SocketAddr,
        id: &str,
        creds: Option<(&str, &str)>,
        clean: bool,
    ) -> Client {
        let mut o = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        o.set_keep_alive(Duration::from_secs(30));
        o.set_clean_session(clean);
        if let Some((u, p)) = creds {
            o.set_credentials(u, p);
        }
        let (c, mut el) = AsyncClient::new(o, 100);
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(p)) => {
                        if tx.send(p).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        let mut cl = Client { c, rx };
        match cl.next().await {
            RPacket::ConnAck(a) => assert_eq!(a.code, rumqttc::ConnectReturnCode::Success),
            other => panic!("expected CONNACK, got {other:?}"),
        }
        cl
    }

    async fn next(&mut self) -> RPacket {
        tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("no packet in time")
            .expect("event loop ended")
    }

    /// The next PUBLISH, skipping acks.
    async fn publish(&mut self) -> rumqttc::Publish {
        loop {
            if let RPacket::Publish(p) = self.next().await {
                return p;
            }
        }
    }

    async fn suback(&mut self) -> Vec<rumqttc::SubscribeReasonCode> {
        loop {
            if let RPacket::SubAck(s) = self.next().await {
                return s.return_codes;
            }
        }
    }

    /// A barrier instead of a silence window: the next PUBLISH must be the marker `payload` (which the
    /// test published after everything that must not arrive, from the same publisher, so the broker
    /// routes it last); any other PUBLISH before it fails the test.
    async fn next_is_marker(&mut self, payload: &str) {
        let p = self.publish().await;
        assert_eq!(
            p.payload.as_ref(),
            payload.as_bytes(),
            "unexpected PUBLISH before the marker: {p:?}"
        );
    }
}

#[tokio::test]
async fn wildcards_work_and_delivery_is_min_of_pub_and_sub() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::Mqtt).await;
    let mut sub = Client::new(h.mqtt_addr(), "sub", None, true).await;
    sub.c
        .subscribe("sensors/+/temp", RQoS::AtMostOnce)
        .await
        .unwrap();
    sub.c
        .subscribe("alarms/#", RQoS::AtLeastOnce)
        .await
        .unwrap();
    sub.suback().await;
    sub.suback().await;
    let publisher = Client::new(h.mqtt_addr(), "pub", None, true).await;
    publisher
        .c
        .publish("sensors/1/temp", RQoS::AtLeastOnce, false, "21.5")
        .await
        .unwrap();
    let p = sub.publish().await;
    assert_eq!(p.topic, "sensors/1/temp");
    assert_eq!(p.payload.as_ref(), b"21.5");
    assert_eq!(p.qos, RQoS::AtMostOnce, "min(1, 0)");
    publisher
        .c
        .publish("alarms", RQoS::ExactlyOnce, false, "fire")
        .await
        .unwrap();
    let p = sub.publish().await;
    assert_eq!(p.topic, "alarms", "'#' matches the parent level");
    assert_eq!(p.qos, RQoS::AtLeastOnce, "min(2, 1)");
    publisher
        .c
        .publish("sensors/1/humidity", RQoS::AtMostOnce, false, "x")
        .await
        .unwrap();
    publisher
        .c
        .publish("sensors/1/temp", RQoS::AtMostOnce, false, "marker")
        .await
        .unwrap();
    sub.next_is_marker("marker").await;
    h.shutdown().await;
}

#[tokio::test]
async fn onenet_profile_refuses_wildcards_that_mqtt_grants() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut dev = Client::new(h.mqtt_addr(), "9277", Some(("339", "abc123")), true).await;
    dev.c
        .subscribe("sensors/+/temp", RQoS::AtMostOnce)
        .await
        .unwrap();
    assert_eq!(
        dev.suback().await,
        vec![rumqttc::SubscribeReasonCode::Failure]
    );
    h.shutdown().await;

    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::Mqtt).await;
    let mut c = Client::new(h.mqtt_addr(), "any", None, true).await;
    c.c.subscribe("sensors/+/temp", RQoS::AtMostOnce)
        .await
        .unwrap();
    assert_eq!(
        c.suback().await,
        vec![rumqttc::SubscribeReasonCode::Success(RQoS::AtMostOnce)]
    );
    c.c.subscribe("$internal/x", RQoS::AtMostOnce)
        .await
        .unwrap();
    assert_eq!(
        c.suback().await,
        vec![rumqttc::SubscribeReasonCode::Failure]
    );
    h.shutdown().await;
}

#[tokio::test]
async fn onenet_delivers_at_publisher_qos_where_mqtt_uses_min() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut sub = Client::new(h.mqtt_addr(), "9278", Some(("339", "def456")), true).await;
    sub.c.subscribe("/t", RQoS::AtMostOnce).await.unwrap();
    sub.suback().await;
    let publisher = Client::new(h.mqtt_addr(), "9277", Some(("339", "KEY339")), true).await;
    publisher
        .c
        .publish("/t", RQoS::ExactlyOnce, false, "v")
        .await
        .unwrap();
    assert_eq!(sub.publish().await.qos, RQoS::ExactlyOnce);
    h.shutdown().await;
}

#[tokio::test]
async fn qos2_exactly_once_between_two_clients() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::Mqtt).await;
    let mut sub = Client::new(h.mqtt_addr(), "sub", None, true).await;
    sub.c.subscribe("q", RQoS::ExactlyOnce).await.unwrap();
    sub.suback().await;
    let publisher = Client::new(h.mqtt_addr(), "pub", None, true).await;
    for i in 0..20 {
        publisher
            .c
            .publish("q", RQoS::ExactlyOnce, false, format!("{i}"))
            .await
            .unwrap();
    }
    for i in 0..20 {
        let p = sub.publish().await;
        assert_eq!(p.payload.as_ref(), format!("{i}").as_bytes());
        assert_eq!(p.qos, RQoS::ExactlyOnce);
    }
    // no duplicate of any of the 20 comes before a last message from the same publisher
    publisher
        .c
        .publish("q", RQoS::ExactlyOnce, false, "end")
        .await
        .unwrap();
    sub.next_is_marker("end").await;
    h.shutdown().await;
}

#[tokio::test]
async fn persistent_session_queues_while_offline() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::Mqtt).await;
    let mut sub = Client::new(h.mqtt_addr(), "keeper", None, false).await;
    sub.c.subscribe("k/#", RQoS::AtLeastOnce).await.unwrap();
    sub.suback().await;
    sub.c.disconnect().await.unwrap();
    eventually("offline", || async {
        h.sessions()
            .await
            .iter()
            .any(|s| s.client_id == "keeper" && !s.online)
            .then_some(())
    })
    .await;
    let publisher = Client::new(h.mqtt_addr(), "pub", None, true).await;
    publisher
        .c
        .publish("k/1", RQoS::AtLeastOnce, false, "a")
        .await
        .unwrap();
    publisher
        .c
        .publish("k/2", RQoS::AtMostOnce, false, "qos0 is not queued")
        .await
        .unwrap();
    publisher
        .c
        .publish("k/3", RQoS::AtLeastOnce, false, "b")
        .await
        .unwrap();
    eventually("queued", || async {
        h.sessions()
            .await
            .iter()
            .find(|s| s.client_id == "keeper" && s.queued == 2)
            .map(|_| ())
    })
    .await;
    let mut sub = Client::new(h.mqtt_addr(), "keeper", None, false).await;
    assert_eq!(sub.publish().await.payload.as_ref(), b"a");
    assert_eq!(sub.publish().await.payload.as_ref(), b"b");
    h.shutdown().await;
}

#[tokio::test]
async fn empty_client_id_gets_one_assigned() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::Mqtt).await;
    let mut r = Raw::connect(h.mqtt_addr()).await;
    r.send(&connect_packet("", None, None, true, 30)).await;
    assert!(matches!(r.recv().await, onenet_desk::mqtt::Packet::ConnAck(a) if a.code as u8 == 0));
    let s = h.sessions().await;
    assert!(s[0].client_id.starts_with("auto-"));
    let mut r = Raw::connect(h.mqtt_addr()).await;
    r.send(&connect_packet("", None, None, false, 30)).await;
    assert!(matches!(r.recv().await, onenet_desk::mqtt::Packet::ConnAck(a) if a.code as u8 == 2));
    h.shutdown().await;
}
