//! Per-client statistics that outlive a connection and a broker run (the console's Devices panel shows
//! them for offline devices and after a restart).
//!
//! The router keeps every client's totals in memory (loaded at start) and seeds a new session's counters
//! from them, so a session's `messages_in`/`messages_out` are totals since the client was first seen. A
//! client's row is written through the store writer at disconnect (and before a new login replaces its
//! session) when a message total changed, every [`STATS_EVERY`] by the router task for the clients whose
//! row changed, and at shutdown: never per message, so counting costs no fsync of its own; the row rides
//! in whatever batch the writer commits next. A client that connects and leaves without a message only
//! moves its `last_seen`: that row waits in `pending` for the periodic write, so a connection storm
//! writes each client's row once per interval (a profile of 30,000 connect/disconnect cycles put 12% of
//! the broker's CPU in one row written per disconnect). A crash loses at most the last interval's
//! counts. Memory: one small entry per registered device seen and per other client id seen in the last
//! 30 days (older rows of unregistered ids are dropped at start, `store::stats`) or during this run.

use std::sync::Arc;

use crate::broker::message::FastMap;
use crate::broker::session::Session;
use crate::store::{DeviceStats, StoreOp};

use super::Router;

/// How often the router task writes the totals that changed.
pub(crate) const STATS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The totals as last written, per client.
#[derive(Debug, Default)]
pub(super) struct StatsBook {
    /// The rows written or in `pending`.
    written: FastMap<Arc<str>, DeviceStats>,
    /// Rows of clients gone offline (or replaced) since the last periodic write, newest per client.
    /// Bounded by the clients seen (one entry each), emptied every `STATS_EVERY`.
    pending: FastMap<Arc<str>, DeviceStats>,
}

impl StatsBook {
    pub fn load(rows: Vec<DeviceStats>) -> StatsBook {
        StatsBook {
            written: rows
                .into_iter()
                .map(|s| (Arc::from(s.client_id.as_str()), s))
                .collect(),
            pending: FastMap::default(),
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

    /// True when the row for `s` would change a message total (not only `last_seen` or the keepalive; a
    /// client without a row counts as 0 / 0).
    fn counts_changed(&self, s: &Session) -> bool {
        let (i, o) = self
            .written
            .get(&s.client_id)
            .map_or((0, 0), |p| (p.messages_in, p.messages_out));
        (i, o) != (s.messages_in, s.messages_out)
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
    /// Writes the statistics of `client`'s session (at disconnect, and before a new login replaces it)
    /// when a message total changed; a row that only moves `last_seen` or records the keepalive (a client
    /// that connected and left without a message) is kept for the next periodic write instead, so a
    /// connection storm costs one row per client per interval, not one per connection.
    pub(super) fn save_stats(&mut self, client: &str) {
        let Some(s) = self.sessions.get(client) else {
            return;
        };
        let now = self.stats.counts_changed(s);
        if let Some(row) = self.stats.changed(s) {
            if now {
                self.stats.pending.remove(&s.client_id);
                self.fx.store(StoreOp::DeviceStats(row));
            } else {
                self.stats.pending.insert(s.client_id.clone(), row);
            }
        }
    }

    /// Writes every session's statistics that changed, and the rows kept by [`Router::save_stats`] (the
    /// router task's periodic write, and shutdown).
    pub(crate) fn save_all_stats(&mut self) {
        for s in self.sessions.values() {
            if let Some(row) = self.stats.changed(s) {
                self.stats.pending.insert(s.client_id.clone(), row);
            }
        }
        for (_, row) in self.stats.pending.drain() {
            self.fx.store(StoreOp::DeviceStats(row));
        }
    }
}
