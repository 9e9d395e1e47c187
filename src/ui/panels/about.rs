//! The About box: the version, where the data and the log file are, and how big the database is —
//! what a user needs to find when reporting a problem or backing up.

use std::path::{Path, PathBuf};

use egui::Ui;

use crate::config::DB_FILE;
use crate::logging;
use crate::ui::actions::Action;
use crate::ui::format;
use crate::ui::panels::logs::t;
use crate::ui::state::Model;
use crate::ui::widgets;

pub struct AboutBox {
    /// Whether the box is showing.
    pub open: bool,
    log_file: Option<PathBuf>,
}

impl Default for AboutBox {
    /// The box for this process's log file (see [`logging::init`]).
    fn default() -> Self {
        AboutBox::new(logging::log_file())
    }
}

/// The database's size on disk: the file plus its write-ahead log (recent writes live there until a
/// checkpoint). None when there is no database yet.
pub fn database_bytes(data_dir: &Path) -> Option<u64> {
    let size = |suffix: &str| {
        std::fs::metadata(data_dir.join(format!("{DB_FILE}{suffix}")))
            .ok()
            .map(|m| m.len())
    };
    let main = size("")?;
    Some(main + size("-wal").unwrap_or(0))
}

/// The application icon (also installed by the packages), for the window's title bar and task bar.
pub const ICON_PNG: &[u8] = include_bytes!("../../../assets/onenet-desk.png");

/// [`ICON_PNG`] decoded; an empty icon (the platform's default) if it were ever unreadable.
pub fn window_icon() -> egui::IconData {
    eframe::icon_data::from_png_bytes(ICON_PNG).unwrap_or_default()
}

impl AboutBox {
    pub fn new(log_file: Option<PathBuf>) -> AboutBox {
        AboutBox {
            open: false,
            log_file,
        }
    }

    /// The button that opens the box (in the side bar).
    pub fn button(&mut self, ui: &mut Ui) {
        if ui.button(t("About")).clicked() {
            self.open = true;
        }
    }

    /// Draws the box when it is open.
    pub fn show(&mut self, ctx: &egui::Context, m: &Model, out: &mut Vec<Action>) {
        if !self.open {
            return;
        }
        // The data dir the broker runs on: the one chosen in Settings, else the command line's.
        let data_dir = m
            .prefs
            .to_config(&m.config)
            .map(|c| c.data_dir)
            .unwrap_or_else(|_| m.config.data_dir.clone());
        let mut open = true;
        let mut close = false;
        egui::Window::new(t("About onenet-desk"))
            .id(egui::Id::unique("about-box"))
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
            .show(ctx, |ui| {
                ui.label(t(
                    "A local OneNET: MQTT broker, datapoint store and desktop console.",
                ));
                ui.add_space(6.0);
                egui::Grid::new("about-grid")
                    .num_columns(2)
                    .spacing([12.0, 6.0])
                    .show(ui, |ui| {
                        ui.label(t("Version"));
                        ui.label(env!("CARGO_PKG_VERSION"));
                        ui.end_row();
                        ui.label(t("Data folder"));
                        widgets::copyable(ui, &data_dir.display().to_string());
                        ui.end_row();
                        ui.label(t("Log file"));
                        match &self.log_file {
                            Some(f) => {
                                widgets::copyable(ui, &f.display().to_string());
                            }
                            None => {
                                ui.label(t("none (logging to the terminal only)"));
                            }
                        }
                        ui.end_row();
                        ui.label(t("Database size"));
                        ui.label(database_bytes(&data_dir).map_or("—".into(), format::bytes));
                        ui.end_row();
                    });
                ui.add_space(6.0);
                ui.horizontal(|ui| {
                    if ui.button(t("Open data folder")).clicked() {
                        out.push(Action::OpenPath(data_dir.clone()));
                    }
                    if ui.button(t("Open log folder")).clicked() {
                        let dir = self
                            .log_file
                            .as_ref()
                            .and_then(|f| f.parent().map(PathBuf::from))
                            .unwrap_or_else(|| logging::log_dir(&data_dir));
                        out.push(Action::OpenPath(dir));
                    }
                    if ui.button(t("Close")).clicked() {
                        close = true;
                    }
                });
            });
        self.open = open && !close;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_icon_is_the_256_px_png() {
        let icon = window_icon();
        assert_eq!((icon.width, icon.height), (256, 256));
        assert_eq!(icon.rgba.len(), 256 * 256 * 4);
        // Transparent corners (rounded square), opaque centre.
        assert_eq!(icon.rgba[3], 0);
        assert_eq!(icon.rgba[(128 * 256 + 128) * 4 + 3], 255);
    }

    #[test]
    fn database_size_counts_the_file_and_its_write_ahead_log() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(database_bytes(dir.path()), None);
        std::fs::write(dir.path().join(DB_FILE), vec![0u8; 3000]).unwrap();
        assert_eq!(database_bytes(dir.path()), Some(3000));
        std::fs::write(dir.path().join(format!("{DB_FILE}-wal")), vec![0u8; 1000]).unwrap();
        assert_eq!(database_bytes(dir.path()), Some(4000));
    }
}
