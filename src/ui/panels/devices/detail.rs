//! The selected device's detail in the Devices panel: its session and registry facts, subscriptions,
//! pending and queued messages, will, diagnostics and recent packets, with its actions.

use egui::{RichText, Ui};

use super::keep_alive_text;
use crate::ui::actions::Action;
use crate::ui::format;
use crate::ui::i18n::tr;
use crate::ui::state::Model;
use crate::ui::widgets::{self, AMBER, GREEN};

pub(super) fn detail(ui: &mut Ui, m: &Model, id: &str, out: &mut Vec<Action>) {
    let off = m.offset();
    let s = m.session(id);
    let d = m.device(id);
    ui.horizontal(|ui| {
        ui.heading(format!("{} {id}", tr("Device")));
        if ui
            .small_button("×")
            .on_hover_text(tr("Close the detail"))
            .clicked()
        {
            out.push(Action::SelectDevice(None));
        }
    });
    if let Some(d) = d {
        ui.label(format!("{} · {} {}", d.name, tr("product"), d.product_id));
    }
    widgets::online_dot(ui, s.is_some_and(|s| s.online));
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(s.is_some_and(|s| s.online), egui::Button::new(tr("Kick")))
            .on_hover_text(tr(
                "Close the device's connection (its persistent session stays)",
            ))
            .clicked()
        {
            out.push(Action::Kick(id.to_string()));
        }
        if let Some(d) = d
            && ui
                .button(tr("Copy credentials"))
                .on_hover_text(tr(
                    "Copy product id, device id and auth_info (what the firmware needs)",
                ))
                .clicked()
        {
            ui.ctx().copy_text(format!(
                "product id (user name): {}\ndevice id (client id): {}\nauth_info (password): {}",
                d.product_id, d.id, d.auth_info
            ));
        }
        if ui.button(tr("Datapoints")).clicked() {
            out.push(Action::OpenDatapoints(id.to_string()));
        }
        if ui.button(tr("Send command")).clicked() {
            out.push(Action::OpenCommands(id.to_string()));
        }
        if ui
            .button(tr("Refresh"))
            .on_hover_text(tr("Reload the queue and diagnostics"))
            .clicked()
        {
            out.push(Action::LoadDetail(id.to_string()));
        }
    });
    ui.separator();
    let seen = m.seen.get(id).copied().unwrap_or_default();
    if s.is_none() {
        // No session (a clean-session device that left, or not back since a restart): what was kept.
        egui::Grid::new("dev-facts-kept")
            .num_columns(2)
            .show(ui, |ui| {
                let mut fact = |k: &str, v: String| {
                    ui.weak(k);
                    ui.label(v);
                    ui.end_row();
                };
                fact(
                    tr("Last seen"),
                    seen.last_seen
                        .map_or_else(|| "—".into(), |t| format::datetime(t, off)),
                );
                fact(
                    tr("Keepalive"),
                    keep_alive_text((seen.keep_alive > 0).then_some(seen.keep_alive)),
                );
                fact(
                    tr("Messages in / out"),
                    format!("{} / {}", seen.messages_in(), seen.messages_out()),
                );
            });
    }
    if let Some(s) = s {
        egui::Grid::new("dev-facts").num_columns(2).show(ui, |ui| {
            let mut fact = |k: &str, v: String| {
                ui.weak(k);
                // Wrapped within the panel's width (the dropped count's explanation is a sentence).
                ui.add(egui::Label::new(v).wrap());
                ui.end_row();
            };
            fact(tr("Remote"), s.remote.clone().unwrap_or_default());
            // A session restored after a restart has no keepalive until the device logs in again: the
            // last one known, or "—".
            let ka = if s.online {
                Some(s.keep_alive)
            } else {
                (seen.keep_alive > 0).then_some(seen.keep_alive)
            };
            fact(tr("Keepalive"), keep_alive_text(ka));
            fact(
                tr("Clean session"),
                tr(if s.clean_session { "yes" } else { "no" }).to_string(),
            );
            fact(
                tr("Connected"),
                s.connected_at
                    .map(|t| format::datetime(t, off))
                    .unwrap_or_default(),
            );
            fact(
                tr("Messages in / out"),
                format!(
                    "{} / {}",
                    seen.messages_in().max(s.messages_in),
                    seen.messages_out().max(s.messages_out)
                ),
            );
            fact(
                tr("Dropped"),
                if s.dropped > 0 {
                    format!(
                        "{} ({})",
                        s.dropped,
                        super::dropped_text(s.dropped, s.dropped_qos0)
                    )
                } else {
                    "0".into()
                },
            );
            if s.held_back > 0 {
                fact(
                    tr("Reading"),
                    format!("{} {}", tr("held back by full subscribers:"), s.held_back),
                );
            }
            fact(
                tr("Will"),
                s.will
                    .as_ref()
                    .map(|(t, q, r)| format!("{t} (QoS {q}{})", if *r { ", retain" } else { "" }))
                    .unwrap_or_else(|| tr("none").into()),
            );
        });
        ui.add_space(4.0);
        ui.strong(format!(
            "{} ({})",
            tr("Subscriptions"),
            s.subscriptions.len()
        ));
        for (f, q) in &s.subscriptions {
            ui.horizontal(|ui| {
                widgets::copyable(ui, f);
                ui.weak(format!("QoS {q}"));
            });
        }
    }
    let queue = m.queues.get(id).map(Vec::as_slice).unwrap_or(&[]);
    let (pending, queued): (Vec<_>, Vec<_>) = queue.iter().partition(|q| q.packet_id.is_some());
    ui.add_space(4.0);
    ui.strong(format!("{} ({})", tr("Pending QoS 1/2"), pending.len()));
    for q in &pending {
        ui.label(format!(
            "#{} {} QoS {} · {} B",
            q.packet_id.unwrap_or(0),
            q.topic,
            q.qos,
            q.payload_len
        ));
    }
    ui.strong(format!("{} ({})", tr("Offline queue"), queued.len()));
    for q in queued.iter().take(50) {
        ui.label(format!(
            "{} QoS {} · {} · {}",
            q.topic,
            q.qos,
            format::bytes(q.payload_len as u64),
            format::duration_ms(format::now_ms() - q.queued_at)
        ));
    }
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        let diags = m.diagnostics.get(id);
        ui.strong(format!(
            "{} ({})",
            tr("Diagnostics"),
            diags.map_or(0, |d| d.len())
        ));
        if ui
            .small_button(tr("Export…"))
            .on_hover_text(tr("Save this device's diagnostics as JSON"))
            .clicked()
        {
            out.push(Action::ExportDiagnostics(id.to_string()));
        }
    });
    if let Some(diags) = m.diagnostics.get(id) {
        for d in diags.iter().rev().take(30) {
            ui.label(
                RichText::new(format!(
                    "{} {} {}",
                    format::time_of_day(d.at, off),
                    d.section,
                    d.message
                ))
                .color(AMBER),
            );
        }
    }
    ui.add_space(4.0);
    ui.strong(tr("Recent packets"));
    for r in m.traffic.recent_of(id, 30) {
        let arrow = match r.direction {
            crate::events::Direction::In => "→",
            crate::events::Direction::Out => "←",
        };
        ui.label(
            RichText::new(format!(
                "{} {arrow} {} {}",
                format::time_ms(r.at, off),
                r.kind,
                r.topic.as_deref().unwrap_or("")
            ))
            .monospace()
            .color(if r.kind == "PUBLISH" {
                GREEN
            } else {
                ui.visuals().text_color()
            }),
        );
    }
}
