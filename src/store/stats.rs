//! Per-client statistics kept across disconnects and restarts: message totals, last seen, the keepalive
//! of the last login. The router owns them in memory and writes a client's row through the writer
//! (`StoreOp::DeviceStats`) at disconnect when a count changed, every few seconds otherwise, and at shutdown;
//! never per message, so counting adds no fsync of its own (the row joins whatever batch is committing).

use rusqlite::{Transaction, params};

use super::{Db, StoreError, now_millis};

/// What the broker saw of one client, summed over every connection and broker run.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct DeviceStats {
    pub client_id: String,
    pub messages_in: u64,
    pub messages_out: u64,
    /// Unix ms of the last packet routed from or to it (or of its last login).
    pub last_seen: Option<i64>,
    /// The keepalive it asked for at its last login (None: never logged in since this was recorded).
    pub keep_alive: Option<u16>,
}

/// Writes a client's row (absolute values: writing the same row twice is harmless).
pub(crate) fn put_stats(tx: &Transaction<'_>, s: &DeviceStats) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO device_stats (client_id, messages_in, messages_out, last_seen, keep_alive, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(client_id) DO UPDATE SET messages_in = excluded.messages_in,
             messages_out = excluded.messages_out, last_seen = excluded.last_seen,
             keep_alive = excluded.keep_alive, updated_at = excluded.updated_at",
    )?
    .execute(params![
        s.client_id,
        s.messages_in as i64,
        s.messages_out as i64,
        s.last_seen,
        s.keep_alive,
        now_millis()
    ])?;
    Ok(())
}

/// Statistics of a client that is not a registered device are forgotten after this long unseen (30 days).
pub const FORGET_UNREGISTERED_MS: i64 = 30 * 86_400_000;

fn read_all(conn: &rusqlite::Connection) -> Result<Vec<DeviceStats>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT client_id, messages_in, messages_out, last_seen, keep_alive FROM device_stats
         ORDER BY client_id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(DeviceStats {
            client_id: r.get(0)?,
            messages_in: r.get::<_, i64>(1)?.max(0) as u64,
            messages_out: r.get::<_, i64>(2)?.max(0) as u64,
            last_seen: r.get(3)?,
            keep_alive: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl Db {
    /// Every client's statistics as last written (the console polls this for devices that are offline).
    pub fn device_stats(&self) -> Result<Vec<DeviceStats>, StoreError> {
        read_all(&*self.reader()?)
    }

    /// The same, on the registry connection (start-up loading). Rows of clients that are not registered
    /// (client ids of the `mqtt` profile) and were not seen for [`FORGET_UNREGISTERED_MS`] are deleted
    /// first, so the table, and the router's copy of it, do not grow with every client id ever used.
    pub(crate) fn load_device_stats(&self) -> Result<Vec<DeviceStats>, StoreError> {
        let conn = self.lock();
        conn.execute(
            "DELETE FROM device_stats WHERE updated_at < ?1
             AND client_id NOT IN (SELECT id FROM devices)",
            [now_millis() - FORGET_UNREGISTERED_MS],
        )?;
        read_all(&conn)
    }
}

#[cfg(test)]
mod tests {
    use super::super::writer::{StoreOp, spawn_writer};
    use super::*;

    #[tokio::test]
    async fn stats_written_by_the_writer_read_back_and_replace_the_old_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite3");
        let db = Db::open(&path).unwrap();
        let (tx, thread) = spawn_writer(
            path.clone(),
            Default::default(),
            crate::store::DEFAULT_BUSY_TIMEOUT,
        )
        .unwrap();
        let mut s = DeviceStats {
            client_id: "9277".into(),
            messages_in: 3,
            messages_out: 1,
            last_seen: Some(1_700_000_000_000),
            keep_alive: Some(120),
        };
        tx.send(StoreOp::DeviceStats(s.clone()));
        s.messages_in = 5;
        s.last_seen = Some(1_700_000_001_000);
        tx.send(StoreOp::DeviceStats(s.clone()));
        tx.flush().await;
        tx.close();
        thread.join();
        assert_eq!(db.device_stats().unwrap(), vec![s.clone()]);
        assert_eq!(db.load_state().unwrap().device_stats, vec![s.clone()]);
        // An unregistered client unseen for longer than the limit is forgotten at the next start; a
        // registered device is kept however old.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute(
            "UPDATE device_stats SET updated_at = ?1",
            [now_millis() - FORGET_UNREGISTERED_MS - 1],
        )
        .unwrap();
        c.execute(
            "INSERT INTO products (id, name, api_key, created_at) VALUES ('339', 'lab', 'K', 0)",
            [],
        )
        .unwrap();
        c.execute(
            "INSERT INTO device_stats (client_id, messages_in, messages_out, updated_at)
             VALUES ('sensor-x', 1, 0, ?1)",
            [now_millis() - FORGET_UNREGISTERED_MS - 1],
        )
        .unwrap();
        c.execute(
            "INSERT INTO devices (id, product_id, name, auth_info, created_at) VALUES ('9277', '339', 'd', 'a', 0)",
            [],
        )
        .unwrap();
        let kept: Vec<String> = db
            .load_state()
            .unwrap()
            .device_stats
            .into_iter()
            .map(|s| s.client_id)
            .collect();
        assert_eq!(kept, vec!["9277".to_string()]);
    }
}
