//! Overview: where devices connect, how the broker is doing, start/stop/restart; and the status bar.

use egui::{RichText, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints};

use crate::ui::actions::Action;
use crate::ui::format;
use crate::ui::i18n::tr;
use crate::ui::state::{BrokerState, Model};
use crate::ui::widgets::{self, AMBER, GREEN, GREY, RED};

#[derive(Default)]
pub struct OverviewPanel {
    /// Stop or Restart waiting for the user's confirmation (devices are online).
    pub confirm: Option<Action>,
    /// The bounds the throughput chart was last drawn with: ([x min, x max] in Unix seconds, [y min,
    /// y max] in per second), for tests.
    pub drawn: Option<([f64; 2], [f64; 2])>,
}

/// "3 devices are online and will be disconnected" — the sentence confirmations use.
pub fn online_sentence(m: &Model) -> String {
    let n = m.online_count();
    match n {
        1 => tr("1 device is online and will be disconnected.").to_string(),
        _ => format!("{n} {}", tr("devices are online and will be disconnected.")),
    }
}

/// The lines devices should be pointed at: one per LAN address (or the bound address).
pub fn connect_lines(m: &Model) -> Vec<String> {
    let BrokerState::Running { addr, .. } = &m.broker else {
        return Vec::new();
    };
    let port = addr.port();
    if addr.ip().is_unspecified() {
        let mut v: Vec<String> = m.lan.iter().map(|ip| format!("{ip}:{port}")).collect();
        v.push(format!("127.0.0.1:{port}"));
        v
    } else {
        vec![addr.to_string()]
    }
}

/// How devices log in, per profile.
pub fn connect_hint(p: crate::config::Profile) -> &'static str {
    match p {
        crate::config::Profile::OneNet => {
            tr("MQTT 3.1.1, user name = product id, password = auth_info, client id = device id")
        }
        crate::config::Profile::Mqtt => tr(
            "plain MQTT 3.1.1: any client id, user name and password optional, + and # wildcards",
        ),
    }
}

fn state_text(m: &Model) -> (String, egui::Color32) {
    match &m.broker {
        BrokerState::Starting => (tr("starting…").to_string(), GREY),
        BrokerState::Running { addr, .. } => (format!("{} {addr}", tr("running on")), GREEN),
        BrokerState::Stopped => (tr("stopped").to_string(), GREY),
        BrokerState::Busy { step, .. } => (step.clone(), widgets::AMBER),
        BrokerState::Failed(e) => (format!("{} {e}", tr("not running:")), RED),
    }
}

fn uptime(m: &Model) -> String {
    match &m.broker {
        BrokerState::Running { since, .. } => {
            format::duration_ms(since.elapsed().as_millis() as i64)
        }
        _ => "-".into(),
    }
}

/// The status bar's uptime: seconds in the first minute, then minutes ("5 min", "3 h 20 min"), so an
/// idle window has to redraw it once a minute, not every second.
fn uptime_coarse(m: &Model) -> String {
    match &m.broker {
        BrokerState::Running { since, .. } => {
            let ms = since.elapsed().as_millis() as i64;
            if ms < 60_000 {
                format::duration_ms(ms - ms % 1000)
            } else {
                let min = ms / 60_000;
                match min {
                    0..=59 => format!("{min} min"),
                    _ => format::duration_ms(ms),
                }
            }
        }
        _ => "-".into(),
    }
}

/// When the status bar's uptime next changes (None: the broker is not running).
pub fn status_clock_due(m: &Model) -> Option<std::time::Duration> {
    let BrokerState::Running { since, .. } = &m.broker else {
        return None;
    };
    let ms = since.elapsed().as_millis() as u64;
    let step = if ms < 60_000 { 1000 } else { 60_000 };
    Some(std::time::Duration::from_millis(step - ms % step))
}

/// The bottom bar, always visible.
pub fn status_bar(ui: &mut Ui, m: &Model) {
    ui.horizontal(|ui| {
        let (text, color) = state_text(m);
        ui.label(RichText::new(format!("● {text}")).color(color));
        ui.separator();
        if let Some(e) = &m.store_error {
            ui.label(RichText::new(format!("⚠ {} {e}", tr("store cannot save:"))).color(RED))
                .on_hover_text(tr(
                    "Nothing that could not be saved is acknowledged; devices wait and saving resumes when the store can write again.",
                ));
            ui.separator();
        }
        ui.label(format!("{} {}", tr("profile"), m.config.profile.name()));
        ui.separator();
        ui.label(format!("{} {}", tr("up"), uptime_coarse(m)));
        ui.separator();
        ui.label(format!(
            "{} {}/{}",
            tr("online"),
            m.online_count(),
            m.device_total()
        ));
        ui.separator();
        ui.label(format!(
            "{} {} / {} {}",
            tr("msg/s in"),
            format::rate(m.rates.msg_in),
            tr("out"),
            format::rate(m.rates.msg_out)
        ));
        ui.separator();
        ui.label(format!("{} {}", tr("dp/s"), format::rate(m.rates.dp)));
        ui.separator();
        ui.label(format!("{} {}", tr("db"), format::bytes(m.db_bytes)));
        ui.separator();
        let w = m.warnings_total;
        ui.label(
            RichText::new(format!("{} {w}", tr("warnings"))).color(if w > 0 {
                widgets::AMBER
            } else {
                ui.visuals().text_color()
            }),
        )
        .on_hover_text(tr(
            "Conformance diagnostics recorded (see a device's detail)",
        ));
    });
}

/// Where applications reach the HTTP API, with the product key to send; or why it is off.
fn http_api(ui: &mut Ui, m: &Model) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(tr("HTTP API")).strong());
            match &m.http {
                Ok(Some(addr)) => {
                    let url = format!("http://{addr}");
                    widgets::copyable(ui, &url);
                    widgets::copy_button(ui, &url, tr("address"));
                    match m.products.first() {
                        Some(p) => {
                            ui.label(format!(
                                "{} api-key: {} ({} {})",
                                tr("header"),
                                p.api_key,
                                tr("product"),
                                p.id
                            ));
                        }
                        None => {
                            ui.weak(tr(
                                "header api-key: a product's API key (add a product in Registry)",
                            ));
                        }
                    }
                }
                Ok(None) => {
                    ui.weak(tr("off (turn it on in Settings)"));
                }
                Err(e) => {
                    ui.colored_label(RED, format!("{} {e}", tr("off:")));
                }
            }
        });
    });
}

fn stat(ui: &mut Ui, label: &str, value: String) {
    stat_text(ui, label, RichText::new(value));
}

/// A figure under its label, in `value`'s colour; the response is the pair's, for a hover text.
fn stat_text(ui: &mut Ui, label: &str, value: RichText) -> egui::Response {
    let r = ui
        .vertical(|ui| {
            ui.weak(label);
            ui.label(value.size(22.0).strong());
        })
        .response;
    ui.add_space(18.0);
    r
}

impl OverviewPanel {
    pub fn ui(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        widgets::title(
            ui,
            tr("Overview"),
            tr("A local OneNET: point your devices here instead of the cloud."),
        );
        let (text, color) = state_text(m);
        ui.horizontal(|ui| {
            ui.label(
                RichText::new(format!("● {} {text}", tr("Broker")))
                    .color(color)
                    .size(16.0),
            );
            let running = matches!(m.broker, BrokerState::Running { .. });
            // Asks first when devices would be disconnected.
            let mut ask = |a: Action| {
                if m.online_count() > 0 {
                    self.confirm = Some(a);
                } else {
                    out.push(a);
                }
            };
            if m.is_busy() {
                ui.spinner();
            } else if running {
                if ui
                    .button(tr("Stop"))
                    .on_hover_text(tr("Disconnect every device and stop listening"))
                    .clicked()
                {
                    ask(Action::StopBroker);
                }
                if ui
                    .button(tr("Restart"))
                    .on_hover_text(tr("Restart the broker with the current settings"))
                    .clicked()
                {
                    ask(Action::RestartBroker);
                }
            } else if ui
                .button(tr("Start"))
                .on_hover_text(tr("Start the broker with the current settings"))
                .clicked()
            {
                out.push(Action::StartBroker);
            }
        });
        if let Some(a) = self.confirm.clone() {
            let (q, yes) = if a == Action::StopBroker {
                (
                    format!("{} {}", tr("Stop the broker?"), online_sentence(m)),
                    tr("Yes, stop"),
                )
            } else {
                (
                    format!(
                        "{} {}",
                        tr("Restart the broker?"),
                        online_sentence(m)
                            .replace(tr("disconnected."), tr("disconnected and reconnect."))
                    ),
                    tr("Yes, restart"),
                )
            };
            match widgets::confirm(ui, "confirm-broker", &q, yes) {
                Some(true) => {
                    out.push(a);
                    self.confirm = None;
                }
                Some(false) => self.confirm = None,
                None => {}
            }
        }
        ui.add_space(6.0);
        if m.devices.is_empty() {
            crate::ui::panels::first_run::card(ui, m, out);
            ui.add_space(6.0);
        }
        let lines = connect_lines(m);
        if !lines.is_empty() {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.label(RichText::new(tr("Connect your device to")).strong());
                for l in &lines {
                    ui.horizontal(|ui| {
                        widgets::copyable(ui, l);
                        widgets::copy_button(ui, l, tr("address"));
                    });
                }
                ui.weak(format!(
                    "{}; {} {}",
                    connect_hint(m.config.profile),
                    tr("data in"),
                    m.config.data_dir.display()
                ));
            });
        }
        if m.is_running() {
            ui.add_space(4.0);
            http_api(ui, m);
        }
        ui.add_space(8.0);
        ui.horizontal_wrapped(|ui| {
            stat(ui, tr("Uptime"), uptime(m));
            stat(
                ui,
                tr("Devices online"),
                format!("{} / {}", m.online_count(), m.device_total()),
            );
            stat(ui, tr("Messages/s in"), format::rate(m.rates.msg_in));
            stat(ui, tr("Messages/s out"), format::rate(m.rates.msg_out));
            stat(ui, tr("Datapoints/s"), format::rate(m.rates.dp));
            stat(ui, tr("Database"), format::bytes(m.db_bytes));
            stat(ui, tr("Warnings"), m.warnings_total.to_string());
            stat(ui, tr("Retained"), m.retained.len().to_string());
            // Shown once there is something to show: QoS 0 is dropped only where a subscriber's
            // connection has its whole output bound waiting.
            if m.qos0_dropped > 0 {
                stat_text(
                    ui,
                    tr("QoS 0 dropped"),
                    RichText::new(m.qos0_dropped.to_string()).color(AMBER),
                )
                .on_hover_text(tr(
                    "QoS 0 messages not delivered since the broker started: their subscriber's connection had its output bound waiting (Settings: Output waiting per connection). Devices shows which.",
                ));
            }
        });
        ui.add_space(8.0);
        ui.label(RichText::new(tr("Throughput (last 5 minutes)")).strong())
            .on_hover_text(tr("Messages and datapoints per second, averaged over 5 s"));
        self.chart(ui, m);
    }

    /// The throughput chart: the last 5 minutes of wall-clock time, rates from 0 up.
    fn chart(&mut self, ui: &mut Ui, m: &Model) {
        let wall = chart_now(m);
        let (x, y) = chart_bounds(m, wall);
        let off = m.offset();
        let series = |f: fn(&crate::ui::state::Rates) -> f64| -> PlotPoints<'static> {
            m.rate_history.iter().map(|(t, r)| [*t, f(r)]).collect()
        };
        let r = Plot::new("rates")
            .height(ui.available_height().clamp(120.0, 260.0))
            .legend(Legend::default())
            .allow_scroll(false)
            .allow_zoom(false)
            .allow_drag(false)
            .allow_double_click_reset(false)
            .x_axis_formatter(move |g, _| format::time_of_day((g.value * 1000.0) as i64, off))
            .y_axis_formatter(|g, _| {
                if g.value < 0.0 {
                    String::new()
                } else {
                    format::rate(g.value)
                }
            })
            .show(ui, |p| {
                p.set_plot_bounds_x(x.0..=x.1);
                p.set_plot_bounds_y(y.0..=y.1);
                p.line(
                    Line::new(tr("messages/s in"), series(|r| r.msg_in)).color(widgets::PALETTE[0]),
                );
                p.line(
                    Line::new(tr("messages/s out"), series(|r| r.msg_out))
                        .color(widgets::PALETTE[1]),
                );
                p.line(Line::new(tr("datapoints/s"), series(|r| r.dp)).color(widgets::PALETTE[2]));
            });
        let b = r.transform.bounds();
        self.drawn = Some(([b.min()[0], b.max()[0]], [b.min()[1], b.max()[1]]));
    }
}

/// The chart's "now" in wall-clock Unix seconds, on the same clock as the rate samples.
fn chart_now(m: &Model) -> f64 {
    m.started_ms as f64 / 1000.0 + m.started.elapsed().as_secs_f64()
}

/// The chart's bounds: x the 5 minutes up to `now` (Unix seconds), y from 0 to a little above the
/// highest rate shown (at least 1/s), so an empty chart never shows a negative axis.
pub fn chart_bounds(m: &Model, now: f64) -> ((f64, f64), (f64, f64)) {
    let top = m
        .rate_history
        .iter()
        .filter(|(t, _)| *t >= now - CHART_SPAN)
        .map(|(_, r)| r.msg_in.max(r.msg_out).max(r.dp))
        .fold(1.0_f64, f64::max);
    ((now - CHART_SPAN, now), (0.0, top * 1.1))
}

/// Seconds of history the chart shows.
pub const CHART_SPAN: f64 = 300.0;
