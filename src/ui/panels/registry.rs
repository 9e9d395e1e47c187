//! Registry: products and devices with the ids and auth_info the firmware carries; add, edit, delete,
//! generate secrets; the auto-register switch; auto-registered devices highlighted.

use egui::{RichText, Ui};

use crate::onenet::registry::{generate_id, generate_secret};
use crate::ui::actions::Action;
use crate::ui::format;
use crate::ui::i18n::tr;
use crate::ui::state::Model;
use crate::ui::widgets::{self, AMBER};

mod dialogs;

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
    /// The add whose outcome is awaited: the form is cleared only when it succeeds.
    adding: Option<AddKind>,
    /// The field a failed add is about, marked red with the error under it.
    pub add_error: Option<(AddField, String)>,
    /// The last add outcome seen (model's counter).
    seen_outcome: u64,
    /// An auto-register change waiting for confirmation (it restarts the broker).
    confirm_auto: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddKind {
    Product,
    Device,
}

/// A field of the add forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddField {
    ProductId,
    ApiKey,
    DeviceId,
    AuthInfo,
}

/// Widths of the registry's text fields (points): a 32-character key in monospace, a name or secret,
/// an id.
const KEY_WIDTH: f32 = 300.0;
const NAME_WIDTH: f32 = 220.0;
const ID_WIDTH: f32 = 160.0;

/// A name field of the registry, wide enough to read a device's name while typing it.
fn name_field(ui: &mut Ui, text: &mut String, name: &str) {
    sized(ui, NAME_WIDTH, egui::TextEdit::singleline(text)).accessible_name(name);
}

/// A text field `width` wide wherever it is: a grid's cell is otherwise only as wide as the column was
/// the frame before (a field would stay at the grid's least cell width, ~40 points).
fn sized(ui: &mut Ui, width: f32, edit: egui::TextEdit<'_>) -> egui::Response {
    let h = ui.spacing().interact_size.y;
    ui.add_sized([width, h], edit.desired_width(width))
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
            let mut p = m.prefs.clone();
            p.auto_register = auto;
            match crate::ui::panels::settings::restart_cost(m, &p) {
                Some(_) => self.confirm_auto = Some(auto),
                None => out.push(Action::SetAutoRegister(auto)),
            }
        }
        if let Some(on) = self.confirm_auto {
            let mut p = m.prefs.clone();
            p.auto_register = on;
            let q = crate::ui::panels::settings::restart_cost(m, &p).unwrap_or_default();
            match widgets::confirm(ui, "confirm-auto-register", &q, tr("Apply and restart")) {
                Some(true) => {
                    out.push(Action::SetAutoRegister(on));
                    self.confirm_auto = None;
                }
                Some(false) => self.confirm_auto = None,
                None => {}
            }
        }
        ui.separator();
        self.take_outcome(m);
        // A selected product that no longer exists (deleted here or elsewhere) is forgotten.
        if self
            .product
            .as_ref()
            .is_none_or(|id| !m.products.iter().any(|p| p.id == *id))
        {
            self.product = m.products.first().map(|p| p.id.clone());
        }
        ui.columns(2, |cols| {
            self.products(&mut cols[0], m, out);
            self.devices(&mut cols[1], m, out);
        });
        self.dialogs(ui, m, out);
    }

    /// Clears the add form when the add succeeded; keeps it and marks the field when it failed.
    fn take_outcome(&mut self, m: &Model) {
        let Some((seq, r)) = &m.add_outcome else {
            return;
        };
        if *seq == self.seen_outcome {
            return;
        }
        self.seen_outcome = *seq;
        let Some(kind) = self.adding.take() else {
            return;
        };
        match (kind, r) {
            (AddKind::Product, Ok(_)) => {
                self.new_product_id.clear();
                self.new_product_name.clear();
                self.new_api_key.clear();
                self.add_error = None;
            }
            (AddKind::Device, Ok(_)) => {
                self.new_device_id.clear();
                self.new_device_name.clear();
                self.new_auth_info.clear();
                self.add_error = None;
            }
            (kind, Err(e)) => {
                let field = match kind {
                    AddKind::Product if e.contains("api") || e.contains("key") => AddField::ApiKey,
                    AddKind::Product => AddField::ProductId,
                    AddKind::Device if e.contains("auth_info") => AddField::AuthInfo,
                    AddKind::Device => AddField::DeviceId,
                };
                self.add_error = Some((field, e.clone()));
            }
        }
    }

    /// A text field of an add form, red with its error under it when the last add failed on it.
    fn field(&self, ui: &mut Ui, which: AddField, text: &mut String, name: &str) {
        let bad = self.add_error.as_ref().filter(|(f, _)| *f == which);
        // Wide enough to read what is typed: a 32-character API key, a 16-character auth_info.
        let width = match which {
            AddField::ApiKey => KEY_WIDTH,
            AddField::AuthInfo => NAME_WIDTH,
            AddField::ProductId | AddField::DeviceId => ID_WIDTH,
        };
        let mut edit = egui::TextEdit::singleline(text)
            .font(egui::TextStyle::Monospace)
            .hint_text(tr("generated if empty"));
        if bad.is_some() {
            edit = edit.text_color(widgets::RED);
        }
        let r = sized(ui, width, edit).accessible_name(name);
        if let Some((_, e)) = bad {
            r.on_hover_text(e.as_str());
        }
    }

    fn error_line(&self, ui: &mut Ui, kind: AddKind) {
        if let Some((f, e)) = &self.add_error {
            let mine = match kind {
                AddKind::Product => matches!(f, AddField::ProductId | AddField::ApiKey),
                AddKind::Device => matches!(f, AddField::DeviceId | AddField::AuthInfo),
            };
            if mine {
                ui.colored_label(widgets::RED, e);
            }
        }
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
                        let mut t = std::mem::take(&mut self.new_product_id);
                        self.field(ui, AddField::ProductId, &mut t, tr("New product id"));
                        self.new_product_id = t;
                        if ui
                            .small_button(tr("Generate"))
                            .on_hover_text(tr("A random 6-digit id"))
                            .clicked()
                        {
                            self.new_product_id = generate_id(6);
                        }
                        ui.end_row();
                        ui.label(tr("Name"));
                        name_field(ui, &mut self.new_product_name, tr("New product name"));
                        ui.end_row();
                        ui.label(tr("API key"));
                        let mut t = std::mem::take(&mut self.new_api_key);
                        self.field(ui, AddField::ApiKey, &mut t, tr("New API key"));
                        self.new_api_key = t;
                        if ui
                            .small_button(tr("Generate"))
                            .on_hover_text(tr("A random 28-character key"))
                            .clicked()
                        {
                            self.new_api_key = generate_secret(28);
                        }
                        ui.end_row();
                    });
                self.error_line(ui, AddKind::Product);
                if ui.button(tr("Add product")).clicked() {
                    out.push(Action::AddProduct {
                        id: opt(&self.new_product_id),
                        name: opt(&self.new_product_name),
                        api_key: opt(&self.new_api_key),
                    });
                    self.adding = Some(AddKind::Product);
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
                    let mut t = std::mem::take(&mut self.new_device_id);
                    self.field(ui, AddField::DeviceId, &mut t, tr("New device id"));
                    self.new_device_id = t;
                    if ui
                        .small_button(tr("Generate"))
                        .on_hover_text(tr("A random 8-digit id"))
                        .clicked()
                    {
                        self.new_device_id = generate_id(8);
                    }
                    ui.end_row();
                    ui.label(tr("Name"));
                    name_field(ui, &mut self.new_device_name, tr("New device name"));
                    ui.end_row();
                    ui.label("auth_info");
                    let mut t = std::mem::take(&mut self.new_auth_info);
                    self.field(ui, AddField::AuthInfo, &mut t, tr("New auth_info"));
                    self.new_auth_info = t;
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
                self.error_line(ui, AddKind::Device);
                if ui.button(tr("Add device")).clicked() {
                    out.push(Action::AddDevice {
                        product: pid.clone(),
                        id: opt(&self.new_device_id),
                        name: opt(&self.new_device_name),
                        auth_info: opt(&self.new_auth_info),
                    });
                    self.adding = Some(AddKind::Device);
                }
            });
    }
}
