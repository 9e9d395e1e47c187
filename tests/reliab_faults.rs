//! Fault injection: what the broker does when the database is corrupt, foreign, locked or on a full
//! disk, and when the process is killed during an export. Each fault is made by the test itself.

mod common;

use common::tmpfs::Tmpfs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::dataplane::{dp, framed, ping};
use common::*;
use onenet_desk::config::{DB_FILE, Profile};
use onenet_desk::mqtt::{Packet, QoS};
use onenet_desk::store::{NewDevice, NewProduct};

/// The files of the data dir with their bytes, to prove nothing was written.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_corrupt_database_file_is_refused_by_name_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    // Not a database at all (a half-copied file, another format).
    let junk: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&path, &junk).unwrap();
    let before = snapshot(dir.path());
    let err = onenet_desk::start(config(dir.path(), Profile::OneNet))
        .await
        .err()
        .expect("a corrupt database must not start");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("not a database"), "{msg}");
    assert_eq!(snapshot(dir.path()), before, "the data dir was changed");
    // The CLI says the same and exits non-zero.
    let out = cli(dir.path(), &["device", "list"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(DB_FILE), "{stderr}");
    assert_eq!(snapshot(dir.path()), before);
}

#[tokio::test]
async fn a_foreign_sqlite_database_is_refused_by_name_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);")
            .unwrap();
    }
    let before = snapshot(dir.path());
    let err = onenet_desk::start(config(dir.path(), Profile::OneNet))
        .await
        .err()
        .expect("a foreign database must not start");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(
        msg.contains("another program") && msg.contains("invoices"),
        "{msg}"
    );
    assert_eq!(
        snapshot(dir.path()),
        before,
        "the foreign database was changed"
    );
}

/// Another connection holds the write lock longer than the busy timeout while a device uploads with
/// QoS 1: no PUBACK leaves while the upload cannot be stored, other devices keep being served, and the
/// PUBACK follows once the lock is released, with the datapoint on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_holds_acknowledgements_until_it_can_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    // The writer's commit fails once it has waited this long for the lock (the default, 5 s, would make
    // the test wait that long); the failure is what the test waits for, not a time.
    cfg.limits.store_busy_timeout = Duration::from_millis(100);
    let h = seeded_with(cfg).await;
    let mut events = h.events();
    let addr = h.mqtt_addr();
    let mut a = Raw::device(addr, "9277", "abc123", true).await;
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
    a.send(&dp(&framed(3, r#"{"locked":1}"#), QoS::AtLeastOnce, 1))
        .await;
    // The commit has failed on the lock (after the busy timeout) ...
    let error = store_error(&mut events).await;
    assert!(error.contains("locked"), "{error}");
    // ... and no PUBACK left: a PUBACK sent before the commit would have been on the socket since the
    // upload arrived, a busy timeout ago; 50 ms is only for the loopback to deliver it.
    let early = a.try_recv(Duration::from_millis(50)).await;
    assert!(early.is_none(), "acknowledged while not stored: {early:?}");
    // Other devices are served meanwhile.
    let mut b = Raw::device(addr, "9278", "def456", true).await;
    ping(&mut b).await;
    assert!(stored_streams(&open_db(&h), "9277").is_empty());
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(a.recv().await, Packet::PubAck(pid(1)));
    assert_eq!(stored_streams(&open_db(&h), "9277"), ["locked"]);
    h.shutdown().await;
}

/// Disk full while a device uploads: the broker keeps serving, acknowledges only what it stored, and
/// ingestion resumes (the held upload included) once space returns. The disk is a 4 MiB tmpfs made by
/// the test and filled with a file; "space returns" = that file is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_acknowledges_nothing_unstored_and_resumes_when_space_returns() {
    let outer = tempfile::tempdir().unwrap();
    let mnt = outer.path().join("disk");
    std::fs::create_dir(&mnt).unwrap();
    let Some(_fs) = Tmpfs::mount(&mnt, "4m") else {
        eprintln!(
            "SKIPPED: cannot mount a tmpfs here (needs root); the disk-full test did not run"
        );
        return;
    };
    let h = broker(&mnt, Profile::OneNet).await;
    seed_registry(&h);
    let mut events = h.events();
    let addr = h.mqtt_addr();
    // Leave ~256 KiB free.
    let filler = mnt.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0xA5u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    let len = std::fs::metadata(&filler).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap()
        .set_len(len.saturating_sub(256 * 1024))
        .unwrap();
    let mut a = Raw::device(addr, "9277", "abc123", true).await;
    let value = "v".repeat(8000);
    let mut acked = Vec::new();
    let mut held = None;
    for i in 1..=200u16 {
        let body = format!(r#"{{"s{i}":"{value}"}}"#);
        a.send(&dp(&framed(3, &body), QoS::AtLeastOnce, i)).await;
        // Either its PUBACK, or the store says it cannot commit (then the upload is held).
        tokio::select! {
            p = a.recv() => match p {
                Packet::PubAck(p) if p == pid(i) => acked.push(format!("s{i}")),
                other => panic!("unexpected {other:?}"),
            },
            e = store_error(&mut events) => {
                assert!(e.contains("full"), "{e}");
                held = Some(i);
                break;
            }
        }
    }
    let held = held.expect("the disk never filled up");
    assert!(!acked.is_empty(), "the disk was full from the start");
    // Broker keeps serving: another device logs in and pings while the disk is full.
    let mut b = Raw::device(addr, "9278", "def456", true).await;
    ping(&mut b).await;
    // Every acknowledged upload is stored; the held one is not acknowledged.
    let stored = stored_streams(&open_db(&h), "9277");
    for s in &acked {
        assert!(stored.contains(s), "{s} was acknowledged but is not stored");
    }
    // The failed commit's PUBACK would have left with it; 50 ms only for the loopback to deliver it.
    assert!(a.try_recv(Duration::from_millis(50)).await.is_none());
    // Space returns.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(a.recv().await, Packet::PubAck(pid(held)));
    let next = held + 1;
    a.send(&dp(&framed(3, r#"{"after":1}"#), QoS::AtLeastOnce, next))
        .await;
    assert_eq!(a.recv().await, Packet::PubAck(pid(next)));
    let stored = stored_streams(&open_db(&h), "9277");
    assert!(stored.contains(&format!("s{held}")));
    assert!(stored.contains(&"after".to_string()));
    eprintln!(
        "disk full: {} uploads acknowledged before the disk filled, upload {held} held until space returned, 0 lost",
        acked.len()
    );
    h.shutdown().await;
}

/// SIGKILL in the middle of `export`: the target file is either absent or the previous complete export,
/// never a partial one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_export_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    open_db(&h)
        .add_product(NewProduct {
            id: Some("339".into()),
            ..Default::default()
        })
        .unwrap();
    open_db(&h)
        .add_device(NewDevice {
            product_id: "339".into(),
            id: Some("9277".into()),
            ..Default::default()
        })
        .unwrap();
    // 200,000 datapoints, 4,000 per type 1 upload.
    let points: Vec<String> = (0..4000).map(|i| format!(r#"{{"value":{i}}}"#)).collect();
    let body = format!(
        r#"{{"datastreams":[{{"id":"t","datapoints":[{}]}}]}}"#,
        points.join(",")
    );
    for _ in 0..50 {
        h.ingest_datapoints("9277", body.as_bytes()).await.unwrap();
    }
    h.shutdown().await;
    let out = dir.path().join("out.csv");
    // A previous, complete export of a small part.
    let o = cli(
        dir.path(),
        &["export", "--out", out.to_str().unwrap(), "--stream", "none"],
    );
    assert!(o.status.success(), "{o:?}");
    let previous = std::fs::read(&out).unwrap();
    let tmp = dir.path().join("out.csv.tmp");
    let mut child = std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["export", "--out", out.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let mut killed_mid_way = false;
    while Instant::now() < deadline {
        if std::fs::metadata(&tmp).is_ok_and(|m| m.len() > 0) {
            child.kill().unwrap();
            killed_mid_way = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.wait().unwrap();
    assert!(
        killed_mid_way,
        "the export finished before it could be killed"
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        previous,
        "the export file changed"
    );
    // The next export replaces the stale temporary file and completes.
    let o = cli(dir.path(), &["export", "--out", out.to_str().unwrap()]);
    assert!(o.status.success());
    let lines = std::fs::read_to_string(&out).unwrap().lines().count();
    assert_eq!(lines, 200_001, "header + every datapoint");
    assert!(!tmp.exists());
}
