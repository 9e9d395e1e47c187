//! Registry: products and devices with the ids and auth_info the firmware carries; add, edit, delete,
//! generate secrets; the auto-register switch; auto-registered devices highlighted.

use egui::{RichText, Ui};

use crate::onenet::registry::{generate_id, generate_secret};
use crate::ui::actions::Action;
use crate::ui::format;
use crate::ui::i18n::tr;
use crate::ui::model::Model;
use crate::ui::widgets::{self, AMBER};

/// What is being edited or deleted.
#[derive(Debug, Clone, PartialEq, Default)]
enum Pending {
    #[default]
    None,
    EditProduct {
        id: String,
        name: String,
        api_key: String,
    },
    EditDevice {
        id: String,
        name: String,
        auth_info: String,
    },
    DeleteProduct(String),
    DeleteDevice(String),
}

#[derive(Default)]
pub struct RegistryPanel {
    pub product: Option<String>,
    pub new_product_id: String,
    pub new_product_name: String,
    pub new_api_key: String,
    pub new_device_id: String,
    pub new_device_name: String,
    pub new_auth_info: String,
    pending: Pending,
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl RegistryPanel {
    pub fn ui(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        widgets::title(
            ui,
            tr("Registry"),
            tr("Products and devices: use the ids and auth_info your firmware already carries."),
        );
        let mut auto = m.prefs.auto_register;
        if ui
            .checkbox(&mut auto, tr("Auto-register unknown devices of known products"))
            .on_hover_text(tr(
                "A device id that is not registered may connect; its password becomes its auth_info. Restarts the broker.",
            ))
            .changed()
        {
            out.push(Action::SetAutoRegister(auto));
        }
        ui.separator();
        ui.spacing_mut().text_edit_width = 200.0;
        if self.product.is_none() {
            self.product = m.products.first().map(|p| p.id.clone());
        }
        ui.columns(2, |cols| {
            self.products(&mut cols[0], m, out);
            self.devices(&mut cols[1], m, out);
        });
        self.dialogs(ui, out);
    }

    fn products(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        ui.strong(tr("Products"));
        egui::Grid::new("products")
            .striped(true)
            .num_columns(4)
            .show(ui, |ui| {
                ui.strong(tr("Product ID"));
                ui.strong(tr("Name"));
                ui.strong(tr("API key"));
                ui.strong("");
                ui.end_row();
                for p in &m.products {
                    let sel = self.product.as_deref() == Some(p.id.as_str());
                    if ui
                        .selectable_label(sel, RichText::new(&p.id).monospace())
                        .on_hover_text(tr("Show this product's devices"))
                        .clicked()
                    {
                        self.product = Some(p.id.clone());
                    }
                    ui.label(&p.name);
                    widgets::copyable(ui, &p.api_key);
                    ui.horizontal(|ui| {
                        if ui.small_button(tr("Edit")).clicked() {
                            self.pending = Pending::EditProduct {
                                id: p.id.clone(),
                                name: p.name.clone(),
                                api_key: p.api_key.clone(),
                            };
                        }
                        if ui.small_button(tr("Delete")).clicked() {
                            self.pending = Pending::DeleteProduct(p.id.clone());
                        }
                    });
                    ui.end_row();
                }
            });
        ui.add_space(6.0);
        egui::CollapsingHeader::new(tr("New product"))
            .default_open(m.products.is_empty())
            .show(ui, |ui| {
                egui::Grid::new("add-product")
                    .num_columns(3)
                    .show(ui, |ui| {
                        ui.label(tr("Product ID"));
                        ui.add(
                            egui::TextEdit::singleline(&mut self.new_product_id)
                                .hint_text(tr("generated if empty")),
                        )
                        .accessible_name(tr("New product id"));
                        if ui
                            .small_button(tr("Generate"))
                            .on_hover_text(tr("A random 6-digit id"))
                            .clicked()
                        {
                            self.new_product_id = generate_id(6);
                        }
                        ui.end_row();
                        ui.label(tr("Name"));
                        ui.text_edit_singleline(&mut self.new_product_name)
                            .accessible_name(tr("New product name"));
                        ui.end_row();
                        ui.label(tr("API key"));
                        ui.add(
                            egui::TextEdit::singleline(&mut self.new_api_key)
                                .hint_text(tr("generated if empty")),
                        )
                        .accessible_name(tr("New API key"));
                        if ui
                            .small_button(tr("Generate"))
                            .on_hover_text(tr("A random 28-character key"))
                            .clicked()
                        {
                            self.new_api_key = generate_secret(28);
                        }
                        ui.end_row();
                    });
                if ui.button(tr("Add product")).clicked() {
                    out.push(Action::AddProduct {
                        id: opt(&self.new_product_id),
                        name: opt(&self.new_product_name),
                        api_key: opt(&self.new_api_key),
                    });
                    self.new_product_id.clear();
                    self.new_product_name.clear();
                    self.new_api_key.clear();
                }
            });
    }

    fn devices(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        let Some(pid) = self.product.clone() else {
            ui.weak(tr("Add a product first."));
            return;
        };
        ui.strong(format!("{} {pid}", tr("Devices of product")));
        egui::ScrollArea::vertical()
            .id_salt("reg-devices")
            .max_height(ui.available_height() - 150.0)
            .show(ui, |ui| {
                egui::Grid::new("devices")
                    .striped(true)
                    .num_columns(5)
                    .show(ui, |ui| {
                        ui.strong(tr("Device ID"));
                        ui.strong(tr("Name"));
                        ui.strong("auth_info");
                        ui.strong(tr("Created"));
                        ui.strong("");
                        ui.end_row();
                        for d in m.devices.iter().filter(|d| d.product_id == pid) {
                            let r = widgets::copyable(ui, &d.id);
                            if m.is_new_auto(d) {
                                r.on_hover_text(tr(
                                    "Registered automatically since the console started",
                                ));
                            }
                            if m.is_new_auto(d) {
                                ui.label(
                                    RichText::new(format!("{} ★ {}", d.name, tr("new")))
                                        .color(AMBER),
                                );
                            } else {
                                ui.label(&d.name);
                            }
                            widgets::copyable(ui, &d.auth_info);
                            ui.label(format::datetime(d.created_at, m.offset()));
                            ui.horizontal(|ui| {
                                if ui.small_button(tr("Edit")).clicked() {
                                    self.pending = Pending::EditDevice {
                                        id: d.id.clone(),
                                        name: d.name.clone(),
                                        auth_info: d.auth_info.clone(),
                                    };
                                }
                                if ui.small_button(tr("Delete")).clicked() {
                                    self.pending = Pending::DeleteDevice(d.id.clone());
                                }
                            });
                            ui.end_row();
                        }
                    });
            });
        ui.add_space(6.0);
        egui::CollapsingHeader::new(tr("New device"))
            .default_open(true)
            .show(ui, |ui| {
                egui::Grid::new("add-device").num_columns(3).show(ui, |ui| {
                    ui.label(tr("Device ID"));
                    ui.add(
                        egui::TextEdit::singleline(&mut self.new_device_id)
                            .hint_text(tr("generated if empty")),
                    )
                    .accessible_name(tr("New device id"));
                    if ui
                        .small_button(tr("Generate"))
                        .on_hover_text(tr("A random 8-digit id"))
                        .clicked()
                    {
                        self.new_device_id = generate_id(8);
                    }
                    ui.end_row();
                    ui.label(tr("Name"));
                    ui.text_edit_singleline(&mut self.new_device_name)
                        .accessible_name(tr("New device name"));
                    ui.end_row();
                    ui.label("auth_info");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.new_auth_info)
                            .hint_text(tr("generated if empty")),
                    )
                    .accessible_name(tr("New auth_info"));
                    if ui
                        .small_button(tr("Generate"))
                        .on_hover_text(tr(
                            "A random 16-character secret, unique within the product",
                        ))
                        .clicked()
                    {
                        self.new_auth_info = generate_secret(16);
                    }
                    ui.end_row();
                });
                if ui.button(tr("Add device")).clicked() {
                    out.push(Action::AddDevice {
                        product: pid.clone(),
                        id: opt(&self.new_device_id),
                        name: opt(&self.new_device_name),
                        auth_info: opt(&self.new_auth_info),
                    });
                    self.new_device_id.clear();
                    self.new_device_name.clear();
                    self.new_auth_info.clear();
                }
            });
    }

    fn dialogs(&mut self, ui: &mut Ui, out: &mut Vec<Action>) {
        let mut close = false;
        match &mut self.pending {
            Pending::None => {}
            Pending::DeleteProduct(id) => {
                let q = format!(
                    "{} {id}? {}",
                    tr("Delete product"),
                    tr("All its devices are deleted too.")
                );
                match widgets::confirm(ui, "del-product", &q, tr("Yes, delete")) {
                    Some(true) => {
                        out.push(Action::DeleteProduct(id.clone()));
                        close = true;
                    }
                    Some(false) => close = true,
                    None => {}
                }
            }
            Pending::DeleteDevice(id) => {
                let q = format!("{} {id}?", tr("Delete device"));
                match widgets::confirm(ui, "del-device", &q, tr("Yes, delete")) {
                    Some(true) => {
                        out.push(Action::DeleteDevice(id.clone()));
                        close = true;
                    }
                    Some(false) => close = true,
                    None => {}
                }
            }
            Pending::EditProduct { id, name, api_key } => {
                egui::Modal::new(egui::Id::unique("edit-product")).show(ui.ctx(), |ui| {
                    ui.heading(format!("{} {id}", tr("Product")));
                    ui.label(tr("Name"));
                    ui.text_edit_singleline(name).accessible_name(tr("Name"));
                    ui.label(tr("API key"));
                    ui.horizontal(|ui| {
                        ui.text_edit_singleline(api_key)
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
            }
            Pending::EditDevice {
                id,
                name,
                auth_info,
            } => {
                egui::Modal::new(egui::Id::unique("edit-device")).show(ui.ctx(), |ui| {
                    ui.heading(format!("{} {id}", tr("Device")));
                    ui.label(tr("Name"));
                    ui.text_edit_singleline(name).accessible_name(tr("Name"));
                    ui.label("auth_info");
                    ui.horizontal(|ui| {
                        ui.text_edit_singleline(auth_info)
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
            }
        }
        if close {
            self.pending = Pending::None;
        }
    }
}
