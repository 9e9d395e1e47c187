//! `locked-store`: another program holds the broker's database write lock (as `sqlite3` on the data dir
//! can) while one client floods retained messages to one topic. Each retained message is a store op
//! holding its payload, and the store writer waits for the lock: the broker must stop reading (TCP then
//! holds the client back) instead of buffering the flood. onenet-desk only (`--db` names its database).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use onenet_desk::client::ClientError;
use serde_json::{Value, json};

use super::memory::PeakRss;
use super::{Res, hwm, raw, rss};

/// What the scenario needs besides the broker's address.
pub struct Flood {
    pub addr: String,
    pub id: String,
    pub user: Option<String>,
    pub topic: String,
    pub db: PathBuf,
    pub msgs: u64,
    pub size: usize,
    pub hold: Duration,
    pub broker_pid: Option<u32>,
    pub deadline: Instant,
}

pub async fn locked_store(f: Flood) -> Res<Value> {
    let before = rss(f.broker_pid);
    // The lock, held on a thread of its own for `hold`; `released` says when it went.
    let (locked_tx, locked_rx) = tokio::sync::oneshot::channel();
    let released = Arc::new(AtomicBool::new(false));
    let rel = released.clone();
    let (db, hold) = (f.db.clone(), f.hold);
    let locker = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let c = rusqlite::Connection::open(&db).map_err(|e| e.to_string())?;
        c.busy_timeout(Duration::from_secs(30))
            .map_err(|e| e.to_string())?;
        c.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| e.to_string())?;
        let _ = locked_tx.send(());
        std::thread::sleep(hold);
        rel.store(true, Ordering::SeqCst);
        c.execute_batch("COMMIT").map_err(|e| e.to_string())
    });
    locked_rx
        .await
        .map_err(|_| ClientError::Io(format!("cannot lock {}", f.db.display())))?;

    // The broker's RSS until the flood is over.
    let sampled = PeakRss::start(f.broker_pid, before);

    let mut c = raw::Raw::connect(&f.addr, &f.id, f.user.as_deref(), 600).await?;
    let payload = vec![b'r'; f.size];
    let mut packet = Vec::with_capacity(f.size + f.topic.len() + 8);
    raw::put_publish(&mut packet, f.topic.as_bytes(), 0, 0, &payload);
    // RETAIN: every message is a store op with its payload.
    if let Some(b) = packet.first_mut() {
        *b |= 1;
    }
    let t0 = Instant::now();
    let (mut sent, mut while_locked) = (0u64, 0u64);
    while sent < f.msgs && Instant::now() < f.deadline {
        // A broker that never reads again must not hold the scenario past its deadline.
        match tokio::time::timeout_at(f.deadline.into(), c.write(&packet)).await {
            Ok(r) => r?,
            Err(_) => break,
        }
        sent += 1;
        if !released.load(Ordering::SeqCst) {
            while_locked += 1;
        }
    }
    tokio::time::timeout_at(f.deadline.into(), c.ping())
        .await
        .map_err(|_| ClientError::Io("no PINGRESP before the deadline".into()))??;
    let secs = t0.elapsed().as_secs_f64();
    let (after, peak) = sampled.stop().await;
    match locker.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ClientError::Io(format!("the lock: {e}"))),
        Err(e) => return Err(ClientError::Io(e.to_string())),
    }
    c.disconnect().await;
    let mib = |n: u64| (n * f.size as u64) as f64 / (1024.0 * 1024.0);
    Ok(json!({
        "messages": sent, "payload_bytes": f.size, "flood_mib": mib(sent),
        "lock_secs": f.hold.as_secs_f64(), "flood_secs": secs,
        // Written by the client while the store was locked: what the kernel's socket buffers and the
        // broker took in; the rest waited for the writer.
        "written_while_locked_mib": mib(while_locked),
        "broker_rss_kib_before": before, "broker_rss_kib_after": after,
        "broker_rss_kib_peak_sampled": f.broker_pid.map(|_| peak),
        "broker_vmhwm_kib": hwm(f.broker_pid),
        "complete": sent == f.msgs,
    }))
}
