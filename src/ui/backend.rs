//! The imperative shell of the console: owns the tokio runtime and the [`ServiceHandle`], carries out
//! actions as tasks on the runtime, and sends their results back as [`Reply`]s through one channel that
//! the app drains each frame. Nothing here blocks a frame.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
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

/// How often the broker is polled for sessions, registry and retained messages.
pub const POLL_EVERY: Duration = Duration::from_millis(1000);
/// Most history points loaded for a plot.
pub const HISTORY_MAX: usize = 1_000_000;
const HISTORY_PAGE: usize = 100_000;

/// Writes a file on the blocking pool.
async fn write_file(path: PathBuf, data: Vec<u8>) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || std::fs::write(path, data))
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
    last_poll: Option<Instant>,
    /// A poll is running: do not start another.
    polling: Arc<AtomicBool>,
    /// Set to cancel the running export.
    export_cancel: Option<Arc<AtomicBool>>,
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
        Ok(Backend {
            rt,
            service: None,
            events: None,
            tx,
            rx,
            ctx,
            last_poll: None,
            polling: Arc::new(AtomicBool::new(false)),
            export_cancel: None,
        })
    }

    /// The runtime the broker runs on (the Simulator starts its virtual devices there).
    pub fn runtime(&self) -> tokio::runtime::Handle {
        self.rt.handle().clone()
    }

    pub fn service(&self) -> Option<&ServiceHandle> {
        self.service.as_ref()
    }

    /// Starts the broker; blocks only for the bind and the database open (start-up, restarts).
    pub fn start(&mut self, config: Config) {
        let reply = match self.rt.block_on(crate::service::start(config.clone())) {
            Ok(s) => {
                self.events = Some(s.events());
                let addr = s.mqtt_addr();
                tracing::info!("mqtt listening on {addr}");
                self.service = Some(s);
                self.last_poll = None;
                Reply::BrokerStarted {
                    addr,
                    config: Box::new(config),
                }
            }
            Err(e) => {
                tracing::error!("broker did not start: {e}");
                Reply::BrokerFailed(e.to_string())
            }
        };
        let _ = self.tx.send(reply);
    }

    /// Stops the broker and waits for its store to flush (called on restart and on exit).
    pub fn stop(&mut self) {
        self.events = None;
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

    /// Replies waiting.
    pub fn drain_replies(&mut self, mut f: impl FnMut(Reply)) {
        while let Ok(r) = self.rx.try_recv() {
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

    /// Polls sessions, registry, retained and metrics if it is time.
    pub fn poll(&mut self, force: bool) {
        let due = force || self.last_poll.is_none_or(|t| t.elapsed() >= POLL_EVERY);
        let Some(s) = self.service.clone() else {
            return;
        };
        if !due || self.polling.swap(true, Ordering::AcqRel) {
            return;
        }
        self.last_poll = Some(Instant::now());
        let busy = self.polling.clone();
        self.spawn(async move {
            let sessions = s.sessions().await;
            let retained = s.retained().await;
            let metrics = s.metrics();
            let db = s.db().clone();
            let reg = tokio::task::spawn_blocking(move || {
                (db.products(), db.devices(None), db.size_on_disk())
            })
            .await;
            busy.store(false, Ordering::Release);
            let (products, devices, db_bytes) = reg.ok()?;
            let (products, devices) = match (products, devices) {
                (Ok(p), Ok(d)) => (p, d),
                (Err(e), _) | (_, Err(e)) => {
                    return Some(Reply::Error(format!("Cannot read the registry: {e}")));
                }
            };
            Some(Reply::Snapshot(Box::new(Snapshot {
                sessions,
                products,
                devices,
                retained,
                db_bytes,
                metrics,
            })))
        });
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
        self.last_poll = None;
    }

    pub fn add_product(&self, p: NewProduct) {
        self.blocking(move |s| {
            Some(match s.db().add_product(p) {
                Ok(p) => Reply::Info(format!("Product {} added.", p.id)),
                Err(e) => Reply::Error(e.to_string()),
            })
        });
    }

    pub fn add_device(&self, d: NewDevice) {
        self.blocking(move |s| {
            Some(match s.db().add_device(d) {
                Ok(d) => Reply::Info(format!("Device {} added.", d.id)),
                Err(e) => Reply::Error(e.to_string()),
            })
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

    /// Asks for a file with the platform's save dialog (async; no frame waits), then writes `bytes`.
    pub fn save_bytes(&self, name: String, bytes: Vec<u8>) {
        self.spawn(async move {
            let file = rfd::AsyncFileDialog::new()
                .set_file_name(&name)
                .save_file()
                .await?;
            let path = file.path().to_path_buf();
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

    /// Writes text lines produced off the UI thread to a file the user picks.
    pub fn save_lines(&self, name: String, make: impl FnOnce() -> Vec<u8> + Send + 'static) {
        self.spawn(async move {
            let file = rfd::AsyncFileDialog::new()
                .set_file_name(&name)
                .save_file()
                .await?;
            let path = file.path().to_path_buf();
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

    pub fn export_traffic(&self, rows: Vec<PacketRow>) {
        self.save_lines("traffic.jsonl".into(), move || {
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

    pub fn export_diagnostics(&self, device: String) {
        let Some(s) = self.service.clone() else {
            return;
        };
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        let me_rt = self.rt.handle().clone();
        me_rt.spawn(async move {
            let d = s.diagnostics(&device).await;
            let file = rfd::AsyncFileDialog::new()
                .set_file_name(format!("diagnostics-{device}.json"))
                .save_file()
                .await;
            let Some(file) = file else { return };
            let text = serde_json::to_string_pretty(&d).unwrap_or_default();
            let r = match write_file(file.path().to_path_buf(), text.into_bytes()).await {
                Ok(()) => Reply::Info(format!("Diagnostics saved to {}.", file.path().display())),
                Err(e) => Reply::Error(format!("Export failed: {e}")),
            };
            let _ = tx.send(r);
            ctx.request_repaint();
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
            let path: PathBuf = match spec.path.clone() {
                Some(p) => p,
                None => {
                    let name = format!(
                        "datapoints-{}.{}",
                        spec.device.as_deref().unwrap_or("all"),
                        spec.format.extension()
                    );
                    match rfd::AsyncFileDialog::new()
                        .set_file_name(&name)
                        .save_file()
                        .await
                    {
                        Some(f) => f.path().to_path_buf(),
                        None => return,
                    }
                }
            };
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
