//! The desktop console (feature `gui`). A client of [`ServiceHandle`] only: the broker runs on a tokio
//! runtime owned here, snapshots arrive through a channel drained each frame, and nothing in a frame
//! waits on the broker.
//!
//! This is the first cut: status, sessions and the registry. The full console (plots, traffic, commands,
//! export) builds on the same split.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::broker::SessionInfo;
use crate::config::Config;
use crate::onenet::registry::{Device, Product};
use crate::service::ServiceHandle;

/// What the background poll brings to the UI.
struct Snapshot {
    sessions: Vec<SessionInfo>,
    products: Vec<Product>,
    devices: Vec<Device>,
    db_bytes: u64,
}

struct ConsoleApp {
    rt: tokio::runtime::Runtime,
    service: Result<ServiceHandle, String>,
    snapshot: Option<Snapshot>,
    rx: mpsc::Receiver<Snapshot>,
    tx: mpsc::Sender<Snapshot>,
    last_poll: Option<Instant>,
}

/// Opens the window; the broker starts with it and stops when it closes.
pub fn run(config: Config) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let service = rt
        .block_on(crate::service::start(config))
        .map_err(|e| e.to_string());
    match &service {
        Ok(s) => tracing::info!("mqtt listening on {}", s.mqtt_addr()),
        Err(e) => tracing::error!("broker did not start: {e}"),
    }
    let (tx, rx) = mpsc::channel();
    let app = ConsoleApp {
        rt,
        service,
        snapshot: None,
        rx,
        tx,
        last_poll: None,
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("onenet-desk")
            .with_inner_size([1100.0, 700.0]),
        ..Default::default()
    };
    eframe::run_native("onenet-desk", options, Box::new(|_cc| Ok(Box::new(app))))
        .map_err(|e| format!("cannot open the window: {e}"))
}

impl ConsoleApp {
    fn poll(&mut self, ctx: &egui::Context) {
        while let Ok(s) = self.rx.try_recv() {
            self.snapshot = Some(s);
        }
        let due = self
            .last_poll
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(500));
        if let (true, Ok(service)) = (due, &self.service) {
            self.last_poll = Some(Instant::now());
            let service = service.clone();
            let tx = self.tx.clone();
            let ctx = ctx.clone();
            self.rt.spawn(async move {
                let sessions = service.sessions().await;
                let db = service.db().clone();
                let reg = tokio::task::spawn_blocking(move || {
                    (
                        db.products().unwrap_or_default(),
                        db.devices(None).unwrap_or_default(),
                        db.size_on_disk(),
                    )
                })
                .await;
                if let Ok((products, devices, db_bytes)) = reg {
                    let _ = tx.send(Snapshot {
                        sessions,
                        products,
                        devices,
                        db_bytes,
                    });
                    ctx.request_repaint();
                }
            });
        }
        ctx.request_repaint_after(Duration::from_millis(500));
    }
}

impl eframe::App for ConsoleApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.poll(&ctx);
        egui::Panel::top("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("onenet-desk");
                match &self.service {
                    Ok(s) => {
                        ui.label(format!(
                            "MQTT {}  ·  profile {}  ·  up {} s",
                            s.mqtt_addr(),
                            s.config().profile.name(),
                            s.uptime().as_secs()
                        ));
                        if let Some(snap) = &self.snapshot {
                            let online = snap.sessions.iter().filter(|s| s.online).count();
                            ui.label(format!(
                                "·  {online} online / {} devices  ·  database {} KiB",
                                snap.devices.len(),
                                snap.db_bytes / 1024
                            ));
                        }
                    }
                    Err(e) => {
                        ui.colored_label(egui::Color32::RED, format!("Broker not running: {e}"));
                    }
                }
            });
        });
        egui::CentralPanel::default().show(ui, |ui| {
            let Some(snap) = &self.snapshot else {
                ui.label("Waiting for the broker…");
                return;
            };
            ui.heading("Sessions");
            egui::Grid::new("sessions").striped(true).show(ui, |ui| {
                for h in [
                    "client id",
                    "product",
                    "online",
                    "remote",
                    "keepalive",
                    "subscriptions",
                    "in",
                    "out",
                    "queued",
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for s in &snap.sessions {
                    ui.label(&s.client_id);
                    ui.label(&s.namespace);
                    ui.label(if s.online { "yes" } else { "no" });
                    ui.label(s.remote.as_deref().unwrap_or("-"));
                    ui.label(format!("{} s", s.keep_alive));
                    ui.label(
                        s.subscriptions
                            .iter()
                            .map(|(f, q)| format!("{f} (QoS {q})"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    );
                    ui.label(s.messages_in.to_string());
                    ui.label(s.messages_out.to_string());
                    ui.label((s.inflight + s.queued).to_string());
                    ui.end_row();
                }
            });
            ui.separator();
            ui.heading("Registry");
            egui::Grid::new("registry").striped(true).show(ui, |ui| {
                for h in ["product", "device", "name", "auth_info", "auto-registered"] {
                    ui.strong(h);
                }
                ui.end_row();
                for p in &snap.products {
                    ui.label(&p.id);
                    ui.label("");
                    ui.label(&p.name);
                    ui.label(format!("API key {}", p.api_key));
                    ui.label("");
                    ui.end_row();
                    for d in snap.devices.iter().filter(|d| d.product_id == p.id) {
                        ui.label("");
                        ui.label(&d.id);
                        ui.label(&d.name);
                        ui.label(&d.auth_info);
                        ui.label(if d.auto_registered { "new" } else { "" });
                        ui.end_row();
                    }
                }
            });
        });
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if let Ok(s) = &self.service {
            self.rt.block_on(s.shutdown());
        }
    }
}
