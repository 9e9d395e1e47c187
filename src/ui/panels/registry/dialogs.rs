//! The Registry panel's dialogs: editing a product or device (name, API key, auth_info with a fresh
//! secret on request) and confirming a delete.

use egui::Ui;

use super::{KEY_WIDTH, NAME_WIDTH, Pending, RegistryPanel, name_field, opt};
use crate::onenet::registry::generate_secret;
use crate::ui::actions::Action;
use crate::ui::i18n::tr;
use crate::ui::state::Model;
use crate::ui::widgets;

impl RegistryPanel {
    pub(super) fn dialogs(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        let mut close = false;
        match &mut self.pending {
            Pending::None => {}
            Pending::DeleteProduct(id) => {
                let online: Vec<String> = m
                    .devices
                    .iter()
                    .filter(|d| d.product_id == *id && m.is_online(&d.id))
                    .map(|d| d.id.clone())
                    .collect();
                let n = m.devices.iter().filter(|d| d.product_id == *id).count();
                let mut q = format!(
                    "{} {id}? {} ({n}).",
                    tr("Delete product"),
                    tr("All its devices are deleted too")
                );
                if !online.is_empty() {
                    q.push_str(&format!(
                        " {} {}: {}",
                        online.len(),
                        tr("of them are online and will be disconnected"),
                        online.join(", ")
                    ));
                }
                match widgets::confirm(ui, "del-product", &q, tr("Yes, delete")) {
                    Some(true) => {
                        out.push(Action::DeleteProduct(id.clone()));
                        out.extend(online.into_iter().map(Action::Kick));
                        close = true;
                    }
                    Some(false) => close = true,
                    None => {}
                }
            }
            Pending::DeleteDevice(id) => {
                let online = m.is_online(id);
                let mut q = format!("{} {id}?", tr("Delete device"));
                if online {
                    q.push_str(&format!(
                        " {}",
                        tr("It is online and will be disconnected; it cannot log in again.")
                    ));
                }
                match widgets::confirm(ui, "del-device", &q, tr("Yes, delete")) {
                    Some(true) => {
                        out.push(Action::DeleteDevice(id.clone()));
                        if online {
                            out.push(Action::Kick(id.clone()));
                        }
                        close = true;
                    }
                    Some(false) => close = true,
                    None => {}
                }
            }
            Pending::EditProduct { id, name, api_key } => {
                let r = egui::Modal::new(egui::Id::unique("edit-product")).show(ui.ctx(), |ui| {
                    ui.heading(format!("{} {id}", tr("Product")));
                    ui.label(tr("Name"));
                    name_field(ui, name, tr("Name"));
                    ui.label(tr("API key"));
                    ui.horizontal(|ui| {
                        ui.add(
                            egui::TextEdit::singleline(api_key)
                                .desired_width(KEY_WIDTH)
                                .font(egui::TextStyle::Monospace),
                        )
                        .accessible_name(tr("API key"));
                        if ui.small_button(tr("Generate")).clicked() {
                            *api_key = generate_secret(28);
                        }
                    });
                    ui.horizontal(|ui| {
                        if ui.button(tr("Save")).clicked() {
                            out.push(Action::UpdateProduct {
                                id: id.clone(),
                                name: Some(name.clone()),
                                api_key: opt(api_key),
                            });
                            close = true;
                        }
                        if ui.button(tr("Cancel")).clicked() {
                            close = true;
                        }
                    });
                });
                close |= r.should_close();
            }
            Pending::EditDevice {
                id,
                name,
                auth_info,
            } => {
                let r = egui::Modal::new(egui::Id::unique("edit-device")).show(ui.ctx(), |ui| {
                    ui.heading(format!("{} {id}", tr("Device")));
                    ui.label(tr("Name"));
                    name_field(ui, name, tr("Name"));
                    ui.label("auth_info");
                    ui.horizontal(|ui| {
                        ui.add(
                            egui::TextEdit::singleline(auth_info)
                                .desired_width(NAME_WIDTH)
                                .font(egui::TextStyle::Monospace),
                        )
                        .accessible_name("auth_info");
                        if ui.small_button(tr("Generate")).clicked() {
                            *auth_info = generate_secret(16);
                        }
                    });
                    ui.horizontal(|ui| {
                        if ui.button(tr("Save")).clicked() {
                            out.push(Action::UpdateDevice {
                                id: id.clone(),
                                name: Some(name.clone()),
                                auth_info: opt(auth_info),
                            });
                            close = true;
                        }
                        if ui.button(tr("Cancel")).clicked() {
                            close = true;
                        }
                    });
                });
                close |= r.should_close();
            }
        }
        if close {
            self.pending = Pending::None;
        }
    }
}
