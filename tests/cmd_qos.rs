//! `POST /cmds?qos=1` (spec §7.2): a command the device does not answer is sent again, same uuid, at the
//! device's next login while it is still valid; it stays status 2 past the response window; status and
//! history show every send. `qos=0` is sent once. Driven as a user would: the HTTP API of the running
//! service and a raw-socket device; the restart case starts the service again on the same data dir.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use common::dataplane::{next_publish, now_ms};
use common::*;
use onenet_desk::ServiceHandle;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS, QosPid};
use serde_json::Value;
use tower::ServiceExt;

/// A call with product 339's key; asserts HTTP 200.
async fn api(h: &ServiceHandle, method: &str, uri: &str, body: &'static [u8]) -> Value {
    common::http::api(h, method, uri, Some("KEY339"), body).await
}

/// `POST /cmds?device_id=9277&{query}` → the new command's uuid.
async fn send(h: &ServiceHandle, query: &str, body: &'static [u8]) -> String {
    let v = api(h, "POST", &format!("/cmds?device_id=9277&{query}"), body).await;
    assert_eq!(v["errno"], 0, "{v}");
    v["data"]["cmd_uuid"].as_str().expect("a uuid").to_string()
}

async fn status(h: &ServiceHandle, uuid: &str) -> Value {
    let v = api(h, "GET", &format!("/cmds/{uuid}"), b"").await;
    assert_eq!(v["errno"], 0, "{v}");
    v["data"].clone()
}

/// The history item of `uuid`.
async fn history_item(h: &ServiceHandle, uuid: &str) -> Value {
    let v = api(
        h,
        "GET",
        "/cmds/history/9277?start=2020-01-01T00:00:00",
        b"",
    )
    .await;
    v["data"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["cmd_uuid"] == uuid)
        .unwrap_or_else(|| panic!("{uuid} not in the history: {v}"))
        .clone()
}

/// The next packet must be `$creq/{uuid}` at QoS 0 carrying `body`.
async fn expect_creq(d: &mut Raw, uuid: &str, body: &[u8]) {
    let p = next_publish(d).await;
    assert_eq!(p.topic.as_str(), format!("$creq/{uuid}"));
    assert_eq!(
        p.qos_pid,
        QosPid::AtMostOnce,
        "$creq goes out at QoS 0 (§13)"
    );
    assert_eq!(p.payload.as_ref(), body);
}

/// Drops the device's connection and waits until the broker has seen it go.
async fn disconnect(h: &ServiceHandle, d: Raw) {
    drop(d);
    wait_online(h, "9277", false).await;
}

/// Answers `$crsp/{uuid}` at QoS 1 and waits for the PUBACK.
async fn reply(d: &mut Raw, uuid: &str, body: &[u8]) {
    d.send(&publish(
        &format!("$crsp/{uuid}"),
        body,
        QoS::AtLeastOnce,
        7,
        false,
    ))
    .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(7)));
}

async fn wait_status(h: &ServiceHandle, uuid: &str, want: i64) -> Value {
    eventually(&format!("{uuid} status {want}"), || async {
        let v = status(h, uuid).await;
        (v["status"] == want).then_some(v)
    })
    .await
}

#[tokio::test]
async fn unanswered_qos1_command_is_resent_at_the_next_login_past_the_window_and_qos0_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    // a short response window, so the test sees both commands outlive it (wall clock, waited out for
    // real; nothing here needs to happen inside it)
    cfg.onenet.command_response_window = Duration::from_millis(50);
    let h = seeded_with(cfg).await;

    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let one = send(&h, "qos=1&timeout=600", b"{\"led\":1}").await;
    expect_creq(&mut d, &one, b"{\"led\":1}").await;
    let zero = send(&h, "qos=0&timeout=600", b"{\"led\":0}").await;
    expect_creq(&mut d, &zero, b"{\"led\":0}").await;
    let first = status(&h, &one).await;
    assert_eq!(first["status"], 2);
    assert_eq!(first["qos"], 1);
    assert_eq!(first["send_count"], 1);
    // the device does not answer and goes away
    disconnect(&h, d).await;

    // past the window: qos 0 timed out (5, final); qos 1 is still "Command Sent", waiting for the login
    wait_status(&h, &zero, 5).await;
    let waiting = status(&h, &one).await;
    assert_eq!(waiting["status"], 2, "qos 1 outlives the window: {waiting}");
    assert_eq!(waiting["desc"], "Command Sent");

    // the next login: the same $creq (same uuid topic, same body) again, and only that one
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    expect_creq(&mut d, &one, b"{\"led\":1}").await;
    d.assert_silent("qos 0 is not resent").await;

    let resent = status(&h, &one).await;
    assert_eq!(resent["send_count"], 2, "{resent}");
    assert_eq!(resent["sends"].as_array().unwrap().len(), 2, "{resent}");

    reply(&mut d, &one, b"done").await;
    let v = wait_status(&h, &one, 4).await;
    assert_eq!(v["desc"], "Command Response Received");
    assert_eq!(v["send_count"], 2);
    let resp = onenet_desk::http::router(h.clone())
        .oneshot(
            Request::get(format!("/cmds/{one}/resp"))
                .header("api-key", "KEY339")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
    assert_eq!(body.as_ref(), b"done");

    let item = history_item(&h, &one).await;
    assert_eq!(item["status"], 4);
    assert_eq!(item["qos"], 1);
    assert_eq!(item["send_count"], 2);
    let sends = item["sends"].as_array().unwrap();
    assert_eq!(sends.len(), 2, "{item}");
    assert!(
        sends[0]["time"].as_str() < sends[1]["time"].as_str(),
        "two distinct send times, oldest first: {item}"
    );
    assert_eq!(item["confirm_body"], hex::encode("done"));
    let item = history_item(&h, &zero).await;
    assert_eq!(
        (item["status"].clone(), item["send_count"].clone()),
        (5.into(), 1.into())
    );

    // answered: a further login sends nothing
    disconnect(&h, d).await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    d.assert_silent("an answered command is not resent").await;
    h.shutdown().await;
}

#[tokio::test]
async fn qos0_command_is_not_resent_even_at_a_login_within_its_window() {
    let dir = tempfile::tempdir().unwrap();
    // default window (10 s): the qos 0 command is still waiting for its reply when the device comes back
    let h = seeded(dir.path()).await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let uuid = send(&h, "timeout=600", b"once").await;
    expect_creq(&mut d, &uuid, b"once").await;
    disconnect(&h, d).await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    d.assert_silent("qos 0 is sent at most once").await;
    let v = status(&h, &uuid).await;
    assert_eq!(v["status"], 2, "{v}");
    assert_eq!(history_item(&h, &uuid).await["send_count"], 1);
    // and a reply within the window still completes it
    reply(&mut d, &uuid, b"late").await;
    wait_status(&h, &uuid, 4).await;
    h.shutdown().await;
}

#[tokio::test]
async fn qos1_command_whose_validity_ran_out_is_not_resent() {
    let dir = tempfile::tempdir().unwrap();
    // default window (10 s): the command is still live (waiting out its window) when its 1 s validity ends
    let h = seeded(dir.path()).await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let uuid = send(&h, "qos=1&timeout=1", b"short").await;
    expect_creq(&mut d, &uuid, b"short").await;
    disconnect(&h, d).await;
    let expire_at = h.command(&uuid).await.unwrap().expire_at.unwrap();
    eventually("the validity to run out", || async {
        (now_ms() > expire_at).then_some(())
    })
    .await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    d.assert_silent("a qos 1 command past its validity is not resent")
        .await;
    let v = status(&h, &uuid).await;
    assert_eq!(v["status"], 2, "still in its response window: {v}");
    assert_eq!(v["send_count"], 1);
    h.shutdown().await;
}

#[tokio::test]
async fn qos1_command_is_resent_after_a_restart_on_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let uuid = send(&h, "qos=1&timeout=600", b"reboot").await;
    expect_creq(&mut d, &uuid, b"reboot").await;
    disconnect(&h, d).await;
    h.shutdown().await;

    // the same data dir, a new process-worth of broker: the command comes back from the store
    let h = onenet_desk::start(config(dir.path(), Profile::OneNet))
        .await
        .expect("restarts");
    let v = status(&h, &uuid).await;
    assert_eq!(
        (v["status"].clone(), v["send_count"].clone()),
        (2.into(), 1.into())
    );
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    expect_creq(&mut d, &uuid, b"reboot").await;
    reply(&mut d, &uuid, b"ok").await;
    let v = wait_status(&h, &uuid, 4).await;
    assert_eq!(v["send_count"], 2, "{v}");
    assert_eq!(history_item(&h, &uuid).await["send_count"], 2);
    h.shutdown().await;
}

#[tokio::test]
async fn qos_outside_0_and_1_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let v = api(&h, "POST", "/cmds?device_id=9277&qos=2&timeout=60", b"x").await;
    assert_ne!(v["errno"], 0, "{v}");
    assert!(v["error"].as_str().unwrap().contains("qos"), "{v}");
    h.shutdown().await;
}
