//! The writer thread: applies the broker's mutations in batches, one transaction per batch (group commit).
//!
//! Why a thread and a watermark: SQLite is synchronous and an fsync costs milliseconds, so the broker
//! must never wait for it. The router numbers its [`StoreOp`]s itself ([`StoreTx::send_numbered`]) and moves
//! on; the writer drains everything queued, commits once, and publishes the highest committed number
//! on a `watch` channel. A connection that must not acknowledge before data is durable queues a barrier
//! with that number and holds its later output until the watermark passes it. A failed commit (disk full)
//! is retried and the watermark does not move, so nothing is acknowledged that is not on disk.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Transaction, params};
use tokio::sync::{oneshot, watch};

use super::commands::put_command;
use super::datapoints::{DpBatch, StreamIds, apply_retention, insert_batch};
use super::{StoreError, connect_with, now_millis};
use crate::config::Retention;
use crate::onenet::commands::Command;

/// One mutation of persistent broker state.
#[derive(Debug)]
pub enum StoreOp {
    /// A clean-session-0 session exists (created or resumed).
    UpsertSession {
        client_id: String,
        namespace: String,
    },
    /// The session and everything under it (subscriptions, queue, held QoS 2) is gone.
    DeleteSession {
        client_id: String,
    },
    PutSubscription {
        client_id: String,
        filter: String,
        qos: u8,
    },
    DelSubscription {
        client_id: String,
        filter: String,
    },
    /// A QoS 1/2 delivery owed to a persistent session.
    Enqueue {
        client_id: String,
        seq: u64,
        topic: String,
        payload: Bytes,
        qos: u8,
        retain: bool,
        /// Unix ms; offline messages expire by age (§9).
        queued_at: i64,
    },
    /// The delivery went out with this packet id (redelivery after restart reuses it).
    MarkSent {
        client_id: String,
        seq: u64,
        pid: u16,
    },
    /// PUBREC received: after a restart, PUBREL is resent instead of the PUBLISH, so the payload goes.
    MarkReleased {
        client_id: String,
        seq: u64,
    },
    /// PUBACK / PUBCOMP received, or the delivery was dropped.
    Dequeue {
        client_id: String,
        seq: u64,
    },
    /// A QoS 2 PUBLISH was received and PUBREC'd; it is routed when PUBREL arrives.
    HoldIncoming {
        client_id: String,
        pid: u16,
        topic: String,
        payload: Bytes,
        retain: bool,
    },
    ReleaseIncoming {
        client_id: String,
        pid: u16,
    },
    SetRetained {
        namespace: String,
        topic: String,
        payload: Bytes,
        qos: u8,
        will_of: Option<String>,
    },
    ClearRetained {
        namespace: String,
        topic: String,
    },
    /// A decoded `$dp` upload: the raw payload and its datapoints.
    Datapoints(Box<DpBatch>),
    /// A command was created or changed status.
    PutCommand(Box<Command>),
    /// A device subscribed to a topic: add it to the product's topic list if there is room (§8.1: ≤ 100).
    EnsureTopic {
        product_id: String,
        name: String,
    },
    /// A client's statistics (totals, last seen, keepalive): at login, disconnect, every few seconds
    /// while online and at shutdown, never per message.
    DeviceStats(super::DeviceStats),
    /// Answered once every earlier op is committed.
    Flush(oneshot::Sender<()>),
    /// New retention settings (changed at run time): applied at once, then periodically.
    SetRetention(Retention),
}

impl StoreOp {
    /// The message bytes the op holds until it is committed (payloads and command bodies; names and ids
    /// are small beside them and not counted): what `limits.max_store_backlog_bytes` bounds.
    pub fn payload_bytes(&self) -> usize {
        match self {
            StoreOp::Enqueue { payload, .. }
            | StoreOp::HoldIncoming { payload, .. }
            | StoreOp::SetRetained { payload, .. } => payload.len(),
            StoreOp::Datapoints(b) => b.payload.len(),
            StoreOp::PutCommand(c) => c.body.len() + c.reply.as_ref().map_or(0, |r| r.len()),
            _ => 0,
        }
    }
}

/// The channel to the writer thread: (op number, op); flushes carry 0.
type OpSender = mpsc::Sender<(u64, StoreOp)>;

/// The sending side, shared by the router (numbered ops) and the service handle (flushes).
#[derive(Clone)]
pub struct StoreTx {
    /// `None` once closed. Only the router sends numbered ops (whichever task runs it, under its one
    /// lock), in number order, so "watermark ≥ n" means "op n and every op before it is committed".
    inner: Arc<Mutex<Option<OpSender>>>,
    committed: watch::Receiver<u64>,
    /// The last commit's failure (`None` while commits succeed): what the console shows as the reason
    /// acknowledgements are held.
    failing: watch::Receiver<Option<String>>,
    /// Numbering for the store's own tests, which play the router's part.
    #[cfg(test)]
    test_seq: Arc<std::sync::atomic::AtomicU64>,
}

impl StoreTx {
    /// Queues op number `n` (numbered by the router). After shutdown the op is dropped and logged; its
    /// number is never committed, so nothing waiting on it is released.
    pub fn send_numbered(&self, n: u64, op: StoreOp) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = g.as_ref() else {
            tracing::error!(?op, "store writer is stopped; mutation dropped");
            return;
        };
        if tx.send((n, op)).is_err() {
            tracing::error!("store writer thread has exited; mutation dropped");
            *g = None;
        }
    }

    /// Numbers and queues `op` (tests stand in for the router); returns its number.
    #[cfg(test)]
    pub(crate) fn send(&self, op: StoreOp) -> u64 {
        let n = self.test_seq.fetch_add(1, Ordering::SeqCst) + 1;
        self.send_numbered(n, op);
        n
    }

    /// Number of the last op [`StoreTx::send`] queued.
    #[cfg(test)]
    pub(crate) fn last(&self) -> u64 {
        self.test_seq.load(Ordering::SeqCst)
    }

    /// Watermark of committed ops.
    pub fn committed(&self) -> watch::Receiver<u64> {
        self.committed.clone()
    }

    /// Why commits fail right now (disk full, locked …), or `None` once a commit succeeds again.
    pub fn failing(&self) -> watch::Receiver<Option<String>> {
        self.failing.clone()
    }

    /// Waits until everything queued so far is committed (a flush carries no number: it only follows
    /// what was queued before it).
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        let sent = {
            let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            g.as_ref()
                .is_some_and(|s| s.send((0, StoreOp::Flush(tx))).is_ok())
        };
        if sent {
            let _ = rx.await;
        }
    }

    /// Stops accepting ops; the thread commits what is queued and exits.
    pub(crate) fn close(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Handle to join the writer thread at shutdown.
pub struct WriterThread {
    join: Option<std::thread::JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
}

impl WriterThread {
    /// Shutdown has begun: a commit that keeps failing (disk full) is given up after a few attempts
    /// instead of retried until it succeeds, so a final flush cannot wait forever.
    pub fn stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Waits for the thread to commit what is queued and exit. Call after [`StoreTx::close`] on every clone
    /// (the thread ends when all senders are gone).
    pub fn join(mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

/// Most ops one transaction takes; bounds the latency of the acks waiting behind a batch.
const MAX_BATCH: usize = 20_000;

/// How often retention runs when it is configured.
const RETENTION_EVERY: Duration = Duration::from_secs(10);

/// Starts the writer thread. Its connection waits `busy_timeout` for another's lock before a commit
/// fails (and is retried).
pub fn spawn_writer(
    path: PathBuf,
    retention: Retention,
    busy_timeout: std::time::Duration,
) -> Result<(StoreTx, WriterThread), StoreError> {
    let mut conn = connect_with(&path, busy_timeout)?;
    // The writer's page cache holds the tail page of every datastream's index range (one per stream
    // written to): with SQLite's default 2 MiB, a thousand streams evicted each other's pages on every
    // batch. 16 MiB, bounded, allocated only as pages are used.
    conn.pragma_update(None, "cache_size", -16 * 1024)?;
    // No foreign-key checks on the writer: each datapoint row looked its stream up once more only to
    // confirm the id the writer itself had just taken from `datastreams` (7% of the writer's time in
    // `cargo bench --bench ingest`). The one cascade the writer relies on, a session's rows, is written
    // out in `DeleteSession`; every other connection keeps the checks.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    // Last before the thread starts: should anything after it fail, dropping `conn` drops the hook's
    // sender, and the checkpoint thread ends by itself.
    let checkpointer = super::checkpoint::install(&mut conn, &path, busy_timeout)?;
    let (tx, rx) = mpsc::channel::<(u64, StoreOp)>();
    let (committed_tx, committed_rx) = watch::channel(0u64);
    let (failing_tx, failing_rx) = watch::channel(None);
    let stopping = Arc::new(AtomicBool::new(false));
    let stop2 = stopping.clone();
    let join = std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || {
            run(conn, rx, committed_tx, failing_tx, stop2, retention);
            // `run` dropped the connection and with it the hook's sender: the checkpointer ends.
            checkpointer.join();
        })
        .map_err(|e| StoreError::Invalid(format!("cannot start the store writer thread: {e}")))?;
    Ok((
        StoreTx {
            inner: Arc::new(Mutex::new(Some(tx))),
            committed: committed_rx,
            failing: failing_rx,
            #[cfg(test)]
            test_seq: Default::default(),
        },
        WriterThread {
            join: Some(join),
            stopping,
        },
    ))
}

fn run(
    mut conn: rusqlite::Connection,
    rx: mpsc::Receiver<(u64, StoreOp)>,
    committed: watch::Sender<u64>,
    failing: watch::Sender<Option<String>>,
    stopping: Arc<AtomicBool>,
    mut retention: Retention,
) {
    let mut batch: Vec<(u64, StoreOp)> = Vec::new();
    let mut ids = StreamIds::default();
    let mut last_retention = std::time::Instant::now();
    // Set once a batch was given up at shutdown: from then on the watermark never moves, because a later
    // batch committing would otherwise release acknowledgements of the ops that were lost.
    let mut gave_up = false;
    loop {
        let retain_some = retention.max_age.is_some() || retention.max_rows_per_stream.is_some();
        if retain_some && last_retention.elapsed() >= RETENTION_EVERY {
            last_retention = std::time::Instant::now();
            run_retention(&mut conn, &retention);
        }
        let first = match rx.recv_timeout(RETENTION_EVERY) {
            Ok(x) => x,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(x) => batch.push(x),
                Err(_) => break,
            }
        }
        // Flushes carry 0; the watermark only ever moves up.
        let last = batch.iter().map(|(n, _)| *n).max().unwrap_or(0);
        let mut attempt = 0u32;
        let mut ok = false;
        loop {
            match apply(&mut conn, &mut ids, &batch) {
                Ok(()) => {
                    ok = true;
                    failing.send_if_modified(|f| f.take().is_some());
                    break;
                }
                Err(e) => {
                    ids.clear();
                    attempt += 1;
                    let why = Some(e.to_string());
                    failing.send_if_modified(|f| {
                        let changed = *f != why;
                        *f = why.clone();
                        changed
                    });
                    tracing::error!(error = %e, ops = batch.len(), attempt,
                        "store commit failed; acknowledgements are held until it succeeds");
                    if stopping.load(Ordering::SeqCst) && attempt >= 3 {
                        tracing::error!(
                            ops = batch.len(),
                            "giving up at shutdown: these mutations are not saved and nothing that depends on them is acknowledged"
                        );
                        gave_up = true;
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
        if ok && !gave_up {
            committed.send_if_modified(|c| {
                let moved = last > *c;
                *c = (*c).max(last);
                moved
            });
        }
        // Flushes are answered either way: after a give-up there is nothing more to wait for.
        for (_, op) in batch.drain(..) {
            match op {
                StoreOp::Flush(done) => {
                    let _ = done.send(());
                }
                StoreOp::SetRetention(r) => {
                    retention = r;
                    last_retention = std::time::Instant::now();
                    run_retention(&mut conn, &retention);
                }
                _ => {}
            }
        }
    }
}

fn run_retention(conn: &mut rusqlite::Connection, retention: &Retention) {
    let result = conn.transaction().map_err(StoreError::from).and_then(|tx| {
        let n = apply_retention(&tx, retention, now_millis())?;
        tx.commit()?;
        Ok(n)
    });
    match result {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, "retention: old datapoints deleted"),
        Err(e) => tracing::error!(error = %e, "retention failed"),
    }
}

fn apply(
    conn: &mut rusqlite::Connection,
    ids: &mut StreamIds,
    batch: &[(u64, StoreOp)],
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    for (_, op) in batch {
        apply_one(&tx, ids, op)?;
    }
    tx.commit()?;
    Ok(())
}

fn apply_one(tx: &Transaction<'_>, ids: &mut StreamIds, op: &StoreOp) -> Result<(), StoreError> {
    match op {
        StoreOp::UpsertSession {
            client_id,
            namespace,
        } => {
            tx.prepare_cached(
                "INSERT INTO sessions (client_id, namespace, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(client_id) DO UPDATE SET namespace = excluded.namespace",
            )?
            .execute(params![client_id, namespace, now_millis()])?;
        }
        StoreOp::DeleteSession { client_id } => {
            // The cascade the schema declares, written out: the writer runs without foreign-key checks
            // (see `spawn_writer`).
            for sql in [
                "DELETE FROM subscriptions WHERE client_id = ?1",
                "DELETE FROM session_queue WHERE client_id = ?1",
                "DELETE FROM incoming_qos2 WHERE client_id = ?1",
                "DELETE FROM sessions WHERE client_id = ?1",
            ] {
                tx.prepare_cached(sql)?.execute([client_id])?;
            }
        }
        StoreOp::PutSubscription {
            client_id,
            filter,
            qos,
        } => {
            tx.prepare_cached(
                "INSERT INTO subscriptions (client_id, filter, qos) VALUES (?1, ?2, ?3)
                 ON CONFLICT(client_id, filter) DO UPDATE SET qos = excluded.qos",
            )?
            .execute(params![client_id, filter, qos])?;
        }
        StoreOp::DelSubscription { client_id, filter } => {
            tx.prepare_cached("DELETE FROM subscriptions WHERE client_id = ?1 AND filter = ?2")?
                .execute(params![client_id, filter])?;
        }
        StoreOp::Enqueue {
            client_id,
            seq,
            topic,
            payload,
            qos,
            retain,
            queued_at,
        } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO session_queue (client_id, seq, topic, payload, qos, retain, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                client_id,
                *seq as i64,
                topic,
                payload.as_ref(),
                qos,
                retain,
                queued_at
            ])?;
        }
        StoreOp::MarkSent {
            client_id,
            seq,
            pid,
        } => {
            tx.prepare_cached(
                "UPDATE session_queue SET pid = ?3 WHERE client_id = ?1 AND seq = ?2",
            )?
            .execute(params![client_id, *seq as i64, pid])?;
        }
        StoreOp::MarkReleased { client_id, seq } => {
            tx.prepare_cached(
                "UPDATE session_queue SET released = 1, payload = x'' WHERE client_id = ?1 AND seq = ?2",
            )?
            .execute(params![client_id, *seq as i64])?;
        }
        StoreOp::Dequeue { client_id, seq } => {
            tx.prepare_cached("DELETE FROM session_queue WHERE client_id = ?1 AND seq = ?2")?
                .execute(params![client_id, *seq as i64])?;
        }
        StoreOp::HoldIncoming {
            client_id,
            pid,
            topic,
            payload,
            retain,
        } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO incoming_qos2 (client_id, pid, topic, payload, retain)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![client_id, pid, topic, payload.as_ref(), retain])?;
        }
        StoreOp::ReleaseIncoming { client_id, pid } => {
            tx.prepare_cached("DELETE FROM incoming_qos2 WHERE client_id = ?1 AND pid = ?2")?
                .execute(params![client_id, pid])?;
        }
        StoreOp::SetRetained {
            namespace,
            topic,
            payload,
            qos,
            will_of,
        } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO retained (namespace, topic, payload, qos, will_of, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                namespace,
                topic,
                payload.as_ref(),
                qos,
                will_of,
                now_millis()
            ])?;
        }
        StoreOp::ClearRetained { namespace, topic } => {
            tx.prepare_cached("DELETE FROM retained WHERE namespace = ?1 AND topic = ?2")?
                .execute(params![namespace, topic])?;
        }
        StoreOp::Datapoints(b) => insert_batch(tx, ids, b)?,
        StoreOp::PutCommand(c) => put_command(tx, c)?,
        StoreOp::EnsureTopic { product_id, name } => {
            super::topics::ensure_topic(tx, product_id, name)?;
        }
        StoreOp::DeviceStats(s) => super::stats::put_stats(tx, s)?,
        StoreOp::Flush(_) | StoreOp::SetRetention(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;

    fn retained(topic: &str) -> StoreOp {
        StoreOp::SetRetained {
            namespace: "p".into(),
            topic: topic.into(),
            payload: Bytes::from_static(b"v"),
            qos: 1,
            will_of: None,
        }
    }

    /// A commit that keeps failing at shutdown is given up, and the watermark never passes it — not even
    /// when a later batch commits — so no acknowledgement that depends on it leaves.
    #[tokio::test]
    async fn the_watermark_never_passes_an_op_that_was_not_committed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.sqlite3");
        let db = Db::open(&path).expect("open");
        let (tx, thread) = spawn_writer(
            path.clone(),
            Retention::default(),
            crate::store::DEFAULT_BUSY_TIMEOUT,
        )
        .expect("writer");
        let n1 = tx.send(retained("ok"));
        tx.flush().await;
        assert_eq!(*tx.committed().borrow(), n1);
        // From now on every write to `retained` fails, as a full disk would.
        let c = rusqlite::Connection::open(&path).expect("second connection");
        c.execute_batch(
            "CREATE TRIGGER fail BEFORE INSERT ON retained BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
        )
        .expect("trigger");
        thread.stopping.store(true, Ordering::SeqCst);
        let n2 = tx.send(retained("lost"));
        tx.flush().await; // answered once the writer gives up (3 attempts)
        assert_eq!(*tx.committed().borrow(), n1, "op {n2} failed: no movement");
        c.execute_batch("DROP TRIGGER fail;").expect("drop trigger");
        let n3 = tx.send(StoreOp::ClearRetained {
            namespace: "p".into(),
            topic: "ok".into(),
        });
        tx.flush().await;
        assert!(n3 > n2);
        assert_eq!(
            *tx.committed().borrow(),
            n1,
            "a later commit must not release op {n2}'s acknowledgement"
        );
        tx.close();
        thread.join();
        let state = db.load_state().expect("load");
        assert!(state.retained.iter().all(|r| r.topic != "lost"));
    }
}
