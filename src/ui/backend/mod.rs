//! The imperative shell of the console: owns the tokio runtime and the [`ServiceHandle`], carries out
//! actions as tasks on the runtime, and sends their results back as [`Reply`]s through one channel that
//! the app drains each frame. Nothing here blocks a frame.
//!
//! * `mod` (this file): the runtime, the service in use, the reply channel and the one way a task
//!   reaches the service ([`Backend::with_service`]).
//! * [`lifecycle`]: start, stop and restart as one task.
//! * [`jobs`]: actions on the running broker (sessions, registry, datapoints, commands).
//! * [`exporters`]: files written off the UI thread (datapoint export, traffic, diagnostics, bytes).
//! * [`poller`]: what wakes an idle window (the broker reading, the event doorbell, the clocks).

pub mod exporters;
pub mod jobs;
pub mod lifecycle;
pub mod poller;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::events::{EventReceiver, Received};
use crate::service::ServiceHandle;
use crate::ui::state::{Reply, Snapshot};
use lifecycle::{Outcome, lifecycle};

pub use jobs::HISTORY_MAX;
pub use poller::POLL_EVERY;

/// Waits for `fut` on `rt` from the UI thread, for the few quick reads a dialog makes before it starts
/// something (a registered device's credentials). Called from inside a runtime (a test driving the window
/// from an async test), the wait runs on a helper thread, since a runtime thread must not block on one.
pub fn wait_for<T: Send>(
    rt: &tokio::runtime::Handle,
    fut: impl std::future::Future<Output = T> + Send,
) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return rt.block_on(fut);
    }
    std::thread::scope(|sc| match sc.spawn(|| rt.block_on(fut)).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
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
    poller: poller::Poller,
    /// Set to cancel the running export.
    export_cancel: Option<Arc<AtomicBool>>,
    /// The start/stop/restart under way, if any.
    lifecycle: Option<tokio::task::JoinHandle<Outcome>>,
    /// The service a start/stop/restart under way began from, then the one it ended with (for
    /// [`Backend::service`] while it runs).
    landed: Arc<Mutex<Option<ServiceHandle>>>,
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
        let poller = poller::Poller::start(&rt, ctx.clone(), tx.clone());
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
            poller::wake_on_events(&self.rt, self.ctx.clone(), s.events());
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

    /// The one way an action reaches the broker: runs `job` with the running service as a task on the
    /// runtime and sends the window its reply. With the broker stopped (or starting), sends `if_stopped`
    /// instead, when there is one.
    fn with_service<F, Fut>(&self, if_stopped: Option<Reply>, job: F)
    where
        F: FnOnce(ServiceHandle) -> Fut,
        Fut: std::future::Future<Output = Option<Reply>> + Send + 'static,
    {
        match self.service.clone() {
            Some(s) => self.spawn(job(s)),
            None => {
                if let Some(r) = if_stopped {
                    let _ = self.tx.send(r);
                }
            }
        }
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

    pub fn open_path(&self, path: PathBuf) {
        let opener = if cfg!(windows) {
            "explorer"
        } else if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        // Waited for on the blocking pool: the child is reaped (no zombie per click) and an opener that
        // fails (no file manager for the type: `xdg-open` exits non-zero) is reported, not silent.
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        self.rt.spawn_blocking(move || {
            if let Err(e) = open_with(opener, &path) {
                let _ = tx.send(Reply::Error(e));
                ctx.request_repaint();
            }
        });
    }

    pub fn reply(&self, r: Reply) {
        let _ = self.tx.send(r);
    }
}

/// Runs `opener path` to its end; the error names the path and why (not found, or its exit status).
fn open_with(opener: &str, path: &std::path::Path) -> Result<(), String> {
    let why = match std::process::Command::new(opener).arg(path).status() {
        Ok(s) if s.success() => return Ok(()),
        Ok(s) => format!("{opener} ended with {s}"),
        Err(e) => format!("{opener}: {e}"),
    };
    Err(format!(
        "Cannot open {} in the file manager: {why}",
        path.display()
    ))
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::open_with;
    use std::path::Path;

    #[test]
    fn an_opener_that_fails_or_is_missing_is_reported() {
        let dir = Path::new("/tmp");
        assert_eq!(open_with("true", dir), Ok(()));
        let e = open_with("false", dir).unwrap_err();
        assert!(
            e.contains("/tmp") && e.contains("false ended with exit status: 1"),
            "{e}"
        );
        let e = open_with("/nonexistent/opener", dir).unwrap_err();
        assert!(e.contains("/nonexistent/opener: "), "{e}");
    }
}
