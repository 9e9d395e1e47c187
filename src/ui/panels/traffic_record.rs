//! Recording a device's session from the Traffic panel: the same JSON Lines the `record` CLI writes
//! (`crate::record`), taken from the service's packet events while the recording runs.
//!
//! The Traffic log itself cannot serve: it keeps only the first bytes of large packets and drops rows
//! past its ring, while a recording must hold every byte to be replayable. So a recording has its own
//! reader of the event broadcast (bounded: a reader that falls behind gets a "missed" line, which
//! replay refuses, rather than holding memory) and writes each line to the file as it comes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::record::recorder::Recorder;
use crate::service::ServiceHandle;

/// A recording under way, or finished.
pub struct Recording {
    pub device: String,
    pub path: PathBuf,
    packets: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    /// Set when the task ends: packets written, or why it failed.
    outcome: Arc<Mutex<Option<Result<u64, String>>>>,
}

impl Recording {
    /// Starts recording `device`'s packets into `path` (folders created, an existing file replaced).
    /// Packets from now on are recorded: the event reader is taken before this returns.
    pub fn start(
        service: &ServiceHandle,
        rt: &tokio::runtime::Handle,
        device: &str,
        path: PathBuf,
    ) -> Recording {
        let rec = Recorder::new(service, device);
        let packets = Arc::new(AtomicU64::new(0));
        let outcome = Arc::new(Mutex::new(None));
        let (stop, stopped) = oneshot::channel();
        let (p2, o2, file) = (packets.clone(), outcome.clone(), path.clone());
        rt.spawn(async move {
            let r = run(rec, &file, &p2, stopped).await;
            *o2.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        });
        Recording {
            device: device.to_string(),
            path,
            packets,
            stop: Some(stop),
            outcome,
        }
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets.load(Ordering::Relaxed)
    }

    /// Asks the recording to end; the file is complete once [`Recording::outcome`] is set.
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    /// Still recording (not asked to stop, and the task has not ended).
    pub fn running(&self) -> bool {
        self.stop.is_some() && self.outcome().is_none()
    }

    /// Packets written, or why the recording failed; None while the task runs.
    pub fn outcome(&self) -> Option<Result<u64, String>> {
        self.outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

async fn run(
    mut rec: Recorder,
    path: &Path,
    packets: &AtomicU64,
    mut stopped: oneshot::Receiver<()>,
) -> Result<u64, String> {
    let open = || -> std::io::Result<std::fs::File> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::File::create(path)
    };
    let file = open().map_err(|e| format!("Cannot write {}: {e}", path.display()))?;
    // Lines are small and buffered; the file is written in 8 KiB pieces.
    let mut out = std::io::BufWriter::new(file);
    let werr = |e: std::io::Error| format!("Cannot write {}: {e}", path.display());
    loop {
        tokio::select! {
            biased;
            _ = &mut stopped => break,
            line = rec.next() => {
                let Some(line) = line else { break };
                let text = serde_json::to_string(&line).map_err(|e| e.to_string())?;
                writeln!(out, "{text}").map_err(werr)?;
                if line.dir.is_some() {
                    packets.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    out.flush().map_err(werr)?;
    out.into_inner()
        .map_err(|e| werr(e.into_error()))?
        .sync_all()
        .map_err(werr)?;
    Ok(packets.load(Ordering::Relaxed))
}
