//! The export dialog: device, streams, time range and format → a file (CSV or JSON Lines) written off the
//! UI thread by the same writer as the `export` CLI, with a progress bar and cancel.

use egui::Ui;

use crate::export::ExportFormat;
use crate::onenet::datapoint::time::parse_datetime;
use crate::ui::actions::{Action, ExportSpec};
use crate::ui::i18n::tr;
use crate::ui::state::Model;

#[derive(Default)]
pub struct ExportDialog {
    pub open: bool,
    pub device: Option<String>,
    /// Ticked streams; none ticked = all.
    pub streams: Vec<(String, bool)>,
    pub since: String,
    pub until: String,
    pub format: ExportFormat,
    /// CSV byte order mark as ticked; `None` = not touched: on when the console speaks Chinese (Excel on a
    /// Chinese Windows reads a CSV without one as GBK).
    pub bom: Option<bool>,
    pub error: Option<String>,
}

impl ExportDialog {
    pub fn open_for(&mut self, device: Option<String>, m: &Model) {
        self.open = true;
        self.error = None;
        self.set_device(device, m);
    }

    fn set_device(&mut self, device: Option<String>, m: &Model) {
        self.streams = device
            .as_ref()
            .and_then(|d| m.streams.get(d))
            .map(|s| s.keys().map(|k| (k.clone(), false)).collect())
            .unwrap_or_default();
        self.device = device;
    }

    /// The spec the dialog describes, or why it cannot be exported.
    pub fn spec(&self, offset: i32) -> Result<ExportSpec, String> {
        let time = |s: &str, what: &str| -> Result<Option<i64>, String> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            parse_datetime(s, offset)
                .map(Some)
                .ok_or_else(|| format!("{what} '{s}': {}", tr("write YYYY-MM-DD hh:mm:ss")))
        };
        let since = time(&self.since, tr("From"))?;
        let until = time(&self.until, tr("To"))?;
        if let (Some(a), Some(b)) = (since, until)
            && a > b
        {
            return Err(tr("The start is after the end.").into());
        }
        Ok(ExportSpec {
            device: self.device.clone(),
            streams: self
                .streams
                .iter()
                .filter(|(_, on)| *on)
                .map(|(s, _)| s.clone())
                .collect(),
            since,
            until,
            format: self.format,
            bom: self.format == ExportFormat::Csv && self.bom_ticked(),
            path: None,
        })
    }

    fn bom_ticked(&self) -> bool {
        self.bom
            .unwrap_or(crate::ui::i18n::lang() == crate::ui::prefs::Lang::Chinese)
    }

    pub fn ui(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        if let Some(e) = m.export {
            egui::Modal::new(egui::Id::unique("export-progress")).show(ui.ctx(), |ui| {
                ui.heading(tr("Exporting…"));
                let frac = if e.total > 0 {
                    e.done as f32 / e.total as f32
                } else {
                    0.0
                };
                ui.add(
                    egui::ProgressBar::new(frac)
                        .text(format!("{} / {}", e.done, e.total))
                        .desired_width(320.0),
                );
                if ui.button(tr("Cancel")).clicked() {
                    out.push(Action::CancelExport);
                }
            });
            return;
        }
        if !self.open {
            return;
        }
        let mut open = true;
        egui::Window::new(tr("Export datapoints"))
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ui.ctx(), |ui| {
                egui::Grid::new("export-grid")
                    .num_columns(2)
                    .show(ui, |ui| {
                        let device_label = ui.label(tr("Device")).id;
                        let mut dev = self.device.clone();
                        egui::ComboBox::from_id_salt("export-device")
                            .selected_text(dev.clone().unwrap_or_else(|| tr("all devices").into()))
                            .show_ui(ui, |ui| {
                                ui.selectable_value(&mut dev, None, tr("all devices"));
                                for d in m.streams.keys() {
                                    ui.selectable_value(&mut dev, Some(d.clone()), d);
                                }
                            })
                            .response
                            .labelled_by(device_label);
                        if dev != self.device {
                            self.set_device(dev, m);
                        }
                        ui.end_row();
                        ui.label(tr("Streams"));
                        ui.vertical(|ui| {
                            if self.streams.is_empty() {
                                ui.weak(tr("all"));
                            }
                            for (s, on) in &mut self.streams {
                                ui.checkbox(on, s.as_str());
                            }
                            ui.weak(tr("None ticked: every stream"));
                        });
                        ui.end_row();
                        let from_label = ui.label(tr("From")).id;
                        ui.add(
                            egui::TextEdit::singleline(&mut self.since)
                                .hint_text("2026-01-01 00:00:00"),
                        )
                        .labelled_by(from_label)
                        .on_hover_text(tr("Local time as shown; empty = from the first datapoint"));
                        ui.end_row();
                        let to_label = ui.label(tr("To")).id;
                        ui.add(egui::TextEdit::singleline(&mut self.until).hint_text(tr("now")))
                            .labelled_by(to_label)
                            .on_hover_text(tr(
                                "Local time as shown; empty = up to the last datapoint",
                            ));
                        ui.end_row();
                        ui.label(tr("Format"));
                        ui.horizontal(|ui| {
                            ui.radio_value(&mut self.format, ExportFormat::Csv, "CSV");
                            ui.radio_value(&mut self.format, ExportFormat::JsonLines, "JSON Lines");
                        });
                        ui.end_row();
                        if self.format == ExportFormat::Csv {
                            ui.label("");
                            let mut on = self.bom_ticked();
                            if ui
                                .checkbox(&mut on, tr("UTF-8 BOM (for Excel)"))
                                .on_hover_text(tr(
                                    "Excel on a Chinese Windows shows UTF-8 text as mojibake without it",
                                ))
                                .changed()
                            {
                                self.bom = Some(on);
                            }
                            ui.end_row();
                        }
                    });
                // An error is checked again while shown: it goes as soon as the dates are fixed.
                if self.error.is_some() {
                    self.error = self.spec(m.offset()).err();
                }
                if let Some(e) = &self.error {
                    ui.colored_label(crate::ui::widgets::RED, e);
                }
                if ui
                    .button(tr("Export to file…"))
                    .on_hover_text(tr(
                        "Choose where to save; the export runs in the background",
                    ))
                    .clicked()
                {
                    match self.spec(m.offset()) {
                        Ok(spec) => {
                            out.push(Action::ExportDatapoints(spec));
                            self.open = false;
                        }
                        Err(e) => self.error = Some(e),
                    }
                }
            });
        if !open {
            self.open = false;
        }
    }
}
