//! The project's MQTT client (`onenet_desk::client`) against the broker over real TCP: every QoS, the
//! in-flight window, subscribe/unsubscribe, ping, the will on abort, refusal codes, and the exact CONNECT
//! bytes it sends.

mod common;

use std::time::Duration;

use common::{WAIT, broker, seed_registry};
use onenet_desk::client::{self, ClientError, ConnectOptions};
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{ConnectReturnCode, QoS, SubackCode};
use tokio::time::timeout;

fn opts(h: &onenet_desk::ServiceHandle, id: &str) -> ConnectOptions {
    ConnectOptions::new(h.mqtt_addr().to_string(), id)
}

#[tokio::test]
async fn publishes_at_every_qos_reach_a_subscriber_in_order_and_are_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::Mqtt).await;
    let (sub, mut inc, ack) = client::connect(opts(&h, "sub")).await.unwrap();
    assert!(!ack.session_present);
    let codes = sub
        .subscribe(&[("t/0", QoS::AtMostOnce), ("t/+", QoS::ExactlyOnce)])
        .await
        .unwrap();
    assert_eq!(
        codes,
        vec![
            SubackCode::Granted(QoS::AtMostOnce),
            SubackCode::Granted(QoS::ExactlyOnce)
        ]
    );
    let (publ, _, _) = client::connect(opts(&h, "pub").with_max_inflight(4))
        .await
        .unwrap();
    let mut deliveries = Vec::new();
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        for k in 0..20 {
            let d = publ
                .publish(&format!("t/{}", i + 1), qos, format!("{i}-{k}"))
                .await
                .unwrap();
            deliveries.push(d);
        }
    }
    for d in deliveries {
        timeout(WAIT, d.wait()).await.unwrap().unwrap();
    }
    publ.ping().await.unwrap();
    let mut got = Vec::new();
    while got.len() < 60 {
        let m = timeout(WAIT, inc.recv()).await.unwrap().expect("message");
        got.push((
            m.topic.as_str().to_string(),
            m.qos_pid.qos(),
            String::from_utf8(m.payload.to_vec()).unwrap(),
        ));
    }
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let mine: Vec<_> = got
            .iter()
            .filter(|g| g.0 == format!("t/{}", i + 1))
            .collect();
        assert_eq!(mine.len(), 20, "topic t/{}", i + 1);
        for (k, g) in mine.iter().enumerate() {
            assert_eq!(g.2, format!("{i}-{k}"), "in order");
            assert_eq!(g.1, qos);
        }
    }
    sub.unsubscribe(&["t/+"]).await.unwrap();
    publ.publish("t/9", QoS::AtLeastOnce, "late")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    sub.ping().await.unwrap();
    assert!(inc.try_recv().is_none(), "nothing after UNSUBSCRIBE");
    publ.disconnect().await.unwrap();
    assert_eq!(publ.closed().await, "disconnected");
    assert!(matches!(
        publ.publish("t/1", QoS::AtMostOnce, "x").await,
        Err(ClientError::Closed(_))
    ));
    h.shutdown().await;
}

#[tokio::test]
async fn the_window_bounds_unacknowledged_messages() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::Mqtt).await;
    let (c, _, _) = client::connect(opts(&h, "w").with_max_inflight(2))
        .await
        .unwrap();
    // Window of 2: a third publish can only start once an earlier one was acknowledged, which the
    // broker does; all 200 complete without ever having more than 2 outstanding.
    let mut n = 0;
    for _ in 0..200 {
        let d = c.publish("w", QoS::AtLeastOnce, "x").await.unwrap();
        d.wait().await.unwrap();
        n += 1;
    }
    assert_eq!(n, 200);
    let zero = ConnectOptions::new("127.0.0.1:1", "x").with_max_inflight(0);
    assert!(matches!(
        client::connect(zero).await,
        Err(ClientError::Invalid(_))
    ));
    h.shutdown().await;
}

#[tokio::test]
async fn refused_connect_is_a_typed_error_with_the_connack_code() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let bad = opts(&h, "9277").with_credentials("339", "wrong");
    match client::connect(bad).await {
        Err(ClientError::Refused { code }) => {
            assert_eq!(code, ConnectReturnCode::BadUserNameOrPassword)
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("accepted a wrong password"),
    }
    let good = opts(&h, "9277").with_credentials("339", "abc123");
    let (c, _, _) = client::connect(good).await.unwrap();
    c.ping().await.unwrap();
    h.shutdown().await;
}

#[tokio::test]
async fn abort_without_disconnect_makes_the_broker_publish_the_will() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::Mqtt).await;
    let (w, mut inc, _) = client::connect(opts(&h, "watcher")).await.unwrap();
    w.subscribe(&[("will/#", QoS::AtLeastOnce)]).await.unwrap();
    let o = opts(&h, "dying")
        .with_will("will/dying", "gone", QoS::AtLeastOnce, false)
        .unwrap();
    let (d, _, _) = client::connect(o).await.unwrap();
    d.abort().await;
    let m = timeout(WAIT, inc.recv()).await.unwrap().unwrap();
    assert_eq!(m.topic.as_str(), "will/dying");
    assert_eq!(&m.payload[..], b"gone");
    h.shutdown().await;
}

#[tokio::test]
async fn connect_bytes_are_exactly_the_official_sdk_capture() {
    // Spec §14: the official sample's CONNECT (client 9277, product 339, auth abc123, keepalive 1200).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let mut f = client::Framed::new(s, 1 << 20);
        let (_, raw) = f.read().await.unwrap().unwrap();
        f.write_raw(&[0x20, 0x02, 0x00, 0x00]).await.unwrap();
        // Keep the socket open until the client pinged once.
        let (p, _) = f.read().await.unwrap().unwrap();
        assert_eq!(p, onenet_desk::mqtt::Packet::PingReq);
        f.write_raw(&[0xD0, 0x00]).await.unwrap();
        raw
    });
    let o = ConnectOptions::new(addr.to_string(), "9277")
        .with_credentials("339", "abc123")
        .with_keep_alive(1200)
        .with_clean_session(true);
    let (c, _, _) = client::connect(o).await.unwrap();
    timeout(Duration::from_secs(5), c.ping())
        .await
        .unwrap()
        .unwrap();
    let raw = server.await.unwrap();
    let want = "10 1D 00 04 4D 51 54 54 04 C2 04 B0 00 04 39 32 37 37 00 03 33 33 39 00 06 61 62 63 31 32 33";
    assert_eq!(hex::encode_upper(&raw), want.replace(' ', ""));
}
