//! What wakes an idle window. The console draws a frame only when something it shows changed: an event
//! from the broker (a packet, a datapoint, a connection …), a broker reading that differs from the last
//! one, a reply of the backend, or a clock it shows (the app asks for those). Nothing repaints on a timer
//! when nothing happens.
//!
//! The poller reads the broker (sessions, registry, retained, metrics) every [`POLL_EVERY`] on the
//! runtime, not from frames: it keeps only the newest reading for the next frame (one slot) and wakes the
//! window only when the reading differs from the previous one or was asked for.

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::events::EventReceiver;
use crate::service::ServiceHandle;
use crate::ui::actions::Tab;
use crate::ui::state::{Model, Reply, Snapshot};

/// How often the broker is read for sessions, registry, retained messages and metrics.
pub const POLL_EVERY: Duration = Duration::from_millis(1000);
/// Least time between two wake-ups for events: a flood wakes the window at most this often (each frame
/// drains what arrived meanwhile).
const WAKE_GAP: Duration = Duration::from_millis(16);

#[derive(Default)]
struct Shared {
    service: Mutex<Option<ServiceHandle>>,
    /// The newest reading not yet taken by a frame, and when it was taken from the broker.
    latest: Mutex<Option<(Instant, Box<Snapshot>)>>,
    /// A reading asked for now (Refresh, a registry change).
    now: tokio::sync::Notify,
}

/// The broker reader (see the module doc). Cheap to clone.
#[derive(Clone, Default)]
pub struct Poller {
    shared: Arc<Shared>,
}

impl Poller {
    /// Starts reading on `rt` for as long as the runtime runs.
    pub fn start(
        rt: &tokio::runtime::Runtime,
        ctx: egui::Context,
        tx: mpsc::Sender<Reply>,
    ) -> Self {
        let p = Poller::default();
        let shared = p.shared.clone();
        rt.spawn(async move {
            let mut last: Option<Box<Snapshot>> = None;
            let mut last_error: Option<String> = None;
            loop {
                let asked = tokio::select! {
                    _ = tokio::time::sleep(POLL_EVERY) => false,
                    _ = shared.now.notified() => true,
                };
                let service = shared.service.lock().ok().and_then(|s| s.clone());
                let Some(s) = service else {
                    last = None;
                    continue;
                };
                match read(&s).await {
                    Ok(snap) => {
                        last_error = None;
                        let changed = last.as_deref() != Some(&snap);
                        if changed || asked {
                            last = Some(Box::new(snap.clone()));
                            if let Ok(mut l) = shared.latest.lock() {
                                *l = Some((Instant::now(), Box::new(snap)));
                            }
                            ctx.request_repaint();
                        } else if let Ok(mut l) = shared.latest.lock() {
                            // Unchanged: kept for the next frame (rates), without waking the window.
                            *l = Some((Instant::now(), Box::new(snap)));
                        }
                    }
                    // Said once, not every second while it lasts.
                    Err(e) if last_error.as_ref() != Some(&e) => {
                        last_error = Some(e.clone());
                        let _ = tx.send(Reply::Error(e));
                        ctx.request_repaint();
                    }
                    Err(_) => {}
                }
            }
        });
        p
    }

    /// The service to read (None while stopped).
    pub fn set_service(&self, s: Option<ServiceHandle>) {
        if let Ok(mut l) = self.shared.service.lock() {
            *l = s;
        }
    }

    /// Reads the broker now (and wakes the window with the result).
    pub fn poll_now(&self) {
        self.shared.now.notify_one();
    }

    /// The newest reading not yet taken, with when it was read.
    pub fn take(&self) -> Option<(Instant, Box<Snapshot>)> {
        self.shared.latest.lock().ok().and_then(|mut l| l.take())
    }
}

/// One reading of the broker.
async fn read(s: &ServiceHandle) -> Result<Snapshot, String> {
    let sessions = s.sessions().await;
    let retained = s.retained().await;
    let metrics = s.metrics();
    let r = s
        .registry_snapshot()
        .await
        .map_err(|e| format!("Cannot read the registry: {e}"))?;
    Ok(Snapshot {
        sessions,
        products: r.products,
        devices: r.devices,
        retained,
        db_bytes: r.db_bytes,
        metrics,
        device_stats: r.device_stats,
    })
}

/// Wakes the window when the broker sends events (at most once per [`WAKE_GAP`]); ends with the service.
/// The frame drains the events from its own receiver; this one only counts as a doorbell.
pub fn wake_on_events(rt: &tokio::runtime::Runtime, ctx: egui::Context, mut rx: EventReceiver) {
    rt.spawn(async move {
        while rx.recv().await.is_some() {
            ctx.request_repaint();
            tokio::time::sleep(WAKE_GAP).await;
            // What came during the gap: one more wake-up covers it (bounded by the event buffer).
            let mut more = false;
            while rx.try_recv().is_some() {
                more = true;
            }
            if more {
                ctx.request_repaint();
            }
        }
    });
}

/// When a clock the window shows next changes: the status bar's uptime; each second on the panels that
/// show running times (Overview's uptime and chart, ages in Devices and Offline, a live plot in
/// Datapoints). None: nothing shown changes by itself.
pub fn clock_due(m: &Model) -> Option<Duration> {
    let panel = match m.tab {
        Tab::Overview | Tab::Devices | Tab::Offline => Some(Duration::from_secs(1)),
        Tab::Datapoints
            if m.streams
                .values()
                .any(|d| d.values().any(|s| s.open && !s.series.is_empty())) =>
        {
            Some(Duration::from_secs(1))
        }
        _ => None,
    };
    match (panel, crate::ui::panels::overview::status_clock_due(m)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
