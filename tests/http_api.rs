//! The OneNET-compatible HTTP API: every endpoint's success shape and errors (2, 3, 5, 6, 7, 8 …), called
//! through the router without a socket, plus end-to-end runs over a real socket with a real device.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::http::{KEY, api, call, errno, setup};
use common::*;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS};
use serde_json::{Value, json};

const ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/mqtt?topic=/t"),
    ("POST", "/mqtt/topic"),
    ("GET", "/mqtt/topic"),
    ("DELETE", "/mqtt/topic?name=x"),
    ("GET", "/mqtt/topic_device?topic=/t"),
    ("GET", "/mqtt/device_topic/9277"),
    ("POST", "/cmds?device_id=9277"),
    ("GET", "/cmds/81572aae-fc34-4deb-8f06-ab45d73cb12b"),
    ("GET", "/cmds/81572aae-fc34-4deb-8f06-ab45d73cb12b/resp"),
    ("GET", "/cmds/history/9277?start=2026-01-01T00:00:00"),
    ("POST", "/devices/9277/datapoints"),
    ("GET", "/devices/9277/datapoints"),
    ("GET", "/devices/9277/datastreams"),
    ("GET", "/admin/products"),
    ("GET", "/admin/devices"),
    ("GET", "/admin/sessions"),
    ("GET", "/admin/metrics"),
    ("GET", "/admin/retained"),
    ("GET", "/admin/queues/9277"),
    ("GET", "/admin/diagnostics/9277"),
];

#[tokio::test]
async fn every_endpoint_wants_a_valid_api_key() {
    let (_d, h) = setup().await;
    for (m, uri) in ENDPOINTS {
        let v = api(&h, m, uri, None, "").await;
        assert_eq!(errno(&v), 2, "{m} {uri}: {v}");
        assert_eq!(v["error"], "api-key required");
        let v = api(&h, m, uri, Some("wrong"), "").await;
        assert_eq!(errno(&v), 3, "{m} {uri}: {v}");
        assert_eq!(v["error"], "auth failed");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn bodies_over_64_kb_are_errno_5_and_unknown_paths_errno_8() {
    let (_d, h) = setup().await;
    let big = vec![b'x'; 64 * 1024 + 1];
    for uri in [
        "/mqtt?topic=/t",
        "/mqtt/topic",
        "/cmds?device_id=9277",
        "/devices/9277/datapoints",
    ] {
        let v = api(&h, "POST", uri, KEY, big.clone()).await;
        assert_eq!(errno(&v), 5, "{uri}: {v}");
    }
    let v = api(&h, "GET", "/no/such/api", KEY, "").await;
    assert_eq!(errno(&v), 8);
    h.shutdown().await;
}

#[tokio::test]
async fn http_push_reaches_online_subscribers_only() {
    let (_d, h) = setup().await;
    let addr = h.mqtt_addr();
    let mut online = Raw::device(addr, "9278", "def456", true).await;
    online
        .send(&subscribe(1, &[("/lab/cfg", QoS::AtLeastOnce)]))
        .await;
    assert!(matches!(online.recv().await, Packet::SubAck(_)));
    // a persistent subscriber that is offline
    let (mut off, _) = Raw::login(
        addr,
        &connect_packet("9279", Some("339"), Some("ghi789"), false, 120),
    )
    .await;
    off.send(&subscribe(1, &[("/lab/cfg", QoS::AtLeastOnce)]))
        .await;
    assert!(matches!(off.recv().await, Packet::SubAck(_)));
    off.send(&Packet::Disconnect).await;
    off.closed().await;
    wait_online(&h, "9279", false).await;

    let v = api(&h, "POST", "/mqtt?topic=/lab/cfg", KEY, "{\"mode\":2}").await;
    assert_eq!(v, json!({"errno": 0, "error": "succ"}));
    let Packet::Publish(p) = online.recv().await else {
        panic!()
    };
    assert_eq!(p.payload.as_ref(), b"{\"mode\":2}");
    assert_eq!(p.qos_pid.qos(), QoS::AtMostOnce, "HTTP push is QoS 0");
    let (mut off, _) = Raw::login(
        addr,
        &connect_packet("9279", Some("339"), Some("ghi789"), false, 120),
    )
    .await;
    off.assert_silent("not queued for offline devices").await;

    assert_eq!(errno(&api(&h, "POST", "/mqtt", KEY, "x").await), 7);
    assert_eq!(
        errno(&api(&h, "POST", "/mqtt?topic=$creq/x", KEY, "x").await),
        6
    );
    assert_eq!(
        errno(&api(&h, "POST", "/mqtt?topic=a/%2B", KEY, "x").await),
        6
    );
    h.shutdown().await;
}

#[tokio::test]
async fn topic_management() {
    let (_d, h) = setup().await;
    let v = api(
        &h,
        "POST",
        "/mqtt/topic",
        KEY,
        r#"{"name":"topic/test/01"}"#,
    )
    .await;
    assert_eq!(v, json!({"errno": 0, "error": "succ"}));
    assert_eq!(
        errno(
            &api(
                &h,
                "POST",
                "/mqtt/topic",
                KEY,
                r#"{"name":"topic/test/01"}"#
            )
            .await
        ),
        12
    );
    assert_eq!(
        errno(&api(&h, "POST", "/mqtt/topic", KEY, r#"{"name":"bad name"}"#).await),
        6
    );
    assert_eq!(
        errno(&api(&h, "POST", "/mqtt/topic", KEY, r#"{"nom":"x"}"#).await),
        7
    );
    assert_eq!(
        errno(&api(&h, "POST", "/mqtt/topic", KEY, "{not json").await),
        4
    );
    // subscribing creates the topic (§8.1)
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    d.send(&subscribe(1, &[("topic/test/02", QoS::AtMostOnce)]))
        .await;
    assert!(matches!(d.recv().await, Packet::SubAck(_)));
    h.flush().await;
    let v = api(&h, "GET", "/mqtt/topic", KEY, "").await;
    assert_eq!(v["data"], json!(["topic/test/01", "topic/test/02"]));
    let v = api(
        &h,
        "GET",
        "/mqtt/topic_device?topic=topic/test/02&page=1&per_page=10",
        KEY,
        "",
    )
    .await;
    assert_eq!(
        v["data"],
        json!({"per_page": 10, "devices": [9277], "total_count": 1, "page": 1})
    );
    assert_eq!(
        errno(&api(&h, "GET", "/mqtt/topic_device", KEY, "").await),
        7
    );
    assert_eq!(
        errno(
            &api(
                &h,
                "GET",
                "/mqtt/topic_device?topic=x&per_page=1001",
                KEY,
                ""
            )
            .await
        ),
        6
    );
    assert_eq!(
        errno(&api(&h, "GET", "/mqtt/topic_device?topic=x&page=0", KEY, "").await),
        6
    );
    let v = api(&h, "GET", "/mqtt/device_topic/9277", KEY, "").await;
    assert_eq!(v["data"], json!(["topic/test/02"]));
    assert_eq!(
        errno(&api(&h, "GET", "/mqtt/device_topic/5", KEY, "").await),
        8,
        "device of another product"
    );
    assert_eq!(
        errno(&api(&h, "DELETE", "/mqtt/topic?name=topic/test/01", KEY, "").await),
        0
    );
    assert_eq!(
        errno(&api(&h, "DELETE", "/mqtt/topic?name=topic/test/01", KEY, "").await),
        8
    );
    assert_eq!(errno(&api(&h, "DELETE", "/mqtt/topic", KEY, "").await), 7);
    for i in 0..99 {
        api(
            &h,
            "POST",
            "/mqtt/topic",
            KEY,
            format!(r#"{{"name":"t{i}"}}"#),
        )
        .await;
    }
    let v = api(&h, "POST", "/mqtt/topic", KEY, r#"{"name":"t_over"}"#).await;
    assert_eq!(errno(&v), 13, "100 topics per product: {v}");
    h.shutdown().await;
}

#[tokio::test]
async fn command_round_trip_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    cfg.onenet.command_response_window = Duration::from_millis(400);
    let h = seeded_with(cfg).await;
    // offline, online-only: errno 10 with the device id
    let v = api(&h, "POST", "/cmds?device_id=9277", KEY, "{\"led\":1}").await;
    assert_eq!(v, json!({"errno": 10, "error": "device not online: 9277"}));
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let v = api(
        &h,
        "POST",
        "/cmds?device_id=9277&qos=0&timeout=0",
        KEY,
        "{\"led\":1}",
    )
    .await;
    assert_eq!(errno(&v), 0, "{v}");
    let uuid = v["data"]["cmd_uuid"].as_str().unwrap().to_string();
    assert_eq!(uuid.len(), 36);
    let Packet::Publish(p) = d.recv().await else {
        panic!()
    };
    assert_eq!(p.topic.as_str(), format!("$creq/{uuid}"));
    assert_eq!(p.payload.as_ref(), b"{\"led\":1}");
    let v = api(&h, "GET", &format!("/cmds/{uuid}"), KEY, "").await;
    assert_eq!(v["data"], json!({"status": 2, "desc": "Command Sent"}));
    let v = api(&h, "GET", &format!("/cmds/{uuid}/resp"), KEY, "").await;
    assert_eq!(errno(&v), 8, "no response yet: {v}");
    // the reply, with a NUL byte like the official SDK's
    d.send(&publish(
        &format!("$crsp/{uuid}"),
        b"hello MQTT\0",
        QoS::AtLeastOnce,
        1,
        false,
    ))
    .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(1)));
    let v = api(&h, "GET", &format!("/cmds/{uuid}"), KEY, "").await;
    assert_eq!(
        v["data"],
        json!({"status": 4, "desc": "Command Response Received"})
    );
    let (status, bytes) = call(&h, "GET", &format!("/cmds/{uuid}/resp"), KEY, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes.as_ref(), b"hello MQTT\0", "exact reply bytes");
    // no reply → 5 after the window
    let v = api(&h, "POST", "/cmds?device_id=9277", KEY, "x").await;
    let late = v["data"]["cmd_uuid"].as_str().unwrap().to_string();
    let _ = d.recv().await;
    eventually("status 5", || async {
        let v = api(&h, "GET", &format!("/cmds/{late}"), KEY, "").await;
        (v["data"]["status"] == 5).then_some(())
    })
    .await;
    // history, newest first, bodies hex
    let v = api(
        &h,
        "GET",
        "/cmds/history/9277?start=2020-01-01T00:00:00&per_page=10",
        KEY,
        "",
    )
    .await;
    assert_eq!(v["data"]["total_count"], 3);
    let items = v["data"]["items"].as_array().unwrap();
    assert_eq!(items[0]["cmd_uuid"], late.as_str());
    assert_eq!(items[0]["status"], 5);
    assert_eq!(items[1]["body"], hex::encode("{\"led\":1}"));
    assert_eq!(items[1]["confirm_body"], hex::encode("hello MQTT\0"));
    assert_eq!(
        errno(&api(&h, "GET", "/cmds/history/9277", KEY, "").await),
        7,
        "start is required"
    );
    assert_eq!(
        errno(&api(&h, "GET", "/cmds/history/9277?start=yesterday", KEY, "").await),
        6
    );
    // parameter errors
    assert_eq!(errno(&api(&h, "POST", "/cmds", KEY, "x").await), 7);
    assert_eq!(
        errno(&api(&h, "POST", "/cmds?device_id=9277&qos=3", KEY, "x").await),
        6
    );
    assert_eq!(
        errno(&api(&h, "POST", "/cmds?device_id=9277&timeout=2678401", KEY, "x").await),
        6
    );
    assert_eq!(
        errno(&api(&h, "POST", "/cmds?device_id=5", KEY, "x").await),
        8,
        "another product's device"
    );
    assert_eq!(
        errno(
            &api(
                &h,
                "GET",
                "/cmds/00000000-0000-4000-8000-000000000000",
                KEY,
                ""
            )
            .await
        ),
        8
    );
    assert_eq!(
        errno(&api(&h, "GET", &format!("/cmds/{uuid}"), Some("KEY400"), "").await),
        8,
        "other product's key"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn offline_command_is_delivered_after_reconnect() {
    let (_d, h) = setup().await;
    let v = api(&h, "POST", "/cmds?device_id=9277&timeout=60", KEY, "later").await;
    let uuid = v["data"]["cmd_uuid"].as_str().unwrap().to_string();
    assert_eq!(
        api(&h, "GET", &format!("/cmds/{uuid}"), KEY, "").await["data"]["status"],
        1
    );
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let Packet::Publish(p) = d.recv().await else {
        panic!()
    };
    assert_eq!(p.topic.as_str(), format!("$creq/{uuid}"));
    d.send(&publish(
        &format!("$crsp/{uuid}"),
        b"done",
        QoS::AtMostOnce,
        0,
        false,
    ))
    .await;
    eventually("replied", || async {
        (api(&h, "GET", &format!("/cmds/{uuid}"), KEY, "").await["data"]["status"] == 4)
            .then_some(())
    })
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn datapoints_upload_and_queries() {
    let (_d, h) = setup().await;
    let body = r#"{"datastreams":[{"id":"temperature","datapoints":[{"at":"2026-11-25T10:00:00","value":21.5},{"at":"2026-11-25T10:00:01","value":22}]},{"id":"door","datapoints":[{"value":"open"}]}]}"#;
    let v = api(&h, "POST", "/devices/9277/datapoints", KEY, body).await;
    assert_eq!(v, json!({"errno": 0, "error": "succ"}));
    let v = api(
        &h,
        "GET",
        "/devices/9277/datapoints?datastream_id=temperature",
        KEY,
        "",
    )
    .await;
    assert_eq!(
        v["data"],
        json!({"count": 2, "datastreams": [{"id": "temperature", "datapoints": [
            {"at": "2026-11-25 10:00:00", "value": 21.5}, {"at": "2026-11-25 10:00:01", "value": 22}]}]})
    );
    let v = api(
        &h,
        "GET",
        "/devices/9277/datapoints?datastream_id=temperature&start=2026-11-25T10:00:01&limit=10",
        KEY,
        "",
    )
    .await;
    assert_eq!(v["data"]["count"], 1);
    let v = api(&h, "GET", "/devices/9277/datastreams", KEY, "").await;
    let streams = v["data"].as_array().unwrap();
    assert_eq!(streams.len(), 2);
    let door = streams.iter().find(|s| s["id"] == "door").unwrap();
    assert_eq!(door["current_value"], "open");
    assert_eq!(
        errno(&api(&h, "POST", "/devices/9277/datapoints", KEY, "{oops").await),
        4
    );
    assert_eq!(
        errno(
            &api(
                &h,
                "POST",
                "/devices/9277/datapoints",
                KEY,
                r#"{"datastreams":5}"#
            )
            .await
        ),
        6
    );
    assert_eq!(
        errno(&api(&h, "POST", "/devices/9277/datapoints", KEY, "").await),
        9
    );
    assert_eq!(
        errno(&api(&h, "GET", "/devices/9277/datapoints?limit=0", KEY, "").await),
        6
    );
    assert_eq!(
        errno(&api(&h, "GET", "/devices/77/datastreams", KEY, "").await),
        8
    );
    h.shutdown().await;
}

/// The real listener and the `cmd send --wait` CLI against `serve`, with a device answering.
#[cfg(unix)]
#[tokio::test]
async fn cli_cmd_send_waits_for_the_reply_over_a_real_socket() {
    use std::process::Command;
    let bin = env!("CARGO_BIN_EXE_onenet-desk");
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let out = Command::new(bin)
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    // no serve running: a clear message
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["product", "add", "--id", "339", "--api-key", "KEY339"])
        .output()
        .unwrap();
    assert!(out.status.success());
    cli(&[
        "device",
        "add",
        "--product",
        "339",
        "--id",
        "9277",
        "--auth-info",
        "abc123",
    ]);
    // A port that is ours (bound) but does not listen: connecting is refused, and no other process can
    // take it meanwhile (binding and dropping a listener would leave it free for anyone).
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let free = reserved.local_addr().unwrap();
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "cmd",
            "send",
            "--device",
            "9277",
            "--body",
            "x",
            "--http",
            &free.to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no onenet-desk serve is running"));
    drop(reserved);

    let server = Serve::start(dir.path(), &[]);
    let (mqtt, http) = (server.mqtt, server.http.to_string());

    let mut d = Raw::device(mqtt, "9277", "abc123", true).await;
    let device = tokio::spawn(async move {
        let Packet::Publish(p) = d.recv().await else {
            panic!()
        };
        let uuid = p.topic.as_str().strip_prefix("$creq/").unwrap().to_string();
        assert_eq!(p.payload.as_ref(), &[0x01, 0xFF]);
        d.send(&publish(
            &format!("$crsp/{uuid}"),
            b"{\"ok\":true}",
            QoS::AtLeastOnce,
            1,
            false,
        ))
        .await;
        assert_eq!(d.recv().await, Packet::PubAck(pid(1)));
    });
    let http2 = http.clone();
    let dir2 = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(bin)
            .arg("--data-dir")
            .arg(&dir2)
            .args([
                "cmd", "send", "--device", "9277", "--hex", "01 ff", "--wait", "--http", &http2,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    device.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], 4);
    assert_eq!(v["desc"], "Command Response Received");
    assert_eq!(v["reply"], "{\"ok\":true}");
    assert_eq!(v["cmd_uuid"].as_str().unwrap().len(), 36);
    // and a plain HTTP client over the socket
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .get(&format!("http://{http}/mqtt/topic"))
        .header("api-key", "KEY339")
        .call()
        .unwrap();
    let v: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(v["errno"], 0);
    assert!(server.stop().success());
}
