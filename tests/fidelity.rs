//! OneNET fidelity (issue 11 items 1, 5, 9), seen from a raw-socket device and the HTTP API.

mod common;

use common::dataplane::{dp, framed, ping, publish_acked, take_publishes};
use common::{Raw, broker, seed_registry};
use onenet_desk::ServiceHandle;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::QoS;
use onenet_desk::mqtt::{Packet, SubackCode};
use serde_json::Value;

/// A SUBSCRIBE (flags 0010) written byte by byte, so filters the codec would not build can be sent.
fn subscribe_bytes(pid: u16, filters: &[&str]) -> Vec<u8> {
    let mut body = pid.to_be_bytes().to_vec();
    for f in filters {
        body.extend_from_slice(&(f.len() as u16).to_be_bytes());
        body.extend_from_slice(f.as_bytes());
        body.push(0);
    }
    let mut p = vec![0x82];
    let mut n = body.len();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        p.push(b);
        if n == 0 {
            break;
        }
    }
    p.extend_from_slice(&body);
    p
}

async fn suback(r: &mut Raw) -> Vec<SubackCode> {
    match r.recv().await {
        Packet::SubAck(a) => a.codes,
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

async fn http(h: &ServiceHandle, method: &str, uri: &str, body: &str) -> Value {
    let (_, b) = common::http::call(h, method, uri, Some("KEY339"), body.to_string()).await;
    serde_json::from_slice(&b).unwrap()
}

/// Item 1: `/9278/pm2.5`, `/9278/温度`, `/9278/temp-1` are granted, and each gets its datapoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datapoint_topics_take_every_stream_name_dp_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut a = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    a.send_bytes(&subscribe_bytes(
        1,
        &["/9278/pm2.5", "/9278/温度", "/9278/temp-1"],
    ))
    .await;
    assert_eq!(
        suback(&mut a).await,
        [SubackCode::Granted(QoS::AtMostOnce); 3],
        "datapoint topics must be granted"
    );
    let mut b = Raw::device(h.mqtt_addr(), "9278", "def456", true).await;
    publish_acked(
        &mut b,
        dp(
            &framed(3, r#"{"pm2.5":89,"温度":22.5,"temp-1":"x"}"#),
            QoS::AtLeastOnce,
            1,
        ),
    )
    .await;
    let mut got: Vec<(String, String)> = take_publishes(&mut a, 3)
        .await
        .into_iter()
        .map(|p| {
            (
                p.topic.as_str().to_string(),
                String::from_utf8(p.payload.to_vec()).unwrap(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("/9278/pm2.5".to_string(), "89".to_string()),
            ("/9278/temp-1".to_string(), "x".to_string()),
            ("/9278/温度".to_string(), "22.5".to_string()),
        ]
    );
    h.shutdown().await;
}

/// Item 5: `room#1` and `a+/b` get 0x80, the others in the same SUBSCRIBE are granted, and the
/// connection stays open; a malformed packet still closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misplaced_wildcards_get_0x80_and_the_connection_stays() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut a = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    a.send_bytes(&subscribe_bytes(7, &["/ok", "room#1", "a+/b", "/also_ok"]))
        .await;
    let g = SubackCode::Granted(QoS::AtMostOnce);
    assert_eq!(
        suback(&mut a).await,
        [g, SubackCode::Failure, SubackCode::Failure, g]
    );
    ping(&mut a).await;
    // Granted filters work.
    let mut b = Raw::device(h.mqtt_addr(), "9278", "def456", true).await;
    b.send(&common::publish("/ok", b"hi", QoS::AtMostOnce, 0, false))
        .await;
    let p = take_publishes(&mut a, 1).await;
    assert_eq!(p[0].topic.as_str(), "/ok");
    // A malformed packet (requested QoS 3) still closes the connection.
    let mut bad = subscribe_bytes(8, &["/x"]);
    *bad.last_mut().unwrap() = 3;
    a.send_bytes(&bad).await;
    assert!(
        a.closed().await.is_empty(),
        "no SUBACK for a malformed packet"
    );
    h.shutdown().await;
}

/// Item 9: datapoint subscriptions are not the product's topics; one SUBSCRIBE of 100 streams leaves the
/// topic list free, so `POST /mqtt/topic` still succeeds. Device topics are still added (§8.1, Q5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datapoint_subscriptions_stay_off_the_topic_list() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut a = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let mut filters: Vec<String> = (0..99).map(|i| format!("/9278/s{i}")).collect();
    filters.push("/topic_a".into());
    let refs: Vec<&str> = filters.iter().map(String::as_str).collect();
    a.send_bytes(&subscribe_bytes(1, &refs)).await;
    let codes = suback(&mut a).await;
    assert!(
        codes
            .iter()
            .all(|c| *c == SubackCode::Granted(QoS::AtMostOnce))
    );
    h.flush().await;
    let list = http(&h, "GET", "/mqtt/topic", "").await;
    assert_eq!(list["data"], serde_json::json!(["/topic_a"]), "{list}");
    let created = http(&h, "POST", "/mqtt/topic", r#"{"name":"/topic_b"}"#).await;
    assert_eq!(created["errno"], 0, "{created}");
    h.shutdown().await;
}
