//! Datapoints: device → datastreams with their latest value and time; numeric streams plotted live
//! (several overlaid); text and JSON values in a table; binary values as a hex dump with "Save as…".
//! History comes from the store, so plots work after a restart.

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use crate::onenet::datapoint::DpValue;
use crate::ui::actions::Action;
use crate::ui::format;
use crate::ui::i18n::tr;
use crate::ui::plot::PlotState;
use crate::ui::state::{Model, StreamState};
use crate::ui::widgets::{self, PALETTE};

/// Width of the streams tree: default and least; at most half of the panel.
const TREE_DEFAULT: f32 = 280.0;
const TREE_MIN: f32 = 160.0;

#[derive(Default)]
pub struct DatapointsPanel {
    pub plot: PlotState,
    pub export: crate::ui::panels::export::ExportDialog,
    /// The non-numeric stream shown in the table: (device, stream).
    pub table: Option<(String, String)>,
    pub filter: String,
    /// Devices whose streams were asked of the store already.
    asked: std::collections::HashSet<String>,
    /// Devices whose numeric streams were plotted automatically once.
    auto_plotted: std::collections::HashSet<String>,
    /// A device whose tree node opens on the next frame.
    expand: Option<String>,
    /// Each tree node's height when last drawn, to lay out only the rows in view.
    heights: std::collections::HashMap<String, f32>,
}

/// With nothing plotted, the numeric streams (at most 4) to plot automatically: those of the selected
/// device, or else of the device with the newest numeric datapoint, newest first, so that the default
/// plot (the last minute) shows live data rather than streams that stopped long ago.
pub fn auto_plot(m: &Model) -> Option<(String, Vec<String>)> {
    if m.streams.values().flat_map(|s| s.values()).any(|s| s.open) {
        return None;
    }
    // Numeric streams of a device, newest datapoint first.
    let numeric = |d: &String| -> Vec<(i64, String)> {
        let mut v: Vec<(i64, String)> = m
            .streams
            .get(d)
            .map(|s| {
                s.iter()
                    .filter(|(_, st)| st.is_numeric())
                    .filter_map(|(k, st)| st.latest.as_ref().map(|(at, _)| (*at, k.clone())))
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        v
    };
    let dev = m
        .selected
        .clone()
        .filter(|d| !numeric(d).is_empty())
        .or_else(|| {
            m.streams
                .keys()
                .filter_map(|d| numeric(d).first().map(|(at, _)| (*at, d.clone())))
                .max_by_key(|(at, _)| *at)
                .map(|(_, d)| d)
        })?;
    let streams = numeric(&dev).into_iter().take(4).map(|(_, k)| k).collect();
    Some((dev, streams))
}

/// Devices for the tree: those with known streams, then the other registered ones.
pub fn tree_devices(m: &Model) -> Vec<String> {
    let mut v: Vec<String> = m.streams.keys().cloned().collect();
    for d in &m.devices {
        if !m.streams.contains_key(&d.id) {
            v.push(d.id.clone());
        }
    }
    v
}

/// A value in one line for the tree and tables.
pub fn short_value(v: &DpValue) -> String {
    match v {
        DpValue::Binary { data, .. } => format!("<{} B binary>", data.len()),
        other => {
            let s = other.to_string();
            match s.char_indices().nth(40) {
                Some((i, _)) => format!("{}…", &s[..i]),
                None => s,
            }
        }
    }
}

/// A value in full for a hover: JSON indented, text as is, binary as its size.
pub fn full_value(v: &DpValue) -> String {
    match v {
        DpValue::Json(j) => serde_json::to_string_pretty(j).unwrap_or_else(|_| v.to_string()),
        DpValue::Binary { .. } => short_value(v),
        other => other.to_string(),
    }
}

impl DatapointsPanel {
    pub fn ui(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        // The tree is bounded (a long value never widens it) and its divider can be dragged; the plot
        // keeps at least half of the width.
        let max_tree = (ui.available_width() * 0.5).max(TREE_MIN);
        egui::Panel::left("dp-tree")
            .resizable(true)
            .default_size(TREE_DEFAULT.min(max_tree))
            .min_size(TREE_MIN)
            .max_size(max_tree)
            .show(ui, |ui| self.tree(ui, m, out));
        if let Some((device, streams)) = auto_plot(m)
            && self.auto_plotted.insert(device.clone())
        {
            self.expand = Some(device.clone());
            for stream in streams {
                out.push(Action::OpenStream {
                    device: device.clone(),
                    stream,
                });
            }
        }
        let now = format::now_ms() as f64 / 1000.0;
        widgets::title(ui, tr("Datapoints"), "");
        ui.horizontal(|ui| {
            // Export first: the toolbar's hint may be elided, never the button.
            if ui
                .button(tr("Export…"))
                .on_hover_text(tr("Export datapoints to CSV or JSON Lines"))
                .clicked()
            {
                self.export.open_for(m.selected.clone(), m);
            }
            ui.separator();
            self.plot.toolbar(ui, now);
        });
        let mut lines = Vec::new();
        for (dev, streams) in &m.streams {
            for (name, st) in streams {
                if st.open && !st.series.is_empty() {
                    let mut label = if m.streams.len() > 1 {
                        format!("{dev}/{name}")
                    } else {
                        name.clone()
                    };
                    if let Some(f) = &st.field {
                        label = format!("{label}.{f}");
                    }
                    lines.push((label, &st.series, PALETTE[lines.len() % PALETTE.len()]));
                }
            }
        }
        let loading = m
            .streams
            .values()
            .flat_map(|s| s.values())
            .any(|s| s.loading);
        if lines.is_empty() {
            ui.add_space(8.0);
            ui.label(if loading {
                tr("Loading history…")
            } else {
                tr("Tick numeric streams on the left to plot them.")
            });
        }
        let h = if self.table.is_some() {
            (ui.available_height() * 0.55).max(160.0)
        } else {
            ui.available_height().max(160.0)
        };
        if !lines.is_empty() {
            self.plot.show(ui, &lines, now, m.offset(), h);
        }
        self.export.ui(ui, m, out);
        if let Some((dev, stream)) = self.table.clone() {
            ui.separator();
            match m.streams.get(&dev).and_then(|s| s.get(&stream)) {
                Some(st) => self.values_table(ui, m, &dev, &stream, st, out),
                None => self.table = None,
            }
        }
    }

    fn tree(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        ui.add_space(4.0);
        ui.add(
            egui::TextEdit::singleline(&mut self.filter).hint_text(tr("Filter devices or streams")),
        )
        .accessible_name(tr("Filter devices or streams"));
        let f = self.filter.to_lowercase();
        let off = m.offset();
        // Online ids once per frame: a lookup per row, not a scan of every session per row.
        let online: std::collections::HashSet<&str> = m
            .sessions
            .iter()
            .filter(|s| s.online)
            .map(|s| s.client_id.as_str())
            .collect();
        let devices = tree_devices(m);
        // Only the rows in view are laid out (with 1,000 devices the whole tree cost more than the rest of
        // the panel); the others take their last measured height (one header row until first seen).
        let row = ui.spacing().interact_size.y + ui.spacing().item_spacing.y;
        if self.heights.len() > devices.len() {
            let shown: std::collections::HashSet<&String> = devices.iter().collect();
            self.heights.retain(|d, _| shown.contains(d));
        }
        egui::ScrollArea::vertical().show_viewport(ui, |ui, view| {
            let (mut y, mut skipped) = (0.0, 0.0);
            for dev in devices {
                let streams = m.streams.get(&dev);
                let dev_match = f.is_empty()
                    || dev.to_lowercase().contains(&f)
                    || m.device_name(&dev)
                        .is_some_and(|n| n.to_lowercase().contains(&f));
                if !dev_match
                    && !streams.is_some_and(|s| s.keys().any(|k| k.to_lowercase().contains(&f)))
                {
                    continue;
                }
                let h = self.heights.get(&dev).copied().unwrap_or(row);
                if y + h < view.min.y || y > view.max.y {
                    if self.expand.as_deref() == Some(dev.as_str()) {
                        // Out of view: open it for when it scrolls in.
                        let id = ui.make_persistent_id(("dp-dev", &dev));
                        let mut st =
                            egui::collapsing_header::CollapsingState::load_with_default_open(
                                ui.ctx(),
                                id,
                                true,
                            );
                        st.set_open(true);
                        st.store(ui.ctx());
                        self.expand = None;
                    }
                    y += h;
                    skipped += h;
                    continue;
                }
                ui.add_space(std::mem::take(&mut skipped));
                let top = ui.cursor().min.y;
                self.device_node(
                    ui,
                    m,
                    &dev,
                    streams,
                    dev_match,
                    &f,
                    online.contains(dev.as_str()),
                    off,
                    out,
                );
                let h = ui.cursor().min.y - top;
                self.heights.insert(dev, h);
                y += h;
            }
            ui.add_space(skipped);
        });
    }

    /// One device of the tree: its header (online mark, id, stream count) and, open, its streams.
    #[allow(clippy::too_many_arguments)]
    fn device_node(
        &mut self,
        ui: &mut Ui,
        m: &Model,
        dev: &str,
        streams: Option<&std::collections::BTreeMap<String, StreamState>>,
        dev_match: bool,
        f: &str,
        online: bool,
        off: i32,
        out: &mut Vec<Action>,
    ) {
        let selected = m.selected.as_deref() == Some(dev);
        let header = egui::CollapsingHeader::new(
            RichText::new(format!(
                "{} {}   ({})",
                if online { "●" } else { "○" },
                m.device_label(dev),
                streams.map_or(0, |s| s.len())
            ))
            .monospace(),
        )
        .id_salt(("dp-dev", dev))
        .default_open(selected || streams.is_some_and(|s| s.values().any(|st| st.open)))
        .open(self.expand.as_deref().filter(|e| *e == dev).map(|_| true))
        .show(ui, |ui| {
            let Some(streams) = streams else {
                ui.weak(tr("No datapoints yet."));
                return;
            };
            for (name, st) in streams {
                if !dev_match && !name.to_lowercase().contains(f) {
                    continue;
                }
                self.stream_row(ui, dev, name, st, off, out);
            }
        });
        if self.expand.as_deref() == Some(dev) {
            self.expand = None;
        }
        if header.header_response.clicked() && self.asked.insert(dev.to_string()) {
            out.push(Action::LoadStreams(dev.to_string()));
        }
    }

    fn stream_row(
        &mut self,
        ui: &mut Ui,
        dev: &str,
        name: &str,
        st: &StreamState,
        off: i32,
        out: &mut Vec<Action>,
    ) {
        ui.horizontal(|ui| {
            let numeric = st.is_numeric();
            let fields = crate::ui::json_fields::has_fields(st);
            if numeric {
                let mut on = st.open;
                if ui
                    .checkbox(&mut on, "")
                    .accessible_name(format!("{} {name}", tr("Plot")))
                    .on_hover_text(tr("Plot this stream (loads its history)"))
                    .changed()
                {
                    let (device, stream) = (dev.to_string(), name.to_string());
                    out.push(if on {
                        Action::OpenStream { device, stream }
                    } else {
                        Action::CloseStream { device, stream }
                    });
                }
            }
            if !numeric || fields {
                let viewing = self
                    .table
                    .as_ref()
                    .is_some_and(|(d, s)| d == dev && s == name);
                if ui
                    .selectable_label(viewing, "≡")
                    .accessible_name(format!("{} {name}", tr("Table")))
                    .on_hover_text(tr("Show the values in a table"))
                    .clicked()
                {
                    self.table = Some((dev.to_string(), name.to_string()));
                    out.push(Action::OpenStream {
                        device: dev.to_string(),
                        stream: name.to_string(),
                    });
                }
            }
            if fields {
                crate::ui::json_fields::picker(ui, dev, name, st, out);
            }
            ui.label(RichText::new(name).strong());
            if let Some((at, v)) = &st.latest {
                ui.weak(format::time_of_day(*at, off))
                    .on_hover_text(format!(
                        "{} · {} {}",
                        format::datetime(*at, off),
                        st.count,
                        tr("points")
                    ));
                // Last and elided to the tree's width; the full value on hover.
                // The full text is built only while hovered (a closure), not for every row each frame.
                ui.add(egui::Label::new(RichText::new(short_value(v)).monospace()).truncate())
                    .on_hover_ui(|ui| {
                        ui.label(full_value(v));
                    });
            }
        });
    }

    fn values_table(
        &mut self,
        ui: &mut Ui,
        m: &Model,
        dev: &str,
        stream: &str,
        st: &StreamState,
        out: &mut Vec<Action>,
    ) {
        ui.horizontal(|ui| {
            ui.strong(format!("{dev} / {stream}"));
            if ui.small_button("×").on_hover_text(tr("Close")).clicked() {
                self.table = None;
            }
        });
        if let Some((_, DpValue::Binary { data, desc })) = &st.latest {
            ui.horizontal(|ui| {
                ui.label(format!(
                    "{} {}",
                    tr("Latest binary value:"),
                    format::bytes(data.len() as u64)
                ));
                if let Some(d) = desc {
                    ui.weak(d.to_string());
                }
                if ui
                    .button(tr("Save as…"))
                    .on_hover_text(tr("Save the bytes to a file"))
                    .clicked()
                {
                    out.push(Action::SaveBytes {
                        name: format!("{dev}-{stream}.bin"),
                        bytes: data.to_vec(),
                    });
                }
            });
            egui::ScrollArea::vertical()
                .id_salt("bin-hex")
                .show(ui, |ui| {
                    widgets::hex_dump(ui, data, &[], 256);
                });
            return;
        }
        let off = m.offset();
        let rows: Vec<&(i64, DpValue)> = st.recent.iter().rev().collect();
        TableBuilder::new(ui)
            .id_salt("dp-values")
            .striped(true)
            .column(Column::auto().at_least(150.0))
            .column(Column::auto())
            .column(Column::remainder())
            .header(20.0, |mut h| {
                for t in [tr("Time"), tr("Kind"), tr("Value")] {
                    h.col(|ui| {
                        ui.strong(t);
                    });
                }
            })
            .body(|body| {
                body.rows(20.0, rows.len(), |mut row| {
                    let (at, v) = rows[row.index()];
                    row.col(|ui| {
                        ui.label(format::datetime(*at, off));
                    });
                    row.col(|ui| {
                        ui.label(v.kind());
                    });
                    row.col(|ui| {
                        let text = v.to_string();
                        let r = widgets::copyable(ui, &short_value(v));
                        if let DpValue::Json(j) = v {
                            r.on_hover_text(serde_json::to_string_pretty(j).unwrap_or(text));
                        }
                    });
                });
            });
    }
}
