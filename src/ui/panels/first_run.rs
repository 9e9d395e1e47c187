//! "Connect your first device": what an empty registry shows instead of nothing — the two ways to let
//! a device in (register it with the ids its firmware carries, or auto-register) and the exact values to
//! put in the firmware for the running broker and profile.

use egui::{RichText, Ui};

use crate::config::Profile;
use crate::ui::actions::{Action, Tab};
use crate::ui::i18n::tr;
use crate::ui::state::{BrokerState, Model};
use crate::ui::widgets;

/// The values a device's firmware needs: (what, value, where it comes from).
pub fn firmware_values(m: &Model) -> Vec<(&'static str, String, &'static str)> {
    let (hosts, port) = match &m.broker {
        BrokerState::Running { addr, .. } => {
            let hosts: Vec<String> = if addr.ip().is_unspecified() {
                m.lan
                    .iter()
                    .map(|ip| ip.to_string())
                    .chain(["127.0.0.1".to_string()])
                    .collect()
            } else {
                vec![addr.ip().to_string()]
            };
            (hosts.join(" / "), addr.port().to_string())
        }
        _ => (
            tr("(start the broker)").to_string(),
            m.config.mqtt_addr.port().to_string(),
        ),
    };
    let product = m.products.first().map(|p| p.id.clone());
    let mut v = vec![
        (tr("Host"), hosts, tr("this computer's address")),
        (tr("Port"), port, tr("OneNET devices use 6002")),
    ];
    match m.config.profile {
        Profile::OneNet => {
            v.push((
                tr("Client id"),
                tr("the device id").to_string(),
                tr("as registered"),
            ));
            v.push((
                tr("User name"),
                product.unwrap_or_else(|| tr("the product id").to_string()),
                tr("the product id"),
            ));
            v.push((
                tr("Password"),
                tr("the device's auth_info").to_string(),
                tr("as registered"),
            ));
        }
        Profile::Mqtt => {
            v.push((tr("Client id"), tr("any").to_string(), ""));
            v.push((tr("User name"), tr("any, or none").to_string(), ""));
            v.push((tr("Password"), tr("any, or none").to_string(), ""));
        }
    }
    v
}

/// The first-run card; shown while no device is registered.
pub fn card(ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.0, widgets::BLUE))
        .show(ui, |ui| {
            ui.label(
                RichText::new(tr("Connect your first device"))
                    .strong()
                    .size(16.0),
            );
            if m.config.profile == Profile::OneNet {
                ui.label(tr(
                    "1. Register it: add its product and the device with the ids and auth_info your firmware already carries.",
                ));
                ui.horizontal(|ui| {
                    if ui
                        .button(tr("Add product and device…"))
                        .on_hover_text(tr("Open the Registry"))
                        .clicked()
                    {
                        out.push(Action::Navigate(Tab::Registry));
                    }
                    if m.prefs.auto_register {
                        ui.weak(tr(
                            "Auto-register is on: devices of a known product register on first connect.",
                        ));
                    } else if ui
                        .button(tr("Or turn on auto-register"))
                        .on_hover_text(tr(
                            "Unknown device ids of known products are registered on first connect; their password becomes their auth_info. Add the product first.",
                        ))
                        .clicked()
                    {
                        out.push(Action::SetAutoRegister(true));
                    }
                });
                ui.label(tr("2. Put these values in the firmware:"));
            } else {
                ui.label(tr(
                    "Profile mqtt: any MQTT 3.1.1 client may connect. Put these values in it:",
                ));
            }
            egui::Grid::new("first-run-values")
                .num_columns(3)
                .spacing([16.0, 4.0])
                .show(ui, |ui| {
                    for (what, value, note) in firmware_values(m) {
                        ui.label(what);
                        widgets::copyable(ui, &value);
                        ui.weak(note);
                        ui.end_row();
                    }
                });
        });
}
