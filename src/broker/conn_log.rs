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

/// The second (Unix time) being counted.
static WINDOW: AtomicU64 = AtomicU64::new(0);
/// Lines logged in `WINDOW`.
static LOGGED: AtomicU64 = AtomicU64::new(0);
/// Lines sent to `debug` since the last summary.
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);

/// True when the caller should log its line at `info`; false: log it at `debug` (it was counted).
pub(crate) fn admit() -> bool {
    let now = (crate::store::now_millis() / 1000).max(0) as u64;
    let window = WINDOW.load(Ordering::Relaxed);
    if now != window
        && WINDOW
            .compare_exchange(window, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        LOGGED.store(0, Ordering::Relaxed);
        flush();
    }
    if LOGGED.fetch_add(1, Ordering::Relaxed) < PER_SECOND {
        true
    } else {
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
        false
    }
}

/// Logs how many connection lines went to `debug` since the last summary, if any.
pub(crate) fn flush() {
    let n = SUPPRESSED.swap(0, Ordering::Relaxed);
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
    /// counted, and the count is handed out once. (Other tests in this process may log connections too,
    /// so this reads the counters in a loop until a whole burst fits in one second.)
    #[test]
    fn a_burst_is_admitted_up_to_the_budget_then_counted() {
        for _ in 0..100 {
            let start = crate::store::now_millis() / 1000;
            // A fresh window: wait for the next second so the burst starts with a full budget.
            while crate::store::now_millis() / 1000 == start {
                std::thread::yield_now();
            }
            let admitted = (0..PER_SECOND * 3).filter(|_| admit()).count() as u64;
            let suppressed = SUPPRESSED.load(Ordering::Relaxed);
            if crate::store::now_millis() / 1000 != start + 1 {
                continue; // the burst crossed a second: try again
            }
            assert!(admitted <= PER_SECOND, "{admitted} admitted in one second");
            assert!(suppressed >= PER_SECOND * 3 - admitted);
            flush();
            return;
        }
        panic!("no burst fitted in one second");
    }
}
