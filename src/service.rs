//! The service: starts the broker and its store, and is the one handle every client of the core uses
//! (the desktop console, the CLI, the HTTP API, the tests). Shutdown is part of the API: it stops the
//! listener and connections, then waits for the store to commit everything queued.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::broker::message::RouterMsg;
use crate::broker::router::Router;
use crate::broker::{ConnCtx, QueuedInfo, RetainedInfo, SessionInfo, accept_loop};
use crate::config::{Config, ConfigError};
use crate::events::{EventReceiver, Events};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::onenet::commands::{Command, CommandError};
use crate::onenet::diagnostics::Diagnostic;
use crate::store::writer::{WriterThread, spawn_writer};
use crate::store::{Db, StoreError, StoreTx};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}{hint}", hint = if source.kind() == std::io::ErrorKind::AddrInUse { format!(" (port {} is already in use: is another broker running?)", addr.port()) } else { String::new() })]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Largest command body (the HTTP API's 64 KB limit, §7.2).
pub const MAX_COMMAND_BODY: usize = 64 * 1024;

/// Mailbox depth of the router: enough for bursts, small enough that a stuck router slows readers.
const ROUTER_MAILBOX: usize = 8192;

struct Inner {
    config: Arc<Config>,
    mqtt_addr: SocketAddr,
    db: Db,
    store: StoreTx,
    router: mpsc::Sender<RouterMsg>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    writer: Mutex<Option<WriterThread>>,
    started: Instant,
    events: Events,
    metrics: Arc<Metrics>,
}

/// Handle to a running service. Clones share it; `shutdown` stops it for all.
#[derive(Clone)]
pub struct ServiceHandle {
    inner: Arc<Inner>,
}

/// Starts the broker on `config`. Must be called inside a tokio runtime.
pub async fn start(config: Config) -> Result<ServiceHandle, StartError> {
    config.validate()?;
    let config = Arc::new(config);
    let db_path = config.db_path();
    let db = Db::open(&db_path)?;
    let state = db.load_state()?;
    let listener = TcpListener::bind(config.mqtt_addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.mqtt_addr,
            source,
        })?;
    let mqtt_addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.mqtt_addr,
        source,
    })?;
    let (store, writer) = spawn_writer(db_path, config.retention.clone())?;
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let (router_tx, router_rx) = mpsc::channel(ROUTER_MAILBOX);
    tracing::info!(
        sessions = state.sessions.len(),
        retained = state.retained.len(),
        "state loaded from {}",
        db.path().display()
    );
    let events = Events::new();
    let metrics = Arc::new(Metrics::default());
    let router = Router::new(
        config.clone(),
        store.clone(),
        events.clone(),
        metrics.clone(),
        state,
    );
    tracker.spawn(router.run(router_rx, shutdown.clone()));
    let ctx = Arc::new(ConnCtx {
        cfg: config.clone(),
        router: router_tx.clone(),
        db: db.clone(),
        committed: store.committed(),
        shutdown: shutdown.clone(),
        next_conn_id: AtomicU64::new(1),
        online: AtomicUsize::new(0),
        events: events.clone(),
        metrics: metrics.clone(),
        dp: crate::broker::router::dp_options(&config),
    });
    tracker.spawn(accept_loop(listener, ctx, tracker.clone()));
    Ok(ServiceHandle {
        inner: Arc::new(Inner {
            config,
            mqtt_addr,
            db,
            store,
            router: router_tx,
            shutdown,
            tracker,
            writer: Mutex::new(Some(writer)),
            started: Instant::now(),
            events,
            metrics,
        }),
    })
}

impl ServiceHandle {
    /// The address the MQTT listener is bound to (the real port when 0 was asked for).
    pub fn mqtt_addr(&self) -> SocketAddr {
        self.inner.mqtt_addr
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The registry (products, devices) and other synchronous database access.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.inner.started.elapsed()
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> RouterMsg) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.inner.router.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Every session, online or kept for a clean-session-0 client, sorted by client id.
    pub async fn sessions(&self) -> Vec<SessionInfo> {
        self.ask(RouterMsg::Sessions).await.unwrap_or_default()
    }

    /// Every retained message.
    pub async fn retained(&self) -> Vec<RetainedInfo> {
        self.ask(RouterMsg::Retained).await.unwrap_or_default()
    }

    /// Closes the client's connection (its session stays if persistent). False if it was not online.
    pub async fn kick(&self, client_id: &str) -> bool {
        let client_id = client_id.to_string();
        self.ask(|done| RouterMsg::Kick { client_id, done })
            .await
            .unwrap_or(false)
    }

    /// Counters since start (the console turns them into rates).
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// Watches what happens: connections, datapoints, commands, diagnostics, every packet.
    pub fn events(&self) -> EventReceiver {
        self.inner.events.subscribe()
    }

    /// Sends a platform command (§7): `$creq/{uuid}` now if the device is online; otherwise, with
    /// `validity_s` > 0, when it next connects within that many seconds; with 0 the command is recorded
    /// with status 0 (device not online). The returned command carries the uuid and status.
    pub async fn send_command(
        &self,
        device_id: &str,
        body: bytes::Bytes,
        validity_s: u32,
    ) -> Result<Command, CommandError> {
        let db = self.inner.db.clone();
        let id = device_id.to_string();
        let known = tokio::task::spawn_blocking(move || db.device(&id)).await;
        if !matches!(known, Ok(Ok(Some(_)))) {
            return Err(CommandError::UnknownDevice(device_id.to_string()));
        }
        if body.len() > MAX_COMMAND_BODY {
            return Err(CommandError::BodyTooLarge(body.len(), MAX_COMMAND_BODY));
        }
        let device_id = device_id.to_string();
        self.ask(|reply| RouterMsg::SendCommand {
            device_id: device_id.clone(),
            body,
            validity_s,
            reply,
        })
        .await
        .unwrap_or(Err(CommandError::UnknownDevice(device_id)))
    }

    /// A command by uuid, live or finished.
    pub async fn command(&self, uuid: &str) -> Option<Command> {
        let u = uuid.to_string();
        if let Some(c) = self
            .ask(|reply| RouterMsg::LiveCommand { uuid: u, reply })
            .await
            .flatten()
        {
            return Some(c);
        }
        self.flush().await;
        let db = self.inner.db.clone();
        let u = uuid.to_string();
        tokio::task::spawn_blocking(move || db.command(&u))
            .await
            .ok()?
            .ok()?
    }

    /// A device's commands created in [since, until] (Unix ms), newest first, and the total for paging.
    pub async fn command_history(
        &self,
        device_id: &str,
        since: Option<i64>,
        until: Option<i64>,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Command>, u64), StoreError> {
        self.flush().await;
        let db = self.inner.db.clone();
        let d = device_id.to_string();
        tokio::task::spawn_blocking(move || db.commands(&d, since, until, offset, limit))
            .await
            .unwrap_or_else(|_| Ok((Vec::new(), 0)))
    }

    /// The device's recent conformance diagnostics, oldest first.
    pub async fn diagnostics(&self, device_id: &str) -> Vec<Diagnostic> {
        let device_id = device_id.to_string();
        self.ask(|reply| RouterMsg::Diagnostics { device_id, reply })
            .await
            .unwrap_or_default()
    }

    /// Deletes retained messages: one (`namespace` and `topic`), a namespace's, or all. Returns how many.
    pub async fn delete_retained(&self, namespace: Option<&str>, topic: Option<&str>) -> usize {
        let (namespace, topic) = (namespace.map(str::to_string), topic.map(str::to_string));
        self.ask(|reply| RouterMsg::DeleteRetained {
            namespace,
            topic,
            reply,
        })
        .await
        .unwrap_or(0)
    }

    /// The deliveries waiting for a session: in flight (with packet id) and queued.
    pub async fn queue(&self, client_id: &str) -> Vec<QueuedInfo> {
        let client_id = client_id.to_string();
        self.ask(|reply| RouterMsg::Queue { client_id, reply })
            .await
            .unwrap_or_default()
    }

    /// Drops a session's queued deliveries (not those in flight). Returns how many.
    pub async fn clear_queue(&self, client_id: &str) -> usize {
        let client_id = client_id.to_string();
        self.ask(|reply| RouterMsg::ClearQueue { client_id, reply })
            .await
            .unwrap_or(0)
    }

    /// Waits until every mutation queued so far is committed to the database.
    pub async fn flush(&self) {
        self.inner.store.flush().await;
    }

    /// Stops accepting, closes every connection, commits what is queued and stops the store writer.
    /// Idempotent.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
        self.inner.store.flush().await;
        self.inner.store.close();
        let writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(w) = writer {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
        tracing::info!("broker stopped; store flushed");
    }
}
