//! Registration under load and store faults at CONNECT (issue: 39 of 100 concurrent auto-registrations
//! were refused with CONNACK 4 because the registry insert hit "database is locked").

mod common;

use common::*;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{ConnectReturnCode, Packet};
use onenet_desk::store::NewProduct;

fn code(p: &Packet) -> u8 {
    match p {
        Packet::ConnAck(a) => a.code as u8,
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

async fn auto_register_broker(dir: &std::path::Path) -> onenet_desk::ServiceHandle {
    let mut c = config(dir, Profile::OneNet);
    c.auto_register = true;
    let h = onenet_desk::start(c).await.expect("broker starts");
    open_db(&h)
        .add_product(NewProduct {
            id: Some("339".into()),
            api_key: Some("KEY339".into()),
            ..Default::default()
        })
        .unwrap();
    h
}

/// 100 unknown devices of a known product connect at once, each with a persistent session (so the
/// writer thread commits while the registry inserts run): every one is registered and accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_unknown_devices_register_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let h = auto_register_broker(dir.path()).await;
    let addr = h.mqtt_addr();
    let mut tasks = Vec::new();
    for i in 0..100 {
        tasks.push(tokio::spawn(async move {
            let id = format!("{}", 700_000 + i);
            let p = connect_packet(&id, Some("339"), Some(&format!("secret{i}")), false, 120);
            let (mut r, ack) = Raw::login(addr, &p).await;
            // A SUBSCRIBE of a persistent session is a store op: keeps the writer busy meanwhile.
            r.send(&subscribe(
                1,
                &[("/t/x", onenet_desk::mqtt::QoS::AtLeastOnce)],
            ))
            .await;
            (code(&ack), r)
        }));
    }
    let mut codes = Vec::new();
    let mut conns = Vec::new();
    for t in tasks {
        let (c, r) = t.await.unwrap();
        codes.push(c);
        conns.push(r);
    }
    let refused: Vec<_> = codes.iter().filter(|&&c| c != 0).collect();
    assert!(refused.is_empty(), "refused: {refused:?} of 100");
    let devices = open_db(&h).devices(Some("339")).unwrap();
    assert_eq!(devices.len(), 100);
    assert!(devices.iter().all(|d| d.auto_registered));
    drop(conns);
    h.shutdown().await;
}

/// The same unknown device connecting twice at once registers once and both logins succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_device_connecting_twice_at_once_registers_once() {
    let dir = tempfile::tempdir().unwrap();
    let h = auto_register_broker(dir.path()).await;
    let addr = h.mqtt_addr();
    let p = connect_packet("4242", Some("339"), Some("pw42"), true, 120);
    let (a, b) = tokio::join!(Raw::login(addr, &p), Raw::login(addr, &p));
    assert_eq!(code(&a.1), 0);
    assert_eq!(code(&b.1), 0);
    assert_eq!(open_db(&h).devices(Some("339")).unwrap().len(), 1);
    h.shutdown().await;
}

/// The database is locked by another connection (as another process would) for longer than the busy
/// timeout: the new device gets CONNACK 3 (server unavailable), never 4 (bad credentials), and once the
/// lock is gone the same device registers and connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_store_at_registration_is_connack_3_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let h = auto_register_broker(dir.path()).await;
    let addr = h.mqtt_addr();
    open_db(&h)
        .add_device(onenet_desk::store::NewDevice {
            product_id: "339".into(),
            id: Some("1".into()),
            auth_info: Some("known".into()),
            ..Default::default()
        })
        .unwrap();
    let path = h.config().db_path();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        locked_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        conn.execute_batch("ROLLBACK").unwrap();
    });
    locked_rx.recv().unwrap();
    let p = connect_packet("5150", Some("339"), Some("pw5150"), true, 120);
    let (_r, ack) = Raw::login(addr, &p).await;
    assert_eq!(
        code(&ack),
        ConnectReturnCode::ServerUnavailable as u8,
        "a locked store is not the device's fault"
    );
    assert!(open_db(&h).device("5150").unwrap().is_none());
    // A registered device is admitted meanwhile: WAL readers never wait for a writer.
    let (_known, ack) = Raw::login(
        addr,
        &connect_packet("1", Some("339"), Some("known"), true, 120),
    )
    .await;
    assert_eq!(
        code(&ack),
        0,
        "registered device admitted while the store is locked"
    );
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    let (_r, ack) = Raw::login(addr, &p).await;
    assert_eq!(code(&ack), 0);
    assert!(open_db(&h).device("5150").unwrap().unwrap().auto_registered);
    h.shutdown().await;
}
