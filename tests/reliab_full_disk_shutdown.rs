//! Shutdown while the disk is full: the final flush must not wait for space that never comes. The
//! broker's data dir is a 4 MiB tmpfs made by the test (needs root; skipped otherwise), filled until an
//! upload is held unacknowledged; `shutdown` must then return within a bound, with that upload still
//! unacknowledged (nothing unstored is ever acknowledged).

mod common;

use common::tmpfs::Tmpfs;
use std::time::{Duration, Instant};

use common::dataplane::{dp, framed};
use common::*;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_on_a_full_disk_completes_and_acknowledges_nothing_unstored() {
    let outer = tempfile::tempdir().unwrap();
    let mnt = outer.path().join("disk");
    std::fs::create_dir(&mnt).unwrap();
    let Some(_fs) = Tmpfs::mount(&mnt, "4m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    };
    let h = broker(&mnt, Profile::OneNet).await;
    seed_registry(&h);
    let mut events = h.events();
    let filler = mnt.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0xA5u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(256 * 1024)).unwrap();
    }
    let mut a = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let value = "v".repeat(8000);
    let mut held = None;
    let mut acked = Vec::new();
    for i in 1..=200u16 {
        let body = format!(r#"{{"s{i}":"{value}"}}"#);
        a.send(&dp(&framed(3, &body), QoS::AtLeastOnce, i)).await;
        // Either its PUBACK, or the store says it cannot commit (then the upload is held).
        tokio::select! {
            p = a.recv() => {
                assert_eq!(p, Packet::PubAck(pid(i)));
                acked.push(format!("s{i}"));
            }
            e = store_error(&mut events) => {
                assert!(e.contains("full"), "{e}");
                held = Some(i);
                break;
            }
        }
    }
    let held = held.expect("the disk never filled up");
    let t = Instant::now();
    let stopped = tokio::time::timeout(Duration::from_secs(15), h.shutdown()).await;
    let took = t.elapsed();
    let _ = std::fs::remove_file(&filler);
    assert!(stopped.is_ok(), "shutdown still waiting after {took:?}");
    // every acknowledged upload is on disk
    let db = onenet_desk::store::Db::open(&mnt.join(onenet_desk::config::DB_FILE)).unwrap();
    let stored = common::stored_streams(&db, "9277");
    for s in &acked {
        assert!(stored.contains(s), "{s} was acknowledged but is not stored");
    }
    eprintln!("shutdown on a full disk took {took:?}; upload {held} stayed unacknowledged");
    // the connection was closed without a PUBACK for the held upload
    for p in a.closed().await {
        assert_ne!(
            p,
            Packet::PubAck(pid(held)),
            "an unstored upload was acknowledged"
        );
    }
}
