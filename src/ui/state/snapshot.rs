//! The periodic reading of the broker (sessions, registry, retained, metrics, stored device totals) and
//! the reducer that takes it into the [`Model`]: the lists are replaced, rates and device totals
//! accumulate.

use std::sync::Arc;
use std::time::Instant;

use crate::metrics::MetricsSnapshot;
use crate::onenet::registry::{Device, Product};
use crate::service::api::{RetainedInfo, SessionInfo};
use crate::ui::state::Model;
use crate::ui::state::rates::RATE_KEEP;

/// A periodic reading of the broker.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Snapshot {
    pub sessions: Vec<SessionInfo>,
    pub products: Vec<Product>,
    pub devices: Vec<Device>,
    /// Shared: the poller reads the list again only when the retained messages changed
    /// (`Metrics::retained_changes`), and hands on the same list until then.
    pub retained: Arc<Vec<RetainedInfo>>,
    pub db_bytes: u64,
    pub metrics: MetricsSnapshot,
    /// What the store kept of each client (totals, last seen, keepalive): devices offline or not seen
    /// since the console or broker restarted.
    pub device_stats: Vec<crate::service::api::DeviceStats>,
}

impl Model {
    /// Takes a poll result; `now` is when it arrived. Rates are per second over the last
    /// [`crate::ui::state::RATE_WINDOW`] of readings (see `rates`).
    pub fn apply_snapshot(&mut self, s: Snapshot, now: Instant) {
        if let Some(rates) = self.meter.take(s.metrics, now) {
            self.rates = rates;
            if self.rate_history.len() == RATE_KEEP {
                self.rate_history.pop_front();
            }
            let wall = self.started_ms as f64 / 1000.0
                + now.saturating_duration_since(self.started).as_secs_f64();
            self.rate_history.push_back((wall, rates));
        }
        for x in &s.device_stats {
            self.seen
                .entry(x.client_id.clone())
                .or_default()
                .take_stored(x);
        }
        for x in &s.sessions {
            self.seen.entry(x.client_id.clone()).or_default().take(x);
        }
        self.sessions = s.sessions;
        self.products = s.products;
        if self.devices != s.devices || self.names.len() != s.devices.len() {
            self.set_devices(s.devices);
        }
        self.retained = s.retained;
        self.retained_refused = s.metrics.retained_refused;
        self.qos0_dropped = s.metrics.qos0_dropped;
        self.db_bytes = s.db_bytes;
        if !self.sessions.is_empty() {
            self.warnings_total = self
                .warnings_total
                .max(self.sessions.iter().map(|s| s.warnings).sum());
        }
    }
}
