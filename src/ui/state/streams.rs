//! One datastream as the console knows it: its latest value and count, and for streams open in the
//! Datapoints panel, the plotted series and the recent non-numeric values (both bounded).

use std::collections::VecDeque;

use crate::onenet::datapoint::DpValue;
use crate::store::StoredDatapoint;
use crate::ui::state::series::Series;

/// Non-numeric values kept per open stream.
const RECENT_KEEP: usize = 1000;

/// One datastream as the console knows it.
#[derive(Debug, Clone, Default)]
pub struct StreamState {
    pub latest: Option<(i64, DpValue)>,
    /// Points stored (from the store's summary plus those seen since).
    pub count: u64,
    /// Open in the Datapoints panel: history loaded, live points kept.
    pub open: bool,
    pub loading: bool,
    /// Numeric points (open streams only).
    pub series: Series,
    /// Non-numeric values, newest last (open streams only); with a field plotted, every value (the
    /// table shows the objects the field came from).
    pub recent: VecDeque<(i64, DpValue)>,
    /// The field of JSON-object values plotted ("pos.x"), from the prefs.
    pub field: Option<String>,
}

impl StreamState {
    /// A number when the value reads as one (floats, JSON numbers, numeric text).
    pub fn numeric(v: &DpValue) -> Option<f64> {
        match v {
            DpValue::Float(f) => Some(*f as f64),
            DpValue::Json(j) => j.as_f64(),
            DpValue::Text(t) => t.trim().parse().ok(),
            DpValue::Binary { .. } => None,
        }
        .filter(|f: &f64| f.is_finite())
    }

    pub fn is_numeric(&self) -> bool {
        self.latest.as_ref().is_some_and(|(_, v)| {
            crate::ui::json_fields::value_at(v, self.field.as_deref()).is_some()
        })
    }

    /// Takes the field plotted for this stream (from the prefs) when it has none yet.
    pub(super) fn take_field(&mut self, field: Option<&String>) {
        if self.field.is_none() && field.is_some() {
            self.field = field.cloned();
        }
    }

    pub(super) fn add(&mut self, at: i64, v: &DpValue) {
        self.count += 1;
        if self.latest.as_ref().is_none_or(|(t, _)| at >= *t) {
            self.latest = Some((at, v.clone()));
        }
        if self.open {
            let x = crate::ui::json_fields::value_at(v, self.field.as_deref());
            if let Some(x) = x {
                self.series.push(at as f64 / 1000.0, x);
            }
            if x.is_none() || self.field.is_some() {
                if self.recent.len() == RECENT_KEEP {
                    self.recent.pop_front();
                }
                self.recent.push_back((at, v.clone()));
            }
        }
    }

    /// Takes the stored history of an open stream: live points that arrived while it loaded are kept,
    /// history points are merged in time order (the recent values stay bounded).
    pub(super) fn merge_history(&mut self, points: Vec<StoredDatapoint>) {
        self.loading = false;
        for p in points {
            if self.latest.is_none() {
                self.latest = Some((p.at, p.value.clone()));
            }
            let x = crate::ui::json_fields::value_at(&p.value, self.field.as_deref());
            if let Some(x) = x {
                self.series.push(p.at as f64 / 1000.0, x);
            }
            if x.is_none() || self.field.is_some() {
                let pos = self.recent.partition_point(|(t, _)| *t <= p.at);
                self.recent.insert(pos, (p.at, p.value));
                if self.recent.len() > RECENT_KEEP {
                    self.recent.pop_front();
                }
            }
        }
    }
}
