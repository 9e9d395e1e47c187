//! The console's persisted settings (eframe persistence): broker settings as the Settings panel edits
//! them, look and language, command templates. Converted to a [`Config`] when the broker (re)starts.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Config, Profile, Retention};
use crate::ui::actions::BodyMode;

/// Key under which eframe stores [`Prefs`].
pub const STORAGE_KEY: &str = "onenet-desk-prefs";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    English,
    Chinese,
}

/// Which clock times are shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TimeZone {
    /// This computer's local time.
    #[default]
    Local,
    /// China time, as OneNET shows it.
    Utc8,
    Utc,
}

/// A saved command body for a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub mode: BodyMode,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prefs {
    pub mqtt_addr: String,
    /// Serve the OneNET HTTP API (spec §12) on `http_addr`.
    pub http_on: bool,
    pub http_addr: String,
    pub profile: Profile,
    pub auto_register: bool,
    /// None: the data dir given on the command line or the platform default.
    pub data_dir: Option<PathBuf>,
    pub max_connections: usize,
    pub max_subscriptions: usize,
    pub max_queued_per_session: usize,
    pub retain_flag_on_delivery: bool,
    pub dp_utc_offset_secs: i32,
    pub dp_max_type7_floats: usize,
    pub dp_max_binary: usize,
    pub disconnect_on_bad_dp: bool,
    pub dp_subscription_json: bool,
    pub offline_max_messages: usize,
    pub offline_max_age_h: u64,
    pub command_response_window_s: u64,
    pub command_reply_limit: usize,
    /// Keep datapoints this many days (0 = forever).
    pub retention_days: u64,
    /// Keep this many datapoints per stream (0 = all).
    pub retention_rows: u64,
    pub theme: Theme,
    pub lang: Lang,
    pub time_zone: TimeZone,
    pub templates: BTreeMap<String, Vec<Template>>,
    /// The field plotted of JSON-object streams: device → stream → path ("pos.x").
    pub plot_fields: BTreeMap<String, BTreeMap<String, String>>,
    /// The "no CJK font" notice is shown once.
    pub cjk_notice_shown: bool,
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs::from_config(&Config::new(PathBuf::new()))
    }
}

impl Prefs {
    /// The broker part of the prefs, taken from a config.
    pub fn from_config(c: &Config) -> Prefs {
        let o = &c.onenet;
        Prefs {
            mqtt_addr: c.mqtt_addr.to_string(),
            http_on: c.http_addr.is_some(),
            http_addr: c.http_addr.map_or_else(
                || crate::config::DEFAULT_HTTP_ADDR.to_string(),
                |a| a.to_string(),
            ),
            profile: c.profile,
            auto_register: c.auto_register,
            data_dir: None,
            max_connections: c.limits.max_connections,
            max_subscriptions: c.limits.max_subscriptions,
            max_queued_per_session: c.limits.max_queued_per_session,
            retain_flag_on_delivery: o.retain_flag_on_delivery,
            dp_utc_offset_secs: o.dp_utc_offset_secs,
            dp_max_type7_floats: o.dp_max_type7_floats,
            dp_max_binary: o.dp_max_binary,
            disconnect_on_bad_dp: o.disconnect_on_bad_dp,
            dp_subscription_json: o.dp_subscription_json,
            offline_max_messages: o.offline_max_messages,
            offline_max_age_h: o.offline_max_age.as_secs() / 3600,
            command_response_window_s: o.command_response_window.as_secs(),
            command_reply_limit: o.command_reply_limit,
            retention_days: c.retention.max_age.map_or(0, |d| d.as_secs() / 86_400),
            retention_rows: c.retention.max_rows_per_stream.unwrap_or(0),
            theme: Theme::System,
            lang: Lang::English,
            time_zone: TimeZone::Local,
            templates: BTreeMap::new(),
            plot_fields: BTreeMap::new(),
            cjk_notice_shown: false,
        }
    }

    /// The broker config these prefs describe, on top of `base` (which gives the data dir unless the prefs
    /// name one). Errors name the setting.
    pub fn to_config(&self, base: &Config) -> Result<Config, String> {
        let mut c = base.clone();
        c.mqtt_addr = self.mqtt_addr.trim().parse::<SocketAddr>().map_err(|_| {
            format!(
                "listen address '{}' is not valid: write IP:port, e.g. 0.0.0.0:6002",
                self.mqtt_addr
            )
        })?;
        c.http_addr = if self.http_on {
            Some(self.http_addr.trim().parse::<SocketAddr>().map_err(|_| {
                format!(
                    "HTTP API address '{}' is not valid: write IP:port, e.g. 127.0.0.1:8080",
                    self.http_addr
                )
            })?)
        } else {
            None
        };
        c.profile = self.profile;
        c.auto_register = self.auto_register;
        if let Some(d) = self.data_dir.as_ref().filter(|d| !d.as_os_str().is_empty()) {
            c.data_dir = d.clone();
        }
        c.limits.max_connections = self.max_connections;
        c.limits.max_subscriptions = self.max_subscriptions;
        c.limits.max_queued_per_session = self.max_queued_per_session;
        let o = &mut c.onenet;
        o.retain_flag_on_delivery = self.retain_flag_on_delivery;
        o.dp_utc_offset_secs = self.dp_utc_offset_secs;
        o.dp_max_type7_floats = self.dp_max_type7_floats;
        o.dp_max_binary = self.dp_max_binary;
        o.disconnect_on_bad_dp = self.disconnect_on_bad_dp;
        o.dp_subscription_json = self.dp_subscription_json;
        o.offline_max_messages = self.offline_max_messages;
        o.offline_max_age = Duration::from_secs(self.offline_max_age_h * 3600);
        o.command_response_window = Duration::from_secs(self.command_response_window_s);
        o.command_reply_limit = self.command_reply_limit;
        c.retention = Retention {
            max_age: (self.retention_days > 0)
                .then(|| Duration::from_secs(self.retention_days * 86_400)),
            max_rows_per_stream: (self.retention_rows > 0).then_some(self.retention_rows),
        };
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    /// These prefs' look, language, time zone and templates over the broker settings of `config` (the
    /// settings file is the one source of truth for those; eframe's storage keeps only the window's).
    pub fn over_config(&self, config: &Config) -> Prefs {
        Prefs {
            data_dir: self.data_dir.clone(),
            theme: self.theme,
            lang: self.lang,
            time_zone: self.time_zone,
            templates: self.templates.clone(),
            plot_fields: self.plot_fields.clone(),
            cjk_notice_shown: self.cjk_notice_shown,
            ..Prefs::from_config(config)
        }
    }

    /// The offset times are shown at.
    pub fn display_offset(&self, system: Option<i32>) -> i32 {
        match self.time_zone {
            TimeZone::Local => system.unwrap_or(self.dp_utc_offset_secs),
            TimeZone::Utc8 => 8 * 3600,
            TimeZone::Utc => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefs_round_trip_to_config() {
        let base = Config::new(PathBuf::from("/data"));
        let p = Prefs::from_config(&base);
        assert_eq!(p.to_config(&base).unwrap(), base);
        let mut q = p.clone();
        q.mqtt_addr = "127.0.0.1:7000".into();
        q.retention_days = 2;
        q.data_dir = Some(PathBuf::from("/other"));
        let c = q.to_config(&base).unwrap();
        assert_eq!(c.mqtt_addr.port(), 7000);
        assert_eq!(c.data_dir, PathBuf::from("/other"));
        assert_eq!(c.retention.max_age, Some(Duration::from_secs(172_800)));
        q.mqtt_addr = "nonsense".into();
        assert!(q.to_config(&base).unwrap_err().contains("nonsense"));
        q.mqtt_addr = "0.0.0.0:1".into();
        q.offline_max_messages = 0;
        assert!(
            q.to_config(&base)
                .unwrap_err()
                .contains("offline_max_messages")
        );
    }

    #[test]
    fn prefs_survive_serde_with_missing_fields() {
        let p: Prefs = serde_json::from_str(r#"{"lang":"Chinese"}"#).unwrap();
        assert_eq!(p.lang, Lang::Chinese);
        assert_eq!(p.mqtt_addr, "0.0.0.0:6002");
    }
}
