//! What the router's state machine asks the world to do. The router never touches a channel, a socket or
//! the clock: it pushes [`Effect`]s into one reusable buffer and its driver applies them: each
//! connection's outputs in order, store ops, events and pauses in order among themselves.

use crate::broker::message::{ConnId, Outbound};
use crate::events::Event;
use crate::store::StoreOp;

/// One thing to do. Produced in order; the driver keeps the order per connection and among the store
/// ops, events and pauses (see `Driver::apply`).
#[derive(Debug)]
pub(crate) enum Effect {
    /// Output for one connection (written in order by that connection).
    Send(ConnId, Outbound),
    /// A store mutation with its number: the writer's committed watermark reaching it means it is on disk.
    Store(u64, StoreOp),
    /// Something for watchers (the console, the admin API).
    Event(Event),
    /// Stop (`true`) or resume (`false`) reading from a connection: backpressure on a publisher.
    Pause(ConnId, bool),
}

/// The payload bytes of store ops queued and not yet committed. Ops are numbered in order and committed
/// in order, so two running totals say it: the bytes of every op queued, and of every op up to the
/// watermark. The second moves as the watermark passes the ops that carried bytes, which wait in
/// `marks` (one per such op not yet seen committed: at most the ops under `max_store_backlog`, plus
/// what one router turn adds past it).
#[derive(Debug, Default)]
struct StoreBytes {
    queued: u64,
    committed: u64,
    /// (op number, `queued` after it), oldest first.
    marks: std::collections::VecDeque<(u64, u64)>,
}

impl StoreBytes {
    fn queued(&mut self, op: u64, bytes: usize) {
        if bytes > 0 {
            self.queued += bytes as u64;
            self.marks.push_back((op, self.queued));
        }
    }

    fn uncommitted(&mut self, watermark: u64) -> u64 {
        while let Some(&(op, total)) = self.marks.front() {
            if op > watermark {
                break;
            }
            self.committed = total;
            self.marks.pop_front();
        }
        if self.marks.is_empty() && self.marks.capacity() > 0 {
            // Nothing held: the deque's room goes too (a burst of retained messages grew it).
            self.marks = Default::default();
        }
        self.queued - self.committed
    }
}

/// Effects whose room the buffer keeps between batches.
pub(crate) const EFFECTS_KEEP: usize = 1024;

/// The effects buffer and the store-op numbering. The router is the only numberer of store ops, so
/// "op `n` is committed" needs no lock and the number of an acknowledgement's barrier is known here.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    last_op: u64,
    /// The payload bytes of the numbered ops, for `limits.max_store_backlog_bytes`.
    store_bytes: StoreBytes,
    out: Vec<Effect>,
    /// Unix ms of the input being handled, for what sessions time-stamp.
    now: i64,
    /// A QoS 1/2 delivery went in flight since the router last looked (it then schedules its sweep).
    inflight_sent: bool,
    /// The earliest time a session's drops counted and not yet logged may be logged (see
    /// `Session::log_drops`): the router's tick logs them then if no later drop has.
    drops_due: Option<i64>,
    /// QoS 0 deliveries dropped at a full connection since the router last looked (for
    /// `Metrics::qos0_dropped`, whatever delivered them: routing, retained messages on SUBSCRIBE, commands).
    qos0_dropped: u64,
    /// Nobody reads events now (the driver says so before each mailbox batch): the router then skips
    /// building the per-connection ones (a client id and an address formatted per connect and
    /// disconnect, for a channel with no reader).
    unwatched: bool,
}

impl Effects {
    pub fn set_now(&mut self, now: i64) {
        self.now = now;
    }

    pub fn now(&self) -> i64 {
        self.now
    }

    pub fn mark_inflight_sent(&mut self) {
        self.inflight_sent = true;
    }

    pub fn take_inflight_sent(&mut self) -> bool {
        std::mem::take(&mut self.inflight_sent)
    }

    /// Drops were counted and not logged; they may be logged at `at`.
    pub fn drops_due(&mut self, at: i64) {
        self.drops_due = Some(self.drops_due.map_or(at, |d| d.min(at)));
    }

    pub fn take_drops_due(&mut self) -> Option<i64> {
        self.drops_due.take()
    }

    pub fn count_qos0_drop(&mut self) {
        self.qos0_dropped += 1;
    }

    pub fn take_qos0_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.qos0_dropped)
    }

    pub fn send(&mut self, conn: ConnId, o: Outbound) {
        self.out.push(Effect::Send(conn, o));
    }

    /// Numbers `op` and queues it; returns its number.
    pub fn store(&mut self, op: StoreOp) -> u64 {
        self.last_op += 1;
        self.store_bytes.queued(self.last_op, op.payload_bytes());
        self.out.push(Effect::Store(self.last_op, op));
        self.last_op
    }

    pub fn event(&mut self, e: Event) {
        if !self.unwatched {
            self.out.push(Effect::Event(e));
        }
    }

    pub fn set_watched(&mut self, watched: bool) {
        self.unwatched = !watched;
    }

    /// False when events would go nowhere: skip building them.
    pub fn watched(&self) -> bool {
        !self.unwatched
    }

    pub fn pause(&mut self, conn: ConnId, paused: bool) {
        self.out.push(Effect::Pause(conn, paused));
    }

    /// Number of the last store op issued (0 if none).
    pub fn last_op(&self) -> u64 {
        self.last_op
    }

    /// Payload bytes of the ops after `committed` (the writer's watermark, which only grows).
    pub fn uncommitted_bytes(&mut self, committed: u64) -> u64 {
        self.store_bytes.uncommitted(committed)
    }

    /// Takes the effects produced so far; the buffer's allocation is kept for the next input (up to
    /// [`EFFECTS_KEEP`]: see [`Effects::trim`]).
    pub fn drain(&mut self) -> std::vec::Drain<'_, Effect> {
        self.out.drain(..)
    }

    /// Effects produced and not yet taken.
    pub fn pending(&self) -> usize {
        self.out.len()
    }

    /// Gives back the room of an unusually large batch (a message to thousands of subscribers), so it
    /// is not held for good.
    pub fn trim(&mut self) {
        if self.out.capacity() > EFFECTS_KEEP {
            self.out.shrink_to(EFFECTS_KEEP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events go out while someone watches and are dropped (not queued) while nobody does; other
    /// effects are queued either way.
    #[test]
    fn events_are_kept_only_while_watched() {
        let mut fx = Effects::default();
        assert!(fx.watched(), "watched unless the driver says otherwise");
        let ev = || Event::Disconnected {
            client_id: "c".into(),
            reason: "DISCONNECT".into(),
        };
        fx.event(ev());
        fx.set_watched(false);
        assert!(!fx.watched());
        fx.event(ev());
        fx.pause(1, true);
        let kinds: Vec<&str> = fx
            .drain()
            .map(|e| match e {
                Effect::Event(_) => "event",
                Effect::Pause(..) => "pause",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["event", "pause"]);
    }

    /// The room of a batch larger than usual (a message to thousands of subscribers) is given back
    /// once it is taken; a usual one's is kept.
    #[test]
    fn a_large_batch_does_not_keep_its_room() {
        let mut fx = Effects::default();
        for i in 0..5 * EFFECTS_KEEP as u64 {
            fx.pause(i, true);
        }
        assert_eq!(fx.pending(), 5 * EFFECTS_KEEP);
        assert_eq!(fx.drain().count(), 5 * EFFECTS_KEEP);
        fx.trim();
        assert!(fx.out.capacity() <= EFFECTS_KEEP);
        for i in 0..10 {
            fx.pause(i, true);
        }
        fx.drain().for_each(drop);
        let room = fx.out.capacity();
        fx.trim();
        assert_eq!(fx.out.capacity(), room, "a usual batch's room is kept");
    }
}
