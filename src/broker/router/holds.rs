//! Backpressure's book: which publishing connections full sessions hold back, and how many sessions hold
//! each. A session lists the connections it holds (`Session::blockers`) and lets them go when its queue is
//! down to half, when it goes offline, or when a clean login replaces it (its queue goes with it).
//!
//! A hold outlives its connection. A connection ends while held (the device reset, or logged in again on a
//! new socket) and the sessions that held it may still be full: its client's next connection is held at
//! login, before it reads anything (the connection holds what it read before its CONNACK until then), and
//! let go when they drain. Otherwise each new connection of a reconnecting publisher got one read into a
//! full session before it was held, and a device reconnecting in a loop grew a slow subscriber's queue
//! without bound.

use std::sync::Arc;

use super::effects::Effects;
use crate::broker::message::{ConnId, ConnMap, FastMap};
use crate::broker::session::{Session, SessionLimits};

#[derive(Default)]
pub(crate) struct Holds {
    /// Held connections → how many sessions hold each.
    live: ConnMap<u32>,
    /// Connections that ended while held → their client and how many sessions still list them.
    gone: ConnMap<(Arc<str>, u32)>,
    /// A client → its connection in `gone` (at most one: its next login takes it over).
    by_client: FastMap<Arc<str>, ConnId>,
}

impl Holds {
    /// How many sessions hold `conn` back, if any.
    pub fn count(&self, conn: ConnId) -> Option<u32> {
        self.live.get(&conn).copied()
    }

    /// Nothing held, nothing remembered.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.live.is_empty() && self.gone.is_empty() && self.by_client.is_empty()
    }

    /// Holds `src` (the connection publishing to `s`) back when `s` is online and its queue is at the high
    /// watermark: backpressure instead of loss. Asked once per delivery (inlined: almost always the first
    /// test answers).
    #[inline]
    pub fn hold(
        &mut self,
        fx: &mut Effects,
        s: &mut Session,
        limits: SessionLimits,
        src: Option<ConnId>,
    ) {
        let Some(src) = src else { return };
        if !s.online() || !s.queue.full(limits) || s.blockers.contains(&src) {
            return;
        }
        s.blockers.push(src);
        let n = self.live.entry(src).or_insert(0);
        *n += 1;
        if *n == 1 {
            tracing::debug!(client = %s.client_id, publisher = src, "subscriber over its window: publisher paused");
            fx.pause(src, true);
        }
    }

    /// Lets go of the publishers `s` holds once its queue is down to half the high watermark, in messages
    /// and in bytes (or at once, when `now_offline`).
    pub fn release(
        &mut self,
        fx: &mut Effects,
        s: &mut Session,
        limits: SessionLimits,
        now_offline: bool,
    ) {
        if s.blockers.is_empty() || (!now_offline && !s.queue.drained(limits)) {
            return;
        }
        for c in s.blockers.drain(..) {
            if let Some(n) = self.live.get_mut(&c) {
                *n -= 1;
                if *n == 0 {
                    self.live.remove(&c);
                    fx.pause(c, false);
                }
            } else if let Some((client, n)) = self.gone.get_mut(&c) {
                *n -= 1;
                if *n == 0 {
                    if self.by_client.get(client) == Some(&c) {
                        self.by_client.remove(client);
                    }
                    self.gone.remove(&c);
                }
            }
        }
    }

    /// `conn`, of `client`, ended or was replaced: if it was held, its client's next connection will be.
    pub fn ended(&mut self, conn: ConnId, client: &Arc<str>) {
        if let Some(n) = self.live.remove(&conn) {
            self.gone.insert(conn, (client.clone(), n));
            // An older one of the client's still listed somewhere is let go by its sessions as before.
            self.by_client.insert(client.clone(), conn);
        }
    }

    /// `conn` ended and its client is not known: only a connection already taken over, whose hold went
    /// with `ended` then; sessions still list a held one, so dropping it here would break their counts.
    pub fn forget(&self, conn: ConnId) {
        debug_assert!(
            !self.live.contains_key(&conn),
            "a held connection ended unknown"
        );
    }

    /// `client` logged in on `conn`: held at once if its previous connection ended held and sessions
    /// still hold it (they now list `conn` instead).
    pub fn carry_over<'a>(
        &mut self,
        fx: &mut Effects,
        client: &str,
        conn: ConnId,
        sessions: impl Iterator<Item = &'a mut Session>,
    ) {
        if self.by_client.is_empty() {
            return;
        }
        let Some(old) = self.by_client.remove(client) else {
            return;
        };
        if self.gone.remove(&old).is_none() {
            return;
        }
        let mut n = 0;
        for s in sessions {
            if *s.client_id == *client {
                // Held by its own session (it subscribes to what it publishes): not carried over, or the
                // new connection could not even read the acknowledgements that would drain it.
                s.blockers.retain(|b| *b != old);
                continue;
            }
            for b in s.blockers.iter_mut().filter(|b| **b == old) {
                *b = conn;
                n += 1;
            }
        }
        if n > 0 {
            tracing::debug!(
                client,
                publisher = conn,
                "held publisher logged in again: still held"
            );
            self.live.insert(conn, n);
            fx.pause(conn, true);
        }
    }
}
