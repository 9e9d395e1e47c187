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

mod checkpoint;
mod commands;
pub mod datapoints;
mod pool;
mod registry;
pub(crate) mod schema;
mod state;
mod stats;
pub mod topics;
pub(crate) mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

pub use datapoints::{DpBatch, DpFilter, StoredDatapoint, StreamSummary};
pub use registry::{NewDevice, NewProduct};
pub use state::{LoadedQueued, LoadedRetained, LoadedSession, LoadedState};
pub use stats::DeviceStats;
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
    /// The file cannot be opened or read as a database (corrupt, not SQLite, no permission, locked).
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// A valid SQLite database that belongs to another program: left untouched.
    #[error(
        "{path} is an SQLite database of another program (tables: {tables}); onenet-desk leaves it untouched: choose another data directory or move the file away"
    )]
    Foreign { path: PathBuf, tables: String },
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

impl StoreError {
    /// True for a failure of the store itself (busy, locked, disk full, I/O) rather than of the request:
    /// the same request may succeed later. CONNECT answers these with CONNACK 3, never 4.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite(_) | StoreError::DataDir { .. } | StoreError::Open { .. }
        )
    }
}

/// How long a connection waits for another's lock before SQLite answers "busy" (the writer then keeps its
/// acknowledgements back and retries). The default of `Limits::store_busy_timeout`; tests lower it.
pub const DEFAULT_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens a connection with the settings every connection of ours uses.
pub(crate) fn connect_with(
    path: &Path,
    busy_timeout: std::time::Duration,
) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a committed batch survives power loss, which is what an acknowledgement promises.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Reads (never writes) an existing file to make sure it is ours before anything changes it: a file that
/// is not a database, or an SQLite database of another program, is refused with an error naming it,
/// byte for byte as it was (setting WAL mode or migrating would already have written to it).
fn identify(path: &Path, busy_timeout: std::time::Duration) -> Result<(), StoreError> {
    if !path.exists() {
        return Ok(());
    }
    let open_err = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(open_err)?;
    conn.busy_timeout(busy_timeout).map_err(open_err)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(open_err)?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .map_err(open_err)?;
    if version == 0 && !tables.is_empty() {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
            tables: tables.join(", "),
        });
    }
    Ok(())
}

/// The synchronous handle: registry and start-up loading. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
    /// Read-only connections for long reads (history), so they never hold `conn`, which CONNECT needs.
    readers: Arc<pool::ReadPool>,
}

impl Db {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Db, StoreError> {
        Db::open_with(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// [`Db::open`] whose connections wait `busy_timeout` for a lock held by another connection.
    pub fn open_with(path: &Path, busy_timeout: std::time::Duration) -> Result<Db, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        identify(path, busy_timeout)?;
        let mut conn = connect_with(path, busy_timeout).map_err(|e| match e {
            StoreError::Sqlite(source) => StoreError::Open {
                path: path.to_path_buf(),
                source,
            },
            e => e,
        })?;
        schema::migrate(&mut conn)?;
        Ok(Db {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
            readers: Arc::new(pool::ReadPool::new(path, busy_timeout)),
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

    /// The broker's writer thread (and its checkpoint thread) keep the WAL copied back: this connection
    /// stops checkpointing by itself, which it would otherwise do in any commit that finds the WAL past
    /// 1,000 pages, holding the lock CONNECT needs while it copied.
    pub(crate) fn leave_checkpoints_to_the_writer(&self) -> Result<(), StoreError> {
        self.lock().pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(())
    }

    /// A read-only connection from the pool, for reads that may take long.
    pub(crate) fn reader(&self) -> Result<pool::Reader<'_>, StoreError> {
        self.readers.get()
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
