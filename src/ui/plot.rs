//! The live datapoint plot: several numeric streams overlaid on a local-time axis, zoom and pan,
//! hover readout, follow (the view slides with new data) and pause. Each line is decimated to the plot's
//! pixel columns before it is handed to egui_plot.

use egui::{Color32, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints};

use crate::ui::format;
use crate::ui::i18n::tr;
use crate::ui::state::series::Series;

/// Time windows the view can follow.
pub const WINDOWS: [(f64, &str); 5] = [
    (60.0, "1 min"),
    (600.0, "10 min"),
    (3600.0, "1 h"),
    (86_400.0, "1 day"),
    (0.0, "All"),
];

pub struct PlotState {
    /// The view follows the newest data.
    pub follow: bool,
    /// Frozen at this time (seconds) while paused.
    pub paused_at: Option<f64>,
    /// Seconds shown when following; 0 = everything.
    pub window: f64,
    /// The x range shown last frame (decimation uses it).
    last_x: Option<(f64, f64)>,
    /// Points drawn last frame, all lines together (for the benchmark and tests).
    pub drawn: usize,
}

impl Default for PlotState {
    fn default() -> Self {
        PlotState {
            follow: true,
            paused_at: None,
            window: 60.0,
            last_x: None,
            drawn: 0,
        }
    }
}

/// Axis label for a time in seconds: time of day, with the date when the view spans days.
fn axis_label(t: f64, span: f64, offset: i32) -> String {
    let ms = (t * 1000.0) as i64;
    if span > 2.0 * 86_400.0 {
        format::datetime(ms, offset)[..10].to_string()
    } else if span > 86_400.0 {
        format::datetime(ms, offset)[5..16].to_string()
    } else {
        format::time_of_day(ms, offset)
    }
}

impl PlotState {
    /// Toolbar: follow, pause, window.
    pub fn toolbar(&mut self, ui: &mut Ui, now: f64) {
        ui.horizontal(|ui| {
            if ui
                .selectable_label(self.follow, tr("Follow"))
                .on_hover_text(tr(
                    "Keep the newest data in view (turns off when you pan or zoom)",
                ))
                .clicked()
            {
                self.follow = !self.follow;
            }
            let paused = self.paused_at.is_some();
            if ui
                .selectable_label(paused, if paused { tr("Resume") } else { tr("Pause") })
                .on_hover_text(tr("Freeze the view; data keeps arriving"))
                .clicked()
            {
                self.paused_at = if paused { None } else { Some(now) };
            }
            ui.separator();
            for (w, label) in WINDOWS {
                if ui
                    .selectable_label(self.follow && self.window == w, tr(label))
                    .on_hover_text(tr("Time span shown while following"))
                    .clicked()
                {
                    self.window = w;
                    self.follow = true;
                }
            }
            ui.separator();
            // Elided when narrow, so it never pushes what follows off screen.
            ui.add(
                egui::Label::new(
                    egui::RichText::new(tr(
                        "Drag to pan, Ctrl+scroll to zoom, double-click to reset",
                    ))
                    .weak(),
                )
                .truncate(),
            );
        });
    }

    /// Draws `lines` (name, series, colour). `now` in seconds.
    pub fn show(
        &mut self,
        ui: &mut Ui,
        lines: &[(String, &Series, Color32)],
        now: f64,
        offset: i32,
        height: f32,
    ) {
        let end = self.paused_at.unwrap_or(now);
        let columns = ui.available_width().max(100.0) as usize;
        let (x0, x1) = if self.follow {
            if self.window > 0.0 {
                (end - self.window, end)
            } else {
                let mut lo = f64::INFINITY;
                for (_, s, _) in lines {
                    if let Some(((a, _), _)) = s.bounds() {
                        lo = lo.min(a);
                    }
                }
                (if lo.is_finite() { lo } else { end - 60.0 }, end)
            }
        } else {
            self.last_x.unwrap_or((end - self.window.max(60.0), end))
        };
        let data: Vec<(String, Vec<[f64; 2]>, Color32)> = lines
            .iter()
            .map(|(n, s, c)| (n.clone(), s.decimate(x0, x1, columns), *c))
            .collect();
        self.drawn = data.iter().map(|d| d.1.len()).sum();
        let span = x1 - x0;
        let follow = self.follow;
        let r = Plot::new("datapoints-plot")
            .height(height)
            .legend(Legend::default())
            .x_axis_formatter(move |g, _| axis_label(g.value, span, offset))
            .label_formatter(move |pos| {
                let (name, p) = match pos {
                    egui_plot::HoverPosition::NearDataPoint {
                        plot_name,
                        position,
                        ..
                    } => (*plot_name, position),
                    egui_plot::HoverPosition::Elsewhere { position } => ("", position),
                };
                let t = format::datetime((p.x * 1000.0) as i64, offset);
                Some(if name.is_empty() {
                    format!("{t}\n{:.3}", p.y)
                } else {
                    format!("{name}\n{t}\n{}", p.y)
                })
            })
            .show(ui, |p| {
                if follow {
                    p.set_plot_bounds_x(x0..=x1);
                    p.set_auto_bounds([false, true]);
                }
                for (name, pts, c) in data {
                    p.line(Line::new(name, PlotPoints::new(pts)).color(c).width(1.5));
                }
            });
        let b = r.transform.bounds();
        self.last_x = Some((b.min()[0], b.max()[0]));
        let interacted = r.response.dragged()
            || (r.response.hovered() && ui.input(|i| i.smooth_scroll_delta != egui::Vec2::ZERO));
        if interacted {
            self.follow = false;
        }
        if r.response.double_clicked() {
            self.follow = true;
        }
    }
}
