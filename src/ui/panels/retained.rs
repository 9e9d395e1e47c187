//! Retained messages: topic, payload preview, size, QoS; view a payload; delete one or all (confirmed).

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use crate::ui::actions::Action;
use crate::ui::format;
use crate::ui::i18n::tr;
use crate::ui::state::Model;
use crate::ui::widgets;

/// Room for the View and Delete buttons (in either language).
const ACTIONS_WIDTH: f32 = 130.0;

#[derive(Debug, Clone, PartialEq, Default)]
enum Confirm {
    #[default]
    None,
    One {
        namespace: String,
        topic: String,
    },
    All,
}

#[derive(Default)]
pub struct RetainedPanel {
    /// (namespace, topic) whose payload is shown.
    pub viewing: Option<(String, String)>,
    confirm: Confirm,
}

impl RetainedPanel {
    pub fn ui(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        widgets::title(
            ui,
            tr("Retained"),
            tr("Messages kept for future subscribers of a topic."),
        );
        ui.horizontal(|ui| {
            ui.label(format!("{} {}", m.retained.len(), tr("retained messages")));
            if ui
                .add_enabled(!m.retained.is_empty(), egui::Button::new(tr("Delete all")))
                .on_hover_text(tr("Delete every retained message (asks first)"))
                .clicked()
            {
                self.confirm = Confirm::All;
            }
            if m.retained_refused > 0 {
                ui.label(
                    RichText::new(format!(
                        "{} {}",
                        m.retained_refused,
                        tr("not kept since the broker started: the retained messages are at their bound")
                    ))
                    .color(ui.visuals().warn_fg_color),
                )
                .on_hover_text(tr("Each was delivered to its topic's subscribers but not kept for later ones, and its topic's older retained message went. Raise 'Retained messages kept at most' or 'Retained payloads kept at most' in Settings, or delete some here. The publishing device's diagnostics name the topics."));
            }
        });
        if let Some((ns, topic)) = self.viewing.clone() {
            egui::Panel::bottom("retained-view")
                .resizable(true)
                .default_size(220.0)
                .show(ui, |ui| {
                    match m
                        .retained
                        .iter()
                        .find(|r| r.namespace == ns && r.topic == topic)
                    {
                        Some(r) => {
                            ui.horizontal(|ui| {
                                ui.strong(&r.topic);
                                widgets::copy_button(
                                    ui,
                                    &String::from_utf8_lossy(&r.payload),
                                    tr("payload"),
                                );
                                if ui.small_button(tr("Save as…")).clicked() {
                                    out.push(Action::SaveBytes {
                                        name: "payload.bin".into(),
                                        bytes: r.payload.to_vec(),
                                    });
                                }
                                if ui.small_button("×").on_hover_text(tr("Close")).clicked() {
                                    self.viewing = None;
                                }
                            });
                            widgets::payload_view(ui, "retained", &r.payload, 64);
                        }
                        None => {
                            self.viewing = None;
                        }
                    }
                });
        }
        if m.retained.is_empty() {
            ui.add_space(8.0);
            ui.weak(tr(
                "No retained messages. A message published with RETAIN=1 is kept here for the topic's future subscribers.",
            ));
            self.confirm_dialog(ui, out);
            return;
        }
        // Topics and payloads stay on one line (elided, whole on hover); the buttons keep their room.
        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
        TableBuilder::new(ui)
            .striped(true)
            .column(Column::auto().at_least(80.0))
            .column(
                Column::initial(260.0)
                    .at_least(160.0)
                    .clip(true)
                    .resizable(true),
            )
            .column(Column::remainder().at_least(160.0).clip(true))
            .column(Column::auto().at_least(60.0))
            .column(Column::auto().at_least(36.0))
            .column(Column::auto().at_least(90.0))
            .column(Column::exact(ACTIONS_WIDTH))
            .header(22.0, |mut h| {
                for t in [
                    tr("Product"),
                    tr("Topic"),
                    tr("Payload"),
                    tr("Size"),
                    "QoS",
                    tr("From will of"),
                    "",
                ] {
                    h.col(|ui| {
                        ui.strong(t);
                    });
                }
            })
            .body(|body| {
                body.rows(22.0, m.retained.len(), |mut row| {
                    let r = &m.retained[row.index()];
                    row.col(|ui| {
                        ui.label(&r.namespace);
                    });
                    row.col(|ui| {
                        widgets::copyable(ui, &r.topic).on_hover_text(&r.topic);
                    });
                    row.col(|ui| {
                        ui.label(RichText::new(format::preview(&r.payload, 60)).monospace());
                    });
                    row.col(|ui| {
                        ui.label(format::bytes(r.payload.len() as u64));
                    });
                    row.col(|ui| {
                        ui.label(r.qos.to_string());
                    });
                    row.col(|ui| {
                        ui.label(r.from_will_of.as_deref().unwrap_or(""));
                    });
                    row.col(|ui| {
                        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
                        // Side by side, on the row's one line.
                        ui.horizontal(|ui| {
                            if ui
                                .small_button(tr("View"))
                                .on_hover_text(tr("Show the whole payload"))
                                .clicked()
                            {
                                self.viewing = Some((r.namespace.clone(), r.topic.clone()));
                            }
                            if ui
                                .small_button(tr("Delete"))
                                .on_hover_text(tr("Delete this retained message"))
                                .clicked()
                            {
                                self.confirm = Confirm::One {
                                    namespace: r.namespace.clone(),
                                    topic: r.topic.clone(),
                                };
                            }
                        });
                    });
                });
            });
        self.confirm_dialog(ui, out);
    }

    fn confirm_dialog(&mut self, ui: &mut Ui, out: &mut Vec<Action>) {
        let (q, action) = match &self.confirm {
            Confirm::None => return,
            Confirm::One { namespace, topic } => (
                format!("{} {topic}?", tr("Delete the retained message of")),
                Action::DeleteRetained {
                    namespace: namespace.clone(),
                    topic: topic.clone(),
                },
            ),
            Confirm::All => (
                tr("Delete every retained message?").to_string(),
                Action::DeleteAllRetained,
            ),
        };
        match widgets::confirm(ui, "confirm-retained", &q, tr("Yes, delete")) {
            Some(true) => {
                out.push(action);
                self.confirm = Confirm::None;
            }
            Some(false) => self.confirm = Confirm::None,
            None => {}
        }
    }
}
