//! Where inputs meet the router: the connections' lanes and the mailbox, and the router task.
//!
//! A connection whose earlier inputs have all been handled runs the router for its next input itself,
//! in its own task, when the router is idle: nobody else is running it (`Hub::send`: a `try_lock`,
//! never a wait), nothing waits in the mailbox, and the input is not a burst. At low load that takes
//! the router task out of the path: a PUBLISH is routed, and its delivery queued (or, QoS 1/2, written)
//! and its PUBACK written, in the turn that read it, instead of waking the router task and having it wake
//! the connections. Under load the router task gathers many connections' inputs into one turn and wakes
//! each connection it gave output once, which costs less than a turn per input. So when the router is
//! busy the input goes to the bounded mailbox as before, and the router task takes it in order; the
//! connection's lane counts what it has there, and it does not run the router itself again until that
//! is all handled, so a connection's inputs are always handled in the order it read them. The service's requests always go through the mailbox.
//!
//! The router task still owns everything with a time: deadlines, the periodic stats write, the pause
//! for a lagging store writer (while the writer lags, nobody runs the router inline: inputs wait in the
//! mailbox, which the router task does not read, and readers wait on it).

use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use tokio::sync::{Semaphore, TryAcquireError, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::broker::message::RouterMsg;
use crate::broker::signal::Signal;
use crate::store::now_millis;

use super::Driver;

/// Inputs taken from the mailbox per wake-up.
const BATCH: usize = 512;

/// A connection runs the router itself for at most this many inputs of one read; more is a burst.
const INLINE_MAX: usize = 4;

/// A connection's inputs waiting in the mailbox (sent, not yet handled): at most the mailbox's depth,
/// plus a batch the router task took and has not handled yet, plus one being sent.
#[derive(Debug, Default)]
pub(crate) struct Lane(AtomicU32);

/// Uncounts an input from its lane unless it was sent (a send that failed, or was dropped waiting).
struct Unsent<'a>(&'a Lane);

impl Drop for Unsent<'_> {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether an inline turn that moved the router's next deadline from `before` to `after` must wake the
/// router task to re-arm its timer. Every turn of the router task re-reads the deadline, and every
/// inline turn that brings it forward wakes the task, so its timer is never later than the deadline
/// (one that moves later, or goes, only fires early, to no effect).
fn brought_forward(before: Option<i64>, after: Option<i64>) -> bool {
    match (before, after) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(b), Some(a)) => a < b,
    }
}

/// Closes the mailbox's byte budget when dropped (see `Hub::run`).
struct CloseOnDrop<'a>(&'a Semaphore);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// What the mailbox carries: a request, the lane of the connection that sent it (None: the service),
/// and the bytes of the mailbox's byte budget it holds (see `Hub::room`).
pub(crate) struct Mail {
    msg: RouterMsg,
    lane: Option<Arc<Lane>>,
    weight: u32,
}

struct Core {
    driver: Driver,
    committed: watch::Receiver<u64>,
    /// The last store watermark read from `committed`.
    seen: u64,
    /// The router task has ended (shutdown): nothing more is handled.
    closed: bool,
}

impl Core {
    /// The store writer lags (see `Driver::backlogged`), asked at every inline turn. The watermark only
    /// grows, so while the last one read already says no, the watch (a lock shared with the writer
    /// thread) is not read again.
    fn backlogged(&mut self) -> bool {
        if !self.driver.backlogged(self.seen) {
            return false;
        }
        self.seen = *self.committed.borrow();
        self.driver.backlogged(self.seen)
    }
}

pub(crate) struct Hub {
    core: Mutex<Core>,
    /// The mailbox. Bounded: when the router is behind, readers wait, and TCP slows publishers.
    tx: mpsc::Sender<Mail>,
    /// The mailbox's bound in bytes, beside its depth in messages: a connection takes its message's
    /// weight (`RouterMsg::weight`) before it queues it, and the router task gives the bytes back once
    /// it has handled it. The depth alone let 8,192 reads' worth wait, however large their packets (up
    /// to `max_packet` each): with the router held up by a lagging store writer, one device's 1 MiB
    /// messages could pile up gigabytes here.
    room: Semaphore,
    /// The budget `room` started with: a heavier message takes all of it (and so waits alone).
    budget: usize,
    /// The router task waits for the lock: connections queue instead of taking it first (a mutex has no
    /// hand-off, and the router task alone drains the mailbox and fires the deadlines).
    router_waiting: AtomicBool,
    /// Wakes the router task to re-arm its timer: an inline turn brought the router's next deadline
    /// forward (see `try_inline`). The router task then re-reads the deadline under the lock.
    rearm: Signal,
}

impl Hub {
    /// The hub and the mailbox's receiving end, for [`Hub::run`]: a mailbox of `depth` messages and
    /// `bytes` of input (see `Hub::room`).
    pub fn new(driver: Driver, depth: usize, bytes: usize) -> (Arc<Hub>, mpsc::Receiver<Mail>) {
        // Permits are counted in u32 per acquisition: a budget past that is clamped there.
        let bytes = bytes.clamp(1, u32::MAX as usize);
        let (tx, rx) = mpsc::channel(depth);
        let committed = driver.committed();
        let hub = Hub {
            core: Mutex::new(Core {
                driver,
                committed,
                seen: 0,
                closed: false,
            }),
            tx,
            room: Semaphore::new(bytes),
            budget: bytes,
            router_waiting: AtomicBool::new(false),
            rearm: Signal::default(),
        };
        (Arc::new(hub), rx)
    }

    /// The router task's way in: waits for the lock, ahead of any connection that has not taken it yet.
    fn lock(&self) -> MutexGuard<'_, Core> {
        self.router_waiting.store(true, Ordering::SeqCst);
        let core = self.core.lock().unwrap_or_else(|p| {
            // A panic while handling an input is a bug that has already ended that task; the router's
            // state is still the one owner of sessions, and stopping every connection with it would
            // lose more. The turn it cut short is ended here.
            self.core.clear_poison();
            let mut core = p.into_inner();
            core.driver.end_inline();
            core
        });
        self.router_waiting.store(false, Ordering::SeqCst);
        core
    }

    /// Hands a connection's input to the router: handled here and now when the lane is empty and the
    /// router free, otherwise queued in the mailbox (waiting while it is full). False once the router has
    /// stopped. Dropped while it waits, the input is not sent and not counted.
    pub async fn send(&self, lane: &Arc<Lane>, msg: RouterMsg) -> bool {
        let msg = match self.try_inline(lane, msg) {
            Ok(handled) => return handled,
            Err(msg) => msg,
        };
        // Counted before it is sent: the router task may take it and uncount it before `send` returns.
        lane.0.fetch_add(1, Ordering::Relaxed);
        let unsent = Unsent(lane);
        let weight = msg.weight().min(self.budget) as u32;
        let mail = Mail {
            msg,
            lane: Some(lane.clone()),
            weight,
        };
        // Boxed: this future is part of every connection task's state (an idle connection's too), and
        // the channel's send future holds a whole message besides; the mailbox is the busy path.
        if !Box::pin(self.queue(mail)).await {
            return false;
        }
        std::mem::forget(unsent);
        true
    }

    /// Takes the mail's bytes of the budget (waiting while they are not free), then a place in the
    /// mailbox (waiting while it is full). False when the router task has ended; given up (dropped)
    /// while waiting, the bytes taken go back.
    async fn queue(&self, mail: Mail) -> bool {
        let taken = match mail.weight {
            0 => None,
            // The free bytes taken at once when there are enough (the usual case, one atomic); a wait
            // in line otherwise (the semaphore is fair: a large message is not passed by small ones).
            w => match self.room.try_acquire_many(w) {
                Ok(p) => Some(p),
                Err(TryAcquireError::Closed) => return false,
                Err(TryAcquireError::NoPermits) => match self.room.acquire_many(w).await {
                    Ok(p) => Some(p),
                    Err(_) => return false,
                },
            },
        };
        if self.tx.send(mail).await.is_err() {
            return false;
        }
        // Given back by the router task once it has handled the mail.
        if let Some(p) = taken {
            p.forget();
        }
        true
    }

    /// The service's requests: always through the mailbox, in order among themselves.
    pub async fn request(&self, msg: RouterMsg) -> bool {
        self.tx
            .send(Mail {
                msg,
                lane: None,
                weight: 0,
            })
            .await
            .is_ok()
    }

    /// Runs the router for `msg` in the caller's task; gives it back when that cannot be done now.
    fn try_inline(&self, lane: &Lane, msg: RouterMsg) -> Result<bool, RouterMsg> {
        // Acquire: pairs with the router task's release after handling this lane's last queued input, so
        // that input's effects are seen before this one is handled.
        if lane.0.load(Ordering::Acquire) != 0 || self.router_waiting.load(Ordering::SeqCst) {
            return Err(msg);
        }
        // A burst (one read that decoded many packets) goes to the router task, which gathers the
        // bursts of many connections into one turn and wakes each subscriber once for all of them;
        // routed inline, every burst woke its subscribers on its own (`qos0-4x4`: more broker CPU).
        if matches!(&msg, RouterMsg::Batch(inputs) if inputs.len() > INLINE_MAX) {
            return Err(msg);
        }
        // Mail waiting: the router task is awake or about to be, and takes this with the rest in one
        // turn (one wake-up per subscriber for many publishers: `qos1-100x1` cost more CPU when each
        // publisher's message was routed on its own).
        if self.tx.capacity() != self.tx.max_capacity() {
            return Err(msg);
        }
        let mut core = match self.core.try_lock() {
            Ok(c) => c,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return Err(msg),
        };
        if core.closed {
            return Ok(false);
        }
        if core.backlogged() {
            return Err(msg);
        }
        let before = core.driver.next_deadline();
        core.driver.handle_inline(msg, now_millis());
        let after = core.driver.next_deadline();
        drop(core);
        if brought_forward(before, after) {
            self.rearm.ring();
        }
        Ok(true)
    }

    /// The router task: the mailbox, the router's deadlines, the periodic stats write.
    pub async fn run(self: Arc<Self>, mut rx: mpsc::Receiver<Mail>, shutdown: CancellationToken) {
        // However the task ends (a panic too), connections waiting for bytes of the budget give up:
        // nothing would give them back.
        let _closes = CloseOnDrop(&self.room);
        let mut batch = Vec::with_capacity(BATCH);
        let mut committed = self.lock().committed.clone();
        // Client totals that changed are written this often (`stats`), not per message.
        let mut stats = tokio::time::interval(super::stats::STATS_EVERY);
        stats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The router's next deadline: one timer, moved when the deadline changes (a timer made afresh
        // every loop turn was a timer-wheel insert and removal per mailbox batch).
        let mut timer = pin!(tokio::time::sleep(std::time::Duration::ZERO));
        let mut armed = None;
        // One waiter for the task's life (a future made every turn joined and left the token's locked
        // waiter list each time).
        let mut cancelled = pin!(shutdown.cancelled());
        loop {
            let backlogged = {
                let mut core = self.lock();
                let deadline = core.driver.next_deadline();
                if deadline != armed {
                    if let Some(t) = deadline {
                        let wait = (t - now_millis()).max(0) as u64;
                        timer.as_mut().reset(
                            tokio::time::Instant::now() + std::time::Duration::from_millis(wait),
                        );
                    }
                    armed = deadline;
                }
                // A lagging writer pushes back: no input is taken (connections wait on the bounded
                // mailbox, TCP slows the publishers) until the ops not yet committed are under
                // `max_store_backlog`.
                let c = *committed.borrow_and_update();
                core.driver.backlogged(c)
            };
            tokio::select! {
                r = committed.changed(), if backlogged => {
                    if r.is_err() {
                        break;
                    }
                }
                n = rx.recv_many(&mut batch, BATCH), if !backlogged => {
                    if n == 0 {
                        break;
                    }
                    // One clock read per batch: the router's time is in ms, a batch takes less.
                    let now = now_millis();
                    let mut core = self.lock();
                    // Asked after the batch came in: what a watcher caused after subscribing is seen.
                    core.driver.set_watched();
                    let mut handled = 0usize;
                    for Mail { msg, lane, weight } in batch.drain(..) {
                        core.driver.handle(msg, now);
                        handled += weight as usize;
                        if let Some(lane) = lane {
                            // Release: see `try_inline`.
                            lane.0.fetch_sub(1, Ordering::Release);
                        }
                    }
                    // An empty mailbox: the router goes idle, so acknowledgements owed now cannot be
                    // gathered with later ones.
                    core.driver.wake_touched(rx.is_empty());
                    drop(core);
                    // Once per turn (giving bytes back takes the budget's lock).
                    if handled > 0 {
                        self.room.add_permits(handled);
                    }
                }
                _ = &mut timer, if armed.is_some() => {
                    // Re-armed next turn even if the deadline stays (a clock that stepped back).
                    armed = None;
                    let mut core = self.lock();
                    core.driver.tick(now_millis());
                    core.driver.wake_touched(rx.is_empty());
                }
                _ = stats.tick() => {
                    // Deadlines are wall-clock, the timer is monotonic: re-armed from the wall clock
                    // at least this often, so a clock step forward or a suspended machine (monotonic
                    // time stands still) delays a deadline by one stats period at most.
                    armed = None;
                    crate::broker::conn_log::flush();
                    let mut core = self.lock();
                    core.driver.save_stats();
                    core.driver.wake_touched(rx.is_empty());
                }
                () = std::future::poll_fn(|cx| self.rearm.poll(cx)) => armed = None,
                _ = &mut cancelled => break,
            }
        }
        let mut core = self.lock();
        core.closed = true;
        // What online clients counted since the last periodic write (shutdown commits it).
        core.driver.save_stats();
        core.driver.wake_touched(true);
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
