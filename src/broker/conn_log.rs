//! The per-connection log lines ("connected", "disconnected"), rate limited.
//!
//! A lab with a few devices gets one info line per connection, as before. A connection storm (thousands
//! of clients reconnecting at once) does not: formatting a line three times (stderr, the log file, the
//! console's ring) and writing it to stderr cost more than the rest of accepting the connection (a
//! profile of 30,000 connect/disconnect cycles put 17% of the broker's CPU in those lines). Past
//! [`PER_SECOND`] lines in a second, the rest go out at `debug` (`RUST_LOG=debug` still shows every one)
//! and are counted; the count is logged as one summary line when the next second's first line goes out,
//! or by [`flush`] (the router task calls it with its periodic statistics write), whichever is first.

use std::sync::atomic::{AtomicU64, Ordering};

/// Connection lines logged one by one per second; the rest are counted into a summary.
pub(crate) const PER_SECOND: u64 = 20;

/// A budget of lines per second, shared by every connection task (lock-free).
pub(crate) struct LineBudget {
    /// The second (Unix time) being counted.
    window: AtomicU64,
    /// Lines admitted in `window`.
    logged: AtomicU64,
    /// Lines refused since the last [`LineBudget::take_refused`].
    refused: AtomicU64,
}

impl LineBudget {
    pub(crate) const fn new() -> LineBudget {
        LineBudget {
            window: AtomicU64::new(0),
            logged: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// For a line at second `now` (Unix time): whether it is within the budget (else it is counted as
    /// refused), and whether it is the first of a new second (the caller then logs the count so far,
    /// [`LineBudget::take_refused`]). The second is passed in, so the budget is tested without a clock.
    pub(crate) fn admit_at(&self, now: u64) -> (bool, bool) {
        let window = self.window.load(Ordering::Relaxed);
        let new_second = now != window
            && self
                .window
                .compare_exchange(window, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        if new_second {
            self.logged.store(0, Ordering::Relaxed);
        }
        if self.logged.fetch_add(1, Ordering::Relaxed) < PER_SECOND {
            (true, new_second)
        } else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            (false, new_second)
        }
    }

    /// The lines refused since the last call.
    pub(crate) fn take_refused(&self) -> u64 {
        self.refused.swap(0, Ordering::Relaxed)
    }
}

/// Logging is process-wide, so is its budget.
static CONNECTION_LINES: LineBudget = LineBudget::new();

/// True when the caller should log its line at `info`; false: log it at `debug` (it was counted).
pub(crate) fn admit() -> bool {
    let now = (crate::store::now_millis() / 1000).max(0) as u64;
    let (admitted, new_second) = CONNECTION_LINES.admit_at(now);
    if new_second {
        flush();
    }
    admitted
}

/// Logs how many connection lines went to `debug` since the last summary, if any.
pub(crate) fn flush() {
    let n = CONNECTION_LINES.take_refused();
    if n > 0 {
        tracing::info!(
            lines = n,
            "{n} connect/disconnect log lines logged at debug only (more than {PER_SECOND} a second; RUST_LOG=debug shows each)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget, then the summary: the first `PER_SECOND` lines of a second are admitted, the rest
    /// counted; the next second starts a new budget and says so (the caller then logs the count).
    #[test]
    fn a_burst_is_admitted_up_to_the_budget_then_counted() {
        let b = LineBudget::new();
        let admitted: Vec<bool> = (0..PER_SECOND * 3).map(|_| b.admit_at(100).0).collect();
        assert!(admitted[..PER_SECOND as usize].iter().all(|a| *a));
        assert!(admitted[PER_SECOND as usize..].iter().all(|a| !*a));
        assert_eq!(b.admit_at(101), (true, true), "a new second, a new budget");
        assert_eq!(b.take_refused(), PER_SECOND * 2);
        assert_eq!(b.take_refused(), 0, "counted once");
        assert_eq!(b.admit_at(101), (true, false));
    }
}
