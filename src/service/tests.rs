//! The service's door as its clients use it: the HTTP hook, typed registry calls and their errors,
//! virtual-device registration, and export through the read pool of committed data.

use std::net::SocketAddr;

use super::api::{DataError, DpFilter, ExportFormat, ExportRequest, NewDevice, NewProduct};
use super::{DataStore, ServiceHandle, start_with};
use crate::config::{Config, Profile};

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::new(dir.to_path_buf());
    c.mqtt_addr = "127.0.0.1:0".parse().unwrap();
    c.http_addr = Some("127.0.0.1:0".parse().unwrap());
    c.profile = Profile::OneNet;
    c
}

async fn seeded(dir: &std::path::Path) -> ServiceHandle {
    let h = crate::start(config(dir)).await.unwrap();
    h.add_product(NewProduct {
        id: Some("339".into()),
        name: None,
        api_key: Some("KEY339".into()),
    })
    .await
    .unwrap();
    h.add_device(NewDevice {
        product_id: "339".into(),
        id: Some("9277".into()),
        auth_info: Some("abc123".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    h
}

/// Without a server the service binds no HTTP port; with the crate's, the API answers on the bound one.
#[tokio::test]
async fn http_runs_only_when_a_server_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let bare = start_with(config(dir.path()), None).await.unwrap();
    assert_eq!(bare.http_addr(), None);
    assert_eq!(bare.http_error(), None);
    bare.shutdown().await;

    let h = crate::start(config(dir.path())).await.unwrap();
    let addr: SocketAddr = h.http_addr().expect("the API is bound");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET /admin/products HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    assert!(answer.contains("\"errno\":2"), "{answer}");
    h.shutdown().await;
}

/// Registry calls round-trip through the service, and a refusal keeps the store's message.
#[tokio::test]
async fn registry_calls_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let d = h
        .update_device("9277", Some("boiler".into()), None)
        .await
        .unwrap();
    assert_eq!(
        (d.name.as_str(), d.auth_info.as_str()),
        ("boiler", "abc123")
    );
    let again = h
        .add_device(NewDevice {
            product_id: "339".into(),
            id: Some("9277".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(again, DataError::Store(_)), "{again:?}");
    assert!(again.to_string().contains("9277"), "{again}");
    assert_eq!(h.devices(Some("339")).await.unwrap().len(), 1);
    h.delete_device("9277").await.unwrap();
    assert!(h.device("9277").await.unwrap().is_none());
    assert_eq!(h.product_by_key("KEY339").await.unwrap().unwrap().id, "339");
    let snap = h.registry_snapshot().await.unwrap();
    assert_eq!(snap.products.len(), 1);
    assert!(snap.devices.is_empty());
    assert!(snap.db_bytes > 0);
    h.shutdown().await;
}

/// Virtual devices get consecutive ids past the largest numeric one, named so they are told apart.
#[tokio::test]
async fn virtual_devices_are_numbered_on() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let first = h.register_virtual_devices("339", 2, None).await.unwrap();
    let ids: Vec<_> = first.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["10000000", "10000001"]);
    assert_eq!(first[0].name, "virtual 10000000");
    let next = h.register_virtual_devices("339", 1, None).await.unwrap();
    assert_eq!(next[0].id, "10000002");
    h.shutdown().await;
}

/// Export through the service sees what was ingested (it flushes first), reports the total, and the
/// CLI's store on the same data dir writes the same rows.
#[tokio::test]
async fn export_goes_through_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let body =
        br#"{"datastreams":[{"id":"t","datapoints":[{"value":1},{"value":2},{"value":3}]}]}"#;
    assert_eq!(h.ingest_datapoints("9277", body).await.unwrap(), 3);
    let req = ExportRequest {
        filter: DpFilter {
            device_id: Some("9277".into()),
            ..Default::default()
        },
        format: ExportFormat::JsonLines,
        ..Default::default()
    };
    let out = dir.path().join("t.jsonl");
    let total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let t = total.clone();
    let n = h
        .export_to_file(
            req.clone(),
            out.clone(),
            move |n| t.store(n, std::sync::atomic::Ordering::Relaxed),
            |_| true,
        )
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(total.load(std::sync::atomic::Ordering::Relaxed), 3);
    let text = std::fs::read_to_string(&out).unwrap();
    let values: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["value"].clone())
        .collect();
    assert_eq!(values, [1, 2, 3]);

    let cli = DataStore::open(dir.path()).unwrap();
    let out2 = dir.path().join("cli.jsonl");
    assert_eq!(cli.export_to_file(&req, &out2, &mut |_| true).unwrap(), 3);
    assert_eq!(std::fs::read_to_string(&out2).unwrap(), text);
    h.shutdown().await;
}

/// On Linux the MQTT listener's sockets have TCP_NODELAY from the start, passed on by the listener (the
/// accept loop then sets nothing per connection), so a small packet is never held back by Nagle's
/// algorithm.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn accepted_connections_have_nodelay() {
    let l = super::bind_mqtt("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = l.local_addr().unwrap();
    let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (accepted, _) = l.accept().await.unwrap();
    assert!(accepted.nodelay().unwrap());
    let again = super::bind_mqtt(addr);
    assert!(again.is_err(), "a second listener on the same port");
}
