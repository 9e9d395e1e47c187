//! Commands in SQLite: the writer-side upsert (inside the writer's batch transaction) and the queries
//! the API, console and start-up use. A command is one row; its sends (`SendLog`) are a JSON column
//! (`[{"at":ms,"pid":null},…]`, at most `SENDS_KEPT`) next to the total `send_count`, so one upsert
//! keeps the row and its sends consistent.

use bytes::Bytes;
use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{Db, StoreError};
use crate::onenet::commands::{Command, CommandSend, CommandStatus, SendLog};

pub(crate) fn put_command(tx: &Transaction<'_>, c: &Command) -> rusqlite::Result<()> {
    let sends = serde_json::to_string(&c.sends.recent)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO commands
         (uuid, device_id, body, status, created_at, sent_at, replied_at, reply, expire_at, validity_s,
          qos, send_count, sends)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        c.uuid,
        c.device_id,
        c.body.as_ref(),
        c.status.code(),
        c.created_at,
        c.sent_at,
        c.replied_at,
        c.reply.as_deref(),
        c.expire_at,
        c.validity_s,
        c.qos,
        c.sends.count,
        sends,
    ])?;
    Ok(())
}

fn command_row(r: &Row<'_>) -> rusqlite::Result<Command> {
    let recent: Vec<CommandSend> = serde_json::from_str(&r.get::<_, String>(12)?).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(12, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Command {
        uuid: r.get(0)?,
        device_id: r.get(1)?,
        body: Bytes::from(r.get::<_, Vec<u8>>(2)?),
        status: CommandStatus::from_code(r.get(3)?).unwrap_or(CommandStatus::SendFailed),
        created_at: r.get(4)?,
        sent_at: r.get(5)?,
        replied_at: r.get(6)?,
        reply: r.get::<_, Option<Vec<u8>>>(7)?.map(Bytes::from),
        expire_at: r.get(8)?,
        validity_s: r.get(9)?,
        qos: r.get(10)?,
        sends: SendLog {
            count: r.get(11)?,
            recent,
        },
    })
}

const CMD_COLS: &str = "uuid, device_id, body, status, created_at, sent_at, replied_at, reply, expire_at, validity_s, qos, send_count, sends";

impl Db {
    pub fn command(&self, uuid: &str) -> Result<Option<Command>, StoreError> {
        Ok(self
            .reader()?
            .query_row(
                &format!("SELECT {CMD_COLS} FROM commands WHERE uuid = ?1"),
                [uuid],
                command_row,
            )
            .optional()?)
    }

    /// A device's commands created in [since, until], newest first, with the total count for paging.
    pub fn commands(
        &self,
        device_id: &str,
        since: Option<i64>,
        until: Option<i64>,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Command>, u64), StoreError> {
        let conn = self.reader()?;
        let filter = "WHERE device_id = ?1 AND (?2 IS NULL OR created_at >= ?2) AND (?3 IS NULL OR created_at <= ?3)";
        let total: i64 = conn.query_row(
            &format!("SELECT count(*) FROM commands {filter}"),
            params![device_id, since, until],
            |r| r.get(0),
        )?;
        let mut st = conn.prepare(&format!(
            "SELECT {CMD_COLS} FROM commands {filter} ORDER BY created_at DESC, uuid LIMIT ?4 OFFSET ?5"
        ))?;
        let rows = st
            .query_map(
                params![device_id, since, until, limit as i64, offset as i64],
                command_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok((rows, total as u64))
    }

    /// Commands still waiting (created or sent), to resume after a restart.
    pub fn live_commands(&self) -> Result<Vec<Command>, StoreError> {
        let conn = self.reader()?;
        let mut st = conn.prepare(&format!(
            "SELECT {CMD_COLS} FROM commands WHERE status IN (1, 2) ORDER BY created_at"
        ))?;
        let rows = st
            .query_map([], command_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::MIGRATIONS;
    use super::*;

    /// A command sent by a build before `qos` existed opens as a qos 0 command with its one send.
    #[test]
    fn commands_from_an_older_schema_keep_their_one_send() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute_batch(
                "INSERT INTO commands (uuid, device_id, body, status, created_at, sent_at, validity_s)
                 VALUES ('sent', '9277', x'6f6e', 2, 1000, 1500, 60),
                        ('waiting', '9277', x'6f6e', 1, 2000, NULL, 60);",
            )
            .unwrap();
        }
        let db = Db::open(&path).unwrap();
        let sent = db.command("sent").unwrap().unwrap();
        assert_eq!(sent.qos, 0);
        assert_eq!(
            sent.sends,
            SendLog {
                count: 1,
                recent: vec![CommandSend {
                    at: 1500,
                    pid: None
                }]
            }
        );
        let waiting = db.command("waiting").unwrap().unwrap();
        assert_eq!(waiting.sends, SendLog::default());
        assert_eq!(db.live_commands().unwrap().len(), 2);
    }

    /// What the writer stores reads back field for field, sends included.
    #[test]
    fn a_resent_qos1_command_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("s.sqlite3")).unwrap();
        let mut sends = SendLog::default();
        sends.push(CommandSend { at: 10, pid: None });
        sends.push(CommandSend {
            at: 20,
            pid: Some(3),
        });
        let c = Command {
            uuid: "u".into(),
            device_id: "9277".into(),
            body: Bytes::from_static(b"\x00\xff"),
            status: CommandStatus::Sent,
            created_at: 5,
            sent_at: Some(20),
            replied_at: None,
            reply: None,
            expire_at: Some(60_005),
            validity_s: 60,
            qos: 1,
            sends,
        };
        {
            let mut conn =
                crate::store::connect_with(db.path(), crate::store::DEFAULT_BUSY_TIMEOUT).unwrap();
            let tx = conn.transaction().unwrap();
            put_command(&tx, &c).unwrap();
            tx.commit().unwrap();
        }
        assert_eq!(db.command("u").unwrap(), Some(c.clone()));
        assert_eq!(db.live_commands().unwrap(), vec![c]);
    }
}
