//! A wake-up for the one task that waits on it: a flag and one waker slot, both lock-free.
//!
//! Used where exactly one task waits and others only ring: a connection waiting for output
//! (`Outbox`), the router task waiting to re-arm its timer (`router::Hub`). A `Notify` took its lock to
//! register the waiter and again to drop it on every turn of the waiting loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

#[derive(Debug, Default)]
pub(crate) struct Signal {
    /// Rung since the waiter last looked: a permit, kept while it is not waiting, so no wake-up is lost.
    rung: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    pub fn ring(&self) {
        self.rung.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Ready when rung since it was last ready. For one waiting task only (the slot holds one waker).
    pub fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.rung.load(Ordering::Acquire) && self.rung.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        // A ring between the check and the registration found no waker: its flag is seen here.
        if self.rung.swap(false, Ordering::AcqRel) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
