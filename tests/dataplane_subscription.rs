//! Datapoint subscription (spec §10, §13): a device subscribing `/{device}/{stream}` gets one PUBLISH per
//! uploaded datapoint, at the upload's QoS, with the value's text (or, by setting, a JSON object); only
//! within the product.

mod common;

use common::dataplane::*;
use common::*;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, Publish, QoS, SubackCode};

/// §6.1 example: temperature 36.5.
const TYPE1: &str = "01 00 44 7B 22 64 61 74 61 73 74 72 65 61 6D 73 22 3A 5B 7B 22 69 64 22 3A 22 74 65 6D 70 65 72 61 74 75 72 65 22
    2C 22 64 61 74 61 70 6F 69 6E 74 73 22 3A 5B 7B 22 76 61 6C 75 65 22 3A 33 36 2E 35 7D 5D 7D 5D 7D";
/// §6.5 example: temperature 22.5 (2015-03-22 22:31:12), "1" 102, pm2.5 89, "3" 10.
const TYPE5: &str = "05 00 36 2C 3B 74 65 6D 70 65 72 61 74 75 72 65 2C 32 30 31 35 2D 30 33 2D 32 32 20 32 32 3A 33 31 3A 31 32 2C 32
    32 2E 35 3B 31 30 32 3B 70 6D 32 2E 35 2C 38 39 3B 31 30";
/// §6.7 example: time 2016-03-22 22:31:12, group (1: 34.0, -20.3), group (2: 22.5).
const TYPE7: &str =
    "87 10 03 16 16 1F 0C 00 01 00 02 00 00 08 42 66 66 A2 C1 00 02 00 01 00 00 B4 41";

/// (topic, payload text, QoS) of each delivery.
fn seen(v: &[Publish]) -> Vec<(String, String, QoS)> {
    v.iter()
        .map(|p| {
            assert!(!p.retain, "datapoint deliveries are not retained");
            (
                p.topic.as_str().to_string(),
                String::from_utf8(p.payload.to_vec()).unwrap(),
                p.qos_pid.qos(),
            )
        })
        .collect()
}

fn d(topic: &str, payload: &str, qos: QoS) -> (String, String, QoS) {
    (topic.into(), payload.into(), qos)
}

#[tokio::test]
async fn one_publish_per_datapoint_with_the_value_text_at_the_upload_qos() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let addr = h.mqtt_addr();
    let mut sub = Raw::device(addr, "9278", "def456", true).await;
    sub.send(&subscribe(
        1,
        &[
            ("/9277/temperature", QoS::AtMostOnce),
            ("/9277/humidity", QoS::AtMostOnce),
            ("/9277/1", QoS::AtMostOnce),
            ("/9277/3", QoS::AtMostOnce),
            ("/9279/temperature", QoS::AtMostOnce),
        ],
    ))
    .await;
    assert!(
        sub.suback()
            .await
            .iter()
            .all(|c| *c == SubackCode::Granted(QoS::AtMostOnce))
    );
    let (mut other, _) = Raw::login(
        addr,
        &connect_packet("5", Some("400"), Some("x"), true, 120),
    )
    .await;
    other
        .send(&subscribe(1, &[("/9277/temperature", QoS::AtLeastOnce)]))
        .await;
    assert_eq!(
        other.suback().await,
        vec![SubackCode::Granted(QoS::AtLeastOnce)]
    );

    let mut dev = Raw::device(addr, "9277", "abc123", true).await;
    // type 1 at QoS 1
    publish_acked(&mut dev, dp(&hex(TYPE1), QoS::AtLeastOnce, 1)).await;
    assert_eq!(
        seen(&take_publishes(&mut sub, 1).await),
        vec![d("/9277/temperature", "36.5", QoS::AtLeastOnce)]
    );
    // type 3 at QoS 0: a JSON string goes without its quotes
    dev.send(&dp(
        &framed(3, r#"{"temperature":22.5,"humidity":"95.2%","co2":400}"#),
        QoS::AtMostOnce,
        0,
    ))
    .await;
    assert_eq!(
        seen(&take_publishes(&mut sub, 2).await),
        vec![
            d("/9277/temperature", "22.5", QoS::AtMostOnce),
            d("/9277/humidity", "95.2%", QoS::AtMostOnce)
        ]
    );
    // type 5 at QoS 1: the raw strings; "1" and "3" are position-named fields (pm2.5 is not subscribed)
    publish_acked(&mut dev, dp(&hex(TYPE5), QoS::AtLeastOnce, 2)).await;
    assert_eq!(
        seen(&take_publishes(&mut sub, 3).await),
        vec![
            d("/9277/temperature", "22.5", QoS::AtLeastOnce),
            d("/9277/1", "102", QoS::AtLeastOnce),
            d("/9277/3", "10", QoS::AtLeastOnce)
        ]
    );
    // type 7 at QoS 1: the shortest decimal of each float, in payload order
    publish_acked(&mut dev, dp(&hex(TYPE7), QoS::AtLeastOnce, 3)).await;
    assert_eq!(
        seen(&take_publishes(&mut sub, 2).await),
        vec![
            d("/9277/1", "34", QoS::AtLeastOnce),
            d("/9277/1", "-20.3", QoS::AtLeastOnce)
        ]
    );
    // type 7 without time at QoS 2
    publish_acked(
        &mut dev,
        dp(&hex("07 00 01 00 01 00 00 B4 41"), QoS::ExactlyOnce, 4),
    )
    .await;
    assert_eq!(
        seen(&take_publishes(&mut sub, 1).await),
        vec![d("/9277/1", "22.5", QoS::ExactlyOnce)]
    );
    assert_silent(&mut sub, "9278 (nothing else was subscribed)").await;
    assert_silent(&mut other, "product 400 subscribing /9277/temperature").await;
    h.shutdown().await;
}

#[tokio::test]
async fn json_setting_sends_ds_id_at_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    cfg.onenet.dp_subscription_json = true;
    let h = onenet_desk::start(cfg).await.unwrap();
    seed_registry(&h);
    let addr = h.mqtt_addr();
    let mut sub = Raw::device(addr, "9278", "def456", true).await;
    sub.send(&subscribe(
        1,
        &[
            ("/9277/1", QoS::AtMostOnce),
            ("/9277/humidity", QoS::AtMostOnce),
            ("/9277/temperature", QoS::AtMostOnce),
        ],
    ))
    .await;
    sub.suback().await;
    let mut dev = Raw::device(addr, "9277", "abc123", true).await;
    publish_acked(&mut dev, dp(&hex(TYPE7), QoS::AtLeastOnce, 1)).await;
    let got = take_publishes(&mut sub, 2).await;
    let objs: Vec<serde_json::Value> = got
        .iter()
        .map(|p| {
            assert_eq!(p.topic.as_str(), "/9277/1");
            assert_eq!(p.qos_pid.qos(), QoS::AtLeastOnce);
            serde_json::from_slice(&p.payload).expect("a JSON object")
        })
        .collect();
    for (o, want) in objs.iter().zip([34.0, -20.3]) {
        assert_eq!(o["ds_id"], "1", "{o}");
        assert_eq!(o["at"], "2016-03-22 22:31:12", "{o}");
        let v = o["value"].as_f64().expect("numeric value");
        assert!((v - want).abs() < 1e-9, "value {v} for {want} in {o}");
    }

    publish_acked(
        &mut dev,
        dp(
            &framed(3, r#"{"temperature":22.5,"humidity":"95.2%"}"#),
            QoS::AtLeastOnce,
            2,
        ),
    )
    .await;
    let stored = points(&h, "9277");
    let arrival = stored.iter().find(|p| p.stream == "humidity").unwrap().at;
    let got = take_publishes(&mut sub, 2).await;
    let objs: Vec<serde_json::Value> = got
        .iter()
        .map(|p| serde_json::from_slice(&p.payload).unwrap())
        .collect();
    assert_eq!(objs[0]["ds_id"], "temperature");
    assert_eq!(objs[0]["value"], serde_json::json!(22.5));
    assert_eq!(objs[1]["ds_id"], "humidity");
    assert_eq!(
        objs[1]["value"], "95.2%",
        "a string value stays a JSON string"
    );
    // no device time: the arrival time, as UTC+8 wall clock (formatted independently, by date(1))
    let local = arrival + 8 * 3_600_000;
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{}", local.div_euclid(1000))])
        .arg("+%Y-%m-%d %H:%M:%S")
        .output()
        .expect("date(1) runs");
    let mut at = String::from_utf8(out.stdout).unwrap().trim().to_string();
    if local % 1000 != 0 {
        at.push_str(&format!(".{:03}", local % 1000));
    }
    assert_eq!(objs[1]["at"], at.as_str());
    assert_eq!(objs[0]["at"], at.as_str());
    h.shutdown().await;
}

#[tokio::test]
async fn offline_datapoint_subscriber_gets_the_points_at_login() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let addr = h.mqtt_addr();
    let mut sub = Raw::device(addr, "9278", "def456", false).await;
    sub.send(&subscribe(1, &[("/9277/temperature", QoS::AtLeastOnce)]))
        .await;
    sub.suback().await;
    sub.send(&Packet::Disconnect).await;
    sub.closed().await;
    wait_online(&h, "9278", false).await;
    let mut dev = Raw::device(addr, "9277", "abc123", true).await;
    publish_acked(
        &mut dev,
        dp(&framed(3, r#"{"temperature":19}"#), QoS::AtLeastOnce, 1),
    )
    .await;
    let mut sub = Raw::device(addr, "9278", "def456", false).await;
    assert_eq!(
        seen(&take_publishes(&mut sub, 1).await),
        vec![d("/9277/temperature", "19", QoS::AtLeastOnce)]
    );
    h.shutdown().await;
}
