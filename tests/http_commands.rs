//! Command statuses 0, 3 and 6 and command-history paging as an HTTP client sees them: the HTTP router
//! of the running service, with a real device on the MQTT socket receiving and answering.

mod common;

use bytes::Bytes;
use common::*;
use onenet_desk::ServiceHandle;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS};
use serde_json::{Value, json};

/// A call with product 339's key; asserts HTTP 200.
async fn api(h: &ServiceHandle, method: &str, uri: &str, body: impl Into<Bytes>) -> Value {
    common::http::api(h, method, uri, Some("KEY339"), body).await
}

const HISTORY: &str = "/cmds/history/9277?start=2020-01-01T00:00:00";

/// The history's items (status, hex body), newest first.
async fn history(h: &ServiceHandle, query: &str) -> (Value, Vec<(i64, String)>) {
    let v = api(h, "GET", &format!("{HISTORY}{query}"), "").await;
    assert_eq!(v["errno"], 0, "{v}");
    let items = v["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["status"].as_i64().unwrap(),
                i["body"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (v, items)
}

#[tokio::test]
async fn status_0_3_and_6_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    cfg.onenet.command_reply_limit = 4;
    let h = seeded_with(cfg).await;

    // 0: offline, no validity. The API answers errno 10 and the history records status 0.
    let v = api(&h, "POST", "/cmds?device_id=9277", "c0").await;
    assert_eq!(v, json!({"errno": 10, "error": "device not online: 9277"}));
    let (_, items) = history(&h, "").await;
    assert_eq!(items, vec![(0, hex::encode("c0"))]);

    // 3: offline with a validity of 1 s that runs out before the device comes
    let v = api(&h, "POST", "/cmds?device_id=9277&timeout=1", "c3").await;
    let late = v["data"]["cmd_uuid"].as_str().expect("a uuid").to_string();
    assert_eq!(
        api(&h, "GET", &format!("/cmds/{late}"), "").await["data"],
        json!({"status": 1, "desc": "Command Created"})
    );
    let v = eventually("status 3", || async {
        let v = api(&h, "GET", &format!("/cmds/{late}"), "").await;
        (v["data"]["status"] == 3).then_some(v)
    })
    .await;
    assert_eq!(v["data"]["desc"], "Send Command Failed");
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    d.assert_silent("an expired command is never delivered")
        .await;

    // 6: the device replies with more than the limit (4 bytes here)
    let v = api(&h, "POST", "/cmds?device_id=9277", "c6").await;
    let big = v["data"]["cmd_uuid"].as_str().unwrap().to_string();
    let Packet::Publish(p) = d.recv().await else {
        panic!("expected $creq")
    };
    assert_eq!(p.topic.as_str(), format!("$creq/{big}"));
    d.send(&publish(
        &format!("$crsp/{big}"),
        b"12345",
        QoS::AtLeastOnce,
        1,
        false,
    ))
    .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(1)));
    let v = api(&h, "GET", &format!("/cmds/{big}"), "").await;
    assert_eq!(
        v["data"],
        json!({"status": 6, "desc": "Command Response Too Large"})
    );
    let v = api(&h, "GET", &format!("/cmds/{big}/resp"), "").await;
    assert_eq!(v["errno"], 8, "no response kept for status 6: {v}");

    let (_, items) = history(&h, "").await;
    assert_eq!(
        items,
        vec![
            (6, hex::encode("c6")),
            (3, hex::encode("c3")),
            (0, hex::encode("c0"))
        ],
        "newest first"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn command_history_pages() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    // five offline commands (status 0), one per creation time
    let mut created = Vec::new();
    for i in 0..5 {
        let c = h
            .send_command("9277", Bytes::from(format!("b{i}")), 0)
            .await
            .unwrap();
        created.push(c.created_at);
        eventually("the clock to move", || async {
            (common::dataplane::now_ms() > c.created_at).then_some(())
        })
        .await;
    }
    let body = |i: usize| hex::encode(format!("b{i}"));
    let (v, items) = history(&h, "&page=1&per_page=2").await;
    assert_eq!(v["data"]["total_count"], 5);
    assert_eq!(
        (v["data"]["page"].clone(), v["data"]["per_page"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(items, vec![(0, body(4)), (0, body(3))]);
    let (_, items) = history(&h, "&page=2&per_page=2").await;
    assert_eq!(items, vec![(0, body(2)), (0, body(1))]);
    let (v, items) = history(&h, "&page=3&per_page=2").await;
    assert_eq!(items, vec![(0, body(0))]);
    assert_eq!(v["data"]["total_count"], 5);
    let (_, items) = history(&h, "&page=4&per_page=2").await;
    assert!(items.is_empty(), "past the end: an empty page");
    // the default page size holds all five
    let (v, items) = history(&h, "").await;
    assert_eq!(v["data"]["per_page"], 30);
    assert_eq!(items.len(), 5);
    // paging parameters out of range
    for q in ["&page=0", "&per_page=0", "&per_page=101"] {
        let v = api(&h, "GET", &format!("{HISTORY}{q}"), "").await;
        assert_eq!(v["errno"], 6, "{q}: {v}");
    }
    h.shutdown().await;
}
