//! Logs: what the broker and the console logged, newest last, read from the in-memory ring that
//! [`crate::logging`] fills; filter by level and text, copy what is shown, open the log folder.
//!
//! The panel keeps its own copy of the records (bounded by the ring's capacity) and takes only the new
//! ones from the ring each frame, so filtering never holds the ring's lock. While the panel is on screen
//! it repaints once a second to show new lines (nothing is repainted for logs when it is not).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use egui::{Color32, RichText, TextEdit, Ui};
use tracing::Level;

use crate::logging::{self, LogRecord, LogRing};
use crate::ui::actions::Action;
use crate::ui::format;
use crate::ui::i18n::tr;
use crate::ui::state::Model;
use crate::ui::widgets;

/// The levels offered, most severe first; a choice shows that level and the more severe ones.
pub const LEVELS: [Level; 5] = [
    Level::ERROR,
    Level::WARN,
    Level::INFO,
    Level::DEBUG,
    Level::TRACE,
];

pub struct LogsPanel {
    ring: Option<LogRing>,
    log_file: Option<PathBuf>,
    records: VecDeque<LogRecord>,
    last_seq: u64,
    /// Show records at this level or more severe.
    pub min_level: Level,
    /// Show records whose target or text contains this (case-insensitive).
    pub text: String,
    /// Indices into `records` that pass the filter, and what they were computed for.
    shown: Vec<usize>,
    shown_for: Option<(u64, Level, String)>,
}

impl Default for LogsPanel {
    /// The panel over the process's logger (see [`logging::init`]).
    fn default() -> Self {
        LogsPanel::new(logging::ring(), logging::log_file())
    }
}

impl LogsPanel {
    /// A panel over `ring`, whose lines also go to `log_file` (None: no file).
    pub fn new(ring: Option<LogRing>, log_file: Option<PathBuf>) -> LogsPanel {
        LogsPanel {
            ring,
            log_file,
            records: VecDeque::new(),
            last_seq: 0,
            min_level: Level::INFO,
            text: String::new(),
            shown: Vec::new(),
            shown_for: None,
        }
    }

    /// Takes the records logged since the last call.
    fn pull(&mut self) {
        let Some(ring) = &self.ring else { return };
        if ring.last_seq() == self.last_seq {
            return;
        }
        let cap = ring.capacity();
        for r in ring.since(self.last_seq) {
            self.last_seq = r.seq;
            if self.records.len() >= cap {
                self.records.pop_front();
            }
            self.records.push_back(r);
        }
        self.shown_for = None;
    }

    /// Does `r` pass the level and text filters? `needle` is the text filter in lower case.
    pub fn matches(r: &LogRecord, min_level: Level, needle: &str) -> bool {
        r.level <= min_level
            && (needle.is_empty()
                || r.message.to_lowercase().contains(needle)
                || r.target.to_lowercase().contains(needle))
    }

    fn refilter(&mut self) {
        let key = (self.last_seq, self.min_level, self.text.clone());
        if self.shown_for.as_ref() == Some(&key) {
            return;
        }
        let needle = self.text.trim().to_lowercase();
        self.shown = (0..self.records.len())
            .filter(|&i| Self::matches(&self.records[i], self.min_level, &needle))
            .collect();
        self.shown_for = Some(key);
    }

    /// The records that pass the filters, oldest first.
    pub fn shown(&mut self) -> Vec<&LogRecord> {
        self.pull();
        self.refilter();
        self.shown.iter().map(|&i| &self.records[i]).collect()
    }

    /// The folder with the log files.
    fn folder(&self, m: &Model) -> PathBuf {
        self.log_file
            .as_ref()
            .and_then(|f| f.parent().map(PathBuf::from))
            .unwrap_or_else(|| logging::log_dir(&m.config.data_dir))
    }

    pub fn ui(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        self.pull();
        widgets::title(
            ui,
            t("Logs"),
            t(
                "What the broker and the console reported, newest last. The same lines go to the log file.",
            ),
        );
        ui.horizontal_wrapped(|ui| {
            ui.label(t("Level"));
            for l in LEVELS {
                ui.selectable_value(&mut self.min_level, l, level_name(l))
                    .on_hover_text(t("Shows this level and the more severe ones."));
            }
            ui.add_space(8.0);
            ui.add(
                TextEdit::singleline(&mut self.text)
                    .hint_text(t("filter text"))
                    .desired_width(220.0),
            )
            .accessible_name(t("Log filter"));
            if !self.text.is_empty() && ui.small_button("×").clicked() {
                self.text.clear();
            }
            if ui.button(t("Open log folder")).clicked() {
                out.push(Action::OpenPath(self.folder(m)));
            }
        });
        self.refilter();
        match &self.log_file {
            Some(f) => {
                ui.horizontal(|ui| {
                    ui.weak(t("Log file:"));
                    widgets::copyable(ui, &f.display().to_string());
                });
            }
            None => {
                ui.weak(t("No log file: logging to the terminal only."));
            }
        }
        let offset = m.offset();
        ui.horizontal(|ui| {
            ui.weak(format!(
                "{} {} / {}",
                t("Shown:"),
                self.shown.len(),
                self.records.len()
            ));
            if !self.shown.is_empty() && ui.small_button(t("Copy shown")).clicked() {
                let text: Vec<String> = self
                    .shown
                    .iter()
                    .map(|&i| line(&self.records[i], offset))
                    .collect();
                ui.ctx().copy_text(text.join("\n"));
            }
        });
        ui.separator();
        if self.ring.is_none() {
            ui.label(t("The log is not being recorded in this window."));
            return;
        }
        if self.shown.is_empty() {
            ui.add_space(12.0);
            ui.label(if self.records.is_empty() {
                t("Nothing logged yet.")
            } else {
                t("No log line matches the filter.")
            });
        }
        let row_h = ui.text_style_height(&egui::TextStyle::Monospace);
        egui::ScrollArea::both()
            .auto_shrink([false, false])
            .stick_to_bottom(true)
            .show_rows(ui, row_h, self.shown.len(), |ui, range| {
                for &i in &self.shown[range] {
                    let r = &self.records[i];
                    ui.horizontal(|ui| {
                        ui.spacing_mut().item_spacing.x = 8.0;
                        ui.monospace(format::time_ms(r.time_ms, offset));
                        ui.label(
                            RichText::new(format!("{:5}", r.level.as_str()))
                                .monospace()
                                .color(level_color(r.level)),
                        );
                        ui.label(RichText::new(&r.target).monospace().weak());
                        ui.add(egui::Label::new(RichText::new(&r.message).monospace()).extend());
                    });
                }
            });
        ui.ctx().request_repaint_after(Duration::from_secs(1));
    }
}

/// One record as a line of text (for copying).
pub fn line(r: &LogRecord, offset: i32) -> String {
    format!(
        "{} {:5} {} {}",
        format::time_ms(r.time_ms, offset),
        r.level.as_str(),
        r.target,
        r.message
    )
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::ERROR => t("Errors"),
        Level::WARN => t("Warnings"),
        Level::INFO => t("Info"),
        Level::DEBUG => t("Debug"),
        Level::TRACE => t("Trace"),
    }
}

fn level_color(l: Level) -> Color32 {
    match l {
        Level::ERROR => widgets::RED,
        Level::WARN => widgets::AMBER,
        Level::INFO => widgets::BLUE,
        _ => widgets::GREY,
    }
}

/// The text in the current language (the Logs panel's and the About box's texts are in the console's
/// locale file like every other).
pub fn t(en: &'static str) -> &'static str {
    tr(en)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_filter_keeps_the_chosen_level_and_more_severe() {
        let rec = |level| LogRecord {
            seq: 1,
            time_ms: 0,
            level,
            target: "onenet_desk::broker".into(),
            message: "Client 9277 connected".into(),
        };
        assert!(LogsPanel::matches(&rec(Level::ERROR), Level::WARN, ""));
        assert!(LogsPanel::matches(&rec(Level::WARN), Level::WARN, ""));
        assert!(!LogsPanel::matches(&rec(Level::INFO), Level::WARN, ""));
        assert!(LogsPanel::matches(&rec(Level::INFO), Level::INFO, "9277"));
        assert!(LogsPanel::matches(&rec(Level::INFO), Level::INFO, "broker"));
        assert!(LogsPanel::matches(&rec(Level::INFO), Level::INFO, "client"));
        assert!(!LogsPanel::matches(&rec(Level::INFO), Level::INFO, "9278"));
    }
}
