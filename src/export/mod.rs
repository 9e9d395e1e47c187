//! Datapoint export: CSV (RFC 4180) or JSON Lines, streamed row by row.
//!
//! An export reads on a read-only SQLite connection, its own when given a path or a pooled one through
//! the service's `DataStore` (WAL: it never waits for the broker's writer and reads one consistent
//! snapshot), iterates one statement and writes each row as it comes, so memory use
//! does not grow with the number of rows. Rows come ordered by device id, stream, time, insertion order.
//!
//! Columns: `device_id, stream, at, value, type, received_at, kind, desc`. Times are ISO 8601 with the
//! offset (`2015-03-22T22:31:12.000+08:00`), UTC+8 by default like OneNET shows them. In CSV the value is
//! its text (a JSON string raw, other JSON compact, floats shortest, NaN and ±infinity as `NaN`,
//! `Infinity`, `-Infinity`, binary as standard padded base64), so `kind` ([`value_kind`]) is what tells
//! the string `"22.5"` from the number `22.5`; `desc` is a type 2 upload's descriptor `desc` (empty when
//! none). A JSON Lines object has the same fields with the value and `desc` as JSON
//! ([`DpValue::display_json`]: the non-finite floats as those three strings, never `null`).
//!
//! CSV may start with a UTF-8 byte order mark ([`ExportRequest::bom`]): Excel on a Chinese Windows reads a
//! CSV without one in the ANSI code page (GBK) and shows UTF-8 stream names as mojibake.
//!
//! [`export_to_file`] writes `FILE.tmp` and renames it, so a failed or cancelled export never leaves a
//! partial file under the final name. The progress callback lets a UI show a count and cancel.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine as _;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags};

use crate::onenet::datapoint::time::format_datetime;
use crate::onenet::datapoint::{DpValue, non_finite_name};
use crate::store::datapoints::{DP_SELECT, dp_row};
use crate::store::{DpFilter, StoredDatapoint};

/// The header line of a CSV export.
pub const CSV_HEADER: &str = "device_id,stream,at,value,type,received_at,kind,desc";

/// The UTF-8 byte order mark a CSV starts with when [`ExportRequest::bom`] is set.
pub const UTF8_BOM: &str = "\u{feff}";

/// The progress callback is called after every this many rows (and once at the end).
pub const PROGRESS_EVERY: u64 = 1000;

/// Output format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// RFC 4180 CSV with a header line; lines end with `\n`.
    #[default]
    Csv,
    /// One JSON object per line.
    JsonLines,
}

impl ExportFormat {
    /// The usual file extension: `csv` or `jsonl`.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::JsonLines => "jsonl",
        }
    }
}

impl FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(ExportFormat::Csv),
            "jsonl" => Ok(ExportFormat::JsonLines),
            other => Err(format!(
                "unknown export format '{other}': expected 'csv' or 'jsonl'"
            )),
        }
    }
}

/// What to export and how.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Device, stream and inclusive time range (Unix ms); `None` = no restriction.
    pub filter: DpFilter,
    pub format: ExportFormat,
    /// Offset the times are written at, in seconds (whole minutes are used); OneNET shows UTC+8.
    pub utc_offset_secs: i32,
    /// CSV only: start with a UTF-8 byte order mark, so Excel opens the file as UTF-8 (the console turns
    /// it on when its language is Chinese; `export --bom` on the CLI).
    pub bom: bool,
}

impl Default for ExportRequest {
    fn default() -> Self {
        ExportRequest {
            filter: DpFilter::default(),
            format: ExportFormat::Csv,
            utc_offset_secs: 8 * 3600,
            bom: false,
        }
    }
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing the output failed (disk full, permission, missing directory …); `path` is the file when
    /// there is one.
    #[error("cannot write {}: {source}", path.as_ref().map_or_else(|| "the export".to_string(), |p| p.display().to_string()))]
    Io {
        path: Option<PathBuf>,
        source: io::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// No read connection could be had (the store's pool).
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The progress callback returned false.
    #[error("export cancelled")]
    Cancelled,
}

impl ExportError {
    fn io(path: Option<&Path>) -> impl Fn(io::Error) -> ExportError + '_ {
        move |source| ExportError::Io {
            path: path.map(Path::to_path_buf),
            source,
        }
    }
}

/// `2015-03-22T22:31:12.000+08:00`: Unix milliseconds as ISO 8601 wall clock at `utc_offset_secs`
/// (rounded down to whole minutes), always with milliseconds and the offset.
pub fn iso_datetime(millis: i64, utc_offset_secs: i32) -> String {
    let offset = utc_offset_secs - utc_offset_secs % 60;
    let ms = millis.rem_euclid(1000);
    let whole = format_datetime(millis.saturating_sub(ms), offset);
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    format!(
        "{}.{ms:03}{sign}{:02}:{:02}",
        whole.replacen(' ', "T", 1),
        abs / 3600,
        abs % 3600 / 60
    )
}

/// The value as CSV text: a JSON string raw, other JSON compact, text raw, a float shortest, binary
/// as standard padded base64 (not yet quoted; see [`push_csv_field`]).
pub fn csv_value(v: &DpValue) -> String {
    match v {
        DpValue::Binary { data, .. } => base64::engine::general_purpose::STANDARD.encode(data),
        DpValue::Float(f) if !f.is_finite() => non_finite_name(*f).to_string(),
        other => other.display_text(),
    }
}

/// What the value is, finer than the upload type: a JSON value of types 1/3/4 by its JSON type
/// (`number`, `string`, `bool`, `null`, `object`, `array`), `text` (types 5/6), `float` (type 7) or
/// `binary` (type 2). In CSV, where `"22.5"` and `22.5` read the same, this tells them apart.
pub fn value_kind(v: &DpValue) -> &'static str {
    match v {
        DpValue::Json(j) => match j {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "bool",
            serde_json::Value::Number(_) => "number",
            serde_json::Value::String(_) => "string",
            serde_json::Value::Array(_) => "array",
            serde_json::Value::Object(_) => "object",
        },
        other => other.kind(),
    }
}

/// A type 2 datapoint's `desc` (from its descriptor), if it had one.
fn desc_of(v: &DpValue) -> Option<&serde_json::Value> {
    match v {
        DpValue::Binary { desc, .. } => desc.as_ref(),
        _ => None,
    }
}

/// Appends `field` to `out` as one RFC 4180 field: quoted when it holds a comma, a quote, CR or LF,
/// with quotes doubled.
pub fn push_csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        for c in field.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// One CSV line (with its `\n`) for a datapoint.
pub fn csv_line(dp: &StoredDatapoint, utc_offset_secs: i32) -> String {
    let mut s = String::new();
    push_csv_line(&mut s, dp, utc_offset_secs);
    s
}

fn push_csv_line(out: &mut String, dp: &StoredDatapoint, utc_offset_secs: i32) {
    push_csv_field(out, &dp.device_id);
    out.push(',');
    push_csv_field(out, &dp.stream);
    out.push(',');
    out.push_str(&iso_datetime(dp.at, utc_offset_secs));
    out.push(',');
    push_csv_field(out, &csv_value(&dp.value));
    out.push(',');
    out.push_str(&dp.dp_type.to_string());
    out.push(',');
    out.push_str(&iso_datetime(dp.received_at, utc_offset_secs));
    out.push(',');
    out.push_str(value_kind(&dp.value));
    out.push(',');
    match desc_of(&dp.value) {
        Some(serde_json::Value::String(s)) => push_csv_field(out, s),
        Some(other) => push_csv_field(out, &other.to_string()),
        None => {}
    }
    out.push('\n');
}

/// The JSON Lines object of a datapoint, fields in this order.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    device_id: &'a str,
    stream: &'a str,
    at: String,
    value: serde_json::Value,
    #[serde(rename = "type")]
    dp_type: u8,
    received_at: String,
    kind: &'static str,
    /// Type 2's descriptor `desc`; `null` otherwise.
    desc: Option<&'a serde_json::Value>,
}

/// One JSON Lines object (without the newline):
/// `{"device_id","stream","at","value","type","received_at","kind","desc"}`.
pub fn jsonl_line(dp: &StoredDatapoint, utc_offset_secs: i32) -> String {
    let line = JsonLine {
        device_id: &dp.device_id,
        stream: &dp.stream,
        at: iso_datetime(dp.at, utc_offset_secs),
        value: dp.value.display_json(),
        dp_type: dp.dp_type,
        received_at: iso_datetime(dp.received_at, utc_offset_secs),
        kind: value_kind(&dp.value),
        desc: desc_of(&dp.value),
    };
    // Serializing a struct of strings, numbers and a `Value` cannot fail.
    serde_json::to_string(&line).unwrap_or_default()
}

/// The export query for `f` with its parameters: the store's filter, ordered by device, stream and time
/// (the order the indexes give, so no sort step).
fn query(f: &DpFilter) -> (String, Vec<SqlValue>) {
    let (filter, params) = f.where_clause();
    let sql = format!("{DP_SELECT}{filter} ORDER BY s.device_id, s.stream, d.at, d.id");
    (sql, params)
}

/// A read-only connection of the export's own: an existing database only, never created or written.
fn open_read(db_path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(
        db_path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Number of datapoints `filter` selects (for a progress bar's total).
pub fn count_datapoints(db_path: &Path, filter: &DpFilter) -> Result<u64, ExportError> {
    count_on(&open_read(db_path)?, filter)
}

/// [`count_datapoints`] on a connection the caller holds (the service's read pool).
pub fn count_on(conn: &Connection, filter: &DpFilter) -> Result<u64, ExportError> {
    let (sql, params) = query(filter);
    let sql = format!("SELECT count(*) FROM ({sql})");
    let n: i64 = conn.query_row(&sql, rusqlite::params_from_iter(params), |r| r.get(0))?;
    Ok(n as u64)
}

/// Streams the datapoints `req` selects from the database at `db_path` into `out` (buffered here).
/// `progress` gets the row count after every [`PROGRESS_EVERY`] rows and at the end; returning false
/// stops with [`ExportError::Cancelled`] (what was written so far is then incomplete).
/// Returns the number of datapoints written.
pub fn export_datapoints(
    db_path: &Path,
    req: &ExportRequest,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<u64, ExportError> {
    write_rows(&open_read(db_path)?, req, out, progress, None)
}

fn write_rows(
    conn: &Connection,
    req: &ExportRequest,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64) -> bool,
    out_path: Option<&Path>,
) -> Result<u64, ExportError> {
    let io_err = ExportError::io(out_path);
    let (sql, params) = query(&req.filter);
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query(rusqlite::params_from_iter(params))?;
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let offset = req.utc_offset_secs;
    let mut line = String::with_capacity(256);
    if req.format == ExportFormat::Csv {
        if req.bom {
            line.push_str(UTF8_BOM);
        }
        line.push_str(CSV_HEADER);
        line.push('\n');
        out.write_all(line.as_bytes()).map_err(&io_err)?;
    }
    let mut n = 0u64;
    while let Some(row) = rows.next()? {
        let dp = dp_row(row)?;
        line.clear();
        match req.format {
            ExportFormat::Csv => push_csv_line(&mut line, &dp, offset),
            ExportFormat::JsonLines => {
                line.push_str(&jsonl_line(&dp, offset));
                line.push('\n');
            }
        }
        out.write_all(line.as_bytes()).map_err(&io_err)?;
        n += 1;
        if n.is_multiple_of(PROGRESS_EVERY) && !progress(n) {
            return Err(ExportError::Cancelled);
        }
    }
    out.flush().map_err(&io_err)?;
    // The final count (unless just reported), so a progress display ends at the total.
    if (n == 0 || !n.is_multiple_of(PROGRESS_EVERY)) && !progress(n) {
        return Err(ExportError::Cancelled);
    }
    Ok(n)
}

/// `path` with `.tmp` appended to its file name.
fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".tmp");
    PathBuf::from(s)
}

/// [`export_datapoints`] into the file `path`: written as `path.tmp`, synced, then renamed over `path`.
/// On any error or cancellation the temporary file is removed and `path` is left as it was.
pub fn export_to_file(
    db_path: &Path,
    req: &ExportRequest,
    path: &Path,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<u64, ExportError> {
    export_to_file_on(&open_read(db_path)?, req, path, progress)
}

/// [`export_to_file`] on a connection the caller holds (the service's read pool, so the console's
/// export reads through the service like every other read).
pub fn export_to_file_on(
    conn: &Connection,
    req: &ExportRequest,
    path: &Path,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<u64, ExportError> {
    let tmp = tmp_path(path);
    let result = (|| {
        let mut file = File::create(&tmp).map_err(ExportError::io(Some(path)))?;
        let n = write_rows(conn, req, &mut file, progress, Some(path))?;
        file.sync_all().map_err(ExportError::io(Some(path)))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(ExportError::io(Some(path)))?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests;
