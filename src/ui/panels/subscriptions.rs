//! Subscriptions: topic filter → subscribers with granted QoS, per device, and messages per topic.

use std::collections::BTreeMap;

use egui::{RichText, Ui};

use crate::ui::actions::Action;
use crate::ui::i18n::tr;
use crate::ui::state::Model;
use crate::ui::widgets;

/// Topic filter → (client, granted QoS, online), from every session.
pub fn by_topic(m: &Model) -> BTreeMap<String, Vec<(String, u8, bool)>> {
    let mut map: BTreeMap<String, Vec<(String, u8, bool)>> = BTreeMap::new();
    for s in &m.sessions {
        for (f, q) in &s.subscriptions {
            map.entry(f.clone())
                .or_default()
                .push((s.client_id.clone(), *q, s.online));
        }
    }
    map
}

#[derive(Default)]
pub struct SubscriptionsPanel {
    pub per_device: bool,
    pub filter: String,
}

impl SubscriptionsPanel {
    pub fn ui(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        widgets::title(ui, tr("Subscriptions"), "");
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.per_device, false, tr("By topic"));
            ui.selectable_value(&mut self.per_device, true, tr("By device"));
            ui.separator();
            ui.label(tr("Filter"));
            ui.text_edit_singleline(&mut self.filter)
                .accessible_name(tr("Filter"))
                .on_hover_text(tr("Show only topics or devices containing this"));
        });
        ui.separator();
        let f = self.filter.to_lowercase();
        ui.columns(2, |cols| {
            let ui = &mut cols[0];
            egui::ScrollArea::vertical().id_salt("subs").show(ui, |ui| {
                if m.sessions.iter().all(|s| s.subscriptions.is_empty()) {
                    ui.weak(tr(
                        "No subscriptions yet: a device or application that subscribes to a topic is listed here.",
                    ));
                }
                if self.per_device {
                    for s in m.sessions.iter().filter(|s| !s.subscriptions.is_empty()) {
                        let name = m.device_name(&s.client_id);
                        if !f.is_empty()
                            && !s.client_id.to_lowercase().contains(&f)
                            && !name.is_some_and(|n| n.to_lowercase().contains(&f))
                        {
                            continue;
                        }
                        ui.horizontal(|ui| {
                            widgets::online_dot(ui, s.online);
                            let label = m.device_label(&s.client_id);
                            if ui.link(RichText::new(label).monospace()).clicked() {
                                out.push(Action::SelectDevice(Some(s.client_id.clone())));
                                out.push(Action::Navigate(crate::ui::actions::Tab::Devices));
                            }
                        });
                        for (t, q) in &s.subscriptions {
                            ui.horizontal(|ui| {
                                ui.add_space(24.0);
                                widgets::copyable(ui, t);
                                ui.weak(format!("QoS {q}"));
                            });
                        }
                    }
                } else {
                    for (topic, subs) in by_topic(m) {
                        if !f.is_empty() && !topic.to_lowercase().contains(&f) {
                            continue;
                        }
                        egui::CollapsingHeader::new(
                            RichText::new(format!(
                                "{topic}   ({} {})",
                                subs.len(),
                                if subs.len() == 1 {
                                    tr("subscriber")
                                } else {
                                    tr("subscribers")
                                }
                            ))
                            .monospace(),
                        )
                        .id_salt(&topic)
                        .default_open(true)
                        .show(ui, |ui| {
                            widgets::copy_button(ui, &topic, tr("topic"));
                            for (c, q, online) in subs {
                                ui.horizontal(|ui| {
                                    widgets::online_dot(ui, online);
                                    ui.label(RichText::new(c).monospace());
                                    ui.weak(format!("{} QoS {q}", tr("granted")));
                                });
                            }
                        });
                    }
                }
            });
            let ui = &mut cols[1];
            ui.strong(tr("Messages per topic"));
            ui.weak(tr(
                "Counted from the traffic seen since the console started",
            ));
            if m.topic_counts.is_empty() {
                ui.weak(tr("No messages published yet."));
            }
            egui::ScrollArea::vertical()
                .id_salt("topic-counts")
                .show(ui, |ui| {
                    egui::Grid::new("topic-counts-grid")
                        .striped(true)
                        .show(ui, |ui| {
                            ui.strong(tr("Topic"));
                            ui.strong(tr("In"));
                            ui.strong(tr("Out"));
                            ui.end_row();
                            for (t, (i, o)) in &m.topic_counts {
                                if !f.is_empty() && !t.to_lowercase().contains(&f) {
                                    continue;
                                }
                                widgets::copyable(ui, t);
                                ui.label(i.to_string());
                                ui.label(o.to_string());
                                ui.end_row();
                            }
                        });
                });
        });
    }
}
