//! What a session holds for its client, with the payload bytes of each kept as items come and go: the
//! deliveries waiting for the window ([`Queue`]) and those sent and not yet acknowledged ([`Flights`]).
//! The byte counts are what bound a session's memory beside its message counts.

use std::collections::VecDeque;

use super::{Delivery, InFlight, SessionLimits};

/// A session's waiting deliveries, and the payload bytes they hold (kept as they come and go).
#[derive(Debug, Default)]
pub(crate) struct Queue {
    items: VecDeque<Delivery>,
    bytes: usize,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> std::collections::vec_deque::Iter<'_, Delivery> {
        self.items.iter()
    }

    /// Payload bytes held by the deliveries waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn front(&self) -> Option<&Delivery> {
        self.items.front()
    }

    pub fn push_back(&mut self, d: Delivery) {
        self.bytes += d.msg.payload.len();
        self.items.push_back(d);
    }

    pub(super) fn push_front(&mut self, d: Delivery) {
        self.bytes += d.msg.payload.len();
        self.items.push_front(d);
    }

    pub fn pop_front(&mut self) -> Option<Delivery> {
        let d = self.items.pop_front()?;
        self.bytes -= d.msg.payload.len();
        Some(d)
    }

    pub(super) fn pop_back(&mut self) -> Option<Delivery> {
        let d = self.items.pop_back()?;
        self.bytes -= d.msg.payload.len();
        Some(d)
    }

    /// Gives every waiting delivery a payload of its own (see `Message::detached`); the sizes, and so the
    /// byte count, do not change.
    pub fn detach_all(&mut self) {
        for d in &mut self.items {
            d.msg = d.msg.detached();
        }
    }

    /// At either bound of an online session (`max_queued` deliveries, `max_queued_bytes` of payload): its
    /// publishers are held back.
    pub fn full(&self, limits: SessionLimits) -> bool {
        self.len() >= limits.max_queued || self.bytes >= limits.max_queued_bytes
    }

    /// Down to half of both bounds: the publishers held back go on.
    pub fn drained(&self, limits: SessionLimits) -> bool {
        self.len() <= limits.max_queued / 2 && self.bytes <= limits.max_queued_bytes / 2
    }

    /// Over either bound (`max` deliveries, `max_bytes` of payload), and more than one delivery waits:
    /// the newest one is kept whatever its size (a single message is bounded by `max_packet`).
    pub(super) fn over(&self, max: usize, max_bytes: usize) -> bool {
        self.len() > max || (self.bytes > max_bytes && self.len() > 1)
    }
}

/// A session's deliveries sent and not yet fully acknowledged, oldest first, and the payload bytes they
/// hold. Their payloads stay in memory until the client acknowledges them, so the window is bounded in
/// bytes as well as in messages: `inflight_window` messages of up to `max_packet` each would otherwise
/// let one slow subscriber hold hundreds of MiB.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    items: VecDeque<InFlight>,
    bytes: usize,
}

impl Flights {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Payload bytes held by the deliveries in flight.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn iter(&self) -> std::collections::vec_deque::Iter<'_, InFlight> {
        self.items.iter()
    }

    /// For the state and send time of a delivery in flight; its payload is not to be replaced (the
    /// byte count would go wrong), which nothing does: a delivery's message never changes.
    pub fn iter_mut(&mut self) -> std::collections::vec_deque::IterMut<'_, InFlight> {
        self.items.iter_mut()
    }

    pub fn push_back(&mut self, f: InFlight) {
        self.bytes += f.delivery.msg.payload.len();
        self.items.push_back(f);
    }

    pub(super) fn push_front(&mut self, f: InFlight) {
        self.bytes += f.delivery.msg.payload.len();
        self.items.push_front(f);
    }

    pub(super) fn pop_back(&mut self) -> Option<InFlight> {
        let f = self.items.pop_back()?;
        self.bytes -= f.delivery.msg.payload.len();
        Some(f)
    }

    pub(super) fn remove(&mut self, i: usize) -> Option<InFlight> {
        let f = self.items.remove(i)?;
        self.bytes -= f.delivery.msg.payload.len();
        Some(f)
    }

    /// As [`Queue::detach_all`], for the deliveries in flight.
    pub fn detach_all(&mut self) {
        for f in &mut self.items {
            f.delivery.msg = f.delivery.msg.detached();
        }
    }

    /// Whether `next` may join the window: under `inflight_window` messages, and its payload within
    /// `max_inflight_bytes` with the rest. With nothing in flight anything goes, whatever its size, so
    /// that a message larger than the byte bound is still delivered (alone), and an acknowledgement
    /// always comes to let the next one in.
    pub fn room_for(&self, next: &Delivery, limits: SessionLimits) -> bool {
        self.items.is_empty()
            || (self.items.len() < limits.inflight_window
                && self.bytes + next.msg.payload.len() <= limits.max_inflight_bytes)
    }
}
