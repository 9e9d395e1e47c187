//! Loading the broker's persistent state at start-up: sessions with their subscriptions, owed deliveries
//! and held QoS 2 messages, and retained messages. Read once, then the router owns it in memory.

use std::collections::HashMap;

use bytes::Bytes;

use super::{Db, StoreError};

/// A delivery owed to a persistent session.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedQueued {
    pub seq: u64,
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
    /// Set once it was sent: redelivered with this id and DUP=1.
    pub pid: Option<u16>,
    /// PUBREC was received: resend PUBREL, not the PUBLISH.
    pub released: bool,
    /// When it was queued (Unix ms): offline messages expire by age.
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadedSession {
    pub client_id: String,
    pub namespace: String,
    pub subscriptions: Vec<(String, u8)>,
    /// In `seq` order.
    pub queue: Vec<LoadedQueued>,
    /// QoS 2 messages PUBREC'd but not yet released: (pid, topic, payload, retain).
    pub incoming: Vec<(u16, String, Bytes, bool)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoadedRetained {
    pub namespace: String,
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub will_of: Option<String>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadedState {
    pub sessions: Vec<LoadedSession>,
    pub retained: Vec<LoadedRetained>,
    /// Commands still created or sent.
    pub commands: Vec<crate::onenet::commands::Command>,
    /// Every client's statistics (message totals, last seen, keepalive).
    pub device_stats: Vec<super::DeviceStats>,
}

impl Db {
    pub fn load_state(&self) -> Result<LoadedState, StoreError> {
        let conn = self.lock();
        let mut sessions: HashMap<String, LoadedSession> = HashMap::new();
        let mut order = Vec::new();
        {
            let mut st =
                conn.prepare("SELECT client_id, namespace FROM sessions ORDER BY client_id")?;
            let rows =
                st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            for row in rows {
                let (client_id, namespace) = row?;
                order.push(client_id.clone());
                sessions.insert(
                    client_id.clone(),
                    LoadedSession {
                        client_id,
                        namespace,
                        ..Default::default()
                    },
                );
            }
        }
        {
            let mut st = conn.prepare(
                "SELECT client_id, filter, qos FROM subscriptions ORDER BY client_id, filter",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u8>(2)?,
                ))
            })?;
            for row in rows {
                let (c, f, q) = row?;
                if let Some(s) = sessions.get_mut(&c) {
                    s.subscriptions.push((f, q));
                }
            }
        }
        {
            let mut st = conn.prepare(
                "SELECT client_id, seq, topic, payload, qos, retain, pid, released, created_at FROM session_queue
                 ORDER BY client_id, seq",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    LoadedQueued {
                        seq: r.get::<_, i64>(1)? as u64,
                        topic: r.get(2)?,
                        payload: Bytes::from(r.get::<_, Vec<u8>>(3)?),
                        qos: r.get(4)?,
                        retain: r.get(5)?,
                        pid: r.get(6)?,
                        released: r.get(7)?,
                        created_at: r.get(8)?,
                    },
                ))
            })?;
            for row in rows {
                let (c, q) = row?;
                if let Some(s) = sessions.get_mut(&c) {
                    s.queue.push(q);
                }
            }
        }
        {
            let mut st =
                conn.prepare("SELECT client_id, pid, topic, payload, retain FROM incoming_qos2 ORDER BY client_id, pid")?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u16>(1)?,
                    r.get::<_, String>(2)?,
                    Bytes::from(r.get::<_, Vec<u8>>(3)?),
                    r.get::<_, bool>(4)?,
                ))
            })?;
            for row in rows {
                let (c, pid, t, p, retain) = row?;
                if let Some(s) = sessions.get_mut(&c) {
                    s.incoming.push((pid, t, p, retain));
                }
            }
        }
        let mut retained = Vec::new();
        {
            let mut st = conn.prepare(
                "SELECT namespace, topic, payload, qos, will_of, updated_at FROM retained ORDER BY namespace, topic",
            )?;
            let rows = st.query_map([], |r| {
                Ok(LoadedRetained {
                    namespace: r.get(0)?,
                    topic: r.get(1)?,
                    payload: Bytes::from(r.get::<_, Vec<u8>>(2)?),
                    qos: r.get(3)?,
                    will_of: r.get(4)?,
                    updated_at: r.get(5)?,
                })
            })?;
            for row in rows {
                retained.push(row?);
            }
        }
        drop(conn);
        Ok(LoadedState {
            sessions: order
                .into_iter()
                .filter_map(|c| sessions.remove(&c))
                .collect(),
            retained,
            commands: self.live_commands()?,
            device_stats: self.load_device_stats()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::writer::{StoreOp, spawn_writer};
    use super::*;

    #[tokio::test]
    async fn what_the_writer_commits_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite3");
        let db = Db::open(&path).unwrap();
        let (tx, thread) = spawn_writer(
            path.clone(),
            Default::default(),
            crate::store::DEFAULT_BUSY_TIMEOUT,
        )
        .unwrap();
        let c = || "9277".to_string();
        tx.send(StoreOp::UpsertSession {
            client_id: c(),
            namespace: "339".into(),
        });
        tx.send(StoreOp::PutSubscription {
            client_id: c(),
            filter: "/a".into(),
            qos: 1,
        });
        for seq in 1..=3 {
            tx.send(StoreOp::Enqueue {
                client_id: c(),
                seq,
                topic: "/a".into(),
                payload: Bytes::from(vec![seq as u8]),
                qos: 1,
                retain: false,
                queued_at: 5,
            });
        }
        tx.send(StoreOp::MarkSent {
            client_id: c(),
            seq: 2,
            pid: 7,
        });
        tx.send(StoreOp::Dequeue {
            client_id: c(),
            seq: 1,
        });
        tx.send(StoreOp::HoldIncoming {
            client_id: c(),
            pid: 5,
            topic: "/b".into(),
            payload: Bytes::from_static(b"x"),
            retain: false,
        });
        tx.send(StoreOp::SetRetained {
            namespace: "339".into(),
            topic: "/r".into(),
            payload: Bytes::from_static(b"r"),
            qos: 1,
            will_of: None,
        });
        tx.flush().await;
        assert!(*tx.committed().borrow() >= tx.last());
        tx.close();
        thread.join();

        let st = db.load_state().unwrap();
        assert_eq!(st.sessions.len(), 1);
        let s = &st.sessions[0];
        assert_eq!(s.namespace, "339");
        assert_eq!(s.subscriptions, vec![("/a".to_string(), 1)]);
        assert_eq!(
            s.queue.iter().map(|q| q.seq).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert_eq!(s.queue[0].pid, Some(7));
        assert_eq!(s.queue[1].pid, None);
        assert_eq!(s.incoming.len(), 1);
        assert_eq!(st.retained.len(), 1);
        assert_eq!(st.retained[0].payload, Bytes::from_static(b"r"));
        foreign_keys_hold(&db);
    }

    /// The writer runs without foreign-key checks (`spawn_writer`): what it wrote must still satisfy every
    /// constraint the schema declares.
    fn foreign_keys_hold(db: &Db) {
        let violations: Vec<String> = db
            .lock()
            .prepare("PRAGMA foreign_key_check")
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(violations.is_empty(), "orphan rows in {violations:?}");
    }

    #[tokio::test]
    async fn deleting_a_session_cascades() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite3");
        let db = Db::open(&path).unwrap();
        let (tx, thread) =
            spawn_writer(path, Default::default(), crate::store::DEFAULT_BUSY_TIMEOUT).unwrap();
        tx.send(StoreOp::UpsertSession {
            client_id: "1".into(),
            namespace: "".into(),
        });
        // Two sessions with a row in every table under a session; only the first is deleted.
        for id in ["1", "2"] {
            if id == "2" {
                tx.send(StoreOp::UpsertSession {
                    client_id: id.into(),
                    namespace: "".into(),
                });
            }
            tx.send(StoreOp::PutSubscription {
                client_id: id.into(),
                filter: "a".into(),
                qos: 0,
            });
            tx.send(StoreOp::Enqueue {
                client_id: id.into(),
                seq: 1,
                topic: "a".into(),
                payload: Bytes::from_static(b"q"),
                qos: 1,
                retain: false,
                queued_at: 0,
            });
            tx.send(StoreOp::HoldIncoming {
                client_id: id.into(),
                pid: 5,
                topic: "a".into(),
                payload: Bytes::from_static(b"h"),
                retain: false,
            });
        }
        tx.send(StoreOp::DeleteSession {
            client_id: "1".into(),
        });
        tx.flush().await;
        tx.close();
        thread.join();
        let st = db.load_state().unwrap();
        assert_eq!(st.sessions.len(), 1);
        assert_eq!(st.sessions[0].client_id, "2");
        for table in ["subscriptions", "session_queue", "incoming_qos2"] {
            let left: Vec<String> = db
                .lock()
                .prepare(&format!("SELECT client_id FROM {table}"))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(left, vec!["2".to_string()], "{table}");
        }
        foreign_keys_hold(&db);
    }
}
