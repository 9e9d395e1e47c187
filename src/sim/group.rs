//! A group of virtual devices sharing one configuration: validation, registration, start/stop, counts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::mqtt::QoS;
use crate::service::DataStore;
use crate::service::api::StoreError;

use super::device;
use super::generator::Generator;

/// One datastream of the group and how its values are made.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub name: String,
    pub generator: Generator,
}

impl Stream {
    /// The streams the CLI and the console start a group with: `1` a counter, `2` a sine, `3` a random walk
    /// (type 2 groups add a `blob`).
    pub fn defaults() -> Vec<Stream> {
        vec![
            Stream {
                name: "1".into(),
                generator: Generator::Counter {
                    start: 0.0,
                    step: 1.0,
                },
            },
            Stream {
                name: "2".into(),
                generator: Generator::Sine {
                    amplitude: 10.0,
                    period_s: 60.0,
                    offset: 20.0,
                },
            },
            Stream {
                name: "3".into(),
                generator: Generator::RandomWalk {
                    start: 50.0,
                    step: 1.0,
                },
            },
        ]
    }
}

/// What a virtual device answers to `$creq/{uuid}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyKind {
    /// `$crsp/{uuid}` with the command body.
    Echo,
    /// `$crsp/{uuid}` with this text; `{uuid}`, `{body}` and `{device}` are replaced.
    Template(String),
    /// No answer: the command ends in status 5 (timeout).
    Never,
    /// A reply on `$crsp/` with the uuid cut to 35 characters (a firmware off-by-one): the broker records
    /// an "unknown command reply" diagnostic and the command times out.
    Malformed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub kind: ReplyKind,
    /// Wait this long before answering.
    pub delay: Duration,
    pub qos: QoS,
}

impl Reply {
    pub fn echo() -> Reply {
        Reply {
            kind: ReplyKind::Echo,
            delay: Duration::ZERO,
            qos: QoS::AtLeastOnce,
        }
    }

    /// `echo`, `none` / `never`, `malformed`, or any other text as a template.
    pub fn parse(s: &str) -> Reply {
        let kind = match s {
            "echo" => ReplyKind::Echo,
            "none" | "never" => ReplyKind::Never,
            "malformed" => ReplyKind::Malformed,
            t => ReplyKind::Template(t.to_string()),
        };
        Reply {
            kind,
            ..Reply::echo()
        }
    }
}

/// Faults a group can inject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Drop the TCP connection (no DISCONNECT) this often, then reconnect.
    pub drop_every: Option<Duration>,
    /// Never acknowledge QoS 1/2 messages from the broker.
    pub skip_puback: bool,
    /// Every Nth upload is a `$dp` payload the broker must refuse.
    pub bad_dp_every: Option<u32>,
}

/// A device's credentials (auth method 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceCred {
    pub id: String,
    pub auth_info: String,
}

/// Everything a group needs to run.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    pub name: String,
    pub product_id: String,
    pub devices: Vec<DeviceCred>,
    /// Broker `host:port`.
    pub addr: String,
    /// `$dp` types used in turn, one per upload.
    pub types: Vec<u8>,
    pub streams: Vec<Stream>,
    /// Time between uploads of one device.
    pub interval: Duration,
    pub qos: QoS,
    pub clean_session: bool,
    pub keep_alive: u16,
    /// Topics each device subscribes to (QoS 1).
    pub subscribe: Vec<String>,
    pub reply: Reply,
    pub faults: Faults,
    /// Uploads per device, at most (then the device stays connected, answering commands).
    pub max_uploads: Option<u64>,
    /// Wall-clock offset of the times written in types 1, 2, 4, 6, 7 (the broker's `dp_utc_offset_secs`).
    pub utc_offset_secs: i32,
}

impl GroupConfig {
    /// Defaults: type 3, one counter stream "1", every second, QoS 1, clean session, keepalive 120 s,
    /// echo replies, no faults.
    pub fn new(product_id: &str, devices: Vec<DeviceCred>, addr: &str) -> GroupConfig {
        GroupConfig {
            name: "group".into(),
            product_id: product_id.into(),
            devices,
            addr: addr.into(),
            types: vec![3],
            streams: vec![Stream {
                name: "1".into(),
                generator: Generator::Counter {
                    start: 0.0,
                    step: 1.0,
                },
            }],
            interval: Duration::from_secs(1),
            qos: QoS::AtLeastOnce,
            clean_session: true,
            keep_alive: 120,
            subscribe: Vec::new(),
            reply: Reply::echo(),
            faults: Faults::default(),
            max_uploads: None,
            utc_offset_secs: 8 * 3600,
        }
    }

    /// Checks that every upload the settings describe can be encoded.
    pub fn validate(&self) -> Result<(), String> {
        if self.devices.is_empty() {
            return Err("the group has no devices".into());
        }
        if self.types.is_empty() || self.types.iter().any(|t| !(1..=7).contains(t)) {
            return Err(format!("$dp types must be 1..=7, got {:?}", self.types));
        }
        if self.streams.is_empty() {
            return Err("the group has no streams".into());
        }
        if self.interval < Duration::from_millis(10) {
            return Err("the interval must be at least 10 ms".into());
        }
        let mut names = std::collections::HashSet::new();
        for s in &self.streams {
            if s.name.is_empty() || !names.insert(s.name.as_str()) {
                return Err(format!(
                    "stream names must be non-empty and unique ({:?})",
                    s.name
                ));
            }
            s.generator
                .validate()
                .map_err(|e| format!("stream {}: {e}", s.name))?;
        }
        let blobs = self
            .streams
            .iter()
            .filter(|s| s.generator.is_blob())
            .count();
        if self.types.contains(&2) && blobs == 0 {
            return Err("$dp type 2 needs a blob stream".into());
        }
        if self.types.iter().any(|t| *t != 2) && blobs == self.streams.len() {
            return Err("$dp types other than 2 need a stream that is not a blob".into());
        }
        for s in self.streams.iter().filter(|s| !s.generator.is_blob()) {
            if self.types.contains(&7)
                && (s.name.parse::<u16>().is_err() || !s.generator.is_numeric())
            {
                return Err(format!(
                    "$dp type 7 needs numeric stream names 0..65535 and numeric values (stream {:?})",
                    s.name
                ));
            }
            if (self.types.contains(&5) || self.types.contains(&6)) && s.name.contains([',', ';']) {
                return Err(format!(
                    "$dp types 5/6: stream name {:?} contains ',' or ';'",
                    s.name
                ));
            }
        }
        for t in &self.subscribe {
            crate::mqtt::TopicFilter::new(t.as_str()).map_err(|e| format!("topic {t:?}: {e}"))?;
        }
        Ok(())
    }

    /// Datapoints one upload of `dp_type` carries.
    pub fn points_per_upload(&self, dp_type: u8) -> usize {
        self.streams
            .iter()
            .filter(|s| s.generator.is_blob() == (dp_type == 2))
            .count()
    }
}

/// Registers `n` devices of `product` with consecutive numeric ids from `first` (default: one past the
/// largest numeric device id in the registry, at least 10000000), named "virtual {id}" so they are told apart
/// from real devices wherever devices are listed. Returns their credentials.
pub fn register_devices(
    store: &DataStore,
    product: &str,
    n: usize,
    first: Option<u64>,
) -> Result<Vec<DeviceCred>, StoreError> {
    Ok(store
        .register_virtual_devices(product, n, first)?
        .into_iter()
        .map(DeviceCred::from)
        .collect())
}

impl From<crate::onenet::registry::Device> for DeviceCred {
    fn from(d: crate::onenet::registry::Device) -> Self {
        DeviceCred {
            id: d.id,
            auth_info: d.auth_info,
        }
    }
}

/// Live counters of a group, shared with its device tasks.
#[derive(Debug, Default)]
pub struct Stats {
    pub connected: AtomicU64,
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
    pub uploads: AtomicU64,
    pub datapoints: AtomicU64,
    pub acked: AtomicU64,
    pub publish_failures: AtomicU64,
    pub bad_dp_sent: AtomicU64,
    pub drops: AtomicU64,
    pub commands_received: AtomicU64,
    pub commands_answered: AtomicU64,
    pub messages_received: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

/// A copy of [`Stats`] at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    pub devices: usize,
    pub connected: u64,
    pub connects: u64,
    pub connect_failures: u64,
    /// `$dp` messages sent (including deliberately bad ones).
    pub sent: u64,
    pub datapoints: u64,
    /// QoS 1/2 uploads the broker acknowledged.
    pub acknowledged: u64,
    pub publish_failures: u64,
    pub bad_dp_sent: u64,
    pub connection_drops: u64,
    pub commands_received: u64,
    pub commands_answered: u64,
    pub messages_received: u64,
    pub last_error: Option<String>,
}

impl Stats {
    pub(super) fn error(&self, e: impl ToString) {
        if let Ok(mut l) = self.last_error.lock() {
            *l = Some(e.to_string());
        }
    }

    pub fn snapshot(&self, devices: usize) -> StatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            devices,
            connected: g(&self.connected),
            connects: g(&self.connects),
            connect_failures: g(&self.connect_failures),
            sent: g(&self.uploads),
            datapoints: g(&self.datapoints),
            acknowledged: g(&self.acked),
            publish_failures: g(&self.publish_failures),
            bad_dp_sent: g(&self.bad_dp_sent),
            connection_drops: g(&self.drops),
            commands_received: g(&self.commands_received),
            commands_answered: g(&self.commands_answered),
            messages_received: g(&self.messages_received),
            last_error: self.last_error.lock().ok().and_then(|l| l.clone()),
        }
    }
}

/// A running group: one task per device on the runtime it was started on.
pub struct Group {
    cfg: Arc<GroupConfig>,
    stats: Arc<Stats>,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl Group {
    /// Validates and starts every device (call inside a tokio runtime).
    pub fn start(cfg: GroupConfig) -> Result<Group, String> {
        cfg.validate()?;
        let cfg = Arc::new(cfg);
        let stats = Arc::new(Stats::default());
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let started = tokio::time::Instant::now();
        for i in 0..cfg.devices.len() {
            tasks.spawn(device::run(
                cfg.clone(),
                i,
                stats.clone(),
                cancel.clone(),
                started,
            ));
        }
        tasks.close();
        Ok(Group {
            cfg,
            stats,
            cancel,
            tasks,
        })
    }

    pub fn config(&self) -> &GroupConfig {
        &self.cfg
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot(self.cfg.devices.len())
    }

    /// Whether every device has finished (after `stop`, or never).
    pub fn is_finished(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Stops every device (each waits for its unacknowledged uploads, up to 5 s, then sends DISCONNECT)
    /// and returns the final counts.
    pub async fn stop(&self) -> StatsSnapshot {
        self.cancel.cancel();
        self.tasks.wait().await;
        self.stats()
    }

    /// Asks the devices to stop without waiting (the console's Stop button).
    pub fn request_stop(&self) {
        self.cancel.cancel();
    }
}
