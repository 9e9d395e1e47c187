//! What a session holds for its client, with the payload bytes of each kept as items come and go: the
//! deliveries waiting for the window ([`Queue`]) and those sent and not yet acknowledged ([`Flights`]).
//! The byte counts are what bound a session's memory beside its message counts.

use std::collections::VecDeque;

use super::{Delivery, FlightState, InFlight, SessionLimits};
use crate::broker::message::Message;
use crate::mqtt::Pid;

/// An item a session holds, by the message it carries (whose payload is what it holds in memory).
pub(crate) trait Holds {
    fn message(&self) -> &Message;
    fn message_mut(&mut self) -> &mut Message;
}

impl Holds for Delivery {
    fn message(&self) -> &Message {
        &self.msg
    }

    fn message_mut(&mut self) -> &mut Message {
        &mut self.msg
    }
}

impl Holds for InFlight {
    fn message(&self) -> &Message {
        &self.delivery.msg
    }

    fn message_mut(&mut self) -> &mut Message {
        &mut self.delivery.msg
    }
}

/// Items in order and the payload bytes they hold, counted as they come and go (the items are reached
/// only through these methods, so the count cannot drift).
#[derive(Debug)]
pub(crate) struct Held<T> {
    items: VecDeque<T>,
    bytes: usize,
}

/// A session's waiting deliveries.
pub(crate) type Queue = Held<Delivery>;

/// A session's deliveries sent and not yet fully acknowledged, oldest first. Their payloads stay in
/// memory until the client acknowledges them (PUBACK; PUBREC for QoS 2, after which only PUBREL is
/// resent), so the window is bounded in bytes as well as in messages:
/// `inflight_window` messages of up to `max_packet` each would otherwise let one slow subscriber hold
/// hundreds of MiB.
pub(crate) type Flights = Held<InFlight>;

impl<T> Default for Held<T> {
    fn default() -> Self {
        Held {
            items: VecDeque::new(),
            bytes: 0,
        }
    }
}

fn size<T: Holds>(t: &T) -> usize {
    t.message().payload.len()
}

impl<T: Holds> Held<T> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Payload bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn iter(&self) -> std::collections::vec_deque::Iter<'_, T> {
        self.items.iter()
    }

    pub fn front(&self) -> Option<&T> {
        self.items.front()
    }

    pub fn push_back(&mut self, t: T) {
        self.bytes += size(&t);
        self.items.push_back(t);
    }

    pub(super) fn push_front(&mut self, t: T) {
        self.bytes += size(&t);
        self.items.push_front(t);
    }

    pub fn pop_front(&mut self) -> Option<T> {
        let t = self.items.pop_front()?;
        self.bytes -= size(&t);
        Some(t)
    }

    pub(super) fn pop_back(&mut self) -> Option<T> {
        let t = self.items.pop_back()?;
        self.bytes -= size(&t);
        Some(t)
    }

    pub(super) fn remove(&mut self, i: usize) -> Option<T> {
        let t = self.items.remove(i)?;
        self.bytes -= size(&t);
        Some(t)
    }

    /// Gives every item a payload of its own (see `Message::detached`); the sizes, and so the byte
    /// count, do not change.
    pub fn detach_all(&mut self) {
        for t in &mut self.items {
            let m = t.message_mut();
            *m = m.detached();
        }
    }
}

impl Queue {
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

impl Flights {
    /// Marks everything in flight as sent at `now` (a resend: the acknowledgement timeout starts again).
    pub fn sent_all_at(&mut self, now: i64) {
        for f in &mut self.items {
            f.sent_at = now;
        }
    }

    /// PUBREC for `pid` (a QoS 2 delivery waiting for PUBREC or, repeated, for PUBCOMP): marks it sent
    /// at `now` and waiting for PUBCOMP, and lets go of its payload, which nothing sends again (only
    /// PUBREL is resent from here, MQTT 3.1.1 §4.3.3): a slow PUBCOMP then holds no payload bytes and no
    /// room in the window's byte bound. `Some(seq, first)`: the delivery's queue number, and whether this
    /// was its first PUBREC. `None`: no QoS 2 delivery with that id is in flight.
    pub fn on_pubrec(&mut self, pid: Pid, now: i64) -> Option<(u64, bool)> {
        let f = self
            .items
            .iter_mut()
            .find(|f| f.pid == pid && f.state != FlightState::Ack)?;
        f.sent_at = now;
        let first = f.state == FlightState::Rec;
        if first {
            f.state = FlightState::Comp;
            let payload = std::mem::take(&mut f.delivery.msg.payload);
            self.bytes -= payload.len();
        }
        Some((f.delivery.seq, first))
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
