//! One connection's output queue, shared by the router's driver (producer) and the connection task
//! (consumer), and the one path that bypasses it: an acknowledgement written straight to an idle
//! connection's socket.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use tokio::net::TcpStream;

use super::message::{OutGauge, Outbound};
use super::signal::Signal;

/// One connection's output queue and pause flag. A plain locked deque instead of a channel: it allocates
/// nothing until output comes, the connection takes everything queued in one lock, and the deque's
/// buffer is released when the connection goes idle, so an idle connection holds a few dozen bytes here.
/// Bounded by accounting, not capacity: everything in it is counted in the connection's
/// [`OutGauge`](super::message::OutGauge), which the router keeps under `Limits::max_outbound_*` (QoS 0
/// dropped, QoS 1/2 windowed, control packets one per input from that client).
#[derive(Debug, Default)]
pub struct Outbox {
    queue: Mutex<Queue>,
    /// True while the connection must not read (backpressure).
    paused: AtomicBool,
    /// The connection ended: later output is dropped at once.
    closed: AtomicBool,
    /// Output was queued with [`Outbox::push_quiet`] and the connection not yet woken for it.
    unsignalled: AtomicBool,
    /// The connection holds output it has taken or encoded and not yet finished writing: nothing may
    /// reach the socket before it. Set under the queue's lock (so a direct write in progress finishes
    /// first); cleared without it, since a connection done writing cannot be overtaken.
    writing: AtomicBool,
    /// New output or a change of `paused` since the connection last looked (the connection's task is
    /// the one waiter).
    changed: Signal,
}

/// What the lock guards: the queue, and what decides whether bytes may go to the socket past it.
#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Outbound>,
    /// The connection's socket, for [`Outbox::write_direct`]; `None` before [`Outbox::attach`] and
    /// after [`Outbox::close`].
    socket: Option<Arc<TcpStream>>,
}

/// What [`Outbox::write_direct`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direct {
    /// Every byte is on the socket.
    Written,
    /// Nothing was written (output queued or being written, a full socket, no socket): queue it.
    Refused,
    /// The first `n` bytes were written and the rest queued ahead of anything later; the caller must
    /// [`Outbox::signal`] the connection.
    Partial(usize),
}

/// Entries an [`Outbox`] makes room for at the start of a burst (freed with the buffer when the
/// connection goes idle, so an idle connection still holds none).
const BURST_ROOM: usize = 32;

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `o`; false when the connection has ended (nothing was queued).
    pub fn push(&self, o: Outbound) -> bool {
        let mut q = self.lock();
        // Under the lock `close` takes too: nothing is queued after it has taken what was left.
        if self.closed.load(Ordering::Acquire) {
            return false;
        }
        q.items.push_back(o);
        drop(q);
        self.wake();
        true
    }

    /// Queues a run of outputs, in order, under one lock, without waking the connection: the router
    /// queues a whole mailbox batch this way and wakes each connection it touched once
    /// ([`Outbox::signal`]), not once per message. `None` when the connection has ended (nothing was
    /// queued); `Some(true)` when this is the first output since the last signal (the caller must then
    /// signal). `items` is left empty either way.
    pub fn push_quiet(&self, items: &mut Vec<Outbound>) -> Option<bool> {
        let mut q = self.lock();
        // Under the lock `close` takes too (see `push`).
        if self.closed.load(Ordering::Acquire) {
            items.clear();
            return None;
        }
        // The connection hands an empty buffer back after each burst (and frees its own when idle): a
        // burst starts with room for a few dozen entries rather than growing 4, 8, 16, … one realloc each.
        if q.items.capacity() == 0 {
            q.items.reserve(BURST_ROOM.max(items.len()));
        }
        q.items.extend(items.drain(..));
        drop(q);
        Some(!self.unsignalled.swap(true, Ordering::AcqRel))
    }

    /// Writes `bytes` (whole packets) to the connection's socket from the caller's thread, without
    /// waking the connection, when that cannot overtake anything: nothing is queued, the connection is
    /// not in the middle of writing, and it has not ended. The socket write is non-blocking and done
    /// under the queue's lock, so the connection cannot start a write meanwhile.
    ///
    /// Why: a QoS 1 PUBLISH gives the router two outputs, the delivery and the publisher's PUBACK. Waking
    /// two connection tasks made tokio hand one of them to the other worker thread (a futex wake and a
    /// thread switch per message, on the delivery's path); written here, the PUBACK wakes nobody.
    /// `gauge` is the connection's: the rest of a partial write is counted in it like any queued output.
    pub fn write_direct(&self, bytes: &[u8], gauge: &OutGauge) -> Direct {
        let mut q = self.lock();
        if self.writing.load(Ordering::Acquire)
            || !q.items.is_empty()
            || self.closed.load(Ordering::Acquire)
        {
            return Direct::Refused;
        }
        let Some(socket) = q.socket.as_ref() else {
            return Direct::Refused;
        };
        match socket.try_write(bytes) {
            Ok(n) if n == bytes.len() => Direct::Written,
            Ok(n) if n > 0 => {
                // The rest goes first when the connection writes next; still under the lock, so nothing
                // can be queued or written in between.
                let rest = bytes::Bytes::copy_from_slice(bytes.get(n..).unwrap_or_default());
                // Counted before it is queued, so the connection never subtracts what was not added.
                gauge.add(rest.len());
                q.items.push_back(Outbound::Raw(rest));
                drop(q);
                self.unsignalled.store(true, Ordering::Release);
                Direct::Partial(n)
            }
            // A full socket (or one that failed: the connection sees the error on its own write).
            _ => Direct::Refused,
        }
    }

    /// Wakes the connection for what [`Outbox::push_quiet`] queued.
    pub fn signal(&self) {
        if self.unsignalled.swap(false, Ordering::AcqRel) {
            self.wake();
        }
    }

    /// Moves everything queued to the end of `into`, in order; true when anything was. The connection
    /// then counts as writing (see [`Outbox::write_direct`]) until [`Outbox::written`].
    pub fn take(&self, into: &mut VecDeque<Outbound>) -> bool {
        let mut q = self.lock();
        if q.items.is_empty() {
            return false;
        }
        self.writing.store(true, Ordering::Release);
        if into.is_empty() {
            // The common case: swap buffers, no copy. `into`'s old (empty) buffer stays here for the
            // output queued next: during a burst it has room already, so the queue is not grown from
            // nothing at every take (`release_room` lets it go when the connection is idle).
            std::mem::swap(&mut q.items, into);
        } else {
            into.extend(q.items.drain(..));
        }
        true
    }

    /// The connection went idle: the queue's buffer is released if nothing was queued meanwhile, so an
    /// idle connection holds none.
    pub fn release_room(&self) {
        let mut q = self.lock();
        if q.items.is_empty() {
            q.items = VecDeque::new();
        }
    }

    /// The connection is about to write bytes of its own making (a PINGRESP): nothing may be written
    /// past them until [`Outbox::written`].
    pub fn writing(&self) {
        let _q = self.lock();
        self.writing.store(true, Ordering::Release);
    }

    /// The connection has written everything it took or encoded.
    pub fn written(&self) {
        self.writing.store(false, Ordering::Release);
    }

    /// The socket [`Outbox::write_direct`] writes to, from the start of the connection's loop.
    pub fn attach(&self, socket: Arc<TcpStream>) {
        self.lock().socket = Some(socket);
    }

    pub fn set_paused(&self, paused: bool) {
        if self.paused.swap(paused, Ordering::AcqRel) != paused {
            self.wake();
        }
    }

    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// The connection ended: output queued from now on is dropped, the socket is let go; returns what
    /// was still queued.
    pub fn close(&self) -> VecDeque<Outbound> {
        let mut q = self.lock();
        // Set while holding the lock, so a push that got past its check before this has already queued
        // (and is taken here), and every later one is refused.
        self.closed.store(true, Ordering::Release);
        q.socket = None;
        std::mem::take(&mut q.items)
    }

    fn wake(&self) {
        self.changed.ring();
    }

    /// Ready when output was queued or the pause flag changed since it was last ready (the connection's
    /// own task is the only one that waits).
    pub fn poll_changed(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.changed.poll(cx)
    }

    /// [`Outbox::poll_changed`] as a future.
    pub async fn changed(&self) {
        std::future::poll_fn(|cx| self.poll_changed(cx)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::{Packet, Pid};
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// (the outbox with the server side's socket attached, the client side).
    async fn pair() -> (Outbox, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        // The first write readiness, as the connection's loop would have seen it.
        server.writable().await.unwrap();
        let o = Outbox::default();
        o.attach(Arc::new(server));
        (o, client)
    }

    /// Counts the wake-ups it is given.
    struct Counter(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A wake-up that comes while the connection is busy is kept until it looks (one, however many
    /// came); one that comes while it waits wakes its task. Nothing is lost either way.
    #[test]
    fn a_wake_up_is_kept_until_the_connection_looks_or_wakes_it_if_waiting() {
        let o = Outbox::default();
        let noop = &mut Context::from_waker(std::task::Waker::noop());
        assert!(o.poll_changed(noop).is_pending(), "nothing happened yet");
        assert!(o.push(puback(1)));
        o.set_paused(true);
        assert!(o.poll_changed(noop).is_ready(), "kept while not waiting");
        assert!(o.poll_changed(noop).is_pending(), "one permit for both");

        let counter = Arc::new(Counter(std::sync::atomic::AtomicUsize::new(0)));
        let waker = std::task::Waker::from(counter.clone());
        let cx = &mut Context::from_waker(&waker);
        assert!(o.poll_changed(cx).is_pending());
        o.set_paused(false);
        assert_eq!(
            counter.0.load(Ordering::SeqCst),
            1,
            "the waiting task is woken"
        );
        assert!(o.poll_changed(cx).is_ready());
        // Queued quietly, then signalled once: one wake-up.
        assert!(o.poll_changed(cx).is_pending());
        assert_eq!(o.push_quiet(&mut vec![puback(2), puback(3)]), Some(true));
        assert_eq!(counter.0.load(Ordering::SeqCst), 1, "quiet: not yet");
        o.signal();
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
        assert!(o.poll_changed(cx).is_ready());
    }

    fn puback(n: u16) -> Outbound {
        Outbound::Packet(Packet::PubAck(Pid::new(n).unwrap()))
    }

    #[tokio::test]
    async fn an_idle_connection_gets_the_bytes_at_once() {
        let (o, mut client) = pair().await;
        let g = OutGauge::default();
        assert_eq!(o.write_direct(&[0x40, 2, 0, 7], &g), Direct::Written);
        let mut got = [0u8; 4];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, [0x40, 2, 0, 7]);
    }

    /// Nothing overtakes output the connection has yet to take, output it took and has not finished
    /// writing, or bytes of its own it is about to write; nothing goes to an ended connection.
    #[tokio::test]
    async fn nothing_overtakes_queued_or_unwritten_output() {
        let (o, _client) = pair().await;
        let g = OutGauge::default();
        assert_eq!(o.push_quiet(&mut vec![puback(1)]), Some(true));
        assert_eq!(
            o.write_direct(&[0x40, 2, 0, 2], &g),
            Direct::Refused,
            "queued"
        );
        let mut held = VecDeque::new();
        assert!(o.take(&mut held));
        assert_eq!(
            o.write_direct(&[0x40, 2, 0, 2], &g),
            Direct::Refused,
            "taken"
        );
        o.written();
        assert_eq!(o.write_direct(&[0x40, 2, 0, 2], &g), Direct::Written);
        o.writing();
        assert_eq!(o.write_direct(&[0x40, 2, 0, 3], &g), Direct::Refused, "own");
        o.written();
        assert!(o.close().is_empty());
        assert_eq!(
            o.write_direct(&[0x40, 2, 0, 4], &g),
            Direct::Refused,
            "closed"
        );
    }

    /// Through a burst the deque the connection hands back at each take keeps its room, so the next
    /// output is queued without growing a buffer from nothing; `release_room` (the connection gone idle)
    /// frees it, but never drops output queued meanwhile.
    #[test]
    fn the_queue_keeps_its_room_through_a_burst_and_lets_it_go_when_idle() {
        let o = Outbox::default();
        let mut held = VecDeque::with_capacity(256);
        assert!(o.push_quiet(&mut vec![puback(1)]).is_some());
        assert!(o.take(&mut held));
        assert!(
            o.lock().items.capacity() >= 256,
            "the handed-back room stays"
        );
        assert!(o.push_quiet(&mut vec![puback(2)]).is_some());
        o.release_room();
        assert_eq!(o.lock().items.len(), 1, "queued output is kept");
        held.clear();
        assert!(o.take(&mut held));
        o.release_room();
        assert_eq!(
            o.lock().items.capacity(),
            0,
            "an idle connection's queue holds no buffer"
        );
    }

    /// A socket that takes only part of the bytes: the rest is queued, first, for the connection, and
    /// counted in its gauge like any queued output (the connection subtracts it when it takes it).
    #[tokio::test]
    async fn the_rest_of_a_partial_write_is_queued_first() {
        let (o, _client) = pair().await;
        let g = OutGauge::default();
        // The client does not read: far more than the socket buffers hold.
        let big: Vec<u8> = (0..16 << 20).map(|i| (i % 251) as u8).collect();
        let Direct::Partial(n) = o.write_direct(&big, &g) else {
            panic!("expected a partial write");
        };
        assert!(n > 0 && n < big.len());
        assert_eq!(g.load(), (big.len() - n, 1));
        let mut held = VecDeque::new();
        assert!(o.take(&mut held));
        match held.pop_front() {
            Some(Outbound::Raw(rest)) => assert_eq!(&rest[..], &big[n..]),
            other => panic!("expected the rest, got {other:?}"),
        }
        assert!(held.is_empty());
    }
}
