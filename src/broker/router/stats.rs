//! Per-client statistics that outlive a connection and a broker run (the console's Devices panel shows
//! them for offline devices and after a restart).
//!
//! The router keeps every client's totals in memory (loaded at start) and seeds a new session's counters
//! from them, so a session's `messages_in`/`messages_out` are totals since the client was first seen. A
//! client's row is written through the store writer at disconnect (and before a new login replaces its
//! session), every [`STATS_EVERY`] by the router task for the clients whose totals changed, and at
//! shutdown: never per message, so counting costs no fsync of
//! its own; the row rides in whatever batch the writer commits next. A crash loses at most the last
//! interval's counts. Memory: one small entry per client id ever seen (registered devices, and the client
//! ids of the `mqtt` profile), the same rows the table holds.

use std::collections::HashMap;
use std::sync::Arc;

use crate::broker::session::Session;
use crate::store::{DeviceStats, StoreOp};

use super::Router;

/// How often the router task writes the totals that changed.
pub(crate) const STATS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The totals as last written, per client.
#[derive(Debug, Default)]
pub(super) struct StatsBook {
    written: HashMap<Arc<str>, DeviceStats>,
}

impl StatsBook {
    pub fn load(rows: Vec<DeviceStats>) -> StatsBook {
        StatsBook {
            written: rows
                .into_iter()
                .map(|s| (Arc::from(s.client_id.as_str()), s))
                .collect(),
        }
    }

    /// Starts a session's counters at the client's totals.
    pub fn seed(&self, s: &mut Session) {
        if let Some(t) = self.written.get(&s.client_id) {
            s.messages_in = s.messages_in.max(t.messages_in);
            s.messages_out = s.messages_out.max(t.messages_out);
            s.last_seen = s.last_seen.max(t.last_seen);
        }
    }

    /// The row for `s` if it differs from what was last written (then remembered as written). The
    /// keepalive is the session's once it has logged in during this run (a session restored at start-up
    /// has none yet), else the one written before.
    fn changed(&mut self, s: &Session) -> Option<DeviceStats> {
        let prev = self.written.get(&s.client_id);
        let keep_alive = s.connected_at.map(|_| s.keep_alive);
        let row = DeviceStats {
            client_id: s.client_id.to_string(),
            messages_in: s.messages_in,
            messages_out: s.messages_out,
            last_seen: s.last_seen.max(prev.and_then(|p| p.last_seen)),
            keep_alive: keep_alive.or(prev.and_then(|p| p.keep_alive)),
        };
        if prev == Some(&row) {
            return None;
        }
        self.written.insert(s.client_id.clone(), row.clone());
        Some(row)
    }
}

impl Router {
    /// Writes the statistics of `client`'s session if they changed.
    pub(super) fn save_stats(&mut self, client: &str) {
        let Some(s) = self.sessions.get(client) else {
            return;
        };
        if let Some(row) = self.stats.changed(s) {
            self.fx.store(StoreOp::DeviceStats(row));
        }
    }

    /// Writes every session's statistics that changed (the router task's periodic write, and shutdown).
    pub(crate) fn save_all_stats(&mut self) {
        for s in self.sessions.values() {
            if let Some(row) = self.stats.changed(s) {
                self.fx.store(StoreOp::DeviceStats(row));
            }
        }
    }
}
