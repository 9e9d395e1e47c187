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
use crate::service::api::RetainedInfo;
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
            let mut retained = RetainedCache::default();
            loop {
                let asked = tokio::select! {
                    _ = tokio::time::sleep(POLL_EVERY) => false,
                    _ = shared.now.notified() => true,
                };
                let service = shared.service.lock().ok().and_then(|s| s.clone());
                let Some(s) = service else {
                    last = None;
                    retained = RetainedCache::default();
                    continue;
                };
                match read(&s, &mut retained, asked).await {
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

/// The retained messages as last read: of which service, at which change count.
#[derive(Default)]
struct RetainedCache {
    seen: Option<(ServiceHandle, u64, Arc<Vec<RetainedInfo>>)>,
}

impl RetainedCache {
    /// The list: the one read last while it is the same service and the broker counts no change since
    /// (`Metrics::retained_changes`), read afresh otherwise, and whenever `fresh` (a reading asked for).
    /// Listing takes the router one turn per message it keeps (100,000 of 100 B: 15 ms, during which
    /// nothing is routed), every second, for a list that seldom changes. A restarted broker counts from
    /// its own start, so the count alone could match another service's; a read the broker did not
    /// answer (it was stopping) is not kept.
    async fn get(
        &mut self,
        s: &ServiceHandle,
        changes: u64,
        fresh: bool,
    ) -> Arc<Vec<RetainedInfo>> {
        if let Some((svc, n, list)) = &self.seen
            && !fresh
            && svc.same(s)
            && *n == changes
        {
            return list.clone();
        }
        // Counted before the read: a change during it is a new count, read again next time.
        match s.try_retained().await {
            Some(list) => {
                let list = Arc::new(list);
                self.seen = Some((s.clone(), changes, list.clone()));
                list
            }
            None => {
                self.seen = None;
                Arc::default()
            }
        }
    }
}

/// One reading of the broker; `fresh`: asked for (Refresh, a registry change), nothing cached is used.
async fn read(
    s: &ServiceHandle,
    cache: &mut RetainedCache,
    fresh: bool,
) -> Result<Snapshot, String> {
    let sessions = s.sessions().await;
    let metrics = s.metrics();
    let retained = cache.get(s, metrics.retained_changes, fresh).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A broker of the `mqtt` profile on a port of its own, in `dir`.
    async fn broker(dir: &std::path::Path) -> ServiceHandle {
        let mut cfg = crate::config::Config::new(dir.to_path_buf());
        cfg.mqtt_addr = "127.0.0.1:0".parse().unwrap();
        cfg.profile = crate::config::Profile::Mqtt;
        crate::start(cfg).await.unwrap()
    }

    /// A device retains `payload` on `topic` (QoS 1); returns once it is acknowledged, so routed.
    async fn retain(s: &ServiceHandle, topic: &str, payload: &'static [u8]) {
        use crate::mqtt::{Connect, Packet, Pid, Publish, QoS, TopicName};
        let mut c = tokio::net::TcpStream::connect(s.mqtt_addr()).await.unwrap();
        let mut b = bytes::BytesMut::new();
        let connect = Connect {
            protocol_name: "MQTT".into(),
            level: 4,
            clean_session: true,
            keep_alive: 60,
            client_id: "dev".into(),
            will: None,
            username: None,
            password: None,
        };
        Packet::Connect(Box::new(connect)).encode(&mut b).unwrap();
        let topic = TopicName::new(topic).unwrap();
        let payload = bytes::Bytes::from_static(payload);
        let mut p = Publish::new(topic, QoS::AtLeastOnce, Pid::new(1).unwrap(), payload);
        p.retain = true;
        Packet::Publish(p).encode(&mut b).unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut c, &b)
            .await
            .unwrap();
        // CONNACK and PUBACK, 4 bytes each.
        let mut acks = [0u8; 8];
        tokio::io::AsyncReadExt::read_exact(&mut c, &mut acks)
            .await
            .unwrap();
    }

    fn topics(l: &[RetainedInfo]) -> Vec<&str> {
        l.iter().map(|r| r.topic.as_str()).collect()
    }

    /// While the broker counts no change to its retained messages, a reading hands on the list it read
    /// last (the same allocation: the router was not asked); a change, a reading asked for, or another
    /// broker (a restart counts from zero again) make it ask; a broker that did not answer is not cached.
    #[tokio::test]
    async fn the_retained_list_is_read_again_only_when_it_may_have_changed() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let s = broker(d1.path()).await;
        let mut cache = RetainedCache::default();
        let first = read(&s, &mut cache, false).await.unwrap().retained;
        let again = read(&s, &mut cache, false).await.unwrap().retained;
        assert!(Arc::ptr_eq(&first, &again), "no change: the same list");
        let asked = read(&s, &mut cache, true).await.unwrap().retained;
        assert!(!Arc::ptr_eq(&again, &asked), "asked for: read again");

        retain(&s, "lab/one", b"on").await;
        let after = read(&s, &mut cache, false).await.unwrap().retained;
        assert_eq!(topics(&after), vec!["lab/one"], "a change: read again");
        assert_eq!(after[0].payload.as_ref(), b"on");

        // Another broker whose count is the same (one change): its own list, not the cached one.
        let s2 = broker(d2.path()).await;
        retain(&s2, "lab/two", b"on").await;
        assert_eq!(s2.metrics().retained_changes, s.metrics().retained_changes);
        let other = read(&s2, &mut cache, false).await.unwrap().retained;
        assert_eq!(topics(&other), vec!["lab/two"]);

        // A stopped broker answers nothing: that empty list is not kept for it.
        s.shutdown().await;
        let mut cache = RetainedCache::default();
        assert!(cache.get(&s, 1, false).await.is_empty());
        assert!(cache.seen.is_none(), "not cached");
        s2.shutdown().await;
    }
}
