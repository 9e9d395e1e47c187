//! Choosing where a file is saved, inside the window. Every save (datapoint export, "Save as…", traffic
//! and diagnostics export) asks here first: a typed path, prefilled in the data directory, and a
//! "Browse…" button for the system's file dialog. The system dialog is often missing (no desktop portal
//! and no zenity on minimal desktops, none under Xvfb); then the window says so and the typed path still
//! works, so exporting never silently does nothing.

use std::path::{Path, PathBuf};

use egui::{RichText, Ui};

use crate::ui::actions::{Action, ExportSpec};
use crate::ui::i18n::tr;
use crate::ui::widgets;

/// What is waiting for a file name.
#[derive(Debug, Clone, PartialEq)]
pub enum SaveWhat {
    Bytes(Vec<u8>),
    Datapoints(ExportSpec),
    Traffic,
    Diagnostics(String),
    /// A recording of this device's session (written until Stop).
    Recording(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SaveJob {
    pub what: SaveWhat,
    /// The path as typed.
    pub path: String,
    /// Why the last attempt or Browse… did not give a file.
    pub note: Option<String>,
    /// The system dialog is open.
    pub browsing: bool,
}

/// The save-as dialog; at most one save waits at a time.
#[derive(Default)]
pub struct SaveDialog {
    pub job: Option<SaveJob>,
}

/// The default folder for saved files: `exports` in the data directory.
pub fn default_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("exports")
}

impl SaveDialog {
    /// Asks where to save `what`, suggesting `name` in `dir`.
    pub fn ask(&mut self, what: SaveWhat, dir: &Path, name: &str) {
        self.job = Some(SaveJob {
            what,
            path: dir.join(name).display().to_string(),
            note: None,
            browsing: false,
        });
    }

    /// The system dialog answered: a path fills the field; none leaves the typed one and says why.
    pub fn picked(&mut self, path: Option<PathBuf>) {
        let Some(job) = self.job.as_mut() else {
            return;
        };
        job.browsing = false;
        match path {
            Some(p) => {
                job.path = p.display().to_string();
                job.note = None;
            }
            None => {
                job.note = Some(
                    tr("No file was chosen: the system file dialog was cancelled or is not available on this desktop (no desktop portal or zenity). Type the path above and press Save.")
                        .into(),
                );
            }
        }
    }

    /// Checks a typed path: absolute or not, it must name a file (not a directory).
    pub fn check(path: &str) -> Result<PathBuf, String> {
        let t = path.trim();
        if t.is_empty() {
            return Err(tr("Type the path of the file to write.").into());
        }
        let p = PathBuf::from(t);
        if p.is_dir() || t.ends_with('/') || t.ends_with('\\') {
            return Err(format!("{t}: {}", tr("is a folder; add a file name")));
        }
        Ok(p)
    }

    pub fn ui(&mut self, ui: &mut Ui, out: &mut Vec<Action>) {
        let Some(job) = self.job.as_mut() else {
            return;
        };
        let mut choice = None;
        let r = egui::Modal::new(egui::Id::unique("save-file")).show(ui.ctx(), |ui| {
            ui.set_min_width(520.0);
            ui.heading(tr("Save to file"));
            let label = ui.label(tr("File path")).id;
            let edit = ui.add(
                egui::TextEdit::singleline(&mut job.path)
                    .desired_width(500.0)
                    .font(egui::TextStyle::Monospace),
            );
            edit.labelled_by(label);
            let checked = Self::check(&job.path);
            match &checked {
                Ok(p) if p.exists() => {
                    ui.colored_label(widgets::AMBER, tr("This file exists and will be replaced."));
                }
                Ok(_) => {
                    ui.weak(tr("Folders that do not exist are created."));
                }
                Err(e) => {
                    ui.colored_label(widgets::RED, e);
                }
            }
            if let Some(n) = &job.note {
                ui.colored_label(widgets::RED, n);
            }
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(
                        checked.is_ok() && !job.browsing,
                        egui::Button::new(RichText::new(tr("Save")).strong()),
                    )
                    .clicked()
                    && let Ok(p) = &checked
                {
                    choice = Some(Action::SaveTo(p.clone()));
                }
                if ui
                    .add_enabled(!job.browsing, egui::Button::new(tr("Browse…")))
                    .on_hover_text(tr("Choose with the system's file dialog"))
                    .clicked()
                {
                    job.browsing = true;
                    job.note = None;
                    choice = Some(Action::BrowseSave(PathBuf::from(job.path.trim())));
                }
                if job.browsing {
                    ui.spinner();
                    ui.weak(tr("waiting for the system file dialog…"));
                }
                if ui.button(tr("Cancel")).clicked() {
                    choice = Some(Action::CancelSave);
                }
            });
        });
        if choice.is_none() && r.should_close() && !job.browsing {
            choice = Some(Action::CancelSave);
        }
        out.extend(choice);
    }
}

/// The file name suggested for an action that saves, and what it saves; None for other actions.
pub fn save_request(a: &Action) -> Option<(SaveWhat, String)> {
    match a {
        Action::SaveBytes { name, bytes } => Some((SaveWhat::Bytes(bytes.clone()), name.clone())),
        Action::ExportDatapoints(spec) if spec.path.is_none() => Some((
            SaveWhat::Datapoints(spec.clone()),
            format!(
                "datapoints-{}.{}",
                spec.device.as_deref().unwrap_or("all"),
                spec.format.extension()
            ),
        )),
        Action::ExportTraffic => Some((SaveWhat::Traffic, "traffic.jsonl".into())),
        Action::RecordTraffic(d) => Some((
            SaveWhat::Recording(d.clone()),
            format!(
                "recording-{d}-{}.jsonl",
                file_stamp(crate::ui::format::now_ms())
            ),
        )),
        Action::ExportDiagnostics(d) => Some((
            SaveWhat::Diagnostics(d.clone()),
            format!("diagnostics-{d}.json"),
        )),
        _ => None,
    }
}

/// `YYYYMMDD-HHMMSS` (UTC) for file names.
fn file_stamp(ms: i64) -> String {
    crate::ui::format::datetime(ms, 0)
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(14)
        .enumerate()
        .flat_map(|(i, c)| (i == 8).then_some('-').into_iter().chain([c]))
        .collect()
}
