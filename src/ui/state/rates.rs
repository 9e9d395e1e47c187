//! Messages/s and datapoints/s for the Overview: computed from the broker's metrics readings over a
//! sliding window, so one reading a second does not make a 0↔1 comb of single messages.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::metrics::MetricsSnapshot;

/// Rates are averaged over this much time.
pub const RATE_WINDOW: Duration = Duration::from_secs(5);
/// Rate samples kept for the Overview's chart (one per poll, about 5 minutes).
pub(super) const RATE_KEEP: usize = 300;
/// Readings kept at most, whatever their times (a poll a second keeps about 6).
const READINGS_KEEP: usize = 64;

/// Messages/s and datapoints/s from two metrics readings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub msg_in: f64,
    pub msg_out: f64,
    pub dp: f64,
}

/// The metrics readings of the last [`RATE_WINDOW`] (bounded by it, and by [`READINGS_KEEP`]).
#[derive(Debug, Default)]
pub(super) struct RateMeter {
    readings: VecDeque<(Instant, MetricsSnapshot)>,
}

impl RateMeter {
    /// Takes a reading made at `now`; the rates per second over the window, or None until the window
    /// spans at least a second (no spike from a short first interval). The readings start over when the
    /// counters go down (the broker restarted).
    pub(super) fn take(&mut self, m: MetricsSnapshot, now: Instant) -> Option<Rates> {
        let readings = &mut self.readings;
        if readings.back().is_some_and(|(_, prev)| {
            m.publishes_in < prev.publishes_in
                || m.publishes_out < prev.publishes_out
                || m.datapoints < prev.datapoints
        }) {
            readings.clear();
        }
        if readings.back().is_none_or(|(t, _)| now > *t) {
            readings.push_back((now, m));
        }
        // Keep the newest reading at least RATE_WINDOW old (the window's start) and those after it.
        while readings.len() > READINGS_KEEP
            || (readings.len() > 2
                && readings
                    .get(1)
                    .is_some_and(|(t, _)| now.saturating_duration_since(*t) >= RATE_WINDOW))
        {
            readings.pop_front();
        }
        let ((t0, first), (t1, last)) = (readings.front()?, readings.back()?);
        let dt = t1.duration_since(*t0).as_secs_f64();
        if dt < 1.0 {
            return None;
        }
        let d = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
        Some(Rates {
            msg_in: d(last.publishes_in, first.publishes_in),
            msg_out: d(last.publishes_out, first.publishes_out),
            dp: d(last.datapoints, first.datapoints),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(publishes_in: u64, datapoints: u64) -> MetricsSnapshot {
        MetricsSnapshot {
            publishes_in,
            datapoints,
            ..Default::default()
        }
    }

    #[test]
    fn rates_come_from_the_window_and_start_over_after_a_restart() {
        let mut meter = RateMeter::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(
            meter.take(reading(0, 0), at(0)),
            None,
            "one reading: no rate"
        );
        let r = meter.take(reading(500, 1000), at(2)).unwrap();
        assert_eq!((r.msg_in, r.dp), (250.0, 500.0));
        // Ten seconds on at a steady 100/s: the rate covers the last window, not the first interval.
        for s in 3..=12 {
            meter.take(reading(500 + 100 * (s - 2), 1000), at(s));
        }
        let r = meter.take(reading(1600, 1000), at(13)).unwrap();
        assert_eq!(r.msg_in, 100.0);
        assert!(meter.readings.len() <= 7, "{}", meter.readings.len());
        // The counters went down: the broker restarted, the readings start over.
        assert_eq!(meter.take(reading(3, 0), at(14)), None);
    }
}
