//! The Replay window (opened from the Traffic panel): plays a recording (`crate::record`) against the
//! running broker as the recorded device, or as another registered one, at the recorded pace or faster,
//! and shows the progress and where the broker answered differently from the recording.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use egui::RichText;
use tokio::sync::oneshot;

use crate::record::{self, replay};
use crate::service::ServiceHandle;
use crate::ui::i18n::tr;
use crate::ui::widgets::{AMBER, GREEN, RED};

/// One replay under way or done.
struct Run {
    file: String,
    /// Lines in the recording (0 until the file is read).
    total: Arc<AtomicUsize>,
    progress: Arc<AtomicUsize>,
    result: Arc<Mutex<Option<Result<replay::Report, String>>>>,
}

/// The window's state.
pub struct ReplayWindow {
    pub open: bool,
    /// The recording's path as typed (or picked).
    pub path: String,
    /// 1 = recorded spacing.
    pub speed: f64,
    /// Connect as this registered device instead of the recorded one (empty: as recorded).
    pub as_device: String,
    /// Why the last Replay did not start (file unreadable, not a recording, unknown device …).
    pub error: Option<String>,
    browsing: Option<oneshot::Receiver<Option<PathBuf>>>,
    run: Option<Run>,
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow {
            open: false,
            path: String::new(),
            speed: 1.0,
            as_device: String::new(),
            error: None,
            browsing: None,
            run: None,
        }
    }
}

impl ReplayWindow {
    /// Opens the window, suggesting `path` when nothing was typed yet.
    pub fn open_with(&mut self, path: Option<PathBuf>) {
        self.open = true;
        if self.path.trim().is_empty()
            && let Some(p) = path
        {
            self.path = p.display().to_string();
        }
    }

    /// The last replay finished: its report.
    pub fn report(&self) -> Option<Result<replay::Report, String>> {
        self.run
            .as_ref()
            .and_then(|r| r.result.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// A replay is running.
    pub fn running(&self) -> bool {
        self.run.is_some() && self.report().is_none()
    }

    /// Starts the replay against `service`'s broker on `rt`: the file is read and checked there, off the
    /// UI thread (a recording may be large).
    pub fn start(&mut self, service: &ServiceHandle, rt: &tokio::runtime::Handle) {
        self.error = None;
        let opts = match self.options(service) {
            Ok(o) => o,
            Err(e) => {
                self.error = Some(e);
                return;
            }
        };
        let path = self.path.trim().to_string();
        let total = Arc::new(AtomicUsize::new(0));
        let progress = Arc::new(AtomicUsize::new(0));
        let result = Arc::new(Mutex::new(None));
        let (t2, p2, r2, file) = (
            total.clone(),
            progress.clone(),
            result.clone(),
            path.clone(),
        );
        // The language is the UI thread's: texts for the task are translated here.
        let empty = tr("the recording has no packets");
        rt.spawn(async move {
            let r = run(&file, opts, &t2, p2, empty).await;
            *r2.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        });
        self.run = Some(Run {
            file: path,
            total,
            progress,
            result,
        });
    }

    fn options(&self, service: &ServiceHandle) -> Result<replay::ReplayOptions, String> {
        if self.path.trim().is_empty() {
            return Err(tr("Type the path of a recording (JSON Lines).").into());
        }
        let mut addr = service.mqtt_addr();
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let mut opts = replay::ReplayOptions::new(addr.to_string());
        if !(self.speed > 0.0 && self.speed.is_finite()) {
            return Err(format!("{}: {}", tr("Speed must be positive"), self.speed));
        }
        opts.speed = self.speed;
        let id = self.as_device.trim();
        if !id.is_empty() {
            let d = service
                .db()
                .device(id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("{}: {id}", tr("No such registered device")))?;
            opts.as_device = Some((d.id, d.auth_info));
        }
        Ok(opts)
    }

    /// Shows the window when open; `service` and `rt` are None while the broker is stopped.
    pub fn window(
        &mut self,
        ctx: &egui::Context,
        service: Option<&ServiceHandle>,
        rt: Option<&tokio::runtime::Handle>,
    ) {
        if let Some(rx) = self.browsing.as_mut()
            && let Ok(picked) = rx.try_recv()
        {
            self.browsing = None;
            match picked {
                Some(p) => self.path = p.display().to_string(),
                None => {
                    self.error = Some(
                        tr("No file was chosen: the system file dialog was cancelled or is not available on this desktop. Type the path instead.")
                            .into(),
                    )
                }
            }
        }
        let mut open = self.open;
        egui::Window::new(tr("Replay a recording"))
            .open(&mut open)
            .default_width(520.0)
            .show(ctx, |ui| self.body(ui, service, rt));
        self.open = open;
        if self.running() || self.browsing.is_some() {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
    }

    fn body(
        &mut self,
        ui: &mut egui::Ui,
        service: Option<&ServiceHandle>,
        rt: Option<&tokio::runtime::Handle>,
    ) {
        egui::Grid::new("replay-form").num_columns(2).show(ui, |ui| {
            let l = ui.label(tr("Recording"));
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut self.path)
                        .desired_width(330.0)
                        .font(egui::TextStyle::Monospace),
                )
                .labelled_by(l.id);
                if ui
                    .add_enabled(self.browsing.is_none(), egui::Button::new(tr("Browse…")))
                    .on_hover_text(tr("Choose with the system's file dialog"))
                    .clicked()
                    && let Some(rt) = rt
                {
                    let (tx, rx) = oneshot::channel();
                    let start = PathBuf::from(self.path.trim());
                    rt.spawn(async move {
                        let mut d = rfd::AsyncFileDialog::new()
                            .add_filter("JSON Lines", &["jsonl", "json", "txt"]);
                        if let Some(dir) = start.parent().filter(|p| p.is_dir()) {
                            d = d.set_directory(dir);
                        }
                        let _ = tx.send(d.pick_file().await.map(|f| f.path().to_path_buf()));
                    });
                    self.browsing = Some(rx);
                }
            });
            ui.end_row();
            let l = ui.label(tr("Speed"));
            ui.add(
                egui::DragValue::new(&mut self.speed)
                    .range(0.1..=1000.0)
                    .speed(0.1)
                    .suffix(" ×"),
            )
            .labelled_by(l.id)
            .on_hover_text(tr(
                "1 × keeps the recorded spacing; 10 × plays ten times faster",
            ));
            ui.end_row();
            let l = ui.label(tr("As device"));
            ui.add(
                egui::TextEdit::singleline(&mut self.as_device)
                    .hint_text(tr("as recorded"))
                    .desired_width(160.0),
            )
            .labelled_by(l.id)
            .on_hover_text(tr(
                "Connect as this registered device (its auth_info from the registry) instead of the recorded one",
            ));
            ui.end_row();
        });
        ui.horizontal(|ui| {
            let can = service.is_some() && rt.is_some() && !self.running();
            if ui
                .add_enabled(can, egui::Button::new(RichText::new(tr("Replay")).strong()))
                .on_disabled_hover_text(tr("The broker is not running, or a replay is under way"))
                .clicked()
                && let (Some(s), Some(rt)) = (service, rt)
            {
                self.start(s, rt);
            }
            if service.is_none() {
                ui.weak(tr("Start the broker to replay."));
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(RED, e);
        }
        let Some(run) = &self.run else {
            return;
        };
        ui.separator();
        ui.weak(&run.file);
        let total = run.total.load(Ordering::Relaxed);
        let done = run.progress.load(Ordering::Relaxed).min(total);
        match self.report() {
            None => {
                ui.add(
                    egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                        .text(format!("{done} / {total} {}", tr("lines")))
                        .animate(true),
                );
            }
            Some(Err(e)) => {
                ui.colored_label(RED, e);
            }
            Some(Ok(r)) => report_ui(ui, &r),
        }
    }
}

/// Reads and checks the recording, then replays it.
async fn run(
    path: &str,
    mut opts: replay::ReplayOptions,
    total: &AtomicUsize,
    progress: Arc<AtomicUsize>,
    empty: &str,
) -> Result<replay::Report, String> {
    let p = path.to_string();
    let text = tokio::task::spawn_blocking(move || std::fs::read_to_string(p))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("Cannot read {path}: {e}"))?;
    let lines = record::parse(&text).map_err(|e| format!("{path}: {e}"))?;
    if lines.is_empty() {
        return Err(format!("{path}: {empty}"));
    }
    total.store(lines.len(), Ordering::Relaxed);
    opts.progress = Some(progress);
    replay::replay(&lines, &opts)
        .await
        .map_err(|e| format!("replay against {}: {e}", opts.addr))
}

fn report_ui(ui: &mut egui::Ui, r: &replay::Report) {
    let counts = format!(
        "{} {} · {} {}",
        r.sent,
        tr("packets sent"),
        r.compared,
        tr("broker packets compared")
    );
    if r.differences.is_empty() {
        ui.label(RichText::new(tr("No differences")).color(GREEN).strong());
        ui.label(counts);
    } else {
        ui.label(
            RichText::new(format!("{} {}", r.differences.len(), tr("differences")))
                .color(RED)
                .strong(),
        );
        ui.label(counts);
        egui::ScrollArea::vertical()
            .max_height(220.0)
            .id_salt("replay-diffs")
            .show(ui, |ui| {
                for d in &r.differences {
                    let line = if d.line == 0 {
                        tr("after the last line").to_string()
                    } else {
                        format!("{} {}", tr("line"), d.line)
                    };
                    ui.label(RichText::new(format!("{line}: {}", d.what)).color(AMBER));
                    ui.monospace(format!("  {}: {}", tr("expected"), d.expected));
                    ui.monospace(format!("  {}: {}", tr("got"), d.got));
                }
            });
    }
    for s in &r.skipped {
        ui.weak(format!("{}: {s}", tr("skipped")));
    }
}
