//! Offline queues: per device, the messages waiting (topic, QoS, age), those near the age limit marked;
//! clear a queue (confirmed).

use egui::{RichText, Ui};

use crate::ui::actions::Action;
use crate::ui::format;
use crate::ui::i18n::tr;
use crate::ui::model::Model;
use crate::ui::widgets::{self, AMBER};

/// A queued message older than this share of the age limit is "expiring".
pub const EXPIRING_SHARE: f64 = 0.8;

/// Is a message queued at `queued_at` close to the offline age limit?
pub fn expiring(m: &Model, queued_at: i64, now: i64) -> bool {
    let limit = m.config.onenet.offline_max_age.as_millis() as f64;
    (now - queued_at) as f64 >= limit * EXPIRING_SHARE
}

#[derive(Default)]
pub struct OfflinePanel {
    pub open: Option<String>,
    confirm: Option<String>,
}

impl OfflinePanel {
    pub fn ui(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        widgets::title(
            ui,
            tr("Offline"),
            tr("Messages waiting for devices that are offline or busy."),
        );
        ui.weak(format!(
            "{} {} · {} {}",
            tr("Kept per device:"),
            m.config.onenet.offline_max_messages,
            tr("for at most"),
            format::duration_ms(m.config.onenet.offline_max_age.as_millis() as i64)
        ));
        let mut waiting: Vec<_> = m
            .sessions
            .iter()
            .filter(|s| s.queued + s.inflight > 0)
            .collect();
        waiting.sort_by_key(|s| std::cmp::Reverse(s.queued + s.inflight));
        if waiting.is_empty() {
            ui.add_space(12.0);
            ui.label(tr("No device has messages waiting."));
        }
        let now = format::now_ms();
        egui::ScrollArea::vertical().show(ui, |ui| {
            for s in waiting {
                let id = s.client_id.clone();
                let header = format!(
                    "{id}   {} {} · {} {}",
                    s.queued,
                    tr("queued"),
                    s.inflight,
                    tr("in flight")
                );
                let r = egui::CollapsingHeader::new(RichText::new(header).monospace())
                    .id_salt(&id)
                    .open(Some(self.open.as_deref() == Some(id.as_str())))
                    .show(ui, |ui| {
                        ui.horizontal(|ui| {
                            widgets::online_dot(ui, s.online);
                            if ui
                                .button(tr("Clear queue"))
                                .on_hover_text(tr("Drop the queued messages (not those in flight)"))
                                .clicked()
                            {
                                self.confirm = Some(id.clone());
                            }
                            if ui.button(tr("Refresh")).clicked() {
                                out.push(Action::LoadDetail(id.clone()));
                            }
                        });
                        let Some(q) = m.queues.get(&id) else {
                            ui.weak(tr("Loading…"));
                            return;
                        };
                        egui::Grid::new(("queue", &id)).striped(true).show(ui, |ui| {
                            ui.strong(tr("Topic"));
                            ui.strong("QoS");
                            ui.strong(tr("Size"));
                            ui.strong(tr("Age"));
                            ui.strong("");
                            ui.end_row();
                            for e in q {
                                widgets::copyable(ui, &e.topic);
                                ui.label(e.qos.to_string());
                                ui.label(format::bytes(e.payload_len as u64));
                                ui.label(format::duration_ms(now - e.queued_at));
                                if e.packet_id.is_some() {
                                    ui.weak(tr("in flight"));
                                } else if expiring(m, e.queued_at, now) {
                                    ui.label(RichText::new(tr("expiring")).color(AMBER))
                                        .on_hover_text(tr("Close to the age limit: dropped soon if the device stays away"));
                                } else {
                                    ui.label("");
                                }
                                ui.end_row();
                            }
                        });
                    });
                if r.header_response.clicked() {
                    if self.open.as_deref() == Some(id.as_str()) {
                        self.open = None;
                    } else {
                        self.open = Some(id.clone());
                        out.push(Action::LoadDetail(id));
                    }
                }
            }
        });
        if let Some(id) = self.confirm.clone() {
            let q = format!("{} {id}?", tr("Drop every queued message of device"));
            match widgets::confirm(ui, "confirm-clear-queue", &q, tr("Yes, clear")) {
                Some(true) => {
                    out.push(Action::ClearQueue(id));
                    self.confirm = None;
                }
                Some(false) => self.confirm = None,
                None => {}
            }
        }
    }
}
