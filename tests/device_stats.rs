//! Per-client statistics in the store (`device_stats`): written at shutdown for a device still online,
//! at disconnect otherwise, and continued from the kept totals after a restart.

mod common;

use common::{Raw, publish, seeded, wait_online};
use onenet_desk::mqtt::{Packet, QoS};
use onenet_desk::store::{Db, DeviceStats};

fn row(dir: &std::path::Path, id: &str) -> Option<DeviceStats> {
    Db::open(&dir.join(onenet_desk::config::DB_FILE))
        .unwrap()
        .device_stats()
        .unwrap()
        .into_iter()
        .find(|s| s.client_id == id)
}

async fn upload(d: &mut Raw, n: u16) {
    for i in 1..=n {
        d.send(&publish("/lab/t", b"on", QoS::AtLeastOnce, i, false))
            .await;
        assert!(matches!(d.recv().await, Packet::PubAck(_)));
    }
}

#[tokio::test]
async fn totals_are_kept_at_shutdown_and_go_on_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    upload(&mut d, 3).await;
    // Still online when the broker stops: the shutdown writes what it counted.
    h.shutdown().await;
    let kept = row(dir.path(), "9277").expect("9277's row written at shutdown");
    assert_eq!((kept.messages_in, kept.keep_alive), (3, Some(120)));
    assert!(kept.last_seen.is_some());
    drop(d);

    let h = onenet_desk::start(common::config(
        dir.path(),
        onenet_desk::config::Profile::OneNet,
    ))
    .await
    .unwrap();
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    upload(&mut d, 2).await;
    let live = h.sessions().await;
    let s = live.iter().find(|s| s.client_id == "9277").unwrap();
    assert_eq!(
        s.messages_in, 5,
        "the session's count starts at the kept total"
    );
    d.send(&Packet::Disconnect).await;
    wait_online(&h, "9277", false).await;
    h.flush().await;
    assert_eq!(
        row(dir.path(), "9277").unwrap().messages_in,
        5,
        "written at disconnect"
    );
    h.shutdown().await;
}
