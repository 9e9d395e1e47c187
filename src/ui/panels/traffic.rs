//! Traffic: the live packet log of every device: direction, time, device, packet type, topic, QoS, size,
//! decoded fields, and a hex dump with the `$dp` structure highlighted. Filter, pause, export; the log is
//! a bounded ring and says how much it dropped.

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use crate::events::Direction;
use crate::service::ServiceHandle;
use crate::ui::actions::Action;
use crate::ui::format;
use crate::ui::i18n::tr;
use crate::ui::panels::traffic_record::Recording;
use crate::ui::panels::traffic_replay::ReplayWindow;
use crate::ui::state::Model;
use crate::ui::state::packets::{PacketRow, Traffic};
use crate::ui::widgets::{self, AMBER, BLUE, GREEN};

/// Packet-type names for the filter, from the codec (types 1–14).
fn kinds() -> impl Iterator<Item = &'static str> {
    (1u8..=14)
        .filter_map(|t| crate::mqtt::PacketType::from_first_byte(t << 4))
        .map(|p| p.name())
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrafficFilter {
    pub device: String,
    pub kind: Option<&'static str>,
    pub topic: String,
}

impl TrafficFilter {
    pub fn matches(&self, r: &PacketRow) -> bool {
        (self.device.is_empty()
            || r.client
                .as_deref()
                .is_some_and(|c| c.contains(self.device.trim())))
            && self.kind.is_none_or(|k| r.kind == k)
            && (self.topic.is_empty()
                || r.topic
                    .as_deref()
                    .is_some_and(|t| t.contains(self.topic.trim())))
    }

    /// Indexes into the ring of the rows to show, oldest first (up to the pause point when paused).
    pub fn select(&self, t: &Traffic) -> Vec<usize> {
        t.rows
            .iter()
            .enumerate()
            .filter(|(_, r)| t.paused_at.is_none_or(|p| r.seq <= p))
            .filter(|(_, r)| self.matches(r))
            .map(|(i, _)| i)
            .collect()
    }
}

#[derive(Default)]
pub struct TrafficPanel {
    pub filter: TrafficFilter,
    /// Sequence number of the selected row.
    pub selected: Option<u64>,
    /// The device the Record button records.
    pub record_device: String,
    /// The recording under way, or the last one.
    pub recording: Option<Recording>,
    pub replay: ReplayWindow,
}

impl TrafficPanel {
    /// Starts recording `device` into `path` (the save-as dialog chose it).
    pub fn start_recording(
        &mut self,
        device: &str,
        path: std::path::PathBuf,
        service: &ServiceHandle,
        rt: &tokio::runtime::Handle,
    ) {
        if let Some(r) = self.recording.as_mut() {
            r.stop();
        }
        self.recording = Some(Recording::start(service, rt, device, path));
    }

    /// The Replay window (drawn by the app with the broker's runtime and service, like the Simulator).
    pub fn windows(
        &mut self,
        ctx: &egui::Context,
        service: Option<&ServiceHandle>,
        rt: Option<&tokio::runtime::Handle>,
    ) {
        self.replay.window(ctx, service, rt);
        if self.recording.as_ref().is_some_and(Recording::running) {
            ctx.request_repaint_after(std::time::Duration::from_millis(200));
        }
    }

    /// Record / Stop and Replay: a device's session to a file, a file against the broker.
    fn record_bar(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        ui.horizontal_wrapped(|ui| {
            let running = self.recording.as_ref().is_some_and(Recording::running);
            if let Some(r) = self.recording.as_mut().filter(|_| running) {
                if ui
                    .button(RichText::new(format!("■ {}", tr("Stop"))).strong())
                    .on_hover_text(tr("End the recording; the file is then complete"))
                    .clicked()
                {
                    r.stop();
                }
                ui.label(
                    RichText::new(format!(
                        "● {} {} · {} {}",
                        tr("recording"),
                        r.device,
                        r.packets(),
                        tr("packets")
                    ))
                    .color(widgets::RED),
                )
                .on_hover_text(r.path.display().to_string());
            } else {
                let label = ui.label(tr("Record device")).id;
                if self.record_device.is_empty()
                    && let Some((id, _)) = m.device_ids_online_first().into_iter().next()
                {
                    self.record_device = id;
                }
                egui::ComboBox::from_id_salt("record-device")
                    .selected_text(self.record_device.clone())
                    .show_ui(ui, |ui| {
                        for (id, online) in m.device_ids_online_first() {
                            let text = if online {
                                format!("● {id}")
                            } else {
                                id.clone()
                            };
                            ui.selectable_value(&mut self.record_device, id, text);
                        }
                    })
                    .response
                    .labelled_by(label);
                if ui
                    .add_enabled(
                        m.is_running() && !self.record_device.is_empty(),
                        egui::Button::new(format!("● {}", tr("Record…"))),
                    )
                    .on_hover_text(tr(
                        "Record this device's packets, both directions, to a JSON Lines file that Replay (or `onenet-desk replay`) plays back",
                    ))
                    .clicked()
                {
                    out.push(Action::RecordTraffic(self.record_device.clone()));
                }
                if let Some(r) = &self.recording {
                    match r.outcome() {
                        Some(Ok(n)) => {
                            ui.label(format!(
                                "{} {n} {} → {}",
                                tr("Recorded"),
                                tr("packets"),
                                r.path.display()
                            ));
                        }
                        Some(Err(e)) => {
                            ui.colored_label(widgets::RED, e);
                        }
                        None => {
                            ui.spinner();
                        }
                    }
                }
            }
            ui.separator();
            if ui
                .button(tr("Replay…"))
                .on_hover_text(tr(
                    "Play a recording against this broker and compare its answers",
                ))
                .clicked()
            {
                let last = self
                    .recording
                    .as_ref()
                    .filter(|r| matches!(r.outcome(), Some(Ok(_))))
                    .map(|r| r.path.clone());
                self.replay.open_with(last);
            }
        });
    }

    pub fn ui(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        widgets::title(ui, tr("Traffic"), "");
        self.record_bar(ui, m, out);
        let t = &m.traffic;
        let shown = self.filter.select(t);
        ui.horizontal_wrapped(|ui| {
            ui.label(tr("Device"));
            ui.add(egui::TextEdit::singleline(&mut self.filter.device).desired_width(90.0))
                .accessible_name(tr("Device filter"))
                .on_hover_text(tr("Only packets of devices whose id contains this"));
            let type_label = ui.label(tr("Type")).id;
            egui::ComboBox::from_id_salt("traffic-kind")
                .selected_text(self.filter.kind.unwrap_or(tr("all")))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.filter.kind, None, tr("all"));
                    for k in kinds() {
                        ui.selectable_value(&mut self.filter.kind, Some(k), k);
                    }
                })
                .response
                .labelled_by(type_label);
            ui.label(tr("Topic"));
            ui.add(egui::TextEdit::singleline(&mut self.filter.topic).desired_width(120.0))
                .accessible_name(tr("Topic filter"))
                .on_hover_text(tr("Only packets whose topic contains this"));
            ui.separator();
            let paused = t.paused_at.is_some();
            if ui
                .selectable_label(paused, if paused { tr("Resume") } else { tr("Pause") })
                .on_hover_text(tr("Freeze the list; packets are still recorded"))
                .clicked()
            {
                out.push(Action::SetTrafficPaused(!paused));
            }
            if ui
                .button(tr("Clear"))
                .on_hover_text(tr("Empty the log"))
                .clicked()
            {
                out.push(Action::ClearTraffic);
            }
            if ui
                .button(tr("Export…"))
                .on_hover_text(tr("Save the log as JSON Lines"))
                .clicked()
            {
                out.push(Action::ExportTraffic);
            }
            ui.separator();
            // The count is of what the list shows (filters and pause applied), out of the log's rows.
            if shown.len() == t.rows.len() {
                ui.label(format!("{} {}", t.rows.len(), tr("packets")));
            } else {
                ui.label(format!(
                    "{} {} {} {}",
                    shown.len(),
                    tr("of"),
                    t.rows.len(),
                    tr("packets")
                ));
            }
            let dropped = t.dropped();
            ui.label(
                RichText::new(format!("{dropped} {}", tr("dropped"))).color(if dropped > 0 {
                    AMBER
                } else {
                    ui.visuals().weak_text_color()
                }),
            )
            .on_hover_text(format!(
                "{} {} · {} {}",
                t.evicted,
                tr("pushed out of the log"),
                t.missed,
                tr("missed by the console")
            ));
        });
        if let Some(seq) = self.selected
            && let Some(r) = t.rows.iter().find(|r| r.seq == seq)
        {
            egui::Panel::bottom("packet-detail")
                .resizable(true)
                .default_size(230.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| packet_detail(ui, r, m));
                });
        }
        let off = m.offset();
        let paused = t.paused_at.is_some();
        // Time and Size are as wide as their widest text, so they are never cut.
        let mono = egui::TextStyle::Monospace.resolve(ui.style());
        let body = egui::TextStyle::Body.resolve(ui.style());
        let width = |text: &str, font: &egui::FontId| {
            ui.painter()
                .layout_no_wrap(text.into(), font.clone(), egui::Color32::WHITE)
                .size()
                .x
                + 2.0 * ui.spacing().item_spacing.x
        };
        let time_w = width("00:00:00.000", &mono);
        let size_w = width(tr("Size"), &body).max(width("0000000", &body));
        // Clicks on a cell select the row rather than the cell's text.
        ui.style_mut().interaction.selectable_labels = false;
        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
        TableBuilder::new(ui)
            .striped(true)
            .sense(egui::Sense::click())
            .stick_to_bottom(!paused)
            .column(Column::exact(time_w))
            .column(Column::auto().at_least(20.0))
            .column(Column::auto().at_least(70.0))
            .column(Column::auto().at_least(90.0))
            .column(Column::auto().at_least(80.0).resizable(true))
            .column(Column::auto().at_least(30.0))
            .column(Column::exact(size_w))
            .column(Column::remainder())
            .header(20.0, |mut h| {
                for c in [
                    tr("Time"),
                    "",
                    tr("Device"),
                    tr("Type"),
                    tr("Topic"),
                    "QoS",
                    tr("Size"),
                    tr("Fields"),
                ] {
                    h.col(|ui| {
                        ui.strong(c);
                    });
                }
            })
            .body(|body| {
                body.rows(18.0, shown.len(), |mut row| {
                    let r = &t.rows[shown[row.index()]];
                    row.set_selected(self.selected == Some(r.seq));
                    row.col(|ui| {
                        ui.monospace(format::time_ms(r.at, off));
                    });
                    row.col(|ui| {
                        let (a, c) = match r.direction {
                            Direction::In => ("→", BLUE),
                            Direction::Out => ("←", GREEN),
                        };
                        ui.label(RichText::new(a).color(c))
                            .on_hover_text(match r.direction {
                                Direction::In => tr("from the device"),
                                Direction::Out => tr("to the device"),
                            });
                    });
                    row.col(|ui| {
                        ui.monospace(r.client.as_deref().unwrap_or("-"));
                    });
                    row.col(|ui| {
                        ui.label(r.kind);
                    });
                    row.col(|ui| {
                        ui.monospace(r.topic.as_deref().unwrap_or(""));
                    });
                    row.col(|ui| {
                        ui.label(r.qos.map(|q| q.to_string()).unwrap_or_default());
                    });
                    row.col(|ui| {
                        ui.label(r.size.to_string());
                    });
                    row.col(|ui| {
                        ui.add(egui::Label::new(&r.fields).truncate());
                    });
                    if row.response().clicked() {
                        self.selected = Some(r.seq);
                    }
                });
            });
    }
}

fn packet_detail(ui: &mut Ui, r: &PacketRow, m: &Model) {
    ui.horizontal(|ui| {
        ui.strong(format!(
            "{} {} · {} · {} B",
            r.kind,
            r.topic.as_deref().unwrap_or(""),
            format::datetime(r.at, m.offset()),
            r.size
        ));
        if let Some(c) = &r.client {
            ui.label(format!("{} {c}", tr("device")));
        }
        widgets::copy_button(ui, &format::hex_string(&r.bytes), tr("packet bytes as hex"));
        if let Some(t) = &r.topic {
            widgets::copy_button(ui, t, tr("topic"));
        }
    });
    ui.label(RichText::new(&r.fields).monospace());
    widgets::hex_dump(ui, &r.bytes, &r.spans, 64);
    if r.bytes.len() < r.size {
        ui.weak(format!(
            "{} {} B",
            tr("Only the first bytes are kept:"),
            r.bytes.len()
        ));
    }
}
