//! SIGTERM while a subscriber never reads: the broker's writes to that socket cannot progress, and
//! shutdown must still complete within 5 s.

mod common;

use std::time::{Duration, Instant};

use common::*;
use onenet_desk::mqtt::QoS;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_client_that_never_reads_stops_within_5_s() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(
        dir.path(),
        &["product", "add", "--id", "339", "--api-key", "KEY339"],
    );
    assert!(out.status.success(), "{out:?}");
    for (id, auth) in [("9277", "abc123"), ("9278", "def456")] {
        let out = cli(
            dir.path(),
            &[
                "device",
                "add",
                "--product",
                "339",
                "--id",
                id,
                "--auth-info",
                auth,
            ],
        );
        assert!(out.status.success(), "{out:?}");
    }
    let serve = Serve::start(dir.path(), &[]);
    let addr = serve.mqtt;
    // The subscriber: shrink its receive buffer, subscribe, then never read again.
    let mut sub = Raw::device(addr, "9278", "def456", true).await;
    sub.send(&subscribe(1, &[("/flood", QoS::AtMostOnce)]))
        .await;
    let _suback = sub.recv().await;
    let mut publ = Raw::device(addr, "9277", "abc123", true).await;
    let payload = vec![b'x'; 60_000];
    // Up to 64 MB towards a reader that reads nothing: far beyond what socket buffers hold. Once the
    // subscriber's queue is full the broker stops reading the publisher (backpressure), so its writes stall:
    // a write that makes no progress for 2 s ends the flood. Its PUBACKs are left unread.
    let mut sent = 0u32;
    for i in 0..1100u16 {
        let p = publish("/flood", &payload, QoS::AtLeastOnce, i % 60_000 + 1, false);
        if tokio::time::timeout(Duration::from_secs(2), publ.send(&p))
            .await
            .is_err()
        {
            break;
        }
        sent += 1;
    }
    println!("publishes written before the broker stopped reading: {sent}");
    assert!(sent >= 100, "only {sent} publishes written");
    let t = Instant::now();
    let status = tokio::task::spawn_blocking(move || serve.stop())
        .await
        .unwrap();
    let took = t.elapsed();
    println!("SIGTERM with a non-reading subscriber: exited {status:?} in {took:?}");
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    assert!(status.success(), "{status:?}");
    drop(sub);
}

/// Shutdown closes every online connection, whatever it was doing: one idle since its CONNACK, one
/// subscribed and waiting for deliveries, one that just published (each waits on its own share of the
/// shutdown signal). Every client sees its connection end, and the shutdown completes.
#[tokio::test]
async fn shutdown_closes_every_online_connection() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), onenet_desk::config::Profile::Mqtt).await;
    let addr = h.mqtt_addr();
    let (mut idle, ack) = Raw::login(addr, &connect_packet("idle", None, None, true, 60)).await;
    assert!(matches!(ack, onenet_desk::mqtt::Packet::ConnAck(_)));
    let (mut sub, _) = Raw::login(addr, &connect_packet("sub", None, None, true, 60)).await;
    let granted = sub.subscribe(&[("t/#", QoS::AtLeastOnce)]).await;
    assert!(
        matches!(granted.as_slice(), [c] if *c != onenet_desk::mqtt::SubackCode::Failure),
        "{granted:?}"
    );
    let (mut publ, _) = Raw::login(addr, &connect_packet("pub", None, None, true, 60)).await;
    publ.send(&publish("t/1", b"x", QoS::AtLeastOnce, 1, false))
        .await;
    assert!(matches!(
        publ.recv().await,
        onenet_desk::mqtt::Packet::PubAck(_)
    ));
    tokio::time::timeout(Duration::from_secs(5), h.shutdown())
        .await
        .expect("shutdown completes within 5 s");
    for (name, c) in [("idle", &mut idle), ("sub", &mut sub), ("pub", &mut publ)] {
        let got = c.closed().await;
        println!("{name}: {} packets before the close", got.len());
    }
}
