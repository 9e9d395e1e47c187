//! Nothing acknowledged is lost: `serve` is killed with SIGKILL (no shutdown, no flush) right after
//! PUBACKs arrive; after a restart, every message that was PUBACKed reaches the persistent subscriber.
//! Runs in the `mqtt` profile, which keeps every QoS 1 message for an offline session (the `onenet`
//! profile replays only the latest 10, spec §9).

mod common;

use std::collections::BTreeSet;

use common::*;
use onenet_desk::mqtt::{Packet, QoS};

#[tokio::test]
async fn pubacked_messages_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Serve::start(dir.path(), &["--profile", "mqtt"]);
    let mut addr = server.mqtt;
    let (mut sub, _) = Raw::login(addr, &connect_packet("sub", None, None, false, 120)).await;
    sub.send(&subscribe(1, &[("/d", QoS::AtLeastOnce)])).await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    sub.send(&Packet::Disconnect).await;
    sub.closed().await;

    let mut acked = BTreeSet::new();
    for round in 0..3u16 {
        // Pipeline 300 QoS 1 publishes, kill -9 the broker as soon as the 100th PUBACK arrives.
        let mut publisher = Raw::login(addr, &connect_packet("pub", None, None, true, 120))
            .await
            .0;
        let mut bytes = Vec::new();
        for i in 1..=300u16 {
            let payload = format!("r{round}-m{i}");
            bytes.extend_from_slice(
                &publish("/d", payload.as_bytes(), QoS::AtLeastOnce, i, false)
                    .to_bytes()
                    .unwrap(),
            );
        }
        publisher.send_bytes(&bytes).await;
        let mut got = 0;
        while got < 100 {
            match publisher.recv().await {
                Packet::PubAck(id) => {
                    acked.insert(format!("r{round}-m{}", id.get()));
                    got += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        server.kill();
        // PUBACKs already in the socket buffer count as acknowledged too
        // (read to the end: the dead process's socket is closed, so this ends at once)
        while let Some(Packet::PubAck(id)) = publisher.try_recv(WAIT).await {
            acked.insert(format!("r{round}-m{}", id.get()));
        }
        server = Serve::start(dir.path(), &["--profile", "mqtt"]);
        addr = server.mqtt;
    }
    let (mut sub, _) = Raw::login(addr, &connect_packet("sub", None, None, false, 120)).await;
    let mut received = BTreeSet::new();
    // Until every acknowledged message is in (or nothing more comes within WAIT).
    while !acked.is_subset(&received)
        && let Some(p) = sub.try_recv(WAIT).await
    {
        if let Packet::Publish(p) = p {
            received.insert(String::from_utf8(p.payload.to_vec()).unwrap());
            if let Some(id) = p.qos_pid.pid() {
                sub.send(&Packet::PubAck(id)).await;
            }
        }
    }
    let lost: Vec<_> = acked.difference(&received).collect();
    assert!(acked.len() >= 300, "acked {}", acked.len());
    assert!(
        lost.is_empty(),
        "{} acknowledged messages lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    server.kill();
}
