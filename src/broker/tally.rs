//! Counts of something that happens often (a dropped message, a refused retained message), reported as
//! summaries: at most one report per interval, carrying what was counted since the last one, instead of a
//! log line or diagnostic per event.

/// Reports at most this often per tally (Unix ms).
pub(crate) const REPORT_EVERY_MS: i64 = 10_000;

/// Events counted since the last report, and when that report was.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tally {
    unreported: u64,
    reported_at: i64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            unreported: 0,
            // Never reported: the first event is reported at once.
            reported_at: i64::MIN,
        }
    }
}

impl Tally {
    pub fn add(&mut self, n: u64) {
        self.unreported += n;
    }

    /// Counted and not reported yet.
    #[cfg(test)]
    pub fn unreported(&self) -> u64 {
        self.unreported
    }

    /// What to report now, if anything: the count since the last report, when there is one and the last
    /// report is at least [`REPORT_EVERY_MS`] old (or `force`); it then counts from zero again.
    pub fn due(&mut self, now: i64, force: bool) -> Option<u64> {
        if self.unreported == 0
            || (!force && now.saturating_sub(self.reported_at) < REPORT_EVERY_MS)
        {
            return None;
        }
        self.reported_at = now;
        Some(std::mem::take(&mut self.unreported))
    }

    /// When what is counted and not reported may be reported (Unix ms), if anything is. The router
    /// reports then even if nothing more is counted, so a burst's last interval is not left unreported
    /// until the next event, which may never come (`Router::log_due_drops` for a session's dropped
    /// messages, `Router::report_due_refusals` for a publisher's refused retained messages).
    pub fn due_at(&self) -> Option<i64> {
        (self.unreported > 0).then(|| self.reported_at.saturating_add(REPORT_EVERY_MS))
    }

    /// Nothing counted and nothing reported within the interval: forgetting it loses nothing.
    pub fn idle(&self, now: i64) -> bool {
        self.unreported == 0 && now.saturating_sub(self.reported_at) >= REPORT_EVERY_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_is_reported_at_once_then_one_summary_per_interval() {
        let mut t = Tally::default();
        assert_eq!(t.due(0, false), None, "nothing counted");
        t.add(1);
        assert_eq!(t.due(0, false), Some(1));
        t.add(3);
        assert_eq!(t.due(REPORT_EVERY_MS - 1, false), None);
        assert_eq!(t.unreported(), 3);
        assert_eq!(t.due(REPORT_EVERY_MS, false), Some(3));
        t.add(2);
        assert_eq!(t.due(REPORT_EVERY_MS + 1, true), Some(2), "forced");
        assert!(!t.idle(REPORT_EVERY_MS + 2));
        assert!(t.idle(2 * REPORT_EVERY_MS + 1));
    }
}
