//! The view-model: everything the panels show, as plain data. Filled from events (drained each frame)
//! and from the backend's replies; bounded everywhere (rings, capped series). No egui here.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use crate::config::Config;
use crate::events::{Event, Received};
use crate::metrics::MetricsSnapshot;
use crate::onenet::commands::{Command, CommandStatus};
use crate::onenet::datapoint::DpValue;
use crate::onenet::diagnostics::Diagnostic;
use crate::onenet::registry::{Device, Product};
use crate::service::api::{QueuedInfo, RetainedInfo, SessionInfo};
use crate::service::api::{StoredDatapoint, StreamSummary};
use crate::ui::actions::Tab;
use crate::ui::packets::{TRAFFIC_CAP, Traffic};
use crate::ui::prefs::Prefs;
use crate::ui::series::Series;

/// Diagnostics kept per device in the console.
const DIAG_KEEP: usize = 200;
/// Non-numeric values kept per open stream.
const RECENT_KEEP: usize = 1000;
/// Rate samples kept (one per poll, about 5 minutes).
const RATE_KEEP: usize = 300;
/// Rates are averaged over this much time.
pub const RATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(5);
/// Notices kept.
const NOTICE_KEEP: usize = 20;

/// The row of "messages per topic" a topic is counted in: each command's `$creq/<uuid>` and
/// `$crsp/<uuid>` in one row per kind (a row per uuid would grow without bound and say nothing).
pub fn topic_group(topic: &str) -> String {
    for kind in ["$creq/", "$crsp/"] {
        if topic.starts_with(kind) {
            return format!("{kind}+");
        }
    }
    topic.to_string()
}

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
    fn take_field(&mut self, field: Option<&String>) {
        if self.field.is_none() && field.is_some() {
            self.field = field.cloned();
        }
    }

    fn add(&mut self, at: i64, v: &DpValue) {
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
}

/// Messages/s and datapoints/s from two metrics readings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub msg_in: f64,
    pub msg_out: f64,
    pub dp: f64,
}

/// Results of the backend's work.
#[derive(Debug)]
pub enum Reply {
    BrokerStarted {
        addr: SocketAddr,
        config: Box<Config>,
        /// Where the HTTP API listens, or why it does not although it is on.
        http: Result<Option<SocketAddr>, String>,
    },
    /// Settings applied while the broker runs (no restart) and saved: the config now in effect.
    ConfigApplied(Box<Config>),
    BrokerFailed(String),
    BrokerStopped,
    /// A step of a start, stop or restart under way.
    BrokerProgress(String),
    /// New settings could not be used (`error`); the broker goes on serving on `addr` with its old ones.
    BrokerKept {
        addr: SocketAddr,
        error: String,
    },
    Snapshot(Box<Snapshot>),
    Detail {
        client: String,
        queue: Vec<QueuedInfo>,
        diagnostics: Vec<Diagnostic>,
    },
    Streams {
        device: String,
        streams: Vec<StreamSummary>,
    },
    History {
        device: String,
        stream: String,
        points: Vec<StoredDatapoint>,
    },
    CommandSent(Result<Command, String>),
    CommandHistory {
        device: String,
        commands: Vec<Command>,
    },
    ExportProgress {
        done: u64,
        total: u64,
    },
    ExportDone(Result<String, String>),
    Info(String),
    Error(String),
    /// The system file dialog answered (None: cancelled or not available).
    Picked(Option<std::path::PathBuf>),
    /// The outcome of adding a product or device (the form keeps its input when it failed).
    Added(Result<String, String>),
    /// The registry changed: poll again.
    RegistryChanged,
}

/// A periodic reading of the broker.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Snapshot {
    pub sessions: Vec<SessionInfo>,
    pub products: Vec<Product>,
    pub devices: Vec<Device>,
    pub retained: Vec<RetainedInfo>,
    pub db_bytes: u64,
    pub metrics: MetricsSnapshot,
    /// What the store kept of each client (totals, last seen, keepalive): devices offline or not seen
    /// since the console or broker restarted.
    pub device_stats: Vec<crate::service::api::DeviceStats>,
}

/// A device as last seen by the console (see [`Model::seen`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Seen {
    pub last_seen: Option<i64>,
    pub keep_alive: u16,
    /// Counts of earlier broker runs, and the last reading of this one.
    base_in: u64,
    base_out: u64,
    now_in: u64,
    now_out: u64,
    /// Totals the store kept (written by the broker at login, disconnect, periodically and at shutdown).
    stored_in: u64,
    stored_out: u64,
}

impl Seen {
    pub fn messages_in(&self) -> u64 {
        (self.base_in + self.now_in).max(self.stored_in)
    }

    pub fn messages_out(&self) -> u64 {
        (self.base_out + self.now_out).max(self.stored_out)
    }

    /// Takes the store's row for this client. The broker's session counters start at these totals, so a
    /// reading never goes below them.
    fn take_stored(&mut self, s: &crate::service::api::DeviceStats) {
        self.stored_in = self.stored_in.max(s.messages_in);
        self.stored_out = self.stored_out.max(s.messages_out);
        self.last_seen = self.last_seen.max(s.last_seen);
        if self.keep_alive == 0
            && let Some(k) = s.keep_alive
        {
            self.keep_alive = k;
        }
    }

    /// Takes a session reading; counters that went down mean the broker restarted.
    fn take(&mut self, s: &SessionInfo) {
        if s.messages_in < self.now_in || s.messages_out < self.now_out {
            self.base_in += self.now_in;
            self.base_out += self.now_out;
        }
        self.now_in = s.messages_in;
        self.now_out = s.messages_out;
        self.last_seen = self.last_seen.max(s.last_seen);
        if s.online && s.keep_alive > 0 {
            self.keep_alive = s.keep_alive;
        }
    }
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
    pub retained: Vec<RetainedInfo>,
    pub db_bytes: u64,
    pub rates: Rates,
    /// (wall-clock Unix seconds, rates) for the overview chart.
    pub rate_history: VecDeque<(f64, Rates)>,
    /// Metrics readings of the last [`RATE_WINDOW`] (bounded by it: one reading a poll).
    readings: VecDeque<(Instant, MetricsSnapshot)>,
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
            retained: Vec::new(),
            db_bytes: 0,
            rates: Rates::default(),
            rate_history: VecDeque::new(),
            readings: VecDeque::new(),
            started: Instant::now(),
            started_ms: super::format::now_ms(),
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

    fn session_mut(&mut self, client: &str) -> &mut SessionInfo {
        let i = match self.sessions.iter().position(|s| s.client_id == client) {
            Some(i) => i,
            None => {
                self.sessions.push(SessionInfo {
                    client_id: client.to_string(),
                    namespace: String::new(),
                    online: false,
                    remote: None,
                    clean_session: true,
                    keep_alive: 0,
                    subscriptions: Vec::new(),
                    inflight: 0,
                    queued: 0,
                    dropped: 0,
                    dropped_qos0: 0,
                    messages_in: 0,
                    messages_out: 0,
                    warnings: 0,
                    connected_at: None,
                    last_seen: None,
                    will: None,
                });
                self.sessions.len() - 1
            }
        };
        &mut self.sessions[i]
    }

    /// Takes in what the event channel delivered.
    pub fn apply_received(&mut self, r: Received) {
        match r {
            Received::Event(e) => self.apply_event(e),
            Received::Missed(n) => self.traffic.missed += n,
        }
    }

    pub fn apply_event(&mut self, e: Event) {
        let now = super::format::now_ms();
        match e {
            Event::Connected {
                client_id,
                namespace,
                remote,
                clean_session,
                keep_alive,
                ..
            } => {
                let s = self.session_mut(&client_id);
                s.online = true;
                s.namespace = namespace;
                s.remote = Some(remote);
                s.clean_session = clean_session;
                s.keep_alive = keep_alive;
                s.connected_at = Some(now);
                s.last_seen = Some(now);
            }
            Event::Disconnected { client_id, .. } => {
                let s = self.session_mut(&client_id);
                s.online = false;
                s.connected_at = None;
            }
            Event::Subscription {
                client_id,
                filter,
                qos,
            } => {
                let s = self.session_mut(&client_id);
                s.subscriptions.retain(|(f, _)| *f != filter);
                if let Some(q) = qos {
                    s.subscriptions.push((filter, q));
                }
            }
            Event::Datapoints(sp) => {
                let fields = self.prefs.plot_fields.get(&sp.device_id);
                let dev = self.streams.entry(sp.device_id.clone()).or_default();
                for p in &sp.points {
                    let at = p.at.unwrap_or(sp.received_at);
                    let st = dev.entry(p.stream.clone()).or_default();
                    st.take_field(fields.and_then(|f| f.get(&p.stream)));
                    st.add(at, &p.value);
                }
            }
            Event::Command(c) => self.upsert_command(*c),
            Event::Retained { .. } => {}
            Event::StoreStatus { error } => self.store_error = error,
            Event::OfflineQueue {
                client_id, queued, ..
            } => {
                self.session_mut(&client_id).queued = queued;
            }
            Event::Diagnostic(d) => {
                self.warnings_total += 1;
                let ring = self.diagnostics.entry(d.device.clone()).or_default();
                if ring.len() == DIAG_KEEP {
                    ring.pop_front();
                }
                ring.push_back(*d);
            }
            Event::Packet {
                at,
                client_id,
                direction,
                bytes,
            } => {
                if let Some(c) = &client_id
                    && let Some(s) = self.sessions.iter_mut().find(|s| s.client_id == *c)
                {
                    s.last_seen = Some(at);
                }
                self.traffic.push(at, client_id, direction, &bytes);
                if let Some(row) = self.traffic.rows.back()
                    && row.kind == "PUBLISH"
                    && let Some(t) = &row.topic
                {
                    let c = self.topic_counts.entry(topic_group(t)).or_default();
                    match direction {
                        crate::events::Direction::In => c.0 += 1,
                        crate::events::Direction::Out => c.1 += 1,
                    }
                }
            }
        }
    }

    /// Adds or updates a command. Updates arrive by two paths (events, replies) in any order, so a
    /// command never goes back to an earlier state.
    fn upsert_command(&mut self, c: Command) {
        fn stage(c: &Command) -> u8 {
            match c.status {
                CommandStatus::Created => 1,
                CommandStatus::Sent => 2,
                _ => 3,
            }
        }
        let list = self.commands.entry(c.device_id.clone()).or_default();
        match list.iter_mut().find(|x| x.uuid == c.uuid) {
            Some(x) => {
                if stage(&c) >= stage(x) {
                    *x = c;
                }
            }
            None => {
                list.insert(0, c);
                list.truncate(500);
            }
        }
    }

    pub fn command(&self, uuid: &str) -> Option<&Command> {
        self.commands.values().flatten().find(|c| c.uuid == uuid)
    }

    pub fn apply_reply(&mut self, r: Reply) {
        match r {
            Reply::BrokerStarted { addr, config, http } => {
                self.broker = BrokerState::Running {
                    addr,
                    since: Instant::now(),
                };
                self.config = *config;
                if let Err(e) = &http {
                    self.notify(Level::Error, format!("HTTP API off: {e}"));
                }
                self.http = http;
            }
            Reply::ConfigApplied(config) => {
                self.config = *config;
                self.notify(
                    Level::Info,
                    format!(
                        "Settings applied without a restart and saved to {}.",
                        Config::file_path(&self.config.data_dir).display()
                    ),
                );
            }
            Reply::BrokerProgress(step) => {
                let was_running_since = match &self.broker {
                    BrokerState::Running { since, .. } => Some(*since),
                    BrokerState::Busy {
                        was_running_since, ..
                    } => *was_running_since,
                    _ => None,
                };
                self.broker = BrokerState::Busy {
                    step,
                    was_running_since,
                };
            }
            Reply::BrokerKept { addr, error } => {
                self.notify(
                    Level::Error,
                    format!(
                        "{error}. The broker goes on serving on {addr} with its previous settings."
                    ),
                );
                let since = match &self.broker {
                    BrokerState::Running { since, .. } => *since,
                    BrokerState::Busy {
                        was_running_since: Some(s),
                        ..
                    } => *s,
                    _ => Instant::now(),
                };
                self.broker = BrokerState::Running { addr, since };
            }
            Reply::BrokerFailed(e) => {
                self.notify(Level::Error, format!("The broker did not start: {e}"));
                self.broker = BrokerState::Failed(e);
            }
            Reply::BrokerStopped => {
                self.broker = BrokerState::Stopped;
                self.http = Ok(None);
                for s in &mut self.sessions {
                    s.online = false;
                }
            }
            Reply::Snapshot(s) => self.apply_snapshot(*s, Instant::now()),
            Reply::Detail {
                client,
                queue,
                diagnostics,
            } => {
                self.queues.insert(client.clone(), queue);
                if !diagnostics.is_empty() {
                    self.diagnostics
                        .insert(client, diagnostics.into_iter().collect());
                }
            }
            Reply::Streams { device, streams } => {
                let dev = self.streams.entry(device).or_default();
                for s in streams {
                    let st = dev.entry(s.stream).or_default();
                    st.count = st.count.max(s.count);
                    if let Some(last) = s.last
                        && st.latest.as_ref().is_none_or(|(t, _)| last.at >= *t)
                    {
                        st.latest = Some((last.at, last.value));
                    }
                }
            }
            Reply::History {
                device,
                stream,
                points,
            } => {
                let field = self
                    .prefs
                    .plot_fields
                    .get(&device)
                    .and_then(|f| f.get(&stream))
                    .cloned();
                let st = self
                    .streams
                    .entry(device)
                    .or_default()
                    .entry(stream)
                    .or_default();
                st.take_field(field.as_ref());
                st.loading = false;
                // Live points that arrived while loading are kept; history points are merged in order.
                for p in points {
                    if st.latest.is_none() {
                        st.latest = Some((p.at, p.value.clone()));
                    }
                    let x = crate::ui::json_fields::value_at(&p.value, st.field.as_deref());
                    if let Some(x) = x {
                        st.series.push(p.at as f64 / 1000.0, x);
                    }
                    if x.is_none() || st.field.is_some() {
                        let pos = st.recent.partition_point(|(t, _)| *t <= p.at);
                        st.recent.insert(pos, (p.at, p.value));
                        if st.recent.len() > RECENT_KEEP {
                            st.recent.pop_front();
                        }
                    }
                }
            }
            Reply::CommandSent(Ok(c)) => {
                self.last_sent = Some(c.uuid.clone());
                self.upsert_command(c);
            }
            Reply::CommandSent(Err(e)) => {
                self.notify(Level::Error, format!("Command not sent: {e}"))
            }
            Reply::CommandHistory { device, commands } => {
                for c in commands.into_iter().rev() {
                    if !self
                        .commands
                        .get(&device)
                        .is_some_and(|l| l.iter().any(|x| x.uuid == c.uuid))
                    {
                        self.upsert_command(c);
                    }
                }
                if let Some(l) = self.commands.get_mut(&device) {
                    l.sort_by_key(|c| std::cmp::Reverse(c.created_at));
                }
            }
            Reply::ExportProgress { done, total } => {
                self.export = Some(ExportState { done, total })
            }
            Reply::ExportDone(r) => {
                self.export = None;
                match r {
                    Ok(msg) => self.notify(Level::Info, msg),
                    Err(e) => self.notify(Level::Error, e),
                }
            }
            Reply::Added(r) => {
                match &r {
                    Ok(m) => self.notify(Level::Info, m.clone()),
                    Err(e) => self.notify(Level::Error, e.clone()),
                }
                let seq = self.add_outcome.as_ref().map_or(1, |(n, _)| n + 1);
                self.add_outcome = Some((seq, r));
            }
            Reply::Info(m) => self.notify(Level::Info, m),
            Reply::Error(e) => self.notify(Level::Error, e),
            Reply::RegistryChanged | Reply::Picked(_) => {}
        }
    }

    /// Takes a poll result; `now` is when it arrived. Rates are per second over the last
    /// [`RATE_WINDOW`] of readings (one reading a second would make a 0↔1 comb of single messages); no
    /// rate until a reading is at least a second after the first (no spike from a short first interval),
    /// and the readings start over when the counters go down (the broker restarted).
    pub fn apply_snapshot(&mut self, s: Snapshot, now: Instant) {
        let m = s.metrics;
        if self.readings.back().is_some_and(|(_, prev)| {
            m.publishes_in < prev.publishes_in
                || m.publishes_out < prev.publishes_out
                || m.datapoints < prev.datapoints
        }) {
            self.readings.clear();
        }
        if self.readings.back().is_none_or(|(t, _)| now > *t) {
            self.readings.push_back((now, m));
        }
        // Keep the newest reading at least RATE_WINDOW old (the window's start) and those after it.
        while self.readings.len() > 64
            || (self.readings.len() > 2
                && now.saturating_duration_since(self.readings[1].0) >= RATE_WINDOW)
        {
            self.readings.pop_front();
        }
        if let (Some((t0, first)), Some((t1, last))) = (self.readings.front(), self.readings.back())
        {
            let dt = t1.duration_since(*t0).as_secs_f64();
            if dt >= 1.0 {
                let d = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
                self.rates = Rates {
                    msg_in: d(last.publishes_in, first.publishes_in),
                    msg_out: d(last.publishes_out, first.publishes_out),
                    dp: d(last.datapoints, first.datapoints),
                };
                if self.rate_history.len() == RATE_KEEP {
                    self.rate_history.pop_front();
                }
                let wall = self.started_ms as f64 / 1000.0
                    + now.saturating_duration_since(self.started).as_secs_f64();
                self.rate_history.push_back((wall, self.rates));
            }
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
        self.db_bytes = s.db_bytes;
        if !self.sessions.is_empty() {
            self.warnings_total = self
                .warnings_total
                .max(self.sessions.iter().map(|s| s.warnings).sum());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::events::{Direction, StoredPoints};
    use crate::onenet::datapoint::Datapoint;

    fn model() -> Model {
        Model::new(Config::new(PathBuf::from("/tmp/m")), Prefs::default())
    }

    fn command(status: CommandStatus) -> Command {
        Command {
            uuid: "u1".into(),
            device_id: "9277".into(),
            body: bytes::Bytes::from_static(b"on"),
            status,
            created_at: 1,
            sent_at: Some(1),
            replied_at: None,
            reply: None,
            expire_at: None,
            validity_s: 0,
            qos: 0,
            sends: Default::default(),
        }
    }

    #[test]
    fn events_update_sessions_streams_traffic_and_commands() {
        let mut m = model();
        m.apply_event(Event::Connected {
            client_id: "9277".into(),
            namespace: "339".into(),
            remote: "1.2.3.4:5".into(),
            clean_session: true,
            keep_alive: 120,
            session_present: false,
        });
        assert!(m.is_online("9277"));
        m.apply_event(Event::Subscription {
            client_id: "9277".into(),
            filter: "/a".into(),
            qos: Some(1),
        });
        assert_eq!(
            m.session("9277").unwrap().subscriptions,
            vec![("/a".into(), 1)]
        );
        m.apply_event(Event::Datapoints(Arc::new(StoredPoints {
            device_id: "9277".into(),
            dp_type: 7,
            received_at: 1000,
            points: vec![Datapoint {
                stream: "1".into(),
                at: None,
                value: DpValue::Float(34.0),
            }],
        })));
        let st = &m.streams["9277"]["1"];
        assert_eq!(st.latest, Some((1000, DpValue::Float(34.0))));
        assert!(st.is_numeric());
        assert!(
            st.series.is_empty(),
            "closed streams keep only the latest value"
        );
        m.apply_event(Event::Packet {
            at: 5,
            client_id: Some("9277".into()),
            direction: Direction::In,
            bytes: bytes::Bytes::from_static(&[0x30, 0x05, 0x00, 0x01, b'/', b'h', b'i']),
        });
        assert_eq!(m.topic_counts["/"], (1, 0));
        m.apply_received(Received::Missed(7));
        assert_eq!(m.traffic.dropped(), 7);
        m.apply_event(Event::Command(Box::new(command(CommandStatus::Sent))));
        m.apply_event(Event::Command(Box::new(command(CommandStatus::Replied))));
        assert_eq!(m.commands["9277"].len(), 1);
        assert_eq!(m.command("u1").unwrap().status, CommandStatus::Replied);
        // The reply of the send request may arrive after the events: it does not undo them.
        m.apply_reply(Reply::CommandSent(Ok(command(CommandStatus::Sent))));
        assert_eq!(m.command("u1").unwrap().status, CommandStatus::Replied);
        m.apply_event(Event::Disconnected {
            client_id: "9277".into(),
            reason: "bye".into(),
        });
        assert!(!m.is_online("9277"));
    }

    #[test]
    fn rates_come_from_two_readings() {
        let mut m = model();
        let t0 = Instant::now();
        m.apply_snapshot(Snapshot::default(), t0);
        let mut s = Snapshot::default();
        s.metrics.publishes_in = 500;
        s.metrics.datapoints = 1000;
        m.apply_snapshot(s, t0 + Duration::from_secs(2));
        assert_eq!(m.rates.msg_in, 250.0);
        assert_eq!(m.rates.dp, 500.0);
        assert_eq!(m.rate_history.len(), 1);
    }

    #[test]
    fn history_merges_into_an_open_stream() {
        let mut m = model();
        let st = m
            .streams
            .entry("d".into())
            .or_default()
            .entry("s".into())
            .or_default();
        st.open = true;
        st.add(3000, &DpValue::Json(serde_json::json!(3)));
        let point = |at: i64, v: f64| StoredDatapoint {
            id: at,
            device_id: "d".into(),
            stream: "s".into(),
            at,
            value: DpValue::Json(serde_json::json!(v)),
            dp_type: 3,
            received_at: at,
            upload_id: 1,
        };
        m.apply_reply(Reply::History {
            device: "d".into(),
            stream: "s".into(),
            points: vec![point(1000, 1.0), point(2000, 2.0)],
        });
        let st = &m.streams["d"]["s"];
        assert_eq!(st.series.len(), 3);
        assert_eq!(st.series.last(), Some((3.0, 3.0)));
        assert_eq!(st.latest.as_ref().map(|l| l.0), Some(3000));
    }
}
