//! Offline queues: per device, the messages waiting (topic, QoS, age), those near the age limit marked;
//! clear a queue (confirmed).

use egui::{RichText, Ui};

use crate::ui::actions::Action;
use crate::ui::format;
use crate::ui::i18n::tr;
use crate::ui::state::Model;
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
    /// The open device's counts (queued, in flight, online) when its queue was last asked for: when the
    /// broker's counts move, the list is asked for again, so it never shows delivered messages.
    asked: Option<(String, usize, usize, bool)>,
    /// The queued message whose payload is shown: (device, index in its list).
    pub viewing: Option<(String, usize)>,
}

impl OfflinePanel {
    /// The payload being viewed, in a bottom pane (as Retained does).
    fn payload(&mut self, ui: &mut Ui, m: &Model) {
        let Some((dev, i)) = self.viewing.clone() else {
            return;
        };
        let Some(e) = m.queues.get(&dev).and_then(|q| q.get(i)) else {
            self.viewing = None;
            return;
        };
        egui::Panel::bottom("offline-view")
            .resizable(true)
            .default_size(220.0)
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.strong(format!("{dev} · {}", e.topic));
                    widgets::copy_button(ui, &String::from_utf8_lossy(&e.payload), tr("payload"));
                    if ui.small_button("×").on_hover_text(tr("Close")).clicked() {
                        self.viewing = None;
                    }
                });
                widgets::payload_view(ui, "offline", &e.payload, 64);
            });
    }

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
        // Live like the other panels: the open queue follows the counts the poll brings.
        if let Some(id) = self.open.clone() {
            let counts = m
                .session(&id)
                .map_or((0, 0, false), |s| (s.queued, s.inflight, s.online));
            let key = (id.clone(), counts.0, counts.1, counts.2);
            if self.asked.as_ref() != Some(&key) {
                self.asked = Some(key);
                out.push(Action::LoadDetail(id));
            }
        }
        self.payload(ui, m);
        let now = format::now_ms();
        egui::ScrollArea::vertical().show(ui, |ui| {
            for s in waiting {
                let id = s.client_id.clone();
                let header = format!(
                    "{id}   {} {} · {} {} · {}",
                    s.queued,
                    tr("queued"),
                    s.inflight,
                    tr("in flight"),
                    format::bytes(s.held_bytes as u64)
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
                            ui.strong("");
                            ui.end_row();
                            for (i, e) in q.iter().enumerate() {
                                widgets::copyable(ui, &e.topic);
                                ui.label(e.qos.to_string());
                                if e.released {
                                    ui.weak("—");
                                } else {
                                    ui.label(format::bytes(e.payload_len as u64));
                                }
                                ui.label(format::duration_ms(now - e.queued_at));
                                if e.released {
                                    ui.weak(tr("received, PUBCOMP owed")).on_hover_text(tr("The device has this QoS 2 message (PUBREC); only the last step is owed, so its payload is no longer kept"));
                                } else if e.packet_id.is_some() {
                                    ui.weak(tr("in flight"));
                                } else if expiring(m, e.queued_at, now) {
                                    ui.label(RichText::new(tr("expiring")).color(AMBER))
                                        .on_hover_text(tr("Close to the age limit: dropped soon if the device stays away"));
                                } else {
                                    ui.label("");
                                }
                                if ui
                                    .small_button(tr("View"))
                                    .on_hover_text(tr("Show the whole payload"))
                                    .clicked()
                                {
                                    self.viewing = Some((id.clone(), i));
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
