//! Commands: compose a platform command (text, validated JSON or hex; optional offline validity), send it
//! (button or Ctrl+Enter), follow its status (created → sent → replied / timeout), read the `$crsp` reply
//! as text, JSON or hex; history per device with resend; saved templates per device.

use egui::{Key, Modifiers, RichText, Ui};

use crate::onenet::commands::{Command, CommandStatus, MAX_VALIDITY_S};
use crate::ui::actions::{Action, BodyMode};
use crate::ui::format;
use crate::ui::i18n::tr;
use crate::ui::prefs::Template;
use crate::ui::state::Model;
use crate::ui::widgets::{self, AMBER, GREEN, GREY, RED};

/// The bytes a body stands for, or why it is not valid.
pub fn body_bytes(mode: BodyMode, body: &str) -> Result<Vec<u8>, String> {
    if body.is_empty() {
        return Err(tr("The body is empty.").into());
    }
    match mode {
        BodyMode::Text => Ok(body.as_bytes().to_vec()),
        BodyMode::Json => serde_json::from_str::<serde_json::Value>(body)
            .map(|_| body.as_bytes().to_vec())
            .map_err(|e| json_error(body, &e)),
        BodyMode::Hex => format::parse_hex(body),
    }
}

/// A JSON error with its column in characters (the parser counts bytes: 温度 is 2 characters, 6 bytes).
pub fn json_error(body: &str, e: &serde_json::Error) -> String {
    let text = e.to_string();
    let what = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(w, _)| w);
    let line = body.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
    let byte = e.column().saturating_sub(1).min(line.len());
    let col = line.char_indices().take_while(|(i, _)| *i < byte).count() + 1;
    format!(
        "{} {what} ({} {}, {} {col})",
        tr("Invalid JSON:"),
        tr("line"),
        e.line(),
        tr("column")
    )
}

fn status_color(s: CommandStatus) -> egui::Color32 {
    match s {
        CommandStatus::Replied => GREEN,
        CommandStatus::Sent | CommandStatus::Created => AMBER,
        _ => RED,
    }
}

#[derive(Default)]
pub struct CommandsPanel {
    pub device: String,
    pub mode: BodyMode,
    pub body: String,
    pub validity_s: u32,
    /// Send with `qos=1`: again at each login of the device until answered, while valid (§7.2).
    pub resend_at_login: bool,
    /// The unit validity is edited in (None: the largest that shows it whole).
    pub validity_unit: Option<crate::ui::validity::Unit>,
    pub template_name: String,
    /// The command shown in detail (default: the device's newest).
    pub viewing: Option<String>,
    /// How a reply is shown, per command (uuid); a reply not yet chosen for is shown as what it is.
    reply_view: Option<(String, BodyMode)>,
    asked: Option<String>,
}

impl CommandsPanel {
    pub fn ui(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        if self.device.is_empty()
            && let Some(d) = m.selected.clone()
        {
            self.device = d;
        }
        if !self.device.is_empty() && self.asked.as_deref() != Some(self.device.as_str()) {
            self.asked = Some(self.device.clone());
            out.push(Action::LoadCommandHistory(self.device.clone()));
        }
        widgets::title(
            ui,
            tr("Commands"),
            tr("Send $creq commands to a device and read its $crsp reply."),
        );
        ui.columns(2, |cols| {
            self.composer(&mut cols[0], m, out);
            self.detail(&mut cols[1], m, out);
        });
    }

    fn composer(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        egui::Grid::new("composer").num_columns(2).show(ui, |ui| {
            let device_label = ui.label(tr("Device")).id;
            let devices = m.device_ids_online_first();
            egui::ComboBox::from_id_salt("cmd-device")
                .selected_text(if self.device.is_empty() {
                    tr("choose a device").to_string()
                } else {
                    m.device_label(&self.device)
                })
                .width(260.0)
                .show_ui(ui, |ui| {
                    for (id, online) in devices {
                        let label =
                            format!("{} {}", if online { "●" } else { "○" }, m.device_label(&id));
                        if ui.selectable_label(self.device == id, label).clicked() {
                            self.device = id;
                            self.viewing = None;
                        }
                    }
                })
                .response
                .labelled_by(device_label)
                .on_hover_text(tr("Online devices are listed first"));
            ui.end_row();
            ui.label(tr("Body as"));
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.mode, BodyMode::Text, tr("Text"));
                ui.selectable_value(&mut self.mode, BodyMode::Json, "JSON")
                    .on_hover_text(tr("Checked to be valid JSON before sending"));
                ui.selectable_value(&mut self.mode, BodyMode::Hex, "Hex")
                    .on_hover_text(tr("Bytes as hex, e.g. 01 A0 FF"));
            });
            ui.end_row();
            let validity_label = ui.label(tr("Offline validity")).id;
            ui.horizontal(|ui| self.validity(ui, validity_label));
            ui.end_row();
            ui.label(tr("Until answered"));
            ui.checkbox(
                &mut self.resend_at_login,
                tr("Send again at each login while valid (qos=1)"),
            )
            .on_hover_text(tr(
                "Unchecked: sent once (qos=0). Checked: a command the device has not answered is sent again each time it logs in, until it answers or the validity runs out",
            ));
            ui.end_row();
        });
        let editor = ui.add(
            egui::TextEdit::multiline(&mut self.body)
                .id_salt("cmd-body")
                .code_editor()
                .desired_rows(6)
                .desired_width(f32::INFINITY)
                .hint_text(tr("Command body")),
        );
        editor.accessible_name(tr("Command body"));
        let parsed = body_bytes(self.mode, &self.body);
        match &parsed {
            Ok(b) => {
                ui.weak(format!("{} {}", b.len(), tr("bytes")));
            }
            Err(e) if !self.body.is_empty() => {
                ui.colored_label(RED, e);
            }
            Err(_) => {}
        }
        let can_send = parsed.is_ok() && !self.device.is_empty();
        let ctrl_enter = ui.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::Enter));
        ui.horizontal(|ui| {
            let send = ui
                .add_enabled(
                    can_send,
                    egui::Button::new(RichText::new(tr("Send")).strong()),
                )
                .on_hover_text(tr("Send the command (Ctrl+Enter)"));
            if (send.clicked() || (ctrl_enter && can_send))
                && let Ok(body) = parsed.clone()
            {
                out.push(Action::SendCommand {
                    device: self.device.clone(),
                    body,
                    validity_s: self.validity_s,
                    qos: u8::from(self.resend_at_login),
                });
                self.viewing = None;
            }
            if !m.is_online(&self.device) && !self.device.is_empty() {
                ui.colored_label(AMBER, tr("device offline"));
            }
        });
        ui.separator();
        self.templates(ui, m, out);
    }

    /// Offline validity as an amount and a unit (s, min, h, d), kept in seconds.
    fn validity(&mut self, ui: &mut Ui, label: egui::Id) {
        let unit = crate::ui::validity::unit_of(self.validity_s, self.validity_unit);
        let factor = unit.seconds();
        let mut amount = self.validity_s / factor;
        let r = ui
            .add(egui::DragValue::new(&mut amount).range(0..=MAX_VALIDITY_S / factor))
            .labelled_by(label)
            .on_hover_text(tr(
                "0: online only (status 0 if the device is offline). More: delivered when the device connects within this time.",
            ));
        if r.changed() {
            self.validity_s = (amount * factor).min(MAX_VALIDITY_S);
        }
        let mut chosen = unit;
        for u in crate::ui::validity::Unit::ALL {
            ui.selectable_value(&mut chosen, u, tr(u.name()));
        }
        if chosen != unit {
            self.validity_unit = Some(chosen);
            self.validity_s = (amount * chosen.seconds()).min(MAX_VALIDITY_S);
        }
    }

    fn templates(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        ui.strong(tr("Templates"))
            .on_hover_text(tr("Saved bodies, shared by every device"));
        // Shared templates, then those an earlier version kept for this device.
        let keys = [String::new(), self.device.clone()];
        let lists = keys
            .iter()
            .enumerate()
            .filter(|(i, k)| *i == 0 || !k.is_empty())
            .filter_map(|(_, k)| m.prefs.templates.get(k).map(|l| (k, l)));
        for (key, list) in lists {
            for t in list {
                ui.horizontal(|ui| {
                    if ui
                        .button(&t.name)
                        .on_hover_text(tr("Put this template in the composer"))
                        .clicked()
                    {
                        self.mode = t.mode;
                        self.body = t.body.clone();
                    }
                    if ui
                        .small_button("×")
                        .on_hover_text(tr("Delete the template"))
                        .clicked()
                    {
                        out.push(Action::DeleteTemplate {
                            device: key.clone(),
                            name: t.name.clone(),
                        });
                    }
                });
            }
        }
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut self.template_name)
                    .hint_text(tr("template name"))
                    .desired_width(140.0),
            )
            .accessible_name(tr("template name"));
            if ui
                .add_enabled(
                    !self.template_name.trim().is_empty() && !self.body.is_empty(),
                    egui::Button::new(tr("Save template")),
                )
                .on_hover_text(tr("Keep this body for every device"))
                .clicked()
            {
                out.push(Action::SaveTemplate {
                    // The shared list (key ""): a template serves every device.
                    device: String::new(),
                    template: Template {
                        name: self.template_name.trim().to_string(),
                        mode: self.mode,
                        body: self.body.clone(),
                    },
                });
                self.template_name.clear();
            }
        });
    }

    fn detail(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        let history = m
            .commands
            .get(&self.device)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let current = self
            .viewing
            .as_deref()
            .and_then(|u| m.command(u))
            .or_else(|| history.first());
        if let Some(c) = current {
            self.command_view(ui, m, c);
        } else {
            ui.weak(tr("No command sent to this device yet."));
        }
        ui.separator();
        ui.horizontal(|ui| {
            ui.strong(format!("{} ({})", tr("History"), history.len()));
            if ui.small_button(tr("Refresh")).clicked() && !self.device.is_empty() {
                out.push(Action::LoadCommandHistory(self.device.clone()));
            }
        });
        egui::ScrollArea::vertical()
            .id_salt("cmd-history")
            .show(ui, |ui| {
                for c in history.iter().take(100) {
                    ui.horizontal(|ui| {
                        ui.label(RichText::new("●").color(status_color(c.status)))
                            .on_hover_text(tr(c.status.desc()));
                        ui.weak(format::time_of_day(c.created_at, m.offset()));
                        sends_label(ui, c);
                        if ui
                            .link(RichText::new(format::preview(&c.body, 30)).monospace())
                            .on_hover_text(tr("Show this command"))
                            .clicked()
                        {
                            self.viewing = Some(c.uuid.clone());
                        }
                        if ui
                            .small_button(tr("Resend"))
                            .on_hover_text(tr("Send the same body again"))
                            .clicked()
                        {
                            out.push(Action::SendCommand {
                                device: c.device_id.clone(),
                                body: c.body.to_vec(),
                                validity_s: c.validity_s,
                                qos: c.qos,
                            });
                            self.viewing = None;
                        }
                    });
                }
            });
    }

    fn command_view(&mut self, ui: &mut Ui, m: &Model, c: &Command) {
        let off = m.offset();
        ui.horizontal(|ui| {
            ui.strong("uuid");
            widgets::copyable(ui, &c.uuid);
        });
        ui.label(
            RichText::new(format!("{} · {}", c.status.code(), tr(c.status.desc())))
                .color(status_color(c.status))
                .strong(),
        );
        // Timeline: created → sent → replied / timeout.
        ui.horizontal_wrapped(|ui| {
            let step = |ui: &mut Ui, name: &str, at: Option<i64>, color| {
                let text = match at {
                    Some(t) => format!("{name} {}", format::time_ms(t, off)),
                    None => name.to_string(),
                };
                ui.label(RichText::new(text).color(if at.is_some() { color } else { GREY }));
            };
            step(ui, tr("created"), Some(c.created_at), GREEN);
            ui.label("→");
            step(ui, tr("sent"), c.sent_at, GREEN);
            ui.label("→");
            match c.status {
                CommandStatus::Timeout => step(ui, tr("timeout"), Some(timed_out_at(m, c)), RED),
                CommandStatus::SendFailed => step(ui, tr("expired"), c.expire_at, RED),
                CommandStatus::DeviceOffline => {
                    step(ui, tr("device offline"), Some(c.created_at), RED)
                }
                CommandStatus::ReplyTooLarge => step(ui, tr("reply too large"), c.replied_at, RED),
                _ => step(ui, tr("replied"), c.replied_at, GREEN),
            }
        });
        if c.sends.count > 1 {
            let times: Vec<String> = c
                .sends
                .recent
                .iter()
                .map(|s| format::time_ms(s.at, off))
                .collect();
            ui.horizontal_wrapped(|ui| {
                sends_label(ui, c);
                ui.weak(times.join(", "));
            });
        }
        ui.label(
            RichText::new(format!("{}: {}", tr("Body"), format::preview(&c.body, 120))).monospace(),
        );
        if let Some(reply) = &c.reply {
            let mut mode = match &self.reply_view {
                Some((u, mode)) if *u == c.uuid => *mode,
                _ => natural_mode(reply),
            };
            ui.horizontal(|ui| {
                ui.strong(tr("Reply"));
                ui.selectable_value(&mut mode, BodyMode::Text, tr("Text"));
                ui.selectable_value(&mut mode, BodyMode::Json, "JSON");
                ui.selectable_value(&mut mode, BodyMode::Hex, "Hex");
                widgets::copy_button(ui, &String::from_utf8_lossy(reply), tr("reply"));
            });
            self.reply_view = Some((c.uuid.clone(), mode));
            // Lines are kept as they are (indentation, long strings): scroll instead of wrapping.
            egui::ScrollArea::both()
                .id_salt("reply")
                .max_height(220.0)
                .auto_shrink([false, true])
                .show(ui, |ui| match mode {
                    BodyMode::Text => {
                        ui.add(
                            egui::Label::new(
                                RichText::new(String::from_utf8_lossy(reply)).monospace(),
                            )
                            .extend(),
                        );
                    }
                    BodyMode::Json => match format::pretty_json(reply) {
                        Some(j) => {
                            ui.add(egui::Label::new(RichText::new(j).monospace()).extend());
                        }
                        None => {
                            ui.weak(tr("The reply is not JSON."));
                        }
                    },
                    BodyMode::Hex => widgets::hex_dump(ui, reply, &[], 64),
                });
        }
    }
}

/// When a command without a reply timed out: the reply window after it was (last) sent; a qos 1 command
/// waits for the end of its validity too.
pub fn timed_out_at(m: &Model, c: &Command) -> i64 {
    c.replied_at.unwrap_or_else(|| {
        let window = c.sent_at.unwrap_or(c.created_at)
            + m.config.onenet.command_response_window.as_millis() as i64;
        match c.expire_at {
            Some(e) if c.qos == 1 => window.max(e),
            _ => window,
        }
    })
}

/// "sends ×N" for a qos 1 command or one sent more than once (§7.2 resends at login).
fn sends_label(ui: &mut Ui, c: &Command) {
    if c.qos == 1 || c.sends.count > 1 {
        ui.label(RichText::new(format!("{} ×{}", tr("sends"), c.sends.count)).small())
            .on_hover_text(tr(
                "qos 1: sent again at each login of the device until answered or no longer valid",
            ));
    }
}

/// How a reply reads best: JSON when it parses, text when it is UTF-8, else hex.
pub fn natural_mode(reply: &[u8]) -> BodyMode {
    if format::pretty_json(reply).is_some() {
        BodyMode::Json
    } else if std::str::from_utf8(reply)
        .is_ok_and(|t| !t.chars().any(|ch| ch.is_control() && !ch.is_whitespace()))
    {
        BodyMode::Text
    } else {
        BodyMode::Hex
    }
}
