//! The console's settings: the broker's [`Config`] itself, as the Settings panel edits it, and the
//! window's own (look, language, time zone, command templates, plotted fields), which eframe's storage
//! keeps.
//!
//! The broker settings are the settings file's serde sections, held whole: a field added to [`Config`]
//! reaches the console, the file and the broker with no code here. Their one home is
//! `onenet-desk.toml` in the data dir (loaded at start, saved on apply), so the window's storage leaves
//! them out. Storage written by earlier versions, which held a flat copy of some broker fields, still
//! loads: those keys are ignored (they were overridden by the settings file at start already).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::Config;
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

/// Everything the console keeps of its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Prefs {
    /// The broker settings being run (or, in a Settings draft, edited): the sections of
    /// `onenet-desk.toml`. Not in the window's storage (the settings file is their home). Its
    /// `data_dir` is left empty: [`Prefs::data_dir`] or the command line names the data dir.
    #[serde(skip, default = "no_dir_config")]
    pub broker: Config,
    /// None: the data dir given on the command line or the platform default.
    pub data_dir: Option<PathBuf>,
    pub theme: Theme,
    pub lang: Lang,
    pub time_zone: TimeZone,
    pub templates: BTreeMap<String, Vec<Template>>,
    /// The field plotted of JSON-object streams: device → stream → path ("pos.x").
    pub plot_fields: BTreeMap<String, BTreeMap<String, String>>,
    /// The "no CJK font" notice is shown once.
    pub cjk_notice_shown: bool,
}

/// The broker defaults, without a data dir (see [`Prefs::broker`]).
fn no_dir_config() -> Config {
    Config::new(PathBuf::new())
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs::from_config(&no_dir_config())
    }
}

impl Prefs {
    /// Default window settings over the broker settings of `c`.
    pub fn from_config(c: &Config) -> Prefs {
        Prefs {
            broker: Config {
                data_dir: PathBuf::new(),
                ..c.clone()
            },
            data_dir: None,
            theme: Theme::System,
            lang: Lang::English,
            time_zone: TimeZone::Local,
            templates: BTreeMap::new(),
            plot_fields: BTreeMap::new(),
            cjk_notice_shown: false,
        }
    }

    /// The broker config these prefs describe, in the data dir they name or else `base`'s. Errors name
    /// the setting.
    pub fn to_config(&self, base: &Config) -> Result<Config, String> {
        let data_dir = match self.data_dir.as_ref().filter(|d| !d.as_os_str().is_empty()) {
            Some(d) => d.clone(),
            None => base.data_dir.clone(),
        };
        let c = Config {
            data_dir,
            ..self.broker.clone()
        };
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    /// These prefs' window settings over the broker settings of `config` (the settings file is the one
    /// source of truth for those; eframe's storage keeps only the window's).
    pub fn over_config(&self, config: &Config) -> Prefs {
        Prefs {
            broker: Prefs::from_config(config).broker,
            ..self.clone()
        }
    }

    /// These prefs' window settings with the broker settings (and data dir) of `other`.
    pub fn with_broker_of(&self, other: &Prefs) -> Prefs {
        Prefs {
            broker: other.broker.clone(),
            data_dir: other.data_dir.clone(),
            ..self.clone()
        }
    }

    /// The offset times are shown at.
    pub fn display_offset(&self, system: Option<i32>) -> i32 {
        match self.time_zone {
            TimeZone::Local => system.unwrap_or(self.broker.onenet.dp_utc_offset_secs),
            TimeZone::Utc8 => 8 * 3600,
            TimeZone::Utc => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use eframe::Storage;

    use super::*;

    /// eframe's storage in memory: the app reads and writes its prefs through these same calls.
    #[derive(Default)]
    struct Mem(std::collections::HashMap<String, String>);

    impl eframe::Storage for Mem {
        fn get_string(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn set_string(&mut self, key: &str, value: String) {
            self.0.insert(key.into(), value);
        }
        fn remove_string(&mut self, key: &str) {
            self.0.remove(key);
        }
        fn flush(&mut self) {}
    }

    /// What the console stored before the prefs held the `Config` sections (written by that version's
    /// `eframe::set_value`): a flat copy of some broker fields beside the window's settings.
    const STORED_BY_EARLIER_VERSIONS: &str = r#"(mqtt_addr:"127.0.0.1:7002",http_on:true,http_addr:"127.0.0.1:8080",profile:onenet,auto_register:false,data_dir:Some("/home/u/iot-data"),max_connections:100000,max_subscriptions:100,max_queued_per_session:1000,retain_flag_on_delivery:true,dp_utc_offset_secs:28800,dp_max_type7_floats:500,dp_max_binary:3145728,disconnect_on_bad_dp:false,dp_subscription_json:false,offline_max_messages:25,offline_max_age_h:48,command_response_window_s:10,command_reply_limit:65536,retention_days:0,retention_rows:0,theme:Dark,lang:Chinese,time_zone:Utc8,templates:{"9277":[(name:"led on",mode:Json,body:"{\"led\":1}")]},plot_fields:{"9277":{"location":"pos.x"}},cjk_notice_shown:true)"#;

    #[test]
    fn storage_of_earlier_versions_loads_and_the_settings_file_gives_the_broker_settings() {
        let mut mem = Mem::default();
        mem.set_string(STORAGE_KEY, STORED_BY_EARLIER_VERSIONS.into());
        let stored: Prefs = eframe::get_value(&mem, STORAGE_KEY).expect("the stored prefs load");
        assert_eq!(stored.theme, Theme::Dark);
        assert_eq!(stored.lang, Lang::Chinese);
        assert_eq!(stored.time_zone, TimeZone::Utc8);
        assert_eq!(stored.data_dir, Some(PathBuf::from("/home/u/iot-data")));
        assert_eq!(
            stored.templates["9277"],
            vec![Template {
                name: "led on".into(),
                mode: BodyMode::Json,
                body: "{\"led\":1}".into(),
            }]
        );
        assert_eq!(stored.plot_fields["9277"]["location"], "pos.x");
        assert!(stored.cjk_notice_shown);
        // The console starts on the settings file's values (as before), not the stored flat copy.
        let dir = tempfile::tempdir().unwrap();
        let mut file = Config::app_default(dir.path().to_path_buf());
        file.onenet.offline_max_messages = 12;
        file.mqtt_addr = "127.0.0.1:6003".parse().unwrap();
        file.save().unwrap();
        let config = crate::config::resolve(dir.path(), None, &[])
            .unwrap()
            .config;
        let p = stored.over_config(&config);
        assert_eq!(p.broker.onenet.offline_max_messages, 12);
        assert_eq!(p.broker.mqtt_addr.port(), 6003);
        assert_eq!(p.lang, Lang::Chinese);
        assert_eq!(
            p.to_config(&config).unwrap().data_dir,
            PathBuf::from("/home/u/iot-data")
        );
        // What is stored now reads back the same, and leaves the broker settings to the file.
        eframe::set_value(&mut mem, STORAGE_KEY, &p);
        let text = mem.get_string(STORAGE_KEY).unwrap();
        assert!(!text.contains("offline_max_messages"), "{text}");
        let back: Prefs = eframe::get_value(&mem, STORAGE_KEY).unwrap();
        assert_eq!(back.over_config(&config), p);
    }

    #[test]
    fn prefs_round_trip_to_config() {
        let base = Config::new(PathBuf::from("/data"));
        let p = Prefs::from_config(&base);
        assert_eq!(p.to_config(&base).unwrap(), base);
        let mut q = p.clone();
        q.broker.mqtt_addr = "127.0.0.1:7000".parse().unwrap();
        q.broker.retention.max_age = Some(Duration::from_secs(172_800));
        q.data_dir = Some(PathBuf::from("/other"));
        let c = q.to_config(&base).unwrap();
        assert_eq!(c.mqtt_addr.port(), 7000);
        assert_eq!(c.data_dir, PathBuf::from("/other"));
        assert_eq!(c.retention.max_age, Some(Duration::from_secs(172_800)));
        // Every section comes through whole, fields the Settings panel does not show included.
        q.broker.limits.max_packet = 1 << 20;
        assert_eq!(q.to_config(&base).unwrap().limits.max_packet, 1 << 20);
        q.broker.onenet.offline_max_messages = 0;
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
        assert_eq!(p.broker.mqtt_addr.to_string(), "0.0.0.0:6002");
    }
}
