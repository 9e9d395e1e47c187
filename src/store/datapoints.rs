//! Datapoints in SQLite: the writer-side inserts (run inside the writer's batch
//! transaction) and the queries the CLI, console and API use.
//!
//! A datapoint row references its stream by integer id (the writer caches the ids) and the raw `$dp`
//! payload it came from (`dp_uploads`). Values keep their kind: JSON text, plain text, float, or blob;
//! `num` holds the numeric reading when there is one so plots and range queries need no parsing.

use std::collections::HashMap;

use bytes::Bytes;
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{Db, StoreError};
use crate::config::Retention;
use crate::onenet::datapoint::DpValue;

/// One `$dp` upload to store (the points' `at` already resolved to device time or arrival time). The
/// decoded upload is shared with the event that announces it (decoded once, never copied).
#[derive(Debug, Clone)]
pub struct DpBatch {
    pub qos: u8,
    pub payload: Bytes,
    pub upload: std::sync::Arc<crate::events::StoredPoints>,
}

/// A datapoint as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDatapoint {
    pub id: i64,
    pub device_id: String,
    pub stream: String,
    pub at: i64,
    pub value: DpValue,
    pub dp_type: u8,
    pub received_at: i64,
    pub upload_id: i64,
}

/// A datastream with its latest value.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSummary {
    pub device_id: String,
    pub stream: String,
    pub count: u64,
    pub last: Option<StoredDatapoint>,
}

/// Which datapoints a query wants. Times are Unix ms, inclusive.
#[derive(Debug, Clone, Default)]
pub struct DpFilter {
    pub device_id: Option<String>,
    pub stream: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

const KIND_JSON: i64 = 0;
const KIND_TEXT: i64 = 1;
const KIND_FLOAT: i64 = 2;
const KIND_BINARY: i64 = 3;

/// Writer-side cache of stream ids, device → stream → id (looked up by `&str`, no allocation per
/// datapoint). Cleared when a batch rolls back (ids inserted in it are gone). Grows with the streams that
/// exist, as the `datastreams` table does.
#[derive(Debug, Default)]
pub(crate) struct StreamIds(HashMap<String, HashMap<String, i64>>);

impl StreamIds {
    pub fn clear(&mut self) {
        self.0.clear();
    }

    fn get(&mut self, tx: &Transaction<'_>, device: &str, stream: &str) -> rusqlite::Result<i64> {
        if let Some(id) = self.0.get(device).and_then(|m| m.get(stream)) {
            return Ok(*id);
        }
        tx.prepare_cached("INSERT OR IGNORE INTO datastreams (device_id, stream) VALUES (?1, ?2)")?
            .execute(params![device, stream])?;
        let id: i64 = tx
            .prepare_cached("SELECT id FROM datastreams WHERE device_id = ?1 AND stream = ?2")?
            .query_row(params![device, stream], |r| r.get(0))?;
        self.0
            .entry(device.to_string())
            .or_default()
            .insert(stream.to_string(), id);
        Ok(id)
    }
}

fn columns(v: &DpValue) -> (i64, Option<f64>, Option<String>, Option<&[u8]>) {
    match v {
        DpValue::Json(j) => (KIND_JSON, j.as_f64(), Some(j.to_string()), None),
        DpValue::Text(t) => (
            KIND_TEXT,
            t.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            Some(t.clone()),
            None,
        ),
        DpValue::Float(f) => (
            KIND_FLOAT,
            // ±inf are stored as SQLite REALs; NaN would bind as NULL and reads back as NaN anyway.
            Some(*f as f64).filter(|f| !f.is_nan()),
            None,
            None,
        ),
        DpValue::Binary { data, desc } => (
            KIND_BINARY,
            None,
            desc.as_ref().map(|d| d.to_string()),
            Some(data.as_ref()),
        ),
    }
}

pub(crate) fn insert_batch(
    tx: &Transaction<'_>,
    ids: &mut StreamIds,
    b: &DpBatch,
) -> rusqlite::Result<()> {
    let u = &*b.upload;
    tx.prepare_cached(
        "INSERT INTO dp_uploads (device_id, dp_type, qos, received_at, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![u.device_id, u.dp_type(), b.qos, u.received_at, b.payload.as_ref()])?;
    let upload_id = tx.last_insert_rowid();
    // One row per statement on purpose: a statement that inserts several rows makes SQLite keep a
    // statement journal (every page it touches is copied first, so the statement alone can roll back);
    // in the ingest profile that copy took a quarter of the writer's time, more than it saved.
    let mut st = tx.prepare_cached(
        "INSERT INTO datapoints (stream_id, at, kind, num, text, blob, dp_type, received_at, upload_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for p in u.points() {
        let sid = ids.get(tx, &u.device_id, &p.stream)?;
        let (kind, num, text, blob) = columns(&p.value);
        st.execute(params![
            sid,
            u.at(p),
            kind,
            num,
            text,
            blob,
            u.dp_type(),
            u.received_at,
            upload_id
        ])?;
    }
    Ok(())
}

/// Deletes what the retention settings no longer keep. Returns rows deleted.
pub(crate) fn apply_retention(
    tx: &Transaction<'_>,
    r: &Retention,
    now: i64,
) -> rusqlite::Result<usize> {
    let mut n = 0;
    if let Some(age) = r.max_age {
        let cutoff = now - age.as_millis() as i64;
        let streams: Vec<i64> = tx
            .prepare_cached("SELECT id FROM datastreams")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for sid in streams {
            n += tx
                .prepare_cached("DELETE FROM datapoints WHERE stream_id = ?1 AND at < ?2")?
                .execute(params![sid, cutoff])?;
        }
        n += tx
            .prepare_cached(
                "DELETE FROM dp_uploads WHERE received_at < ?1
                 AND NOT EXISTS (SELECT 1 FROM datapoints d WHERE d.upload_id = dp_uploads.id)",
            )?
            .execute([cutoff])?;
    }
    if let Some(max) = r.max_rows_per_stream {
        let streams: Vec<i64> = tx
            .prepare_cached("SELECT id FROM datastreams")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for sid in streams {
            n += tx
                .prepare_cached(
                    "DELETE FROM datapoints WHERE stream_id = ?1 AND id NOT IN
                     (SELECT id FROM datapoints WHERE stream_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2)",
                )?
                .execute(params![sid, max as i64])?;
        }
    }
    Ok(n)
}

pub(crate) fn value_from(
    kind: i64,
    num: Option<f64>,
    text: Option<String>,
    blob: Option<Vec<u8>>,
) -> DpValue {
    match kind {
        KIND_JSON => DpValue::Json(
            text.as_deref()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or(serde_json::Value::Null),
        ),
        KIND_FLOAT => DpValue::Float(num.unwrap_or(f64::NAN) as f32),
        KIND_BINARY => DpValue::Binary {
            data: Bytes::from(blob.unwrap_or_default()),
            desc: text.as_deref().and_then(|t| serde_json::from_str(t).ok()),
        },
        _ => DpValue::Text(text.unwrap_or_default()),
    }
}

/// Columns every datapoint query selects, in [`dp_row`]'s order.
pub(crate) const DP_SELECT: &str = "SELECT d.id, s.device_id, s.stream, d.at, d.kind, d.num, d.text, d.blob,
    d.dp_type, d.received_at, d.upload_id FROM datapoints d JOIN datastreams s ON s.id = d.stream_id";

pub(crate) fn dp_row(r: &Row<'_>) -> rusqlite::Result<StoredDatapoint> {
    Ok(StoredDatapoint {
        id: r.get(0)?,
        device_id: r.get(1)?,
        stream: r.get(2)?,
        at: r.get(3)?,
        value: value_from(r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?),
        dp_type: r.get(8)?,
        received_at: r.get(9)?,
        upload_id: r.get(10)?,
    })
}

/// WHERE clause and parameters for a filter (parameters are ?1..?4, unused ones NULL).
impl DpFilter {
    /// The ` WHERE …` clause selecting what this filter wants (empty when it wants everything) and its
    /// parameters, for [`DP_SELECT`]: the history query here and the export share it. Only the conditions
    /// present are written, so SQLite can use the `(device_id, stream)` and `(stream_id, at)` indexes
    /// (an `?1 IS NULL OR …` form would hide them from the planner).
    pub(crate) fn where_clause(&self) -> (String, Vec<SqlValue>) {
        let mut conds = Vec::new();
        let mut params = Vec::new();
        if let Some(d) = &self.device_id {
            conds.push("s.device_id = ?");
            params.push(SqlValue::Text(d.clone()));
        }
        if let Some(s) = &self.stream {
            conds.push("s.stream = ?");
            params.push(SqlValue::Text(s.clone()));
        }
        if let Some(t) = self.since {
            conds.push("d.at >= ?");
            params.push(SqlValue::Integer(t));
        }
        if let Some(t) = self.until {
            conds.push("d.at <= ?");
            params.push(SqlValue::Integer(t));
        }
        let sql = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        (sql, params)
    }
}

impl Db {
    /// Datapoints matching `f`, oldest first, at most `limit` (the newest `limit` when `newest` is set).
    pub fn datapoints(
        &self,
        f: &DpFilter,
        limit: usize,
        newest: bool,
    ) -> Result<Vec<StoredDatapoint>, StoreError> {
        let conn = self.reader()?;
        let order = if newest { "DESC" } else { "ASC" };
        let (filter, mut args) = f.where_clause();
        let sql = format!("{DP_SELECT}{filter} ORDER BY d.at {order}, d.id {order} LIMIT ?");
        args.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        let mut st = conn.prepare(&sql)?;
        let mut v = st
            .query_map(rusqlite::params_from_iter(args), dp_row)?
            .collect::<Result<Vec<_>, _>>()?;
        if newest {
            v.reverse();
        }
        Ok(v)
    }

    /// The device's datastreams with counts and latest values.
    pub fn datastreams(&self, device_id: &str) -> Result<Vec<StreamSummary>, StoreError> {
        let conn = self.reader()?;
        let mut st = conn.prepare(
            "SELECT s.id, s.stream, (SELECT count(*) FROM datapoints d WHERE d.stream_id = s.id)
             FROM datastreams s WHERE s.device_id = ?1 ORDER BY s.stream",
        )?;
        let streams = st
            .query_map([device_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut last = conn.prepare(&format!(
            "{DP_SELECT} WHERE d.stream_id = ?1 ORDER BY d.at DESC, d.id DESC LIMIT 1"
        ))?;
        let mut out = Vec::with_capacity(streams.len());
        for (sid, stream, count) in streams {
            out.push(StreamSummary {
                device_id: device_id.to_string(),
                stream,
                count: count as u64,
                last: last.query_row([sid], dp_row).optional()?,
            });
        }
        Ok(out)
    }

    /// The raw `$dp` payload a datapoint came from.
    pub fn dp_upload(&self, upload_id: i64) -> Result<Option<Bytes>, StoreError> {
        Ok(self
            .reader()?
            .query_row(
                "SELECT payload FROM dp_uploads WHERE id = ?1",
                [upload_id],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()?
            .map(Bytes::from))
    }

    /// Number of datapoints stored (all devices).
    pub fn datapoint_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .reader()?
            .query_row("SELECT count(*) FROM datapoints", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onenet::datapoint::Datapoint;
    use std::time::Duration;

    fn batch(device: &str, stream: &str, ats: &[i64]) -> DpBatch {
        with_points(
            device,
            ats.iter()
                .map(|a| Datapoint {
                    stream: stream.into(),
                    at: Some(*a),
                    value: DpValue::Float(*a as f32),
                })
                .collect(),
        )
    }

    fn with_points(device: &str, points: Vec<Datapoint>) -> DpBatch {
        DpBatch {
            qos: 1,
            payload: Bytes::from_static(b"raw"),
            upload: std::sync::Arc::new(crate::events::StoredPoints::new(
                device.into(),
                0,
                3,
                points,
            )),
        }
    }

    fn ingest(db: &Db, batches: &[DpBatch]) {
        let mut conn = db.lock();
        let tx = conn.transaction().unwrap();
        let mut ids = StreamIds::default();
        for b in batches {
            insert_batch(&tx, &mut ids, b).unwrap();
        }
        tx.commit().unwrap();
    }

    fn retain(db: &Db, r: &Retention, now: i64) -> usize {
        let mut conn = db.lock();
        let tx = conn.transaction().unwrap();
        let n = apply_retention(&tx, r, now).unwrap();
        tx.commit().unwrap();
        n
    }

    #[test]
    fn retention_by_age_and_by_rows_per_stream() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("r.sqlite3")).unwrap();
        ingest(
            &db,
            &[
                batch("1", "a", &[1_000, 2_000, 3_000, 4_000]),
                batch("1", "b", &[1_000, 5_000]),
            ],
        );
        assert_eq!(db.datapoint_count().unwrap(), 6);
        // everything is kept by default
        assert_eq!(retain(&db, &Retention::default(), 10_000), 0);
        // older than 7 s at t = 10 s: at < 3000 goes
        let by_age = Retention {
            max_age: Some(Duration::from_secs(7)),
            max_rows_per_stream: None,
        };
        assert_eq!(retain(&db, &by_age, 10_000), 3);
        // newest 1 per stream
        let by_rows = Retention {
            max_age: None,
            max_rows_per_stream: Some(1),
        };
        assert_eq!(retain(&db, &by_rows, 10_000), 1);
        let left = db.datapoints(&DpFilter::default(), 100, false).unwrap();
        let mut seen: Vec<(String, i64)> = left.into_iter().map(|d| (d.stream, d.at)).collect();
        seen.sort();
        assert_eq!(
            seen,
            vec![("a".to_string(), 4_000), ("b".to_string(), 5_000)]
        );
    }

    #[test]
    fn values_keep_their_kind() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("v.sqlite3")).unwrap();
        let points = vec![
            Datapoint {
                stream: "j".into(),
                at: Some(1),
                value: DpValue::Json(serde_json::json!({"a": [1, "x"]})),
            },
            Datapoint {
                stream: "t".into(),
                at: Some(2),
                value: DpValue::Text("温度 22.5".into()),
            },
            Datapoint {
                stream: "f".into(),
                at: Some(3),
                value: DpValue::Float(f32::INFINITY),
            },
            Datapoint {
                stream: "b".into(),
                at: Some(4),
                value: DpValue::Binary {
                    data: Bytes::from_static(&[0, 1, 255]),
                    desc: Some(serde_json::json!("cam")),
                },
            },
        ];
        let b = with_points("9", points);
        ingest(&db, std::slice::from_ref(&b));
        let back = db.datapoints(&DpFilter::default(), 10, false).unwrap();
        let values: Vec<DpValue> = back.into_iter().map(|d| d.value).collect();
        let sent: Vec<DpValue> = b.upload.points().iter().map(|p| p.value.clone()).collect();
        assert_eq!(values, sent);
        let streams = db.datastreams("9").unwrap();
        assert_eq!(streams.len(), 4);
        assert_eq!(streams.iter().map(|s| s.count).sum::<u64>(), 4);
    }
}
