//! Nothing acknowledged is lost, in the `onenet` profile: `$dp` QoS 1 uploads that got a PUBACK are in the
//! database even when `serve` is killed with SIGKILL right after (no shutdown, no flush).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::dataplane::*;
use common::*;
use onenet_desk::mqtt::{Packet, QoS};
use onenet_desk::onenet::datapoint::DpValue;
use onenet_desk::store::{Db, DpFilter};

#[tokio::test]
async fn pubacked_dp_uploads_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["product", "add", "--id", "339"][..],
        &[
            "device",
            "add",
            "--product",
            "339",
            "--id",
            "9277",
            "--auth-info",
            "abc123",
        ],
    ] {
        assert!(cli(dir.path(), args).status.success(), "{args:?}");
    }
    let mut server = Serve::start(dir.path(), &[]);
    let mut addr = server.mqtt;
    let mut acked = BTreeSet::new();
    for round in 0..2u32 {
        let mut d = Raw::device(addr, "9277", "abc123", true).await;
        // 300 type 3 uploads in one write; value round*1000 + i
        let mut bytes = Vec::new();
        for i in 1..=300u16 {
            let body = format!("{{\"seq\":{}}}", round * 1000 + u32::from(i));
            bytes.extend_from_slice(
                &dp(&framed(3, &body), QoS::AtLeastOnce, i)
                    .to_bytes()
                    .unwrap(),
            );
        }
        d.send_bytes(&bytes).await;
        let mut got = 0;
        while got < 100 {
            match d.recv().await {
                Packet::PubAck(id) => {
                    acked.insert(round * 1000 + u32::from(id.get()));
                    got += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        server.kill(); // SIGKILL
        // PUBACKs already in our socket buffer were sent by the broker: they count as acknowledged
        // (read to the end: the dead process's socket is closed, so this ends at once)
        while let Some(Packet::PubAck(id)) = d.try_recv(WAIT).await {
            acked.insert(round * 1000 + u32::from(id.get()));
        }
        server = Serve::start(dir.path(), &[]);
        addr = server.mqtt;
    }
    assert!(acked.len() >= 200, "acked {}", acked.len());

    // the restarted broker works, and the database has every acknowledged upload exactly once
    let mut d = Raw::device(addr, "9277", "abc123", true).await;
    d.send(&dp(&framed(3, r#"{"seq":9999}"#), QoS::AtLeastOnce, 1))
        .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(1)));
    let db = Db::open(&dir.path().join("onenet-desk.sqlite3")).unwrap();
    let rows = db
        .datapoints(
            &DpFilter {
                device_id: Some("9277".into()),
                stream: Some("seq".into()),
                ..Default::default()
            },
            100_000,
            false,
        )
        .unwrap();
    let mut stored: BTreeMap<u32, usize> = BTreeMap::new();
    for r in &rows {
        let DpValue::Json(v) = &r.value else {
            panic!("not JSON: {r:?}")
        };
        *stored.entry(v.as_u64().unwrap() as u32).or_default() += 1;
    }
    let lost: Vec<_> = acked.iter().filter(|v| !stored.contains_key(v)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged uploads lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    let twice: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    assert_eq!(stored.get(&9999), Some(&1));
    drop(server);
}
