//! The local admin API (`/admin/…`): products and devices, sessions and kick, the paged retained listing,
//! queues and diagnostics, in the `onenet` profile (scoped to the key's product) and in the `mqtt`
//! profile (where clients are anonymous, and a key of the local registry reaches them all). Called through
//! the router without a socket; the devices are real MQTT connections.

mod common;

use common::http::{KEY, api, errno, setup};
use common::*;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS};
use serde_json::json;

#[tokio::test]
async fn admin_endpoints() {
    let (_d, h) = setup().await;
    let v = api(
        &h,
        "POST",
        "/admin/devices",
        KEY,
        r#"{"id":"12345","auth_info":"zz9"}"#,
    )
    .await;
    assert_eq!(v["data"]["id"], "12345");
    assert_eq!(v["data"]["product_id"], "339");
    assert_eq!(
        errno(&api(&h, "POST", "/admin/devices", KEY, r#"{"id":"12345"}"#).await),
        12
    );
    let v = api(&h, "GET", "/admin/devices", KEY, "").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 4);

    // kick: the session is closed by the broker, and its will is not published
    let mut watcher = Raw::device(h.mqtt_addr(), "9279", "ghi789", true).await;
    watcher.subscribe(&[("/will/12345", QoS::AtMostOnce)]).await;
    let (mut kicked, ack) = Raw::login(
        h.mqtt_addr(),
        &with_will(
            connect_packet("12345", Some("339"), Some("zz9"), true, 120),
            "/will/12345",
            "gone",
            QoS::AtMostOnce,
            false,
        ),
    )
    .await;
    assert_eq!(connack(&ack), (0, false));
    let v = api(&h, "GET", "/admin/sessions", KEY, "").await;
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["client_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"12345"), "{v}");
    // Each session's drops, QoS 0 at a full connection among them (issue 10: shown in the admin API).
    for s in v["data"].as_array().unwrap() {
        assert!(
            s["dropped"].is_u64() && s["dropped_qos0"].is_u64() && s["held_back"] == 0,
            "{s}"
        );
    }
    assert_eq!(
        errno(&api(&h, "POST", "/admin/sessions/12345/kick", KEY, "").await),
        0
    );
    assert_eq!(kicked.closed().await, vec![], "closed without a packet");
    wait_online(&h, "12345", false).await;
    watcher
        .assert_silent("a kicked device's will is not published")
        .await;
    let v = api(&h, "POST", "/admin/sessions/12345/kick", KEY, "").await;
    assert_eq!(errno(&v), 10, "kicking an offline device: {v}");

    assert_eq!(
        errno(&api(&h, "DELETE", "/admin/devices/12345", KEY, "").await),
        0
    );
    assert_eq!(
        errno(&api(&h, "DELETE", "/admin/devices/12345", KEY, "").await),
        8
    );
    let mut gone = Raw::connect(h.mqtt_addr()).await;
    gone.send(&connect_packet(
        "12345",
        Some("339"),
        Some("zz9"),
        true,
        120,
    ))
    .await;
    let got = gone.closed().await;
    assert!(
        !got.iter()
            .any(|p| matches!(p, Packet::ConnAck(a) if a.code as u8 == 0)),
        "a deleted device cannot log in: {got:?}"
    );

    // a product and its devices go together
    let v = api(
        &h,
        "POST",
        "/admin/products",
        KEY,
        r#"{"id":"777","api_key":"K777"}"#,
    )
    .await;
    assert_eq!(v["data"]["api_key"], "K777");
    let v = api(
        &h,
        "POST",
        "/admin/devices",
        Some("K777"),
        r#"{"id":"7001","auth_info":"p7"}"#,
    )
    .await;
    assert_eq!(v["data"]["product_id"], "777");
    assert_eq!(
        errno(&api(&h, "DELETE", "/admin/products/777", KEY, "").await),
        0
    );
    let v = api(&h, "GET", "/admin/products", KEY, "").await;
    let products: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(products, ["339", "400"], "777 is gone");
    assert_eq!(
        errno(&api(&h, "GET", "/admin/devices", Some("K777"), "").await),
        3,
        "its key no longer authenticates"
    );
    assert!(
        open_db(&h).device("7001").unwrap().is_none(),
        "its device went too"
    );

    // retained
    let mut p = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    p.send(&publish("/r", b"kept", QoS::AtLeastOnce, 1, true))
        .await;
    assert_eq!(p.recv().await, Packet::PubAck(pid(1)));
    let v = api(&h, "GET", "/admin/retained", KEY, "").await;
    assert_eq!(v["data"]["items"][0]["payload"], "kept");
    assert_eq!(v["data"]["total_count"], 1);
    assert!(v["data"]["next"].is_null());
    // Paged: two more, two per page, in topic order; `next` leads to the rest, then ends.
    for (i, t) in ["/r/b", "/r/a"].iter().enumerate() {
        let id = 2 + i as u16;
        p.send(&publish(t, b"more", QoS::AtLeastOnce, id, true))
            .await;
        assert_eq!(p.recv().await, Packet::PubAck(pid(id)));
    }
    let first = api(&h, "GET", "/admin/retained?limit=2", KEY, "").await;
    let topics = |v: &serde_json::Value| {
        v["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["topic"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(topics(&first), ["/r", "/r/a"]);
    assert_eq!(first["data"]["total_count"], 3);
    assert_eq!(first["data"]["next"], "/r/a");
    let rest = api(&h, "GET", "/admin/retained?limit=2&after=/r/a", KEY, "").await;
    assert_eq!(topics(&rest), ["/r/b"]);
    assert!(rest["data"]["next"].is_null());
    let one = api(&h, "GET", "/admin/retained?topic=/r/b", KEY, "").await;
    assert_eq!(topics(&one), ["/r/b"]);
    assert_ne!(
        errno(&api(&h, "GET", "/admin/retained?limit=1001", KEY, "").await),
        0,
        "a page past 1,000 is refused"
    );
    for t in ["/r/a", "/r/b"] {
        let path = format!("/admin/retained?topic={t}");
        assert_eq!(
            api(&h, "DELETE", &path, KEY, "").await["data"]["deleted"],
            1
        );
    }
    assert_eq!(
        api(&h, "DELETE", "/admin/retained?topic=/r", KEY, "").await["data"]["deleted"],
        1
    );
    assert!(h.retained().await.is_empty());
    assert_eq!(
        errno(&api(&h, "DELETE", "/admin/retained?topic=/r", KEY, "").await),
        8
    );

    // diagnostics: the SDK's SUBSCRIBE with reserved flags 0000 is recorded, with its section
    p.send_bytes(&[
        0x80, 0x10, 0x00, 0x0B, 0x00, 0x0B, 0x2F, 0x74, 0x6F, 0x70, 0x69, 0x63, 0x5F, 0x74, 0x65,
        0x73, 0x74, 0x01,
    ])
    .await;
    assert!(matches!(p.recv().await, Packet::SubAck(_)));
    let v = eventually("a diagnostic for 9277", || async {
        let v = api(&h, "GET", "/admin/diagnostics/9277", KEY, "").await;
        (v["data"].as_array().is_some_and(|a| !a.is_empty())).then_some(v)
    })
    .await;
    let d = &v["data"][0];
    assert_eq!(d["device"], "9277");
    assert_eq!(d["kind"], "reserved_flags");
    assert!(d["message"].as_str().unwrap().contains("SUBSCRIBE"), "{d}");
    assert_eq!(
        errno(&api(&h, "GET", "/admin/diagnostics/5", KEY, "").await),
        8,
        "another product's device"
    );

    // the offline queue: GET lists, DELETE drops what waits
    let mut away = Raw::device(h.mqtt_addr(), "9278", "def456", false).await;
    away.subscribe(&[("/q", QoS::AtLeastOnce)]).await;
    away.send(&Packet::Disconnect).await;
    away.closed().await;
    wait_online(&h, "9278", false).await;
    for i in 1..=3u16 {
        p.send(&publish("/q", b"wait", QoS::AtLeastOnce, 10 + i, false))
            .await;
        assert_eq!(p.recv().await, Packet::PubAck(pid(10 + i)));
    }
    let v = api(&h, "GET", "/admin/queues/9278", KEY, "").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["data"][0]["topic"], "/q");
    let v = api(&h, "DELETE", "/admin/queues/9278", KEY, "").await;
    assert_eq!(v["data"]["deleted"], 3, "{v}");
    let v = api(&h, "GET", "/admin/queues/9278", KEY, "").await;
    assert_eq!(v["data"], json!([]));
    let (mut back, ack) = Raw::login(
        h.mqtt_addr(),
        &connect_packet("9278", Some("339"), Some("def456"), false, 120),
    )
    .await;
    assert_eq!(connack(&ack), (0, true));
    back.assert_silent("the cleared queue is not delivered")
        .await;
    assert_eq!(
        errno(&api(&h, "DELETE", "/admin/queues/5", KEY, "").await),
        8,
        "another product's device"
    );
    // Another product's key sees none of 339's sessions or retained messages, and reaches none of its
    // devices.
    let other = Some("KEY400");
    let v = api(&h, "GET", "/admin/sessions", other, "").await;
    assert_eq!(v["data"], json!([]), "{v}");
    p.send(&publish("/r", b"kept", QoS::AtLeastOnce, 20, true))
        .await;
    assert_eq!(p.recv().await, Packet::PubAck(pid(20)));
    let v = api(&h, "GET", "/admin/retained", other, "").await;
    assert_eq!(v["data"]["total_count"], 0, "{v}");
    for (method, path) in [
        ("POST", "/admin/sessions/9277/kick"),
        ("GET", "/admin/queues/9278"),
        ("GET", "/admin/diagnostics/9277"),
        ("GET", "/admin/record/9277?duration=1"),
    ] {
        assert_eq!(
            errno(&api(&h, method, path, other, "").await),
            8,
            "{method} {path}"
        );
    }
    assert_eq!(
        errno(&api(&h, "DELETE", "/admin/retained?topic=/r", other, "").await),
        8
    );
    assert_eq!(
        h.retained().await.len(),
        1,
        "339's retained message is untouched"
    );
    h.shutdown().await;
}

/// In the `mqtt` profile clients log in anonymously to one namespace, which no product owns: the calls
/// about live broker state reach them with any key of the local registry, by client id.
#[tokio::test]
async fn in_the_mqtt_profile_admin_calls_reach_the_anonymous_clients() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded_with(config(dir.path(), Profile::Mqtt)).await;
    let (mut c, ack) = Raw::login(
        h.mqtt_addr(),
        &connect_packet("bench-1", None, None, false, 60),
    )
    .await;
    assert_eq!(connack(&ack), (0, false));
    c.send(&publish("lab/r", b"kept", QoS::AtLeastOnce, 1, true))
        .await;
    assert_eq!(c.recv().await, Packet::PubAck(pid(1)));
    c.subscribe(&[("lab/q", QoS::AtLeastOnce)]).await;

    let v = api(&h, "GET", "/admin/sessions", KEY, "").await;
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["bench-1"], "{v}");
    let v = api(&h, "GET", "/admin/retained", KEY, "").await;
    assert_eq!(v["data"]["total_count"], 1, "{v}");
    assert_eq!(v["data"]["items"][0]["topic"], "lab/r");
    // A diagnostic of its own, by client id: the SDK's SUBSCRIBE with reserved flags 0000.
    c.send_bytes(&[0x80, 0x08, 0x00, 0x02, 0x00, 0x03, b'l', b'/', b'x', 0x01])
        .await;
    assert!(matches!(c.recv().await, Packet::SubAck(_)));
    let v = eventually("a diagnostic for bench-1", || async {
        let v = api(&h, "GET", "/admin/diagnostics/bench-1", KEY, "").await;
        (v["data"].as_array().is_some_and(|a| !a.is_empty())).then_some(v)
    })
    .await;
    assert_eq!(v["data"][0]["kind"], "reserved_flags", "{v}");
    // A client the broker knows nothing of is errno 8, not an empty answer.
    for path in ["/admin/diagnostics/nobody", "/admin/queues/nobody"] {
        assert_eq!(errno(&api(&h, "GET", path, KEY, "").await), 8, "{path}");
    }

    // Offline, its persistent session queues what arrives; the queue is listed and cleared by client id.
    assert_eq!(
        errno(&api(&h, "POST", "/admin/sessions/bench-1/kick", KEY, "").await),
        0
    );
    assert_eq!(c.closed().await, vec![], "closed without a packet");
    wait_online(&h, "bench-1", false).await;
    let (mut p, _) = Raw::login(
        h.mqtt_addr(),
        &connect_packet("pub-1", None, None, true, 60),
    )
    .await;
    p.send(&publish("lab/q", b"wait", QoS::AtLeastOnce, 2, false))
        .await;
    assert_eq!(p.recv().await, Packet::PubAck(pid(2)));
    let v = api(&h, "GET", "/admin/queues/bench-1", KEY, "").await;
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1), "{v}");
    let v = api(&h, "DELETE", "/admin/queues/bench-1", KEY, "").await;
    assert_eq!(v["data"]["deleted"], 1, "{v}");
    assert_eq!(
        api(&h, "DELETE", "/admin/retained?topic=lab/r", KEY, "").await["data"]["deleted"],
        1
    );
    assert!(h.retained().await.is_empty());
    // Another product's key sees the same namespace; a wrong key still sees nothing.
    let v = api(&h, "GET", "/admin/sessions", Some("KEY400"), "").await;
    assert_eq!(
        v["data"].as_array().map(Vec::len),
        Some(2),
        "bench-1 and pub-1: {v}"
    );
    assert_eq!(
        errno(&api(&h, "GET", "/admin/sessions", Some("nope"), "").await),
        3
    );
    let v = api(&h, "POST", "/admin/sessions/nobody/kick", KEY, "").await;
    assert_eq!(errno(&v), 10, "kicking a client that is not online: {v}");
    h.shutdown().await;
}
