//! What the console remembers of a device when its session goes (disconnect, broker restart): last
//! seen, keepalive, and message counts summed across broker runs (whose counters start again at 0).

use crate::broker::SessionInfo;

/// A device as last seen by the console (see [`Model::seen`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Seen {
    pub last_seen: Option<i64>,
    pub keep_alive: u16,
    /// Counts of earlier broker runs, and the last reading of this one.
    base_in: u64,
    base_out: u64,
    now_in: u64,
    now_out: u64,
    /// Totals the store kept (written by the broker at login, disconnect, periodically and at shutdown).
    stored_in: u64,
    stored_out: u64,
}

impl Seen {
    pub fn messages_in(&self) -> u64 {
        (self.base_in + self.now_in).max(self.stored_in)
    }

    pub fn messages_out(&self) -> u64 {
        (self.base_out + self.now_out).max(self.stored_out)
    }

    /// Takes the store's row for this client. The broker's session counters start at these totals, so a
    /// reading never goes below them.
    pub(super) fn take_stored(&mut self, s: &crate::store::DeviceStats) {
        self.stored_in = self.stored_in.max(s.messages_in);
        self.stored_out = self.stored_out.max(s.messages_out);
        self.last_seen = self.last_seen.max(s.last_seen);
        if self.keep_alive == 0
            && let Some(k) = s.keep_alive
        {
            self.keep_alive = k;
        }
    }

    /// Takes a session reading; counters that went down mean the broker restarted.
    pub(super) fn take(&mut self, s: &SessionInfo) {
        if s.messages_in < self.now_in || s.messages_out < self.now_out {
            self.base_in += self.now_in;
            self.base_out += self.now_out;
        }
        self.now_in = s.messages_in;
        self.now_out = s.messages_out;
        self.last_seen = self.last_seen.max(s.last_seen);
        if s.online && s.keep_alive > 0 {
            self.keep_alive = s.keep_alive;
        }
    }
}
