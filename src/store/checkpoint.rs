//! WAL checkpoints on a thread of their own, so the writer never copies pages back into the database.
//!
//! Why: with SQLite's automatic checkpoint, the connection whose commit takes the WAL past 1,000 pages
//! copies them into the database file and fsyncs it inside that `COMMIT`. On the writer thread that was
//! about 9% of its time under a `$dp` flood (`perf record` of `cargo bench --bench ingest`), and every
//! acknowledgement waiting for that batch waited for the copy too. Here the writer's commit only notes
//! the WAL's size ([`install`] replaces the automatic checkpoint with a hook); past [`SOFT_PAGES`] it
//! wakes the checkpointer thread, which runs a PASSIVE checkpoint on its own connection while the writer
//! goes on with the next batch. The WAL starts over at the writer's next commit once everything in it
//! has been copied.
//!
//! Bound: the WAL only starts over when a checkpoint has copied all of it before the writer's next
//! commit, which a busy writer may never leave the checkpointer time to do. So after any commit that
//! leaves [`HARD_PAGES`] or more in the WAL, the writer checkpoints itself, as SQLite would have done: it
//! asks the checkpointer to start no new run, waits for the run in progress (at most [`WRITER_WAIT`]),
//! and copies everything, so its next commit starts the WAL over. A reader in the middle of a long read
//! (an export) keeps its part of the WAL from being copied or reused, as with SQLite's own checkpoints;
//! every later commit past the limit tries again, and the WAL starts over once the reader is done.
//! The WAL file, grown past [`SIZE_LIMIT`] meanwhile, is cut back to it when the WAL starts over.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;

use super::{StoreError, connect_with};

/// WAL size (pages) from which the checkpointer is woken: SQLite's own automatic-checkpoint default.
pub(crate) const SOFT_PAGES: i32 = 1_000;

/// WAL size (pages) past which the writer checkpoints itself (32 MiB at 4 KiB pages).
pub(crate) const HARD_PAGES: i32 = 8_000;

/// Bytes the WAL file is truncated to when it starts over (`journal_size_limit`): what the soft limit
/// needs, not the most it ever held.
const SIZE_LIMIT: i64 = 4 * 1024 * 1024;

/// Longest the writer waits for the checkpointer's run in progress before it gives up for this commit.
const WRITER_WAIT: Duration = Duration::from_secs(1);

/// What the writer's hook and the checkpointer thread share.
#[derive(Default)]
struct Shared {
    /// Checkpoints the thread has completed.
    runs: AtomicU64,
    /// The writer is checkpointing itself: the thread starts no run meanwhile.
    writer_turn: AtomicBool,
}

/// The checkpointer thread. It ends when the writer's connection is dropped (the hook holds the only
/// sender); [`Checkpointer::join`] waits for that.
pub(crate) struct Checkpointer {
    join: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Checkpointer {
    /// Checkpoints the thread has completed.
    fn runs(&self) -> u64 {
        self.shared.runs.load(Ordering::Relaxed)
    }

    /// Waits for the thread to end. Call after the writer's connection is dropped.
    pub fn join(mut self) {
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
        tracing::debug!(checkpoints = self.runs(), "checkpointer stopped");
    }
}

/// Opens the checkpointer's own connection to `path`, starts its thread, and replaces `writer`'s
/// automatic checkpoint with the hook that wakes it.
pub(crate) fn install(
    writer: &mut Connection,
    path: &Path,
    busy_timeout: std::time::Duration,
) -> Result<Checkpointer, StoreError> {
    writer.pragma_update(None, "journal_size_limit", SIZE_LIMIT)?;
    let conn = connect_with(path, busy_timeout)?;
    // Capacity 1: a wake-up while one is pending adds nothing (the next checkpoint copies everything).
    let (kick, woken) = mpsc::sync_channel::<()>(1);
    let shared = Arc::new(Shared::default());
    let theirs = shared.clone();
    let join = std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || run(conn, woken, &theirs))
        .map_err(|e| StoreError::Invalid(format!("cannot start the checkpoint thread: {e}")))?;
    let ours = shared.clone();
    writer.wal_hook(Some(move |wal: &mut Wal, pages: i32| {
        after_commit(wal, pages, &kick, &ours);
        // Never an error: the commit has happened, and an error here would make the writer think it had
        // not (and write the batch twice).
        Ok(())
    }))?;
    Ok(Checkpointer {
        join: Some(join),
        shared,
    })
}

/// Runs on the writer thread after each commit, with the WAL's size in pages.
fn after_commit(wal: &mut Wal, pages: i32, kick: &SyncSender<()>, shared: &Shared) {
    if pages >= HARD_PAGES {
        shared.writer_turn.store(true, Ordering::SeqCst);
        // Busy while the checkpointer finishes the run it is in; it starts no other meanwhile.
        let deadline = Instant::now() + WRITER_WAIT;
        while let Err(e) = wal.checkpoint_v2(CheckpointMode::PASSIVE) {
            let busy = matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            );
            if !busy || Instant::now() >= deadline {
                tracing::warn!(error = %e, pages, "the writer's own WAL checkpoint did not run; the next commit tries again");
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        shared.writer_turn.store(false, Ordering::SeqCst);
    } else if pages >= SOFT_PAGES {
        match kick.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => {
                // The checkpointer has stopped: do its work here rather than let the WAL grow.
                let _ = wal.checkpoint_v2(CheckpointMode::PASSIVE);
            }
        }
    }
}

fn run(conn: Connection, woken: mpsc::Receiver<()>, shared: &Shared) {
    let mut failed_before = false;
    while woken.recv().is_ok() {
        if shared.writer_turn.load(Ordering::SeqCst) {
            continue;
        }
        match conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
            Ok(_) => {
                failed_before = false;
                shared.runs.fetch_add(1, Ordering::Relaxed);
            }
            // Busy: the writer is checkpointing itself; nothing lost, the next wake-up retries. Logged
            // once per run of failures, not once per commit.
            Err(e) if !failed_before => {
                failed_before = true;
                tracing::warn!(error = %e, "WAL checkpoint failed; the writer checkpoints itself past the hard limit");
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `commits` transactions of 100 rows of about one page each; `after` runs after every commit.
    fn commit_pages(w: &mut Connection, commits: usize, mut after: impl FnMut()) {
        let blob = vec![7u8; 4000];
        for _ in 0..commits {
            let tx = w.transaction().unwrap();
            for _ in 0..100 {
                tx.execute("INSERT INTO t VALUES (?1)", [&blob]).unwrap();
            }
            tx.commit().unwrap();
            after();
        }
    }

    fn wal_pages(dir: &Path) -> u64 {
        std::fs::metadata(dir.join("t.db-wal"))
            .map(|m| m.len() / 4096)
            .unwrap_or(0)
    }

    /// The checkpointer thread copies the WAL back, and the WAL stays bounded: after commits that pass
    /// the soft limit many times over, the WAL file (whose size is its high-water mark) stays far below
    /// what was written, and nothing is lost.
    #[test]
    fn the_wal_is_checkpointed_off_the_writer_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut w = connect_with(&path, std::time::Duration::from_secs(5)).unwrap();
        w.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let ck = install(&mut w, &path, std::time::Duration::from_secs(5)).unwrap();
        // 40,000 pages written in all, five times the hard limit.
        commit_pages(&mut w, 400, || {
            // The hard limit plus the commit that crossed it (about 110 pages).
            assert!(
                wal_pages(dir.path()) <= (HARD_PAGES + 500) as u64,
                "the WAL grew to {} pages",
                wal_pages(dir.path())
            );
        });
        let n: i64 = w
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 40_000);
        assert!(ck.runs() > 0, "the checkpointer never ran");
        drop(w);
        ck.join();
        // Everything is in the database file itself once both connections are closed.
        let r = rusqlite::Connection::open(&path).unwrap();
        let n: i64 = r
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 40_000);
    }

    /// With the checkpointer gone, the writer's own checkpoint still bounds the WAL.
    #[test]
    fn without_the_checkpointer_the_writer_checkpoints_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut w = connect_with(&path, std::time::Duration::from_secs(5)).unwrap();
        w.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let (kick, woken) = mpsc::sync_channel::<()>(1);
        drop(woken);
        let shared = Shared::default();
        w.wal_hook(Some(move |wal: &mut Wal, pages: i32| {
            after_commit(wal, pages, &kick, &shared);
            Ok(())
        }))
        .unwrap();
        commit_pages(&mut w, 200, || {});
        assert!(
            wal_pages(dir.path()) <= (SOFT_PAGES + 200) as u64,
            "the WAL grew to {} pages",
            wal_pages(dir.path())
        );
    }
}
