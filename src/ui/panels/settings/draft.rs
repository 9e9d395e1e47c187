//! The Settings draft's machinery, as data: following settings changed elsewhere, the defaults of the
//! keys the panel shows, and the listen addresses as typed.

use std::net::SocketAddr;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{Config, DEFAULT_HTTP_ADDR};
use crate::ui::prefs::Prefs;

/// A draft with the settings changed elsewhere since it was made (and not edited in it) taken over,
/// setting by setting, the broker's sections included.
pub fn follow(draft: &Prefs, from: &Prefs, now: &Prefs) -> Prefs {
    Prefs {
        broker: follow_fields(&draft.broker, &from.broker, &now.broker),
        ..follow_fields(draft, from, now)
    }
}

/// `draft` with every serde field (nested ones one by one) that it has as in `from` taken from `now`.
fn follow_fields<T: Serialize + DeserializeOwned + Clone>(draft: &T, from: &T, now: &T) -> T {
    fn merge(d: &mut serde_json::Value, f: &serde_json::Value, n: &serde_json::Value) {
        use serde_json::Value::Object;
        if d == f {
            *d = n.clone();
        } else if let (Object(d), Object(f), Object(n)) = (d, f, n) {
            for (k, nv) in n {
                if let (Some(dv), Some(fv)) = (d.get_mut(k), f.get(k)) {
                    merge(dv, fv, nv);
                }
            }
        }
    }
    let (Ok(mut d), Ok(f), Ok(n)) = (
        serde_json::to_value(draft),
        serde_json::to_value(from),
        serde_json::to_value(now),
    ) else {
        return draft.clone();
    };
    merge(&mut d, &f, &n);
    serde_json::from_value(d).unwrap_or_else(|_| draft.clone())
}

/// The settings the panel shows, by their keys in `onenet-desk.toml`: what Defaults resets (keys set
/// only in the file keep their value, as the panel cannot show them being reset).
pub const SHOWN: [&str; 28] = [
    "profile",
    "mqtt_addr",
    "http_addr",
    "auto_register",
    "limits.max_connections",
    "limits.max_subscriptions",
    "limits.max_queued_per_session",
    "limits.inflight_window",
    "limits.max_inflight_bytes",
    "limits.max_queued_bytes_per_session",
    "limits.max_outbound_messages",
    "limits.max_outbound_bytes",
    "limits.stuck_timeout_secs",
    "limits.ack_timeout_secs",
    "limits.max_retained_messages",
    "limits.max_retained_bytes",
    "onenet.retain_flag_on_delivery",
    "onenet.dp_utc_offset_secs",
    "onenet.dp_max_type7_floats",
    "onenet.dp_max_binary",
    "onenet.disconnect_on_bad_dp",
    "onenet.dp_subscription_json",
    "onenet.offline_max_messages",
    "onenet.offline_max_age_secs",
    "onenet.command_response_window_secs",
    "onenet.command_reply_limit",
    "retention.max_age_days",
    "retention.max_rows_per_stream",
];

/// `c` with the [`SHOWN`] settings at the app's defaults.
pub fn shown_defaults(c: &Config) -> Config {
    let (Ok(mut v), Ok(def)) = (
        serde_json::to_value(c),
        serde_json::to_value(Config::app_default(c.data_dir.clone())),
    ) else {
        return c.clone();
    };
    for key in SHOWN {
        let pointer = format!("/{}", key.replace('.', "/"));
        if let (Some(slot), Some(d)) = (v.pointer_mut(&pointer), def.pointer(&pointer)) {
            *slot = d.clone();
        }
    }
    match serde_json::from_value::<Config>(v) {
        Ok(fresh) => Config {
            data_dir: c.data_dir.clone(),
            ..fresh
        },
        Err(_) => c.clone(),
    }
}

/// The listen addresses as typed: text that may not parse yet (its error is shown and Apply waits);
/// the HTTP address is kept while the API is off.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Typed {
    pub(super) mqtt: String,
    pub(super) http_on: bool,
    pub(super) http: String,
}

impl Typed {
    pub(super) fn of(c: &Config) -> Typed {
        Typed {
            mqtt: c.mqtt_addr.to_string(),
            http_on: c.http_addr.is_some(),
            http: c
                .http_addr
                .map_or_else(|| DEFAULT_HTTP_ADDR.to_string(), |a| a.to_string()),
        }
    }

    /// Writes the addresses into `c`; the error names the setting and how to write it.
    pub(super) fn write(&self, c: &mut Config) -> Result<(), String> {
        c.mqtt_addr = self.mqtt.trim().parse::<SocketAddr>().map_err(|_| {
            format!(
                "listen address '{}' is not valid: write IP:port, e.g. 0.0.0.0:6002",
                self.mqtt
            )
        })?;
        c.http_addr = if self.http_on {
            Some(self.http.trim().parse::<SocketAddr>().map_err(|_| {
                format!(
                    "HTTP API address '{}' is not valid: write IP:port, e.g. 127.0.0.1:8080",
                    self.http
                )
            })?)
        } else {
            None
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::config::Profile;

    #[test]
    fn every_shown_key_is_a_key_of_the_settings_file() {
        let v = serde_json::to_value(Config::app_default(PathBuf::new())).unwrap();
        for key in SHOWN {
            let pointer = format!("/{}", key.replace('.', "/"));
            assert!(v.pointer(&pointer).is_some(), "{key} is not a Config key");
        }
    }

    #[test]
    fn defaults_reset_what_the_panel_shows_and_keep_the_rest() {
        let mut c = Config::new(PathBuf::from("/data"));
        c.profile = Profile::Mqtt;
        c.onenet.offline_max_messages = 3;
        c.retention.max_age = Some(Duration::from_secs(86_400));
        c.limits.max_packet = 1 << 20;
        c.onenet.diagnostics_per_device = 7;
        // One of each kind of limit row (inflight and the retained bounds were once left out of Defaults).
        c.limits.inflight_window = 3;
        c.limits.max_inflight_bytes = 2048;
        c.limits.max_queued_bytes_per_session = 2048;
        c.limits.max_outbound_messages = 3;
        c.limits.max_outbound_bytes = 2048;
        c.limits.stuck_timeout = Duration::from_secs(3);
        c.limits.ack_timeout = Duration::from_secs(3);
        c.limits.max_retained_messages = 3;
        c.limits.max_retained_bytes = 2048;
        let d = shown_defaults(&c);
        let def = Config::app_default(PathBuf::from("/data"));
        assert_eq!(d.profile, Profile::OneNet);
        assert_eq!(d.http_addr, def.http_addr);
        assert_eq!(d.onenet.offline_max_messages, 10);
        assert_eq!(d.retention.max_age, None);
        assert_eq!(d.limits.inflight_window, def.limits.inflight_window);
        assert_eq!(d.limits.max_inflight_bytes, def.limits.max_inflight_bytes);
        assert_eq!(
            d.limits.max_queued_bytes_per_session,
            def.limits.max_queued_bytes_per_session
        );
        assert_eq!(
            d.limits.max_outbound_messages,
            def.limits.max_outbound_messages
        );
        assert_eq!(d.limits.max_outbound_bytes, def.limits.max_outbound_bytes);
        assert_eq!(d.limits.stuck_timeout, def.limits.stuck_timeout);
        assert_eq!(d.limits.ack_timeout, def.limits.ack_timeout);
        assert_eq!(
            d.limits.max_retained_messages,
            def.limits.max_retained_messages
        );
        assert_eq!(d.limits.max_retained_bytes, def.limits.max_retained_bytes);
        assert_eq!(d.limits.max_packet, 1 << 20, "not shown: kept");
        assert_eq!(d.onenet.diagnostics_per_device, 7, "not shown: kept");
        assert_eq!(d.data_dir, PathBuf::from("/data"));
    }

    #[test]
    fn a_draft_follows_settings_changed_elsewhere_field_by_field() {
        let from = Prefs::default();
        let mut now = from.clone();
        now.broker.auto_register = true;
        now.lang = crate::ui::prefs::Lang::Chinese;
        let mut draft = from.clone();
        draft.broker.profile = Profile::Mqtt;
        draft.broker.onenet.offline_max_messages = 4;
        let d = follow(&draft, &from, &now);
        assert!(
            d.broker.auto_register,
            "changed elsewhere, not edited: taken"
        );
        assert_eq!(d.lang, crate::ui::prefs::Lang::Chinese);
        assert_eq!(d.broker.profile, Profile::Mqtt, "edited: kept");
        assert_eq!(d.broker.onenet.offline_max_messages, 4, "edited: kept");
    }

    #[test]
    fn typed_addresses_name_the_bad_one() {
        let mut c = Config::new(PathBuf::new());
        let mut t = Typed::of(&c);
        assert_eq!(
            t.http, DEFAULT_HTTP_ADDR,
            "off keeps an address to type over"
        );
        t.mqtt = "nonsense".into();
        assert!(
            t.write(&mut c)
                .unwrap_err()
                .contains("listen address 'nonsense'")
        );
        t.mqtt = "127.0.0.1:7000".into();
        t.http_on = true;
        t.write(&mut c).unwrap();
        assert_eq!(c.mqtt_addr.port(), 7000);
        assert_eq!(c.http_addr, DEFAULT_HTTP_ADDR.parse().ok());
    }
}
