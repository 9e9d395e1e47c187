//! The view-model: everything the panels show, as plain data, and the reducers that fill it. No egui
//! here. Filled from events (drained each frame, [`events`]), from the backend's replies ([`replies`])
//! and from the periodic broker reading ([`snapshot`]); bounded everywhere (rings, capped series).
//!
//! Split by concern: this file holds the [`Model`] and its queries; `events`, `replies` and `snapshot`
//! are the three reducers; `rates` the messages/s maths, `seen` what the console remembers of each
//! device across broker restarts, `streams` one datastream's values, `series` the plotted points, and
//! `packets` the traffic log.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use crate::config::Config;
use crate::onenet::commands::Command;
use crate::onenet::diagnostics::Diagnostic;
use crate::onenet::registry::{Device, Product};
use crate::service::api::{QueuedInfo, RetainedInfo, SessionInfo};
use crate::ui::actions::Tab;
use crate::ui::prefs::Prefs;

mod events;
pub mod packets;
mod rates;
mod replies;
mod seen;
pub mod series;
mod snapshot;
mod streams;
#[cfg(test)]
mod tests;

pub use events::topic_group;
pub use packets::{TRAFFIC_CAP, Traffic};
pub use rates::{RATE_WINDOW, Rates};
pub use replies::Reply;
pub use seen::Seen;
pub use snapshot::Snapshot;
pub use streams::StreamState;

/// Notices kept.
const NOTICE_KEEP: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub enum BrokerState {
    Starting,
    Running {
        addr: SocketAddr,
        since: Instant,
    },
    Stopped,
    /// A start, stop or restart is under way: what it is doing now, and since when the broker had been
    /// running (kept when it goes on serving with its old settings).
    Busy {
        step: String,
        was_running_since: Option<Instant>,
    },
    /// Why it did not start (port in use, database locked …).
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub id: u64,
    pub level: Level,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExportState {
    pub done: u64,
    pub total: u64,
}

#[derive(Debug)]
pub struct Model {
    pub broker: BrokerState,
    /// The config the broker runs (or last ran) with.
    pub config: Config,
    pub prefs: Prefs,
    pub lan: Vec<Ipv4Addr>,
    /// Offset of this computer's clock from UTC, if known.
    pub system_offset: Option<i32>,
    pub tab: Tab,
    pub selected: Option<String>,
    pub sessions: Vec<SessionInfo>,
    pub products: Vec<Product>,
    pub devices: Vec<Device>,
    pub retained: std::sync::Arc<Vec<RetainedInfo>>,
    /// Retained messages the broker did not keep, its retained messages being at their bound (metrics).
    pub retained_refused: u64,
    /// QoS 0 deliveries the broker dropped since it started, their subscriber's connection having too
    /// much output waiting (metrics; per device in `SessionInfo::dropped_qos0`).
    pub qos0_dropped: u64,
    pub db_bytes: u64,
    pub rates: Rates,
    /// (wall-clock Unix seconds, rates) for the overview chart.
    pub rate_history: VecDeque<(f64, Rates)>,
    /// Metrics readings of the last [`RATE_WINDOW`], the rates' source.
    meter: rates::RateMeter,
    pub started: Instant,
    /// Unix ms when the console started: devices auto-registered since are highlighted.
    pub started_ms: i64,
    pub queues: HashMap<String, Vec<QueuedInfo>>,
    pub diagnostics: HashMap<String, VecDeque<Diagnostic>>,
    pub warnings_total: u64,
    pub traffic: Traffic,
    /// Messages per topic: (in from devices, out to subscribers).
    pub topic_counts: BTreeMap<String, (u64, u64)>,
    pub streams: BTreeMap<String, BTreeMap<String, StreamState>>,
    /// Per device, newest first.
    pub commands: HashMap<String, Vec<Command>>,
    /// The uuid of the last command sent from the composer.
    pub last_sent: Option<String>,
    /// Why the store cannot save right now (disk full …), shown in the status bar until it recovers.
    pub store_error: Option<String>,
    pub notices: VecDeque<Notice>,
    next_notice: u64,
    pub export: Option<ExportState>,
    /// What the console saw of each device, kept when its session goes (disconnect, broker restart):
    /// last seen, message counts (summed across broker restarts, whose counters start at 0), keepalive.
    pub seen: HashMap<String, Seen>,
    /// Where the HTTP API listens (None: off), or why it does not although it is on.
    pub http: Result<Option<SocketAddr>, String>,
    /// The last add of a product or device: (a counter, its outcome).
    pub add_outcome: Option<(u64, Result<String, String>)>,
    /// Device id → its name, for the pickers (rebuilt when the registry is read, so a frame never scans
    /// the device list to name one device).
    names: HashMap<String, String>,
}

impl Model {
    pub fn new(config: Config, prefs: Prefs) -> Model {
        Model {
            broker: BrokerState::Starting,
            config,
            prefs,
            lan: Vec::new(),
            system_offset: None,
            tab: Tab::Overview,
            selected: None,
            sessions: Vec::new(),
            products: Vec::new(),
            devices: Vec::new(),
            retained: std::sync::Arc::default(),
            retained_refused: 0,
            qos0_dropped: 0,
            db_bytes: 0,
            rates: Rates::default(),
            rate_history: VecDeque::new(),
            meter: rates::RateMeter::default(),
            started: Instant::now(),
            started_ms: crate::ui::format::now_ms(),
            queues: HashMap::new(),
            diagnostics: HashMap::new(),
            warnings_total: 0,
            traffic: Traffic::new(TRAFFIC_CAP),
            topic_counts: BTreeMap::new(),
            streams: BTreeMap::new(),
            commands: HashMap::new(),
            last_sent: None,
            store_error: None,
            notices: VecDeque::new(),
            next_notice: 1,
            export: None,
            add_outcome: None,
            seen: HashMap::new(),
            http: Ok(None),
            names: HashMap::new(),
        }
    }

    /// How pickers name a device: "温湿度传感器 (9277)", or the id alone when it has no name of its own.
    pub fn device_label(&self, id: &str) -> String {
        match self.device_name(id) {
            Some(n) => format!("{n} ({id})"),
            None => id.to_string(),
        }
    }

    /// The device's name, if it has one of its own (not empty, not its id, not the store's default
    /// "device <id>").
    pub fn device_name(&self, id: &str) -> Option<&str> {
        self.names
            .get(id)
            .map(String::as_str)
            .filter(|n| !n.is_empty() && *n != id && n.strip_prefix("device ") != Some(id))
    }

    /// Takes a new device list (a poll, or a test's fixture) and the names the pickers show.
    pub fn set_devices(&mut self, devices: Vec<Device>) {
        self.names = devices
            .iter()
            .map(|d| (d.id.clone(), d.name.clone()))
            .collect();
        self.devices = devices;
    }

    /// Offset times are shown at.
    pub fn offset(&self) -> i32 {
        self.prefs.display_offset(self.system_offset)
    }

    pub fn notify(&mut self, level: Level, text: impl Into<String>) {
        if self.notices.len() == NOTICE_KEEP {
            self.notices.pop_front();
        }
        self.notices.push_back(Notice {
            id: self.next_notice,
            level,
            text: text.into(),
        });
        self.next_notice += 1;
    }

    pub fn is_running(&self) -> bool {
        matches!(self.broker, BrokerState::Running { .. })
    }

    /// A start, stop or restart is under way.
    pub fn is_busy(&self) -> bool {
        matches!(self.broker, BrokerState::Busy { .. })
    }

    pub fn session(&self, client: &str) -> Option<&SessionInfo> {
        self.sessions.iter().find(|s| s.client_id == client)
    }

    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.id == id)
    }

    pub fn is_online(&self, client: &str) -> bool {
        self.session(client).is_some_and(|s| s.online)
    }

    pub fn online_count(&self) -> usize {
        self.sessions.iter().filter(|s| s.online).count()
    }

    /// Devices as the Devices panel lists them: registered ones and clients with a session that are
    /// not registered (anonymous clients of the `mqtt` profile), so "online n/total" matches its rows.
    pub fn device_total(&self) -> usize {
        let registered: std::collections::HashSet<&str> =
            self.devices.iter().map(|d| d.id.as_str()).collect();
        self.devices.len()
            + self
                .sessions
                .iter()
                .filter(|s| !registered.contains(s.client_id.as_str()))
                .count()
    }

    /// Device ids for pickers: online ones first, then by id.
    pub fn device_ids_online_first(&self) -> Vec<(String, bool)> {
        let mut v: Vec<(String, bool)> = self
            .devices
            .iter()
            .map(|d| (d.id.clone(), self.is_online(&d.id)))
            .collect();
        for s in &self.sessions {
            if !v.iter().any(|(id, _)| *id == s.client_id) {
                v.push((s.client_id.clone(), s.online));
            }
        }
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// A device registered automatically since the console started.
    pub fn is_new_auto(&self, d: &Device) -> bool {
        d.auto_registered && d.created_at >= self.started_ms
    }

    pub fn command(&self, uuid: &str) -> Option<&Command> {
        self.commands.values().flatten().find(|c| c.uuid == uuid)
    }
}
