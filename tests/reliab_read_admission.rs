//! CONNECT admission never waits behind a long store read (issue 13): with ~100k datapoint rows in the
//! store, a history read of all of them runs on a blocking thread (the path the console's history and the
//! HTTP datapoint queries take, through the read-only pool) while a device connects. The CONNACK must come
//! while the read is still running and in a small fraction of the read's time. Both durations are measured
//! in the test; nothing sleeps for a fixed time.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use onenet_desk::config::Profile;
use onenet_desk::store::{Db, DpFilter};

const ROWS: i64 = 100_000;

/// Writes `ROWS` float datapoints of device 9277, stream `t`, straight into the data dir's database.
fn seed_rows(dir: &std::path::Path) {
    let db = Db::open(&dir.join("onenet-desk.sqlite3")).expect("database opens");
    drop(db);
    let conn = rusqlite::Connection::open(dir.join("onenet-desk.sqlite3")).unwrap();
    conn.execute_batch(&format!(
        "BEGIN;
         INSERT INTO datastreams (id, device_id, stream) VALUES (1, '9277', 't');
         INSERT INTO dp_uploads (id, device_id, dp_type, qos, received_at, payload)
              VALUES (1, '9277', 3, 1, 1700000000000, x'03');
         WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {ROWS})
         INSERT INTO datapoints (stream_id, at, kind, num, dp_type, received_at, upload_id)
              SELECT 1, 1700000000000 + i * 1000, 2, i * 0.5, 3, 1700000000000 + i * 1000, 1 FROM c;
         COMMIT;"
    ))
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connack_does_not_wait_for_a_long_history_read() {
    let dir = tempfile::tempdir().unwrap();
    seed_rows(dir.path());
    let h = seeded_with(config(dir.path(), Profile::OneNet)).await;

    let started = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let (db, s, d) = (open_db(&h), started.clone(), done.clone());
    let read = tokio::task::spawn_blocking(move || {
        let t0 = Instant::now();
        s.store(true, Ordering::SeqCst);
        let f = DpFilter {
            device_id: Some("9277".into()),
            ..Default::default()
        };
        let rows = db
            .datapoints(&f, ROWS as usize * 2, false)
            .expect("history read");
        let took = t0.elapsed();
        d.store(true, Ordering::SeqCst);
        (rows.len(), took)
    });
    eventually("the read to start", || async {
        started.load(Ordering::SeqCst).then_some(())
    })
    .await;

    let t = Instant::now();
    let _device = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let connack = t.elapsed();
    let read_still_running = !done.load(Ordering::SeqCst);

    let (rows, read_took) = read.await.unwrap();
    eprintln!("history read of {rows} rows: {read_took:?}; CONNACK during it: {connack:?}");
    assert_eq!(rows as i64, ROWS, "the read returns every row");
    assert!(
        read_still_running,
        "CONNACK ({connack:?}) came only after the {read_took:?} read finished"
    );
    assert!(
        connack * 5 < read_took,
        "CONNACK took {connack:?}, not far below the read's {read_took:?}"
    );
    assert!(read_took > Duration::from_millis(1), "a real read");
    h.shutdown().await;
}
