//! SQLite persistence: the registry, persistent sessions, queued QoS 1/2 deliveries, QoS 2 messages held
//! until PUBREL, and retained messages.
//!
//! Two kinds of access, on purpose:
//! * [`Db`] — one mutex-guarded connection for rare, synchronous work: registry reads and writes (CONNECT
//!   auth, CLI, console) and loading the broker's state at start-up.
//! * [`writer`] — one thread that owns a second connection and applies the broker's mutations in batches,
//!   one transaction (one fsync) per batch: group commit. Acknowledgements that promise durability wait
//!   for the batch holding their data to commit (see `writer::Committed`).
//!
//! The database runs in WAL mode, so the CLI can add devices while `serve` runs and readers never wait
//! for the writer.

pub mod datapoints;
mod registry;
pub(crate) mod schema;
mod state;
pub mod topics;
pub(crate) mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

pub use datapoints::{DpBatch, DpFilter, StoredDatapoint, StreamSummary};
pub use registry::{NewDevice, NewProduct};
pub use state::{LoadedQueued, LoadedRetained, LoadedSession, LoadedState};
pub use writer::{StoreOp, StoreTx};

/// Errors at the storage boundary.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the database was written by a newer onenet-desk (schema {found}, this build knows {supported})"
    )]
    NewerSchema { found: usize, supported: usize },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// A platform limit (topics per product …).
    #[error("{0}")]
    Limit(String),
}

/// Opens a connection with the settings every connection of ours uses.
pub(crate) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a committed batch survives power loss, which is what an acknowledgement promises.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// The synchronous handle: registry and start-up loading. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Db, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut conn = connect(path)?;
        schema::migrate(&mut conn)?;
        Ok(Db {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the database and its WAL on disk, in bytes.
    pub fn size_on_disk(&self) -> u64 {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        [self.path.clone(), PathBuf::from(wal)]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection itself usable; keep serving.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
