//! Counters the console turns into rates (messages/s, datapoints/s). Relaxed atomics: each is bumped by
//! the task that sees the event, read by whoever asks; no lock, no ordering needed between them.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub publishes_in: AtomicU64,
    pub publishes_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub datapoints: AtomicU64,
    pub connections: AtomicU64,
    /// QoS 0 deliveries dropped because the subscriber's connection had too much output waiting.
    pub qos0_dropped: AtomicU64,
    /// Retained messages not kept because the retained store was at `limits.max_retained_messages` or
    /// `limits.max_retained_bytes` (each was still delivered to the topic's subscribers).
    pub retained_refused: AtomicU64,
    /// Changes to the retained messages (kept, replaced, cleared): a reader that saw the same number
    /// last time has the same list, and need not ask the router for it again.
    pub retained_changes: AtomicU64,
}

/// A reading of [`Metrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MetricsSnapshot {
    pub publishes_in: u64,
    pub publishes_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub datapoints: u64,
    /// Connections open now (authenticated).
    pub connections: u64,
    pub qos0_dropped: u64,
    pub retained_refused: u64,
    pub retained_changes: u64,
}

impl Metrics {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            publishes_in: r(&self.publishes_in),
            publishes_out: r(&self.publishes_out),
            bytes_in: r(&self.bytes_in),
            bytes_out: r(&self.bytes_out),
            datapoints: r(&self.datapoints),
            connections: r(&self.connections),
            qos0_dropped: r(&self.qos0_dropped),
            retained_refused: r(&self.retained_refused),
            retained_changes: r(&self.retained_changes),
        }
    }
}
