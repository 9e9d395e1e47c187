//! Settings: listen addresses, profile, the decisions of spec §13, retention (saved in the data dir's
//! `onenet-desk.toml`, which `serve` reads too), and theme, language, time zone (the window's own).
//! Broker settings apply at once while it runs; only those that need a new listener or a new session
//! layout (addresses, profile, data dir, per-connection limits) restart it, and Apply asks first when
//! devices would be disconnected or sessions lost.
//!
//! The draft holds the `Config` sections themselves ([`Prefs::broker`]); only the listen addresses are
//! kept as typed text beside it until they parse.

use std::ops::RangeInclusive;
use std::time::Duration;

use egui::{DragValue, RichText, Ui};

use crate::config::{Config, Profile};
use crate::ui::actions::Action;
use crate::ui::i18n::tr;
use crate::ui::prefs::{Lang, Prefs, Theme, TimeZone};
use crate::ui::state::Model;
use crate::ui::widgets;

mod draft;
use draft::Typed;
pub use draft::{SHOWN, follow, shown_defaults};

#[derive(Default)]
pub struct SettingsPanel {
    /// The prefs being edited; None = not yet copied from the model.
    pub draft: Option<Prefs>,
    /// The draft's listen addresses as typed (the draft keeps the last that parsed).
    typed: Option<Typed>,
    /// The applied prefs the draft was made from: a setting changed elsewhere (Registry's
    /// auto-register) and not edited here follows into the draft, so Apply never undoes it.
    from: Option<Prefs>,
    /// Apply waiting for the user's confirmation: what a restart would cost was shown.
    confirm: Option<Prefs>,
}

/// Settings that take effect only when the broker restarts (a new listener, data dir, session layout
/// or per-connection limits), named as in the settings file; the rest apply while it runs.
pub fn restart_keys(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut v = Vec::new();
    let mut check = |changed: bool, key| {
        if changed {
            v.push(key);
        }
    };
    check(old.profile != new.profile, "profile");
    check(old.mqtt_addr != new.mqtt_addr, "mqtt_addr");
    check(old.http_addr != new.http_addr, "http_addr");
    check(old.data_dir != new.data_dir, "data_dir");
    check(
        old.limits.max_packet != new.limits.max_packet,
        "limits.max_packet",
    );
    check(
        old.limits.max_connections != new.limits.max_connections,
        "limits.max_connections",
    );
    check(
        old.limits.connect_timeout != new.limits.connect_timeout,
        "limits.connect_timeout_secs",
    );
    check(
        old.limits.pubrel_timeout != new.limits.pubrel_timeout,
        "limits.pubrel_timeout_secs",
    );
    v
}

/// A duration edited in whole `unit`s of seconds; left as it is unless edited.
fn in_units(
    ui: &mut Ui,
    d: &mut Duration,
    unit: u64,
    range: RangeInclusive<u64>,
) -> egui::Response {
    let mut n = d.as_secs() / unit;
    let r = ui.add(bounded(&mut n, range));
    if r.changed() {
        *d = Duration::from_secs(n * unit);
    }
    r
}

/// A number edited within `range`. A value already outside it (set in the settings file, where the
/// broker takes it) is shown as it is: egui's default clamps it when drawn and reports a change, which
/// rewrote the setting without an edit and lit Apply.
fn bounded<N: egui::emath::Numeric>(v: &mut N, range: RangeInclusive<N>) -> DragValue<'_> {
    DragValue::new(v)
        .range(range)
        .clamp_existing_to_range(false)
}

/// A byte bound edited in MiB, to a tenth.
fn in_mib(ui: &mut Ui, bytes: &mut usize, range: RangeInclusive<f64>) -> egui::Response {
    let mut mib = *bytes as f64 / MIB;
    let r = ui.add(bounded(&mut mib, range).speed(1.0).max_decimals(1));
    if r.changed() {
        *bytes = (mib * MIB).round() as usize;
    }
    r
}

/// An optional limit edited as a number, 0 meaning none.
fn zero_none(ui: &mut Ui, v: &mut Option<u64>, range: RangeInclusive<u64>) -> egui::Response {
    let mut n = v.unwrap_or(0);
    let r = ui.add(bounded(&mut n, range));
    if r.changed() {
        *v = (n > 0).then_some(n);
    }
    r
}

/// What restarting the broker with `new` costs, in words; None when nothing is lost (no device online,
/// no persistent session that the change would drop). Persistent sessions do not survive a profile
/// switch: a session resumes only in the namespace it was made in (the product id in `onenet`, none in
/// `mqtt`), so its subscriptions and queued messages are dropped at the device's next login.
pub fn restart_cost(m: &Model, new: &Prefs) -> Option<String> {
    let keys = new
        .to_config(&m.config)
        .map(|c| restart_keys(&m.config, &c))
        .unwrap_or_default();
    if keys.is_empty() || !m.is_running() {
        return None;
    }
    let mut parts = Vec::new();
    let online = m.online_count();
    if online > 0 {
        parts.push(format!(
            "{} ({}): {online} {}",
            tr("Restarts the broker"),
            keys.join(", "),
            if online == 1 {
                tr("device will reconnect.")
            } else {
                tr("devices will reconnect.")
            }
        ));
    }
    if new.broker.profile != m.prefs.broker.profile {
        let lost: Vec<String> = m
            .sessions
            .iter()
            .filter(|s| !s.clean_session && (!s.subscriptions.is_empty() || s.queued > 0))
            .map(|s| {
                format!(
                    "{} ({} {}, {} {})",
                    s.client_id,
                    s.subscriptions.len(),
                    tr("subscriptions"),
                    s.queued,
                    tr("queued")
                )
            })
            .collect();
        if !lost.is_empty() {
            parts.push(format!(
                "{} {} → {}: {}. {}",
                tr("Persistent sessions are lost when switching profile"),
                m.prefs.broker.profile.name(),
                new.broker.profile.name(),
                lost.join(", "),
                tr("Those devices log in with session present 0 and must subscribe again.")
            ));
        }
    }
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// Bytes per MiB, for the settings given in MiB.
const MIB: f64 = 1024.0 * 1024.0;

/// Writes the typed addresses into the draft, then whether it can be applied: `Ok(true)` valid and not
/// what is applied already, `Ok(false)` nothing changed, `Err` why it is not valid.
fn applicable(typed: &Typed, d: &mut Prefs, m: &Model) -> Result<bool, String> {
    typed.write(&mut d.broker)?;
    d.to_config(&m.config)?;
    Ok(*d != m.prefs)
}

/// A label and its widgets; `add` gets the label's id to name its widgets for screen readers.
fn row(ui: &mut Ui, label: &str, hint: &str, add: impl FnOnce(&mut Ui, egui::Id)) {
    let id = ui.label(label).on_hover_text(hint).id;
    ui.horizontal(|ui| add(ui, id));
    ui.end_row();
}

impl SettingsPanel {
    pub fn ui(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        widgets::title(
            ui,
            tr("Settings"),
            tr(
                "Broker settings are saved in onenet-desk.toml in the data directory (serve reads it too) and take effect when you apply them; only addresses, profile and connection limits restart the broker.",
            ),
        );
        // The typed addresses follow too when they were not edited (still as in `from`).
        let (mut d, mut typed) = match (self.draft.take(), self.from.take()) {
            (Some(d), Some(from)) if from != m.prefs => {
                let edited = self.typed.take().filter(|t| *t != Typed::of(&from.broker));
                let d = follow(&d, &from, &m.prefs);
                let t = edited.unwrap_or_else(|| Typed::of(&d.broker));
                (d, t)
            }
            (Some(d), _) => {
                let t = self.typed.take().unwrap_or_else(|| Typed::of(&d.broker));
                (d, t)
            }
            _ => (m.prefs.clone(), Typed::of(&m.prefs.broker)),
        };
        self.from = Some(m.prefs.clone());
        self.look(ui, m, &mut d, out);
        // Apply, Revert and Defaults stay in sight below the settings, however many rows scroll above
        // them (at 1024×700 the last rows pushed them out of the window). Drawn first, so a click is
        // noted here and carried out after the rows, on what they hold this frame.
        let (mut apply, mut revert, mut defaults) = (false, false, false);
        egui::Panel::bottom("settings-apply").show(ui, |ui| {
            ui.add_space(6.0);
            let check = applicable(&typed, &mut d, m);
            if let Err(e) = &check {
                ui.colored_label(widgets::RED, e);
            }
            ui.horizontal(|ui| {
                apply = ui
                    .add_enabled(check == Ok(true), egui::Button::new(RichText::new(tr("Apply")).strong()))
                    .on_hover_text(tr("Save to onenet-desk.toml and apply; asks first when the broker must restart"))
                    .clicked();
                revert = ui.button(tr("Revert")).on_hover_text(tr("Forget the changes not applied")).clicked();
                defaults = ui.button(tr("Defaults")).on_hover_text(tr("OneNET's defaults (not applied until you press Apply)")).clicked();
            });
            ui.add_space(4.0);
        });
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.add_space(6.0);
            ui.strong(tr("Broker"));
            egui::Grid::new("set-broker").num_columns(2).spacing([16.0, 6.0]).show(ui, |ui| {
                row(ui, tr("Listen address"), tr("IP:port of the MQTT listener; OneNET devices use port 6002. 0.0.0.0 = every interface."), |ui, id| {
                    ui.text_edit_singleline(&mut typed.mqtt).labelled_by(id);
                });
                row(ui, tr("HTTP API"), tr("OneNET's HTTP API (commands, topics, datapoints) for applications and `onenet-desk cmd send`; keep it on 127.0.0.1 unless other computers need it."), |ui, id| {
                    ui.checkbox(&mut typed.http_on, tr("on")).labelled_by(id);
                    ui.add_enabled(typed.http_on, egui::TextEdit::singleline(&mut typed.http).desired_width(160.0))
                        .labelled_by(id);
                });
                row(ui, tr("Profile"), tr("onenet: registered devices and OneNET's rules. mqtt: plain MQTT 3.1.1, anonymous, wildcards."), |ui, _| {
                    ui.selectable_value(&mut d.broker.profile, Profile::OneNet, "onenet");
                    ui.selectable_value(&mut d.broker.profile, Profile::Mqtt, "mqtt");
                });
                row(ui, tr("Auto-register"), tr("Unknown device ids of known products are registered on first connect."), |ui, id| {
                    ui.checkbox(&mut d.broker.auto_register, "").labelled_by(id);
                });
                row(ui, tr("Data directory"), tr("Where the database lives (applies on restart of the broker)."), |ui, id| {
                    let mut text = d
                        .data_dir
                        .clone()
                        .unwrap_or_else(|| m.config.data_dir.clone())
                        .display()
                        .to_string();
                    if ui.text_edit_singleline(&mut text).labelled_by(id).changed() {
                        d.data_dir = Some(text.into());
                    }
                    if ui.button(tr("Open")).on_hover_text(tr("Open the data directory in the file manager")).clicked() {
                        out.push(Action::OpenDataDir);
                    }
                });
                row(ui, tr("Max connections"), tr("Beyond this, CONNACK 3 (server unavailable)."), |ui, id| {
                    ui.add(bounded(&mut d.broker.limits.max_connections, 1..=1_000_000)).labelled_by(id);
                });
                row(ui, tr("Max subscriptions per client"), tr("A device's further subscriptions are refused (SUBACK 0x80). OneNET allows 100. Spec §8.1."), |ui, id| {
                    ui.add(bounded(&mut d.broker.limits.max_subscriptions, 1..=10_000)).labelled_by(id);
                });
                row(ui, tr("Max queued per session"), tr("Messages waiting for one session beyond its in-flight window. Online, its publishers wait at this many; offline, the oldest are dropped."), |ui, id| {
                    ui.add(bounded(&mut d.broker.limits.max_queued_per_session, 1..=1_000_000)).labelled_by(id);
                });
                row(ui, tr("Messages in flight per device"), tr("QoS 1/2 messages sent to one device and not yet acknowledged. Lower it for a device that cannot take a burst."), |ui, id| {
                    ui.add(bounded(&mut d.broker.limits.inflight_window, 1..=65_535)).labelled_by(id);
                });
                row(ui, tr("Payloads in flight per device (MiB)"), tr("The same window in payload bytes, whichever comes first. One message always goes when none is in flight, whatever its size."), |ui, id| {
                    in_mib(ui, &mut d.broker.limits.max_inflight_bytes, 0.1..=4096.0).labelled_by(id);
                });
                row(ui, tr("Queued payloads per session (MiB)"), tr("The queue's bound in payload bytes, beside its count, whichever comes first: online, its publishers wait; offline, the oldest are dropped."), |ui, id| {
                    in_mib(ui, &mut d.broker.limits.max_queued_bytes_per_session, 0.1..=65_536.0).labelled_by(id);
                });
                row(ui, tr("Output waiting per connection (messages)"), tr("Output queued for one connection and not yet written. QoS 0 beyond it is dropped and counted (Devices, Overview); QoS 1/2 wait in the session's queue."), |ui, id| {
                    ui.add(bounded(&mut d.broker.limits.max_outbound_messages, 1..=10_000_000)).labelled_by(id);
                });
                row(ui, tr("Output waiting per connection (MiB)"), tr("The same in bytes of topic and payload, whichever comes first."), |ui, id| {
                    in_mib(ui, &mut d.broker.limits.max_outbound_bytes, 0.1..=4096.0).labelled_by(id);
                });
                row(ui, tr("Disconnect a device that stops reading after (s)"), tr("A connection whose socket takes none of its waiting output for this long is closed, with a diagnostic; its session then follows the offline rules. A slow reader that keeps reading is not."), |ui, id| {
                    in_units(ui, &mut d.broker.limits.stuck_timeout, 1, 1..=86_400).labelled_by(id);
                });
                row(ui, tr("Disconnect a device that does not acknowledge after (s)"), tr("A QoS 1/2 message sent to a device and not acknowledged (PUBACK, PUBREC or PUBCOMP) within this time closes its connection, with a diagnostic naming the packet id. Spec §5."), |ui, id| {
                    in_units(ui, &mut d.broker.limits.ack_timeout, 1, 1..=86_400).labelled_by(id);
                });
                row(ui, tr("Retained messages kept at most"), tr("In all products. One more is still delivered to the topic's subscribers but not kept for later ones, and its topic's older retained message goes; the Retained panel counts them."), |ui, id| {
                    ui.add(bounded(&mut d.broker.limits.max_retained_messages, 1..=10_000_000)).labelled_by(id);
                });
                row(ui, tr("Retained payloads kept at most (MiB)"), tr("The retained messages' payloads in all, in memory and in the database; past it, as past the count."), |ui, id| {
                    in_mib(ui, &mut d.broker.limits.max_retained_bytes, 1.0..=65_536.0).labelled_by(id);
                });
            });
            ui.add_space(8.0);
            ui.strong(tr("Compatibility with OneNET devices"))
                .on_hover_text(tr("How the broker treats OneNET firmware where the documents leave a choice: spec §13"));
            egui::Grid::new("set-onenet").num_columns(2).spacing([16.0, 6.0]).show(ui, |ui| {
                row(ui, tr("Mark retained messages as retained when delivering them"), tr("Turn this off if your firmware uses OneNET's official C SDK: it rejects messages that arrive with RETAIN=1. Spec §5, §13."), |ui, id| {
                    ui.checkbox(&mut d.broker.onenet.retain_flag_on_delivery, "").labelled_by(id);
                });
                row(ui, tr("Time zone of the times devices upload (hours from UTC)"), tr("Times inside $dp uploads are read as this zone's clock; OneNET uses China time, UTC+8. Spec §6, §13."), |ui, id| {
                    let mut h = d.broker.onenet.dp_utc_offset_secs as f32 / 3600.0;
                    if ui.add(bounded(&mut h, -14.0..=14.0).speed(0.25)).labelled_by(id).changed() {
                        d.broker.onenet.dp_utc_offset_secs = (h * 3600.0).round() as i32;
                    }
                });
                row(ui, tr("Most values in one float upload"), tr("A type 7 (floats) upload with more values is refused. OneNET allows 500. Spec §6.7."), |ui, id| {
                    ui.add(bounded(&mut d.broker.onenet.dp_max_type7_floats, 1..=100_000)).labelled_by(id);
                });
                row(ui, tr("Largest binary upload (bytes)"), tr("A type 2 (binary) upload larger than this is refused. OneNET allows 3 MiB. Spec §6.2."), |ui, id| {
                    ui.add(bounded(&mut d.broker.onenet.dp_max_binary, 1..=64 * 1024 * 1024)).labelled_by(id);
                });
                row(ui, tr("Disconnect a device whose upload cannot be read"), tr("After acknowledging it, close the connection when a $dp payload does not decode, as OneNET does; off: keep the device connected and record a warning. Spec §13."), |ui, id| {
                    ui.checkbox(&mut d.broker.onenet.disconnect_on_bad_dp, "").labelled_by(id);
                });
                row(ui, tr("Send subscribed datapoints as JSON"), tr("Applications subscribed to a device's datapoints get {\"ds_id\",\"at\",\"value\"} instead of the bare value. Spec §10, §13."), |ui, id| {
                    ui.checkbox(&mut d.broker.onenet.dp_subscription_json, "").labelled_by(id);
                });
                row(ui, tr("Messages kept for an offline device"), tr("The newest are kept and delivered when it connects; older ones are dropped. OneNET keeps 10. Spec §9."), |ui, id| {
                    ui.add(bounded(&mut d.broker.onenet.offline_max_messages, 1..=100_000)).labelled_by(id);
                });
                row(ui, tr("How long they are kept (hours)"), tr("Messages waiting longer for an offline device are dropped. OneNET keeps them 2 days. Spec §9."), |ui, id| {
                    in_units(ui, &mut d.broker.onenet.offline_max_age, 3600, 1..=24 * 365).labelled_by(id);
                });
                row(ui, tr("Wait for a command's reply (s)"), tr("A command the device does not answer ($crsp) within this time gets status 5, timeout. Spec §7.2."), |ui, id| {
                    in_units(ui, &mut d.broker.onenet.command_response_window, 1, 1..=86_400).labelled_by(id);
                });
                row(ui, tr("Largest command reply (bytes)"), tr("A larger reply is not kept and the command gets status 6. Spec §7.2."), |ui, id| {
                    ui.add(bounded(&mut d.broker.onenet.command_reply_limit, 1..=16 * 1024 * 1024)).labelled_by(id);
                });
            });
            ui.add_space(8.0);
            ui.strong(tr("Retention"));
            egui::Grid::new("set-retention").num_columns(2).spacing([16.0, 6.0]).show(ui, |ui| {
                row(ui, tr("Keep datapoints (days)"), tr("0 = forever."), |ui, id| {
                    let mut days = d.broker.retention.max_age.map(|a| a.as_secs() / 86_400);
                    if zero_none(ui, &mut days, 0..=36_500).labelled_by(id).changed() {
                        d.broker.retention.max_age = days.map(|n| Duration::from_secs(n * 86_400));
                    }
                });
                row(ui, tr("Keep per stream (points)"), tr("0 = all."), |ui, id| {
                    zero_none(ui, &mut d.broker.retention.max_rows_per_stream, 0..=u32::MAX as u64).labelled_by(id);
                });
            });
        });
        if apply && applicable(&typed, &mut d, m) == Ok(true) {
            match restart_cost(m, &d) {
                Some(_) => self.confirm = Some(d.clone()),
                None => out.push(Action::ApplySettings(Box::new(d.clone()))),
            }
        }
        if revert {
            d = m.prefs.clone();
            typed = Typed::of(&d.broker);
        }
        if defaults {
            d.broker = shown_defaults(&d.broker);
            d.data_dir = None;
            typed = Typed::of(&d.broker);
        }
        if let Some(p) = self.confirm.clone() {
            let q = restart_cost(m, &p).unwrap_or_default();
            match widgets::confirm(ui, "confirm-apply", &q, tr("Apply and restart")) {
                Some(true) => {
                    out.push(Action::ApplySettings(Box::new(p)));
                    self.confirm = None;
                }
                Some(false) => self.confirm = None,
                None => {}
            }
        }
        self.draft = Some(d);
        self.typed = Some(typed);
    }

    /// Theme, language and time zone apply at once.
    fn look(&mut self, ui: &mut Ui, m: &Model, d: &mut Prefs, out: &mut Vec<Action>) {
        let before = (d.theme, d.lang, d.time_zone);
        egui::Grid::new("set-look")
            .num_columns(2)
            .spacing([16.0, 6.0])
            .show(ui, |ui| {
                row(
                    ui,
                    tr("Theme"),
                    tr("Follow the system, or choose"),
                    |ui, _| {
                        ui.selectable_value(&mut d.theme, Theme::System, tr("System"));
                        ui.selectable_value(&mut d.theme, Theme::Light, tr("Light"));
                        ui.selectable_value(&mut d.theme, Theme::Dark, tr("Dark"));
                    },
                );
                row(ui, tr("Language"), "English / 中文", |ui, _| {
                    ui.selectable_value(&mut d.lang, Lang::English, "English");
                    ui.selectable_value(&mut d.lang, Lang::Chinese, "中文");
                });
                row(
                    ui,
                    tr("Times shown in"),
                    tr("Clock used for every time in the console"),
                    |ui, _| {
                        ui.selectable_value(&mut d.time_zone, TimeZone::Local, tr("This computer"));
                        ui.selectable_value(&mut d.time_zone, TimeZone::Utc8, "UTC+8");
                        ui.selectable_value(&mut d.time_zone, TimeZone::Utc, "UTC");
                    },
                );
            });
        if (d.theme, d.lang, d.time_zone) != before {
            let mut p = m.prefs.clone();
            p.theme = d.theme;
            p.lang = d.lang;
            p.time_zone = d.time_zone;
            out.push(Action::ApplySettings(Box::new(p)));
        }
    }
}
