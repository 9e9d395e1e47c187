//! A small pool of read-only connections for the reads that can be long (datapoint history, stream
//! summaries, command history). They never take the registry's connection, so a 100k-row history read
//! in the console or the HTTP API does not delay CONNECT admission, which reads the registry.
//!
//! WAL mode lets every reader see the last committed state without waiting for the writer. The pool
//! opens connections lazily, holds at most [`READERS`] of them, and a caller beyond that waits on a
//! condition variable for one to come back (bounded: never more than `READERS` open).

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// Read connections at most: enough for the console, the HTTP API and an export side by side.
pub const READERS: usize = 4;

struct Slots {
    /// Idle connections; never more than `READERS` (a connection is pushed back only after it was taken).
    idle: Vec<Connection>,
    /// Connections opened so far (idle + checked out), ≤ `READERS`.
    opened: usize,
}

pub(crate) struct ReadPool {
    path: PathBuf,
    busy_timeout: std::time::Duration,
    slots: Mutex<Slots>,
    freed: Condvar,
}

/// A checked-out read connection; goes back to the pool on drop.
pub(crate) struct Reader<'a> {
    pool: &'a ReadPool,
    conn: Option<Connection>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;
    #[allow(
        clippy::expect_used,
        reason = "the Option exists only so Drop can move the connection back; nothing else takes it"
    )]
    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("reader connection present until drop")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.pool.lock().idle.push(c);
            self.pool.freed.notify_one();
        }
    }
}

fn open_reader(path: &Path, busy_timeout: std::time::Duration) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    Ok(conn)
}

impl ReadPool {
    pub(crate) fn new(path: &Path, busy_timeout: std::time::Duration) -> ReadPool {
        ReadPool {
            path: path.to_path_buf(),
            busy_timeout,
            slots: Mutex::new(Slots {
                idle: Vec::with_capacity(READERS),
                opened: 0,
            }),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes an idle connection, opens one if fewer than [`READERS`] exist, else waits for one.
    pub(crate) fn get(&self) -> Result<Reader<'_>, StoreError> {
        let mut slots = self.lock();
        loop {
            if let Some(c) = slots.idle.pop() {
                return Ok(Reader {
                    pool: self,
                    conn: Some(c),
                });
            }
            if slots.opened < READERS {
                slots.opened += 1;
                drop(slots);
                return match open_reader(&self.path, self.busy_timeout) {
                    Ok(c) => Ok(Reader {
                        pool: self,
                        conn: Some(c),
                    }),
                    Err(e) => {
                        self.lock().opened -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            slots = self.freed.wait(slots).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Connections currently open (for tests).
    #[cfg(test)]
    pub(crate) fn opened(&self) -> usize {
        self.lock().opened
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn never_opens_more_than_readers_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::Db::open(&dir.path().join("p.sqlite3")).unwrap();
        let pool = Arc::new(ReadPool::new(db.path(), crate::store::DEFAULT_BUSY_TIMEOUT));
        let held: Vec<_> = (0..READERS).map(|_| pool.get().unwrap()).collect();
        assert_eq!(pool.opened(), READERS);
        // A fifth caller waits until one comes back.
        let p2 = pool.clone();
        let waiter = std::thread::spawn(move || {
            let r = p2.get().unwrap();
            r.query_row("SELECT count(*) FROM products", [], |r| r.get::<_, i64>(0))
                .unwrap()
        });
        drop(held);
        assert_eq!(waiter.join().unwrap(), 0);
        assert_eq!(pool.opened(), READERS);
    }
}
