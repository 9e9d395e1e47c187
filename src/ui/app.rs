//! The console app: the model, the panels, and the backend that talks to the service.
//!
//! Each frame: `logic` drains the event channel under a time budget and the backend's replies into the
//! model, and polls the broker when due; `ui` draws the panels from the model, collects the actions they
//! emit, and carries them out after drawing (`handle`). Broker settings are started or applied in
//! `broker`.

use std::time::Duration;

use egui::{Key, Modifiers, RichText};

use crate::config::Config;
use crate::ui::actions::{Action, Tab};
use crate::ui::backend::Backend;
use crate::ui::i18n::{set_lang, tr};
use crate::ui::panels::{
    commands, datapoints, devices, offline, overview, registry, retained, settings, subscriptions,
    traffic,
};
use crate::ui::prefs::{Prefs, STORAGE_KEY, Theme};
use crate::ui::savefile;
use crate::ui::state::{Level, Model, Reply};

mod broker;
mod handle;

/// Time a frame may spend reading events; the rest waits for the next frame.
pub const EVENT_BUDGET: Duration = Duration::from_millis(6);

/// Panel-local UI state (text being typed, selections, filters).
#[derive(Default)]
pub struct Panels {
    pub overview: overview::OverviewPanel,
    pub devices: devices::DevicesPanel,
    pub registry: registry::RegistryPanel,
    pub subscriptions: subscriptions::SubscriptionsPanel,
    pub retained: retained::RetainedPanel,
    pub offline: offline::OfflinePanel,
    pub datapoints: datapoints::DatapointsPanel,
    pub commands: commands::CommandsPanel,
    pub traffic: traffic::TrafficPanel,
    pub settings: settings::SettingsPanel,
    pub simulator: crate::ui::panels::simulator::SimulatorPanel,
    pub save: savefile::SaveDialog,
    pub logs: crate::ui::panels::logs::LogsPanel,
    pub about: crate::ui::panels::about::AboutBox,
    pub notices: crate::ui::panels::notices::NoticeClock,
}

pub struct ConsoleApp {
    pub model: Model,
    pub panels: Panels,
    /// None: a console over a fixed model (tests, benchmarks), no broker.
    backend: Option<Backend>,
    /// The config from the command line; prefs are applied on top of it.
    base: Config,
    /// Every action carried out, newest last (bounded), for tests.
    pub log: Vec<Action>,
    theme: Option<Theme>,
    /// Prefs whose broker settings are being started; applied once the broker runs on them.
    pending: Option<Prefs>,
}

/// Opens the window; the broker starts with it and stops when it closes.
pub fn run(config: Config) -> Result<(), String> {
    run_with(config, |_| {})
}

/// The console with a group of `devices` virtual devices of `product` running (`onenet-desk demo`).
pub fn run_demo(config: Config, product: String, devices: u32) -> Result<(), String> {
    run_with(config, move |app| {
        app.panels.simulator.start_demo(&product, devices)
    })
}

/// The console, with `setup` applied to it before its first frame.
fn run_with(config: Config, setup: impl FnOnce(&mut ConsoleApp) + 'static) -> Result<(), String> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("onenet-desk")
            .with_app_id("onenet-desk")
            .with_icon(crate::ui::panels::about::window_icon())
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([760.0, 480.0]),
        ..Default::default()
    };
    eframe::run_native(
        "onenet-desk",
        options,
        Box::new(move |cc| {
            let prefs = cc
                .storage
                .and_then(|s| eframe::get_value::<Prefs>(s, STORAGE_KEY))
                .unwrap_or_else(|| Prefs::from_config(&config));
            let mut app = ConsoleApp::start(&cc.egui_ctx, config, prefs);
            setup(&mut app);
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| format!("cannot open the window: {e}"))
}

impl ConsoleApp {
    /// A console whose broker starts now on `config` with `prefs` applied (the data dir given on the
    /// command line wins over the one in the prefs).
    pub fn start(ctx: &egui::Context, config: Config, mut prefs: Prefs) -> ConsoleApp {
        if Config::default_data_dir().as_ref() != Some(&config.data_dir) {
            prefs.data_dir = None;
        }
        // The settings file (loaded into `config`) is the one source of the broker settings.
        let prefs = prefs.over_config(&config);
        let mut app = ConsoleApp::offline(ctx, Model::new(config.clone(), prefs));
        app.base = config;
        app.model.lan = crate::ui::format::lan_addresses();
        app.model.system_offset = crate::ui::format::system_utc_offset();
        match Backend::new(ctx.clone()) {
            Ok(b) => app.backend = Some(b),
            Err(e) => app.model.notify(Level::Error, e),
        }
        app.start_broker(None);
        app
    }

    /// A console over `model` without a broker: panels draw and actions are logged, nothing runs.
    pub fn offline(ctx: &egui::Context, mut model: Model) -> ConsoleApp {
        if crate::ui::fonts::install_cjk(ctx).is_none() && !model.prefs.cjk_notice_shown {
            model.prefs.cjk_notice_shown = true;
            model.notify(
                Level::Info,
                "No Chinese (CJK) font was found on this system: Chinese text may show as boxes. \
                 Install e.g. Noto Sans CJK or WenQuanYi to fix this.",
            );
        }
        set_lang(model.prefs.lang);
        ConsoleApp {
            base: model.config.clone(),
            model,
            panels: Panels::default(),
            backend: None,
            log: Vec::new(),
            theme: None,
            pending: None,
        }
    }

    /// The service, when the broker runs (tests use it to reach the real broker); waits for a start,
    /// stop or restart under way to finish.
    pub fn service(&self) -> Option<crate::service::ServiceHandle> {
        self.backend.as_ref().and_then(|b| b.service())
    }

    /// Stops the broker and waits for the store to flush.
    pub fn shutdown(&mut self) {
        self.panels.simulator.stop_all();
        if let Some(b) = self.backend.as_mut() {
            b.stop();
        }
    }

    /// Drains events (under the budget) and replies; polls when due. Public for benchmarks.
    pub fn pump(&mut self) {
        let Some(b) = self.backend.as_mut() else {
            return;
        };
        let model = &mut self.model;
        b.drain_events(EVENT_BUDGET, |r| model.apply_received(r));
        if let Some((at, s)) = b.take_snapshot() {
            model.apply_snapshot(*s, at);
        }
        let mut changed = false;
        let pending = &mut self.pending;
        let base = &self.base;
        let save = &mut self.panels.save;
        b.drain_replies(|r| {
            if let Reply::Picked(p) = &r {
                save.picked(p.clone());
            }
            changed |= matches!(
                r,
                Reply::Info(_) | Reply::Error(_) | Reply::Added(_) | Reply::RegistryChanged
            );
            match &r {
                // The new settings run: they become the applied ones.
                Reply::BrokerStarted { config, .. } => {
                    if let Some(p) = pending.take()
                        && p.to_config(base).as_ref() == Ok(config.as_ref())
                    {
                        let (theme, lang, tz) =
                            (model.prefs.theme, model.prefs.lang, model.prefs.time_zone);
                        model.prefs = Prefs {
                            theme,
                            lang,
                            time_zone: tz,
                            templates: model.prefs.templates.clone(),
                            plot_fields: model.prefs.plot_fields.clone(),
                            cjk_notice_shown: model.prefs.cjk_notice_shown,
                            ..p
                        };
                    }
                }
                Reply::BrokerKept { .. } | Reply::BrokerFailed(_) | Reply::BrokerStopped => {
                    *pending = None;
                }
                _ => {}
            }
            model.apply_reply(r);
        });
        b.poll(changed);
    }

    fn shortcuts(&mut self, ctx: &egui::Context, out: &mut Vec<Action>) {
        const KEYS: [Key; 10] = [
            Key::Num1,
            Key::Num2,
            Key::Num3,
            Key::Num4,
            Key::Num5,
            Key::Num6,
            Key::Num7,
            Key::Num8,
            Key::Num9,
            Key::Num0,
        ];
        for (k, tab) in KEYS.iter().zip(Tab::ALL) {
            if ctx.input_mut(|i| i.consume_key(Modifiers::ALT, *k)) {
                out.push(Action::Navigate(tab));
            }
        }
        if ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::F5)) {
            out.push(Action::Refresh);
        }
    }

    fn apply_theme(&mut self, ctx: &egui::Context) {
        if self.theme != Some(self.model.prefs.theme) {
            self.theme = Some(self.model.prefs.theme);
            ctx.set_theme(match self.model.prefs.theme {
                Theme::System => egui::ThemePreference::System,
                Theme::Light => egui::ThemePreference::Light,
                Theme::Dark => egui::ThemePreference::Dark,
            });
        }
    }

    fn nav(&self, ui: &mut egui::Ui, out: &mut Vec<Action>) {
        ui.add_space(6.0);
        for (i, tab) in Tab::ALL.iter().enumerate() {
            let badge = match tab {
                Tab::Devices => format!("  {}", self.model.online_count()),
                Tab::Retained if !self.model.retained.is_empty() => {
                    format!("  {}", self.model.retained.len())
                }
                _ => String::new(),
            };
            let key = (i + 1) % 10;
            let r = ui.selectable_label(
                self.model.tab == *tab,
                RichText::new(format!("{}{badge}", tr(tab.name()))).size(15.0),
            );
            // Alt+1 … Alt+0 cover the first ten tabs.
            let r = if i < 10 {
                r.on_hover_text(format!("Alt+{key}"))
            } else {
                r
            };
            if r.clicked() {
                out.push(Action::Navigate(*tab));
            }
        }
    }

    /// Draws one frame into `ui` and returns the actions the panels emitted (already carried out).
    pub fn draw(&mut self, ui: &mut egui::Ui) -> Vec<Action> {
        let ctx = ui.ctx().clone();
        self.apply_theme(&ctx);
        set_lang(self.model.prefs.lang);
        let mut out = Vec::new();
        self.shortcuts(&ctx, &mut out);
        egui::Panel::bottom("status-bar").show(ui, |ui| {
            overview::status_bar(ui, &self.model);
        });
        egui::Panel::left("nav")
            .resizable(false)
            .exact_size(150.0)
            .show(ui, |ui| {
                ui.add_space(4.0);
                ui.heading(RichText::new("onenet-desk").strong());
                ui.separator();
                self.nav(ui, &mut out);
                ui.separator();
                self.panels.about.button(ui);
                self.panels.simulator.nav_button(ui);
            });
        egui::CentralPanel::default().show(ui, |ui| {
            let m = &self.model;
            let p = &mut self.panels;
            match m.tab {
                Tab::Overview => p.overview.ui(ui, m, &mut out),
                Tab::Devices => p.devices.ui(ui, m, &mut out),
                Tab::Registry => p.registry.ui(ui, m, &mut out),
                Tab::Subscriptions => p.subscriptions.ui(ui, m, &mut out),
                Tab::Retained => p.retained.ui(ui, m, &mut out),
                Tab::Offline => p.offline.ui(ui, m, &mut out),
                Tab::Datapoints => p.datapoints.ui(ui, m, &mut out),
                Tab::Commands => p.commands.ui(ui, m, &mut out),
                Tab::Traffic => p.traffic.ui(ui, m, &mut out),
                Tab::Settings => p.settings.ui(ui, m, &mut out),
                Tab::Logs => p.logs.ui(ui, m, &mut out),
            }
            p.save.ui(ui, &mut out);
        });
        let (rt, svc) = match self.backend.as_ref().map(|b| b.runtime()) {
            Some((rt, svc)) => (Some(rt), svc),
            None => (None, None),
        };
        self.panels
            .traffic
            .windows(ui.ctx(), svc.as_ref(), rt.as_ref());
        self.panels.simulator.window(ui.ctx(), svc.as_ref(), rt);
        self.panels.about.show(&ctx, &self.model, &mut out);
        self.panels.notices.show(&ctx, &self.model, &mut out);
        for a in out.clone() {
            self.handle(a);
        }
        out
    }
}

impl eframe::App for ConsoleApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.pump();
        // No timer otherwise: events, broker readings that changed and replies wake the window.
        if let Some(d) = crate::ui::poller::clock_due(&self.model) {
            ctx.request_repaint_after(d);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.draw(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.model.prefs);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.shutdown();
    }
}
