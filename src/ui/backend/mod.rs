//! The imperative shell of the console: owns the tokio runtime and the [`ServiceHandle`], carries out
//! actions as tasks on the runtime, and sends their results back as [`Reply`]s through one channel that
//! the app drains each frame. Nothing here blocks a frame.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::Config;
use crate::events::{EventReceiver, Received};
use crate::export::{ExportRequest, export_to_file};
use crate::service::ServiceHandle;
use crate::store::{DpFilter, NewDevice, NewProduct};
use crate::ui::actions::ExportSpec;
use crate::ui::model::{Reply, Snapshot};
use crate::ui::packets::PacketRow;

pub use crate::ui::poller::POLL_EVERY;
/// Most history points loaded for a plot.
pub const HISTORY_MAX: usize = 1_000_000;
const HISTORY_PAGE: usize = 100_000;

/// Writes a file on the blocking pool, creating its folder if needed.
async fn write_file(path: PathBuf, data: Vec<u8>) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, data)
    })
    .await
    .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

pub struct Backend {
    rt: tokio::runtime::Runtime,
    /// None while stopped or after a failed start.
    service: Option<ServiceHandle>,
    /// Our end of the service's event broadcast; replaced on each (re)start.
    events: Option<EventReceiver>,
    tx: mpsc::Sender<Reply>,
    rx: mpsc::Receiver<Reply>,
    /// Lets background tasks wake the UI when they deliver.
    ctx: egui::Context,
    /// Reads the broker on the runtime and wakes the window when the reading changed.
    poller: crate::ui::poller::Poller,
    /// Set to cancel the running export.
    export_cancel: Option<Arc<AtomicBool>>,
    /// The start/stop/restart under way, if any.
    lifecycle: Option<tokio::task::JoinHandle<Outcome>>,
    /// The service a start/stop/restart under way began from, then the one it ended with (for
    /// [`Backend::service`] while it runs).
    landed: Arc<Mutex<Option<ServiceHandle>>>,
}

/// How a start/stop/restart ended.
struct Outcome {
    service: Option<ServiceHandle>,
    /// Subscribed as soon as the service runs, so the window misses no event while it catches up.
    events: Option<EventReceiver>,
    reply: Reply,
}

impl Outcome {
    fn failed(e: String) -> Outcome {
        Outcome {
            service: None,
            events: None,
            reply: Reply::BrokerFailed(e),
        }
    }

    fn started(s: ServiceHandle) -> Outcome {
        let http = match s.http_error() {
            Some(e) => Err(e.to_string()),
            None => Ok(s.http_addr()),
        };
        Outcome {
            events: Some(s.events()),
            reply: Reply::BrokerStarted {
                addr: s.mqtt_addr(),
                config: Box::new((*s.config()).clone()),
                http,
            },
            service: Some(s),
        }
    }
}

/// Whether `to` could be bound while the broker still listens on `old`. Ok(true): bindable (the probe
/// is released at once). Ok(false): refused only because our own listener holds that port, so it can
/// be tried after the old one stops. Err: refused for another reason (taken by another program, no such
/// address): keep serving on the old one.
fn can_bind(to: SocketAddr, old: SocketAddr) -> std::io::Result<bool> {
    if to.port() == 0 || to == old {
        return Ok(true);
    }
    match std::net::TcpListener::bind(to) {
        Ok(_) => Ok(true),
        Err(e) => {
            let ours = to.port() == old.port()
                && (old.ip().is_unspecified() || to.ip().is_unspecified() || old.ip() == to.ip());
            if e.kind() == std::io::ErrorKind::AddrInUse && ours {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

/// The steps of a start/stop/restart; `step` reports each one to the window.
async fn lifecycle(
    old: Option<ServiceHandle>,
    to: Option<Config>,
    fallback: Option<Config>,
    save: bool,
    say: impl Fn(Reply),
) -> Outcome {
    let step = |s: String| say(Reply::BrokerProgress(s));
    if let (Some(o), Some(new)) = (&old, &to) {
        let old_addr = o.mqtt_addr();
        let probe = new.mqtt_addr;
        let r = tokio::task::spawn_blocking(move || can_bind(probe, old_addr)).await;
        if let Ok(Err(e)) = r {
            let error = crate::service::StartError::Bind {
                addr: new.mqtt_addr,
                source: e,
            }
            .to_string();
            tracing::warn!("{error}; still serving on {old_addr}");
            return Outcome {
                reply: Reply::BrokerKept {
                    addr: old_addr,
                    error,
                },
                events: old.as_ref().map(|s| s.events()),
                service: old,
            };
        }
    }
    if let Some(o) = old {
        step(format!(
            "stopping: disconnecting {} and writing the store to disk…",
            o.mqtt_addr()
        ));
        o.shutdown().await;
    }
    let Some(config) = to else {
        return Outcome {
            service: None,
            events: None,
            reply: Reply::BrokerStopped,
        };
    };
    step(format!(
        "starting on {}: opening {}…",
        config.mqtt_addr,
        config.db_path().display()
    ));
    let e = match crate::service::start(config.clone()).await {
        Ok(s) => {
            tracing::info!("mqtt listening on {}", s.mqtt_addr());
            if save {
                let c = config.clone();
                match tokio::task::spawn_blocking(move || c.save()).await {
                    Ok(Ok(path)) => say(Reply::Info(format!(
                        "Settings saved to {}.",
                        path.display()
                    ))),
                    Ok(Err(e)) => say(Reply::Error(format!("Settings not saved: {e}"))),
                    Err(e) => say(Reply::Error(format!("Settings not saved: {e}"))),
                }
            }
            return Outcome::started(s);
        }
        Err(e) => e.to_string(),
    };
    tracing::error!("broker did not start: {e}");
    let Some(back) = fallback.filter(|b| *b != config) else {
        return Outcome::failed(e);
    };
    step(format!("going back to {}…", back.mqtt_addr));
    match crate::service::start(back.clone()).await {
        Ok(s) => Outcome {
            reply: Reply::BrokerKept {
                addr: s.mqtt_addr(),
                error: e,
            },
            events: Some(s.events()),
            service: Some(s),
        },
        Err(e2) => Outcome::failed(format!(
            "{e}; going back to the previous settings failed too: {e2}"
        )),
    }
}

impl Backend {
    pub fn new(ctx: egui::Context) -> Result<Backend, String> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("onenet-desk-rt")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        let (tx, rx) = mpsc::channel();
        let poller = crate::ui::poller::Poller::start(&rt, ctx.clone(), tx.clone());
        Ok(Backend {
            rt,
            service: None,
            events: None,
            tx,
            rx,
            ctx,
            poller,
            export_cancel: None,
            lifecycle: None,
            landed: Arc::new(Mutex::new(None)),
        })
    }

    /// The runtime and the running service, without waiting (no service while a start, stop or restart is
    /// under way): the Simulator starts its virtual devices there.
    pub fn runtime(&self) -> (tokio::runtime::Handle, Option<ServiceHandle>) {
        let svc = if self.busy() {
            None
        } else {
            self.service.clone()
        };
        (self.rt.handle().clone(), svc)
    }

    /// The running service; when a start, stop or restart is under way, waits (up to 30 s) for it to
    /// finish first. Only tests and benchmarks call this; the window never waits on it.
    pub fn service(&self) -> Option<ServiceHandle> {
        if let Some(task) = &self.lifecycle {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !task.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            return self.landed.lock().ok().and_then(|l| l.clone());
        }
        self.service.clone()
    }

    /// A start, stop or restart is under way.
    pub fn busy(&self) -> bool {
        self.lifecycle.is_some()
    }

    /// Starts, stops or restarts the broker as one task on the runtime: the window keeps drawing and
    /// shows each step. `to`: the config to run (None = stop). `fallback`: what to go back to when `to`
    /// cannot start (the config the broker ran with). When the listen address changes, the new address
    /// is bound first while the old listener still serves; if it cannot be bound, nothing is stopped.
    ///
    /// `save`: write `to` to the data dir's settings file once the broker runs on it.
    pub fn change(&mut self, to: Option<Config>, fallback: Option<Config>, save: bool) {
        if self.lifecycle.is_some() {
            let _ = self.tx.send(Reply::Error(
                "The broker is already starting or stopping; try again when it is done.".into(),
            ));
            return;
        }
        let old = self.service.take();
        self.poller.set_service(None);
        self.events = None;
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        let landed = self.landed.clone();
        if let Ok(mut l) = landed.lock() {
            *l = old.clone();
        }
        let step = move |s: Reply| {
            let _ = tx.send(s);
            ctx.request_repaint();
        };
        let ctx = self.ctx.clone();
        self.lifecycle = Some(self.rt.spawn(async move {
            let out = lifecycle(old, to, fallback, save, step).await;
            if let Ok(mut l) = landed.lock() {
                *l = out.service.clone();
            }
            ctx.request_repaint();
            out
        }));
    }

    /// Applies settings that need no restart to the running broker, then saves them to the data dir's
    /// settings file; with the broker stopped, only saves them (the next start uses them).
    pub fn apply_config(&self, config: Config) {
        let s = self.service.clone();
        self.spawn(async move {
            let config = match &s {
                Some(s) => match s.apply_config(config).await {
                    Ok(applied) if !applied.restart_needed.is_empty() => {
                        return Some(Reply::Error(format!(
                            "Settings need a restart of the broker: {}",
                            applied.restart_needed.join(", ")
                        )));
                    }
                    Ok(_) => (*s.config()).clone(),
                    Err(e) => return Some(Reply::Error(format!("Settings not applied: {e}"))),
                },
                None => config,
            };
            let c = config.clone();
            Some(match tokio::task::spawn_blocking(move || c.save()).await {
                Ok(Ok(_)) => Reply::ConfigApplied(Box::new(config)),
                Ok(Err(e)) => Reply::Error(format!("Settings applied but not saved: {e}")),
                Err(e) => Reply::Error(format!("Settings applied but not saved: {e}")),
            })
        });
    }

    /// Takes in a finished start/stop/restart: its service becomes the one actions use.
    fn land(&mut self) -> Option<Reply> {
        if !self.lifecycle.as_ref()?.is_finished() {
            return None;
        }
        let task = self.lifecycle.take()?;
        let out = self
            .rt
            .block_on(task)
            .unwrap_or_else(|e| Outcome::failed(format!("internal error: {e}")));
        self.service = out.service;
        self.events = out.events;
        self.poller.set_service(self.service.clone());
        if let Some(s) = &self.service {
            crate::ui::poller::wake_on_events(&self.rt, self.ctx.clone(), s.events());
            self.poller.poll_now();
        }
        Some(out.reply)
    }

    /// Stops the broker and waits for its store to flush, blocking (on exit, and in tests).
    pub fn stop(&mut self) {
        if let Some(task) = self.lifecycle.take()
            && let Ok(out) = self.rt.block_on(task)
        {
            self.service = out.service;
        }
        self.events = None;
        self.poller.set_service(None);
        if let Some(s) = self.service.take() {
            self.rt.block_on(s.shutdown());
            let _ = self.tx.send(Reply::BrokerStopped);
        }
    }

    /// Events waiting, read under a time budget; the rest stays for the next frame.
    pub fn drain_events(&mut self, budget: Duration, mut f: impl FnMut(Received)) -> usize {
        let Some(rx) = self.events.as_mut() else {
            return 0;
        };
        let deadline = Instant::now() + budget;
        let mut n: usize = 0;
        while let Some(r) = rx.try_recv() {
            f(r);
            n += 1;
            if n.is_multiple_of(64) && Instant::now() >= deadline {
                self.ctx.request_repaint();
                break;
            }
        }
        n
    }

    /// Replies waiting (the outcome of a finished start/stop/restart last).
    pub fn drain_replies(&mut self, mut f: impl FnMut(Reply)) {
        while let Ok(r) = self.rx.try_recv() {
            f(r);
        }
        if let Some(r) = self.land() {
            f(r);
        }
    }

    fn spawn<F>(&self, fut: F)
    where
        F: std::future::Future<Output = Option<Reply>> + Send + 'static,
    {
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        self.rt.spawn(async move {
            if let Some(r) = fut.await {
                let _ = tx.send(r);
                ctx.request_repaint();
            }
        });
    }

    /// Blocking database work on the runtime's blocking pool.
    fn blocking<F>(&self, f: F)
    where
        F: FnOnce(&ServiceHandle) -> Option<Reply> + Send + 'static,
    {
        let Some(s) = self.service.clone() else {
            let _ = self
                .tx
                .send(Reply::Error("The broker is not running.".into()));
            return;
        };
        self.spawn(async move {
            tokio::task::spawn_blocking(move || f(&s))
                .await
                .unwrap_or_else(|e| Some(Reply::Error(format!("internal error: {e}"))))
        });
    }

    /// Reads sessions, registry, retained and metrics now when `force`; otherwise the poller reads them
    /// every [`POLL_EVERY`] on its own.
    pub fn poll(&mut self, force: bool) {
        if force {
            self.poller.poll_now();
        }
    }

    /// The newest broker reading not yet taken, with when it was read.
    pub fn take_snapshot(&self) -> Option<(Instant, Box<Snapshot>)> {
        self.poller.take()
    }

    pub fn kick(&self, client: String) {
        let Some(s) = self.service.clone() else {
            return;
        };
        self.spawn(async move {
            let ok = s.kick(&client).await;
            Some(if ok {
                Reply::Info(format!("Device {client} disconnected."))
            } else {
                Reply::Error(format!("Device {client} is not online."))
            })
        });
    }

    pub fn load_detail(&self, client: String) {
        let Some(s) = self.service.clone() else {
            return;
        };
        self.spawn(async move {
            let queue = s.queue(&client).await;
            let diagnostics = s.diagnostics(&client).await;
            Some(Reply::Detail {
                client,
                queue,
                diagnostics,
            })
        });
    }

    pub fn clear_queue(&self, client: String) {
        let Some(s) = self.service.clone() else {
            return;
        };
        self.spawn(async move {
            s.clear_queue(&client).await;
            let queue = s.queue(&client).await;
            Some(Reply::Detail {
                client,
                queue,
                diagnostics: Vec::new(),
            })
        });
    }

    pub fn delete_retained(&mut self, target: Option<(String, String)>) {
        let Some(s) = self.service.clone() else {
            return;
        };
        self.spawn(async move {
            let n = match &target {
                Some((ns, t)) => s.delete_retained(Some(ns), Some(t)).await,
                None => s.delete_retained(None, None).await,
            };
            Some(Reply::Info(format!("{n} retained message(s) deleted.")))
        });
    }

    pub fn add_product(&self, p: NewProduct) {
        self.blocking(move |s| {
            Some(Reply::Added(
                s.db()
                    .add_product(p)
                    .map(|p| format!("Product {} added.", p.id))
                    .map_err(|e| format!("Product not added: {e}")),
            ))
        });
    }

    pub fn add_device(&self, d: NewDevice) {
        self.blocking(move |s| {
            Some(Reply::Added(
                s.db()
                    .add_device(d)
                    .map(|d| format!("Device {} added.", d.id))
                    .map_err(|e| format!("Device not added: {e}")),
            ))
        });
    }

    /// Registry edits and deletes: `op` returns what to say.
    pub fn registry(
        &self,
        op: impl FnOnce(&crate::store::Db) -> Result<String, crate::store::StoreError> + Send + 'static,
    ) {
        self.blocking(move |s| {
            Some(match op(s.db()) {
                Ok(m) => Reply::Info(m),
                Err(e) => Reply::Error(e.to_string()),
            })
        });
    }

    pub fn load_streams(&self, device: String) {
        self.blocking(move |s| {
            Some(match s.db().datastreams(&device) {
                Ok(streams) => Reply::Streams { device, streams },
                Err(e) => Reply::Error(format!("Cannot read datastreams: {e}")),
            })
        });
    }

    /// Loads the newest [`HISTORY_MAX`] points of a stream, in pages, newest page first.
    pub fn load_history(&self, device: String, stream: String) {
        self.blocking(move |s| {
            let mut pages = Vec::new();
            let mut loaded = 0;
            let mut until: Option<i64> = None;
            while loaded < HISTORY_MAX {
                let f = DpFilter {
                    device_id: Some(device.clone()),
                    stream: Some(stream.clone()),
                    since: None,
                    until,
                };
                let page = match s.db().datapoints(&f, HISTORY_PAGE, true) {
                    Ok(p) => p,
                    Err(e) => return Some(Reply::Error(format!("Cannot read datapoints: {e}"))),
                };
                let full = page.len() == HISTORY_PAGE;
                let Some(oldest) = page.first().map(|p| p.at) else {
                    break;
                };
                // The next page ends just before this one's oldest time.
                until = Some(oldest - 1);
                loaded += page.len();
                pages.push(page);
                if !full {
                    break;
                }
            }
            let all: Vec<_> = pages.into_iter().rev().flatten().collect();
            Some(Reply::History {
                device,
                stream,
                points: all,
            })
        });
    }

    pub fn send_command(&self, device: String, body: Vec<u8>, validity_s: u32) {
        let Some(s) = self.service.clone() else {
            let _ = self
                .tx
                .send(Reply::CommandSent(Err("the broker is not running".into())));
            return;
        };
        self.spawn(async move {
            let r = s
                .send_command(&device, Bytes::from(body), validity_s)
                .await
                .map_err(|e| e.to_string());
            Some(Reply::CommandSent(r))
        });
    }

    pub fn command_history(&self, device: String) {
        let Some(s) = self.service.clone() else {
            return;
        };
        self.spawn(async move {
            match s.command_history(&device, None, None, 0, 200).await {
                Ok((commands, _)) => Some(Reply::CommandHistory { device, commands }),
                Err(e) => Some(Reply::Error(format!("Cannot read command history: {e}"))),
            }
        });
    }

    /// Opens the system's save dialog (async; no frame waits) suggesting `suggested`; answers
    /// [`Reply::Picked`], None when it was cancelled or no dialog is available.
    pub fn pick_file(&self, suggested: PathBuf) {
        self.spawn(async move {
            let mut d = rfd::AsyncFileDialog::new();
            if let Some(name) = suggested.file_name() {
                d = d.set_file_name(name.to_string_lossy());
            }
            if let Some(dir) = suggested.parent().filter(|p| p.is_dir()) {
                d = d.set_directory(dir);
            }
            Some(Reply::Picked(
                d.save_file().await.map(|f| f.path().to_path_buf()),
            ))
        });
    }

    /// Writes `bytes` to `path` (a binary datapoint, a payload).
    pub fn save_bytes(&self, path: PathBuf, bytes: Vec<u8>) {
        self.spawn(async move {
            Some(match write_file(path.clone(), bytes.clone()).await {
                Ok(()) => Reply::Info(format!(
                    "Saved {} bytes to {}.",
                    bytes.len(),
                    path.display()
                )),
                Err(e) => Reply::Error(format!("Cannot write {}: {e}", path.display())),
            })
        });
    }

    /// Writes text lines produced off the UI thread to `path`.
    fn save_lines(&self, path: PathBuf, make: impl FnOnce() -> Vec<u8> + Send + 'static) {
        self.spawn(async move {
            let data = tokio::task::spawn_blocking(make).await.ok()?;
            Some(match write_file(path.clone(), data).await {
                Ok(()) => Reply::Info(format!("Exported to {}.", path.display())),
                Err(e) => Reply::Error(format!(
                    "Export failed: cannot write {}: {e}",
                    path.display()
                )),
            })
        });
    }

    pub fn export_traffic(&self, path: PathBuf, rows: Vec<PacketRow>) {
        self.save_lines(path, move || {
            let mut out = Vec::new();
            for r in rows {
                let mut v = serde_json::to_value(&r).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("hex".into(), crate::ui::format::hex_string(&r.bytes).into());
                }
                out.extend_from_slice(v.to_string().as_bytes());
                out.push(b'\n');
            }
            out
        });
    }

    pub fn export_diagnostics(&self, path: PathBuf, device: String) {
        let Some(s) = self.service.clone() else {
            let _ = self
                .tx
                .send(Reply::Error("The broker is not running.".into()));
            return;
        };
        self.spawn(async move {
            let d = s.diagnostics(&device).await;
            let text = serde_json::to_string_pretty(&d).unwrap_or_default();
            Some(match write_file(path.clone(), text.into_bytes()).await {
                Ok(()) => Reply::Info(format!("Diagnostics saved to {}.", path.display())),
                Err(e) => Reply::Error(format!(
                    "Export failed: cannot write {}: {e}",
                    path.display()
                )),
            })
        });
    }

    /// Exports datapoints with the same writer as the `export` CLI, off the UI thread, with progress and
    /// cancel.
    pub fn export_datapoints(&mut self, spec: ExportSpec, utc_offset_secs: i32) {
        let Some(s) = self.service.clone() else {
            let _ = self.tx.send(Reply::ExportDone(Err(
                "Export failed: the broker is not running.".into(),
            )));
            return;
        };
        let cancel = Arc::new(AtomicBool::new(false));
        self.export_cancel = Some(cancel.clone());
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        self.rt.spawn(async move {
            let Some(path) = spec.path.clone() else {
                let _ = tx.send(Reply::ExportDone(Err(
                    "Export failed: no file was chosen.".into()
                )));
                ctx.request_repaint();
                return;
            };
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && let Err(e) = std::fs::create_dir_all(dir)
            {
                let _ = tx.send(Reply::ExportDone(Err(format!(
                    "Export failed: cannot create {}: {e}",
                    dir.display()
                ))));
                ctx.request_repaint();
                return;
            }
            s.flush().await;
            let db_path = s.db().path().to_path_buf();
            let streams = if spec.streams.is_empty() {
                vec![None]
            } else {
                spec.streams.iter().cloned().map(Some).collect()
            };
            let _ = tx.send(Reply::ExportProgress { done: 0, total: 0 });
            let tx2 = tx.clone();
            let ctx2 = ctx.clone();
            let result = tokio::task::spawn_blocking(move || {
                let mut written = 0u64;
                // One stream: straight to the file. Several: each to its own file next to it.
                for stream in &streams {
                    let req = ExportRequest {
                        filter: DpFilter {
                            device_id: spec.device.clone(),
                            stream: stream.clone(),
                            since: spec.since,
                            until: spec.until,
                        },
                        format: spec.format,
                        utc_offset_secs,
                        bom: spec.bom,
                    };
                    let total = crate::export::count_datapoints(&db_path, &req.filter).unwrap_or(0);
                    let target = if streams.len() == 1 {
                        path.clone()
                    } else {
                        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
                        path.with_file_name(format!(
                            "{stem}-{}.{}",
                            stream.as_deref().unwrap_or("all"),
                            spec.format.extension()
                        ))
                    };
                    let mut progress = |n: u64| {
                        let _ = tx2.send(Reply::ExportProgress { done: n, total });
                        ctx2.request_repaint();
                        !cancel.load(Ordering::Relaxed)
                    };
                    written += export_to_file(&db_path, &req, &target, &mut progress)
                        .map_err(|e| format!("Export failed: {e}"))?;
                }
                Ok::<_, String>((written, path))
            })
            .await;
            let r = match result {
                Ok(Ok((n, p))) => Ok(format!("Exported {n} datapoints to {}.", p.display())),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(format!("Export failed: {e}")),
            };
            let _ = tx.send(Reply::ExportDone(r));
            ctx.request_repaint();
        });
    }

    pub fn cancel_export(&mut self) {
        if let Some(c) = self.export_cancel.take() {
            c.store(true, Ordering::Relaxed);
        }
    }

    pub fn open_path(&self, path: PathBuf) {
        let opener = if cfg!(windows) {
            "explorer"
        } else if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        if let Err(e) = std::process::Command::new(opener).arg(&path).spawn() {
            let _ = self.tx.send(Reply::Error(format!(
                "Cannot open {} in the file manager: {e}",
                path.display()
            )));
        }
    }

    pub fn reply(&self, r: Reply) {
        let _ = self.tx.send(r);
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}
