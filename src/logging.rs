//! Logging, shared by the desktop console and `serve` (headless: no GUI types here).
//!
//! Three outputs behind one `RUST_LOG` filter (default `info`):
//!
//! * stderr, as before;
//! * a rolling file `<data dir>/logs/onenet-desk.log`, written off the broker's threads by a worker
//!   thread (`tracing-appender`'s non-blocking writer, a bounded queue that drops lines rather than
//!   stall the broker when the disk is slow). The rolling is ours, by size: `tracing-appender`'s own
//!   appender rolls by time only, so one busy day could grow a file without limit. [`RollingFile`]
//!   keeps at most `keep_old + 1` files of at most `max_file_bytes` each;
//! * [`LogRing`], the newest records in memory, which the console's Logs panel reads.
//!
//! [`init`] installs all three once per process; [`ring`] and [`log_file`] tell the console where they are.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The log folder, inside the data dir.
pub const LOG_DIR: &str = "logs";
/// The current log file; older ones are `onenet-desk.log.1` (newest) … `.N`.
pub const LOG_FILE: &str = "onenet-desk.log";
/// Records the in-memory ring keeps (the oldest go first).
pub const RING_CAPACITY: usize = 2000;
/// A record's text is cut to this many characters in the ring (the file gets it whole, up to its own limit).
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Lines waiting for the file writer thread; past this, new lines are dropped (counted by tracing-appender).
const FILE_QUEUE_LINES: usize = 10_000;

/// How big the log may grow on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollPolicy {
    /// A file reaching this size is closed and a new one started.
    pub max_file_bytes: u64,
    /// Closed files kept (the oldest are deleted). Total on disk ≤ (keep_old + 1) × max_file_bytes.
    pub keep_old: usize,
}

impl Default for RollPolicy {
    /// 5 files of 4 MiB: at most 20 MiB, days of a busy broker at `info`.
    fn default() -> Self {
        RollPolicy {
            max_file_bytes: 4 * 1024 * 1024,
            keep_old: 4,
        }
    }
}

impl RollPolicy {
    /// The most the log files can take on disk together.
    pub fn max_total_bytes(&self) -> u64 {
        self.max_file_bytes * (self.keep_old as u64 + 1)
    }
}

/// A log file that rolls by size: `LOG_FILE` is written; when the next write would take it past the
/// limit it becomes `LOG_FILE.1` (`.1` becomes `.2`, …, the last one is deleted) and a fresh file starts.
/// Writes are whole lines (the formatter writes each event at once), so lines are never split across
/// files; a single line longer than the file limit is cut to the limit.
pub struct RollingFile {
    dir: PathBuf,
    policy: RollPolicy,
    file: Option<File>,
    len: u64,
}

impl RollingFile {
    /// Opens (appending) or creates the log file in `dir`, creating `dir` too. Old files beyond the
    /// policy's count (left by a larger policy) are deleted, so the bound holds from the start.
    pub fn open(dir: &Path, policy: RollPolicy) -> io::Result<RollingFile> {
        let policy = RollPolicy {
            max_file_bytes: policy.max_file_bytes.max(1),
            ..policy
        };
        fs::create_dir_all(dir)?;
        let mut f = RollingFile {
            dir: dir.to_path_buf(),
            policy,
            file: None,
            len: 0,
        };
        f.remove_extra_old_files();
        f.reopen(false)?;
        Ok(f)
    }

    /// The file being written.
    pub fn path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    /// The path of the `n`-th older file (1 = the newest of them).
    pub fn old_path(dir: &Path, n: usize) -> PathBuf {
        dir.join(format!("{LOG_FILE}.{n}"))
    }

    fn reopen(&mut self, truncate: bool) -> io::Result<()> {
        let file = OpenOptions::new()
            .create(true)
            .append(!truncate)
            .write(true)
            .truncate(truncate)
            .open(self.path())?;
        self.len = file.metadata()?.len();
        self.file = Some(file);
        Ok(())
    }

    fn remove_extra_old_files(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let prefix = format!("{LOG_FILE}.");
        for e in entries.flatten() {
            let name = e.file_name();
            let n = name
                .to_str()
                .and_then(|s| s.strip_prefix(&prefix))
                .and_then(|n| n.parse::<usize>().ok());
            if n.is_some_and(|n| n == 0 || n > self.policy.keep_old) {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Closes the current file and shifts the old ones along. The file is closed before any rename, which
    /// Windows requires.
    fn roll(&mut self) -> io::Result<()> {
        if let Some(mut f) = self.file.take() {
            let _ = f.flush();
        }
        let keep = self.policy.keep_old;
        if keep == 0 {
            return self.reopen(true);
        }
        let last = Self::old_path(&self.dir, keep);
        if last.exists() {
            fs::remove_file(&last)?;
        }
        for n in (1..keep).rev() {
            let from = Self::old_path(&self.dir, n);
            if from.exists() {
                fs::rename(&from, Self::old_path(&self.dir, n + 1))?;
            }
        }
        fs::rename(self.path(), Self::old_path(&self.dir, 1))?;
        self.reopen(true)
    }
}

impl Write for RollingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let max = self.policy.max_file_bytes;
        let keep = buf.len().min(usize::try_from(max).unwrap_or(usize::MAX));
        let line = buf.get(..keep).unwrap_or(buf);
        if self.len > 0 && self.len + line.len() as u64 > max {
            self.roll()?;
        }
        if self.file.is_none() {
            self.reopen(false)?;
        }
        let Some(f) = self.file.as_mut() else {
            return Err(io::Error::other("the log file is not open"));
        };
        f.write_all(line)?;
        self.len += line.len() as u64;
        // Claim the whole buffer: the cut-off tail of an over-long line is dropped, not written later.
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// One log record as the console shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// Increases by one per record, from 1; lets a reader ask only for what is new.
    pub seq: u64,
    /// Unix time, milliseconds.
    pub time_ms: i64,
    pub level: Level,
    /// The module that logged it (e.g. `onenet_desk::broker::conn`).
    pub target: String,
    /// The message followed by the event's other fields as `name=value`.
    pub message: String,
}

struct RingState {
    records: VecDeque<LogRecord>,
    capacity: usize,
    next_seq: u64,
}

/// The newest log records in memory, at most `capacity` (the oldest are dropped). Cheap to clone: clones
/// share the records.
#[derive(Clone)]
pub struct LogRing {
    state: Arc<Mutex<RingState>>,
}

impl LogRing {
    pub fn new(capacity: usize) -> LogRing {
        let capacity = capacity.max(1);
        LogRing {
            state: Arc::new(Mutex::new(RingState {
                records: VecDeque::with_capacity(capacity.min(4096)),
                capacity,
                next_seq: 1,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RingState> {
        // A panic while holding the lock leaves whole records behind: keep using them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a record (its text cut to [`MAX_MESSAGE_CHARS`]) and returns its sequence number.
    pub fn push(&self, time_ms: i64, level: Level, target: &str, message: &str) -> u64 {
        let message = match message.char_indices().nth(MAX_MESSAGE_CHARS) {
            Some((cut, _)) => format!("{}…", &message[..cut]),
            None => message.to_string(),
        };
        let mut s = self.lock();
        let seq = s.next_seq;
        s.next_seq += 1;
        if s.records.len() >= s.capacity {
            s.records.pop_front();
        }
        s.records.push_back(LogRecord {
            seq,
            time_ms,
            level,
            target: target.to_string(),
            message,
        });
        seq
    }

    /// The records with a sequence number above `after`, oldest first (at most the capacity).
    pub fn since(&self, after: u64) -> Vec<LogRecord> {
        let s = self.lock();
        let skip = s.records.partition_point(|r| r.seq <= after);
        s.records.range(skip..).cloned().collect()
    }

    /// The sequence number of the newest record (0: none yet).
    pub fn last_seq(&self) -> u64 {
        self.lock().next_seq - 1
    }

    pub fn capacity(&self) -> usize {
        self.lock().capacity
    }

    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The tracing layer that copies each event into a [`LogRing`].
pub struct RingLayer {
    ring: LogRing,
}

impl RingLayer {
    pub fn new(ring: LogRing) -> RingLayer {
        RingLayer { ring }
    }
}

/// Collects an event's fields: the `message` first, the others as ` name=value`.
#[derive(Default)]
struct FieldText {
    message: String,
    fields: String,
}

impl Visit for FieldText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.fields
                .push_str(&format!(" {}={value:?}", field.name()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message.push_str(&format!("{value:?}"));
        } else {
            self.fields
                .push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut text = FieldText::default();
        event.record(&mut text);
        text.message.push_str(&text.fields);
        let meta = event.metadata();
        self.ring
            .push(now_ms(), *meta.level(), meta.target(), &text.message);
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

struct Installed {
    ring: LogRing,
    file: Option<PathBuf>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// The ring the process logs into, once [`init`] ran.
pub fn ring() -> Option<LogRing> {
    INSTALLED.get().map(|i| i.ring.clone())
}

/// The log file being written, once [`init`] ran and the file could be opened.
pub fn log_file() -> Option<PathBuf> {
    INSTALLED.get().and_then(|i| i.file.clone())
}

/// The log folder for a data dir.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(LOG_DIR)
}

/// Keeps the file writer running; dropping it writes out the lines still queued. Hold it until exit.
#[must_use = "dropping the guard stops the log file writer"]
pub struct LogGuard {
    _file: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Installs stderr, the rolling file in `<data_dir>/logs` and the ring as the process's logger. A log
/// file that cannot be opened (read-only dir, full disk) is reported on stderr and logging goes on
/// without it. A second call (or another logger already installed) changes nothing.
pub fn init(data_dir: &Path, policy: RollPolicy) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ring = LogRing::new(RING_CAPACITY);
    let dir = log_dir(data_dir);
    let (file_layer, guard, file_path, file_error) = match RollingFile::open(&dir, policy) {
        Ok(f) => {
            let path = f.path();
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(FILE_QUEUE_LINES)
                .lossy(true)
                .thread_name("log-file")
                .finish(f);
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer);
            (Some(layer), Some(guard), Some(path), None)
        }
        Err(e) => (None, None, None, Some(e)),
    };
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()));
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file_layer)
        .with(RingLayer::new(ring.clone()))
        .try_init()
        .is_ok();
    if installed {
        let _ = INSTALLED.set(Installed {
            ring,
            file: file_path,
        });
    }
    if let Some(e) = file_error {
        tracing::warn!(
            "cannot write the log file in {}: {e}; logging to stderr only",
            dir.display()
        );
    }
    LogGuard { _file: guard }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_and_reads_from_a_sequence_number() {
        let ring = LogRing::new(3);
        for i in 1..=5 {
            ring.push(i, Level::INFO, "t", &format!("m{i}"));
        }
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.last_seq(), 5);
        let all: Vec<_> = ring.since(0).into_iter().map(|r| r.message).collect();
        assert_eq!(all, ["m3", "m4", "m5"]);
        let new: Vec<_> = ring.since(4).into_iter().map(|r| r.seq).collect();
        assert_eq!(new, [5]);
        assert!(ring.since(5).is_empty());
    }

    #[test]
    fn ring_cuts_long_messages_at_a_char_boundary() {
        let ring = LogRing::new(2);
        let long = "温".repeat(MAX_MESSAGE_CHARS + 10);
        ring.push(0, Level::WARN, "t", &long);
        let m = &ring.since(0)[0].message;
        assert_eq!(m.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(m.ends_with('…'));
    }

    #[test]
    fn ring_layer_records_message_fields_level_and_target() {
        let ring = LogRing::new(10);
        let sub = tracing_subscriber::registry().with(RingLayer::new(ring.clone()));
        tracing::subscriber::with_default(sub, || {
            tracing::warn!(target: "onenet_desk::broker", client = "9277", "kicked");
        });
        let r = &ring.since(0)[0];
        assert_eq!(r.level, Level::WARN);
        assert_eq!(r.target, "onenet_desk::broker");
        assert_eq!(r.message, "kicked client=\"9277\"");
    }
}
