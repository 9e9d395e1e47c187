//! Versioned schema. `PRAGMA user_version` holds the number of migrations applied; each migration runs
//! once, in order, inside one transaction, so a database from any earlier release opens forward.

use rusqlite::Connection;

use super::StoreError;

/// Append only: never edit a migration that has shipped, add the next one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: registry, persistent sessions, queued QoS1/2 deliveries, QoS2 messages held until PUBREL, retained.
    r#"
    CREATE TABLE products (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        api_key     TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE devices (
        id              TEXT PRIMARY KEY,
        product_id      TEXT NOT NULL REFERENCES products(id) ON DELETE CASCADE,
        name            TEXT NOT NULL,
        auth_info       TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        auto_registered INTEGER NOT NULL DEFAULT 0,
        UNIQUE (product_id, auth_info)
    );
    CREATE INDEX devices_by_product ON devices(product_id);
    CREATE TABLE sessions (
        client_id   TEXT PRIMARY KEY,
        namespace   TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE subscriptions (
        client_id   TEXT NOT NULL REFERENCES sessions(client_id) ON DELETE CASCADE,
        filter      TEXT NOT NULL,
        qos         INTEGER NOT NULL,
        PRIMARY KEY (client_id, filter)
    ) WITHOUT ROWID;
    CREATE TABLE session_queue (
        client_id   TEXT NOT NULL REFERENCES sessions(client_id) ON DELETE CASCADE,
        seq         INTEGER NOT NULL,
        topic       TEXT NOT NULL,
        payload     BLOB NOT NULL,
        qos         INTEGER NOT NULL,
        retain      INTEGER NOT NULL,
        pid         INTEGER,
        released    INTEGER NOT NULL DEFAULT 0,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (client_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE incoming_qos2 (
        client_id   TEXT NOT NULL REFERENCES sessions(client_id) ON DELETE CASCADE,
        pid         INTEGER NOT NULL,
        topic       TEXT NOT NULL,
        payload     BLOB NOT NULL,
        retain      INTEGER NOT NULL,
        PRIMARY KEY (client_id, pid)
    ) WITHOUT ROWID;
    CREATE TABLE retained (
        namespace   TEXT NOT NULL,
        topic       TEXT NOT NULL,
        payload     BLOB NOT NULL,
        qos         INTEGER NOT NULL,
        will_of     TEXT,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (namespace, topic)
    ) WITHOUT ROWID;
    "#,
    // 2: the data plane. Datapoints reference their stream by integer id (compact rows, fast index) and
    // the raw `$dp` payload they came from; commands with their status history; offline-queue age.
    r#"
    CREATE TABLE datastreams (
        id          INTEGER PRIMARY KEY,
        device_id   TEXT NOT NULL,
        stream      TEXT NOT NULL,
        UNIQUE (device_id, stream)
    );
    CREATE TABLE dp_uploads (
        id          INTEGER PRIMARY KEY,
        device_id   TEXT NOT NULL,
        dp_type     INTEGER NOT NULL,
        qos         INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        payload     BLOB NOT NULL
    );
    CREATE TABLE datapoints (
        id          INTEGER PRIMARY KEY,
        stream_id   INTEGER NOT NULL REFERENCES datastreams(id) ON DELETE CASCADE,
        at          INTEGER NOT NULL,
        kind        INTEGER NOT NULL,
        num         REAL,
        text        TEXT,
        blob        BLOB,
        dp_type     INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        upload_id   INTEGER NOT NULL
    );
    CREATE INDEX datapoints_by_stream_time ON datapoints(stream_id, at);
    CREATE TABLE commands (
        uuid        TEXT PRIMARY KEY,
        device_id   TEXT NOT NULL,
        body        BLOB NOT NULL,
        status      INTEGER NOT NULL,
        created_at  INTEGER NOT NULL,
        sent_at     INTEGER,
        replied_at  INTEGER,
        reply       BLOB,
        expire_at   INTEGER,
        validity_s  INTEGER NOT NULL
    );
    CREATE INDEX commands_by_device ON commands(device_id, created_at);
    "#,
    // 3: a product's topic list (spec §8.4): created by the HTTP API or by a device subscribing.
    r#"
    CREATE TABLE topics (
        product_id  TEXT NOT NULL REFERENCES products(id) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (product_id, name)
    ) WITHOUT ROWID;
    "#,
    // 4: the API's command `qos` (§7.2: qos 1 is resent at each login while valid) and each send of a
    // command: the total and the latest sends as JSON `[{"at":ms,"pid":null},…]`. A command that was
    // sent before this migration has had exactly one send, at `sent_at`.
    r#"
    ALTER TABLE commands ADD COLUMN qos INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE commands ADD COLUMN send_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE commands ADD COLUMN sends TEXT NOT NULL DEFAULT '[]';
    UPDATE commands SET send_count = 1, sends = '[{"at":' || sent_at || ',"pid":null}]'
     WHERE sent_at IS NOT NULL;
    "#,
    // 5: what the broker saw of each client, kept across disconnects and restarts (the console's Devices
    // panel): totals since first seen, last seen, the keepalive of the last login. Not tied to `devices`,
    // so anonymous clients of the `mqtt` profile have a row too.
    r#"
    CREATE TABLE device_stats (
        client_id    TEXT PRIMARY KEY,
        messages_in  INTEGER NOT NULL,
        messages_out INTEGER NOT NULL,
        last_seen    INTEGER,
        keep_alive   INTEGER,
        updated_at   INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
];

/// Number of migrations this build knows; a database with a higher `user_version` came from a newer build.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
