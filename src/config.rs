//! Broker configuration: every knob the CLI, the console's Settings panel and the tests can turn.
//!
//! Defaults are the OneNET platform's behaviour (spec §3, §5, §8.1) or, where the platform is silent, the
//! decisions of spec §13. `validate()` is the single place a bad value is caught, so nothing downstream
//! has to re-check (and nothing panics on a bad setting).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod file;
mod serde_units;

pub use file::{CONFIG_FILE, Effective, FileError, Override, Source, resolve};

/// Which protocol dialect the broker speaks on its MQTT listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// OneNET's legacy device protocol: registered devices only, exact topics, publisher-QoS delivery.
    OneNet,
    /// Plain MQTT 3.1.1: anonymous login, any client id, `+`/`#` wildcards, min(pub, sub) delivery.
    Mqtt,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::OneNet => "onenet",
            Profile::Mqtt => "mqtt",
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "onenet" => Ok(Profile::OneNet),
            "mqtt" => Ok(Profile::Mqtt),
            other => Err(format!(
                "unknown profile '{other}': expected 'onenet' or 'mqtt'"
            )),
        }
    }
}

/// Protocol limits and timers. Each has a spec reference or a §13 decision behind its default.
///
/// The serde names are the keys of `[limits]` in `onenet-desk.toml`; a field added here needs a scalar
/// representation (durations through `serde_units::secs`), which `file`'s tests check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest packet accepted, checked from the fixed header before the body is buffered.
    /// 4 MiB so that a 3 MB `$dp` type 2 (spec §6.2) fits.
    pub max_packet: usize,
    /// Connections beyond this get CONNACK 3 (server unavailable), spec §13.
    pub max_connections: usize,
    /// A socket that has not sent CONNECT by then is closed.
    #[serde(rename = "connect_timeout_secs", with = "serde_units::secs")]
    pub connect_timeout: Duration,
    /// A QoS 2 PUBLISH whose PUBREL does not arrive in time closes the connection (spec §5).
    #[serde(rename = "pubrel_timeout_secs", with = "serde_units::secs")]
    pub pubrel_timeout: Duration,
    /// Topic filters one client may hold; later ones get SUBACK 0x80 (spec §8.1, §13).
    pub max_subscriptions: usize,
    /// QoS 1/2 messages in flight to one client before the rest wait in its queue. 128: a subscriber that
    /// acknowledges as it reads must have about a round trip's worth of messages on the way, and 32 left
    /// one fed by 100 publishers idle between acknowledgements (`loadgen --scenario qos1-100x1`: 483k
    /// deliveries/s at 32, 625k to 660k at 128 to 256; bench/README, tenth round).
    pub inflight_window: usize,
    /// The same window in payload bytes, whichever comes first: the payloads in flight stay in memory
    /// until acknowledged (PUBACK, or PUBREC for QoS 2), and 128 messages of up to `max_packet` (4 MiB)
    /// would be 512 MiB for one client. One message always goes when nothing is in flight, whatever its
    /// size.
    pub max_inflight_bytes: usize,
    /// Messages waiting for one session beyond its window. Online: at this many, the connections publishing
    /// to it stop being read until it is down to half (backpressure, nothing dropped). Offline: the oldest
    /// are dropped past it.
    pub max_queued_per_session: usize,
    /// The same bound in payload bytes, whichever comes first (online: publishers wait; offline: the
    /// oldest are dropped, the newest message always kept; `onenet`'s offline replay keeps within it
    /// too). The message count alone let one session hold 1,000 messages of up to `max_packet` (4 MiB).
    pub max_queued_bytes_per_session: usize,
    /// Output queued for one connection and not yet written, in bytes and in messages: QoS 0 beyond either is
    /// dropped and counted, QoS 1/2 wait in the session's queue. Bytes count topic and payload; each
    /// message also holds about 120 B of bookkeeping (a 56 B queue slot and its share of the routed
    /// message), so the defaults hold a connection's output under 3 MiB. 16,384 messages: a burst of
    /// 20,000 small QoS 0 messages to a subscriber that keeps reading arrives whole (at 4,096, 16 to 38%
    /// were dropped in `loadgen --scenario qos0-4x4`).
    pub max_outbound_bytes: usize,
    pub max_outbound_messages: usize,
    /// Retained messages kept at most, in every namespace, and their payload bytes: a device that retains
    /// on ever new topics (a timestamp in the topic) or a large payload each would otherwise grow the
    /// broker's memory, and its database, without end. A new retained message past either is still
    /// delivered but not kept, and its topic's older one goes (it is superseded), with a diagnostic to the
    /// publisher (at most one per 10 s per publisher, with its count) and `retained_refused` in the metrics.
    pub max_retained_messages: usize,
    pub max_retained_bytes: usize,
    /// A connection whose socket takes no byte of its waiting output for this long is closed (stuck
    /// subscriber). A slow reader that keeps reading is not: one that reads but does not acknowledge
    /// QoS 1/2 is closed by `ack_timeout`, and QoS 0 past its output bound is dropped, so it holds no
    /// publisher back for long.
    #[serde(rename = "stuck_timeout_secs", with = "serde_units::secs")]
    pub stuck_timeout: Duration,
    /// An outbound QoS 1/2 PUBLISH (or PUBREL) not acknowledged by then closes the connection (spec §5; the
    /// value is this project's decision, the same as `pubrel_timeout`).
    #[serde(rename = "ack_timeout_secs", with = "serde_units::secs")]
    pub ack_timeout: Duration,
    /// Store ops queued but not committed past which the router takes no more input (publishers wait).
    pub max_store_backlog: usize,
    /// The same in bytes: the payloads those ops hold (retained messages, persistent sessions' queues,
    /// `$dp` uploads, held QoS 2). The op count alone let one device flood the writer with 1 MiB
    /// retained messages: 50,000 of them may wait under it, and 1,000 sent while another program held
    /// the database's lock took the broker to 1.5 GiB (`loadgen --scenario locked-store`).
    pub max_store_backlog_bytes: usize,
    /// How long a database connection waits for a lock held by another program (e.g. `sqlite3` on the
    /// data dir) before the write fails and is retried, its acknowledgements held back.
    #[serde(rename = "store_busy_timeout_secs", with = "serde_units::secs")]
    pub store_busy_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_packet: 4 * 1024 * 1024,
            max_connections: 100_000,
            connect_timeout: Duration::from_secs(10),
            pubrel_timeout: Duration::from_secs(30),
            max_subscriptions: 100,
            inflight_window: 128,
            max_inflight_bytes: 4 * 1024 * 1024,
            max_queued_per_session: 1000,
            max_queued_bytes_per_session: 16 * 1024 * 1024,
            max_outbound_bytes: 1024 * 1024,
            max_outbound_messages: 16_384,
            max_retained_messages: 100_000,
            max_retained_bytes: 256 * 1024 * 1024,
            stuck_timeout: Duration::from_secs(60),
            ack_timeout: Duration::from_secs(30),
            max_store_backlog: 50_000,
            max_store_backlog_bytes: 64 * 1024 * 1024,
            store_busy_timeout: crate::store::DEFAULT_BUSY_TIMEOUT,
        }
    }
}

/// Choices of spec §13 that firmware may need changed, and the data plane's limits (`[onenet]` in the file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneNetOptions {
    /// Set RETAIN=1 when delivering a retained message (the doc's rule). Firmware built on the official C SDK
    /// treats any PUBLISH with RETAIN=1 as illegal, so this can be turned off (§13).
    pub retain_flag_on_delivery: bool,
    /// Offset of the wall clock that `$dp` times are written in (§13: UTC+8), in seconds.
    pub dp_utc_offset_secs: i32,
    /// Most floats one type 7 payload may carry (§6.7, §13).
    pub dp_max_type7_floats: usize,
    /// Largest type 2 binary (§6.2: 3 MB).
    pub dp_max_binary: usize,
    /// Close the connection (after the ack) when a `$dp` payload does not decode (§13).
    pub disconnect_on_bad_dp: bool,
    /// Datapoint-subscription payload as a JSON object `{"ds_id","at","value"}` instead of the value text (§10, §13).
    pub dp_subscription_json: bool,
    /// Offline topic messages replayed at login: the latest this many (§9: 10) …
    pub offline_max_messages: usize,
    /// … not older than this (§9: 2 days).
    #[serde(rename = "offline_max_age_secs", with = "serde_units::secs")]
    pub offline_max_age: Duration,
    /// A sent command without a `$crsp` by then gets status 5 (§7.2).
    #[serde(rename = "command_response_window_secs", with = "serde_units::secs")]
    pub command_response_window: Duration,
    /// A `$crsp` larger than this gets status 6 (§7.2).
    pub command_reply_limit: usize,
    /// Diagnostics kept per device (older ones roll off; counts do not).
    pub diagnostics_per_device: usize,
}

impl Default for OneNetOptions {
    fn default() -> Self {
        OneNetOptions {
            retain_flag_on_delivery: true,
            dp_utc_offset_secs: 8 * 3600,
            dp_max_type7_floats: 500,
            dp_max_binary: 3 * 1024 * 1024,
            disconnect_on_bad_dp: false,
            dp_subscription_json: false,
            offline_max_messages: 10,
            offline_max_age: Duration::from_secs(2 * 24 * 3600),
            command_response_window: Duration::from_secs(10),
            command_reply_limit: 64 * 1024,
            diagnostics_per_device: 200,
        }
    }
}

/// How long datapoints are kept. Everything by default (`[retention]` in the file, 0 = no limit).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Datapoints (and raw uploads) older than this are deleted.
    #[serde(rename = "max_age_days", with = "serde_units::opt_days")]
    pub max_age: Option<Duration>,
    /// Per datastream, only the newest this many datapoints are kept.
    #[serde(with = "serde_units::opt_count")]
    pub max_rows_per_stream: Option<u64>,
}

/// Everything `onenet_desk::start` needs. Serialized (without `data_dir`) as `onenet-desk.toml`: see [`file`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub profile: Profile,
    /// MQTT listener; OneNET devices dial port 6002.
    pub mqtt_addr: SocketAddr,
    /// OneNET-compatible HTTP API listener (an admin surface: loopback by default in `serve` and the app).
    /// `None`: no HTTP API (`"off"` in the file).
    #[serde(with = "serde_units::opt_addr")]
    pub http_addr: Option<SocketAddr>,
    /// Where the SQLite database (and `onenet-desk.toml`) lives. Not a key of the file: the file is in it.
    #[serde(skip)]
    pub data_dir: PathBuf,
    /// Register an unknown device id of a known product on first connect, its password becoming its auth_info.
    pub auto_register: bool,
    pub limits: Limits,
    pub onenet: OneNetOptions,
    pub retention: Retention,
}

/// Default port of OneNET's MQTT endpoint (spec §3.1).
pub const DEFAULT_MQTT_PORT: u16 = 6002;

/// Default HTTP API address of `serve` and the desktop app: loopback, since it is an admin surface.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8080";

/// Name of the database file inside the data dir.
pub const DB_FILE: &str = "onenet-desk.sqlite3";

impl Config {
    /// The defaults of the desktop app and `serve`: every interface, port 6002, the user's data dir.
    pub fn new(data_dir: PathBuf) -> Self {
        Config {
            profile: Profile::OneNet,
            mqtt_addr: SocketAddr::from(([0, 0, 0, 0], DEFAULT_MQTT_PORT)),
            http_addr: None,
            data_dir,
            auto_register: false,
            limits: Limits::default(),
            onenet: OneNetOptions::default(),
            retention: Retention::default(),
        }
    }

    /// What `serve` and the desktop console run with when neither the file nor a flag says otherwise:
    /// [`Config::new`] plus the HTTP API on [`DEFAULT_HTTP_ADDR`].
    pub fn app_default(data_dir: PathBuf) -> Self {
        let mut c = Config::new(data_dir);
        c.http_addr = DEFAULT_HTTP_ADDR.parse().ok();
        c
    }

    /// The platform's data directory for this user (e.g. `~/.local/share/onenet-desk` on Linux,
    /// `%APPDATA%\onenet-desk\data` on Windows, `~/Library/Application Support/onenet-desk` on macOS).
    pub fn default_data_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "onenet-desk").map(|d| d.data_dir().to_path_buf())
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join(DB_FILE)
    }

    /// The `$dp` decoder settings (UTC offset, type 7 and binary limits): connections, the router and
    /// the HTTP API's upload check all decode with these.
    pub fn dp_options(&self) -> crate::onenet::datapoint::DpOptions {
        let o = &self.onenet;
        crate::onenet::datapoint::DpOptions {
            utc_offset_secs: o.dp_utc_offset_secs,
            max_type7_floats: o.dp_max_type7_floats,
            max_binary: o.dp_max_binary,
        }
    }

    /// Rejects settings the broker cannot run with, naming the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        let bad = |name: &'static str, why: &'static str| Err(ConfigError { name, why });
        if l.max_packet < 64 || l.max_packet > 268_435_460 {
            return bad(
                "limits.max_packet",
                "must be between 64 bytes and 256 MiB (MQTT's largest packet)",
            );
        }
        if l.max_connections == 0 {
            return bad("limits.max_connections", "must be at least 1");
        }
        if l.connect_timeout.is_zero() {
            return bad("limits.connect_timeout_secs", "must be longer than zero");
        }
        if l.pubrel_timeout.is_zero() {
            return bad("limits.pubrel_timeout_secs", "must be longer than zero");
        }
        if l.max_subscriptions == 0 {
            return bad("limits.max_subscriptions", "must be at least 1");
        }
        if l.inflight_window == 0 || l.inflight_window > 65_535 {
            return bad(
                "limits.inflight_window",
                "must be between 1 and 65535 (packet ids)",
            );
        }
        if l.max_inflight_bytes < 1024 {
            return bad("limits.max_inflight_bytes", "must be at least 1024");
        }
        if l.max_outbound_bytes < 1024 {
            return bad("limits.max_outbound_bytes", "must be at least 1024");
        }
        if l.max_outbound_messages == 0 {
            return bad("limits.max_outbound_messages", "must be at least 1");
        }
        if l.max_retained_messages == 0 {
            return bad("limits.max_retained_messages", "must be at least 1");
        }
        if l.max_retained_bytes < 1024 {
            return bad("limits.max_retained_bytes", "must be at least 1024");
        }
        if l.stuck_timeout.is_zero() {
            return bad("limits.stuck_timeout_secs", "must be positive");
        }
        if l.ack_timeout.is_zero() {
            return bad("limits.ack_timeout_secs", "must be positive");
        }
        if l.store_busy_timeout.is_zero() {
            return bad("limits.store_busy_timeout_secs", "must be longer than zero");
        }
        if l.max_store_backlog == 0 {
            return bad("limits.max_store_backlog", "must be at least 1");
        }
        if l.max_store_backlog_bytes < 1024 {
            return bad("limits.max_store_backlog_bytes", "must be at least 1024");
        }
        if l.max_queued_per_session == 0 {
            return bad("limits.max_queued_per_session", "must be at least 1");
        }
        if l.max_queued_bytes_per_session < 1024 {
            return bad(
                "limits.max_queued_bytes_per_session",
                "must be at least 1024",
            );
        }
        let o = &self.onenet;
        if o.dp_utc_offset_secs.abs() > 14 * 3600 {
            return bad("onenet.dp_utc_offset_secs", "must be within ±14 hours");
        }
        if o.offline_max_messages == 0 {
            return bad("onenet.offline_max_messages", "must be at least 1");
        }
        if o.command_response_window.is_zero() {
            return bad(
                "onenet.command_response_window_secs",
                "must be longer than zero",
            );
        }
        if self.retention.max_rows_per_stream == Some(0) {
            return bad(
                "retention.max_rows_per_stream",
                "must be at least 1 (or unset to keep everything)",
            );
        }
        Ok(())
    }
}

/// A setting that cannot be used, with the reason. `name` is the setting's key in `onenet-desk.toml`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {name}: {why}")]
pub struct ConfigError {
    pub name: &'static str,
    pub why: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_onenets() {
        let c = Config::new(PathBuf::from("/tmp/x"));
        assert_eq!(c.mqtt_addr.port(), 6002);
        assert_eq!(c.profile, Profile::OneNet);
        assert_eq!(c.limits.max_subscriptions, 100);
        assert!(c.limits.max_packet > 3 * 1024 * 1024);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn validate_names_the_bad_setting() {
        let mut c = Config::new(PathBuf::from("/tmp/x"));
        c.limits.inflight_window = 0;
        let e = c.validate().unwrap_err();
        assert_eq!(e.name, "limits.inflight_window");
        assert!(e.to_string().contains("inflight_window"));
    }

    #[test]
    fn profile_parses() {
        assert_eq!("mqtt".parse::<Profile>(), Ok(Profile::Mqtt));
        assert!("amqp".parse::<Profile>().unwrap_err().contains("amqp"));
    }
}
