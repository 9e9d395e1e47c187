//! Files the console writes, all off the UI thread: datapoint export (the service's exporter, the same
//! writer as the `export` CLI, with progress and cancel), traffic rows and diagnostics as JSON, raw bytes
//! (a binary datapoint, a payload), and the system's save dialog.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::Backend;
use crate::service::api::{DpFilter, ExportRequest};
use crate::ui::actions::ExportSpec;
use crate::ui::state::Reply;
use crate::ui::state::packets::PacketRow;

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

/// The file one stream of a datapoint export goes to: `path` itself when there is one stream, else
/// `STEM-STREAM.EXT` next to it.
fn stream_file(path: &std::path::Path, spec: &ExportSpec, stream: Option<&str>) -> PathBuf {
    if spec.streams.len() <= 1 {
        return path.to_path_buf();
    }
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(
        "{stem}-{}.{}",
        stream.unwrap_or("all"),
        spec.format.extension()
    ))
}

impl Backend {
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
        let stopped = Reply::Error("The broker is not running.".into());
        self.with_service(Some(stopped), |s| async move {
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

    /// Exports datapoints through the service (the same writer as the `export` CLI, on its read pool),
    /// off the UI thread, with progress and cancel. Several streams: each to its own file next to the
    /// chosen one.
    pub fn export_datapoints(&mut self, spec: ExportSpec, utc_offset_secs: i32) {
        let cancel = Arc::new(AtomicBool::new(false));
        let stopped = Reply::ExportDone(Err("Export failed: the broker is not running.".into()));
        if self.service.is_some() {
            self.export_cancel = Some(cancel.clone());
        }
        let (tx, ctx) = (self.tx.clone(), self.ctx.clone());
        self.with_service(Some(stopped), move |s| async move {
            let Some(path) = spec.path.clone() else {
                return Some(Reply::ExportDone(Err(
                    "Export failed: no file was chosen.".into()
                )));
            };
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && let Err(e) = std::fs::create_dir_all(dir)
            {
                return Some(Reply::ExportDone(Err(format!(
                    "Export failed: cannot create {}: {e}",
                    dir.display()
                ))));
            }
            let streams = if spec.streams.is_empty() {
                vec![None]
            } else {
                spec.streams.iter().cloned().map(Some).collect()
            };
            let _ = tx.send(Reply::ExportProgress { done: 0, total: 0 });
            let mut written = 0u64;
            for stream in streams {
                let target = stream_file(&path, &spec, stream.as_deref());
                let req = ExportRequest {
                    filter: DpFilter {
                        device_id: spec.device.clone(),
                        stream,
                        since: spec.since,
                        until: spec.until,
                    },
                    format: spec.format,
                    utc_offset_secs,
                    bom: spec.bom,
                };
                let total = Arc::new(AtomicU64::new(0));
                let (t, tx2, ctx2, cancel) =
                    (total.clone(), tx.clone(), ctx.clone(), cancel.clone());
                let progress = move |n: u64| {
                    let total = t.load(Ordering::Relaxed);
                    let _ = tx2.send(Reply::ExportProgress { done: n, total });
                    ctx2.request_repaint();
                    !cancel.load(Ordering::Relaxed)
                };
                let on_total = move |n: u64| total.store(n, Ordering::Relaxed);
                match s.export_to_file(req, target, on_total, progress).await {
                    Ok(n) => written += n,
                    Err(e) => return Some(Reply::ExportDone(Err(format!("Export failed: {e}")))),
                }
            }
            Some(Reply::ExportDone(Ok(format!(
                "Exported {written} datapoints to {}.",
                path.display()
            ))))
        });
    }

    pub fn cancel_export(&mut self) {
        if let Some(c) = self.export_cancel.take() {
            c.store(true, Ordering::Relaxed);
        }
    }
}
