//! The service: starts the broker and its store, and is the one handle every client of the core uses
//! (the desktop console, the CLI, the HTTP API, the tests). Shutdown is part of the API: it stops the
//! listener and connections, then waits for the store to commit everything queued.
//!
//! * `mod` (this file): start, settings at run time, shutdown.
//! * [`api`]: the types clients see (DTOs, errors) and re-exports of the records they exchange.
//! * `data`: registry, topic lists, datapoints, statistics and export ([`store::DataStore`] on the
//!   blocking pool).
//! * `live`: what the router knows (sessions, queues, retained messages, commands, diagnostics) and
//!   what it does on request (kick, push, ingest).
//!
//! The HTTP API is a client of this handle; the service only binds its port (so `serve` and the console
//! can say why it is off) and runs the server it is given ([`HttpServer`]), so `service` never names
//! `http`.

pub mod api;
mod data;
mod live;
pub mod store;

pub use api::{DataError, DataStore};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::broker::message::RouterMsg;
use crate::broker::router::{Driver, Hub};
use crate::broker::{ConnCtx, accept_loop};
use crate::config::{Config, ConfigError};
use crate::events::{EventReceiver, Events};
use crate::metrics::Metrics;
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

/// Why datapoints could not be stored through [`ServiceHandle::ingest_datapoints`].
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no device {0}")]
    UnknownDevice(String),
    #[error("body of {0} bytes is larger than a type 1 upload can carry (65535)")]
    TooLarge(usize),
    #[error(transparent)]
    Invalid(#[from] crate::onenet::datapoint::DpError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the service is stopped")]
    Stopped,
}

/// Command bodies must be smaller than this (the HTTP API's "< 64 KB", §7.2).
pub const MAX_COMMAND_BODY: usize = 64 * 1024;

/// Mailbox depth of the router: enough for bursts, small enough that a stuck router slows readers.
const ROUTER_MAILBOX: usize = 8192;

/// The mailbox's bound in bytes (payloads plus each input's own size; see `RouterMsg::weight`): the
/// depth alone would let 8,192 reads of up to `max_packet` each wait there.
const ROUTER_MAILBOX_BYTES: usize = 32 * 1024 * 1024;

struct Inner {
    /// The settings in effect: replaced by `apply_config`, read by the connections through `live`.
    config: watch::Sender<Arc<Config>>,
    mqtt_addr: SocketAddr,
    data: DataStore,
    store: StoreTx,
    router: Arc<Hub>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    writer: Mutex<Option<WriterThread>>,
    started: Instant,
    events: Events,
    metrics: Arc<Metrics>,
    http_addr: Option<SocketAddr>,
    /// Why the HTTP API is not running although an address was configured (its port was taken).
    http_error: Option<String>,
}

/// What [`ServiceHandle::apply_config`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Applied {
    /// Keys of the settings file that changed but take effect only when the service is restarted
    /// (listeners, data dir, profile, per-connection limits). Empty: everything is in effect.
    pub restart_needed: Vec<&'static str>,
}

/// Handle to a running service. Clones share it; `shutdown` stops it for all.
#[derive(Clone)]
pub struct ServiceHandle {
    inner: Arc<Inner>,
}

/// Serves the HTTP API on a listener the service bound, for a handle, until the token fires. The
/// composition root passes `http::serve` ([`crate::start`]); the service runs it on its own tracker so
/// shutdown waits for it.
pub type HttpServer = fn(
    TcpListener,
    ServiceHandle,
    CancellationToken,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Turns the store writer's commit failures into [`Event::StoreStatus`] (naming the data dir), so the
/// console can say why acknowledgements are held instead of only logging it; and its recovery.
async fn report_store_failures(
    mut failing: watch::Receiver<Option<String>>,
    events: Events,
    data_dir: std::path::PathBuf,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = failing.changed() => if r.is_err() { return },
        }
        let error = failing
            .borrow_and_update()
            .as_ref()
            .map(|e| format!("{e} (data dir {})", data_dir.display()));
        events.send(crate::events::Event::StoreStatus { error });
    }
}

/// Starts the broker on `config`, and the HTTP API with `http` when that is given and `config.http_addr`
/// is set (the port is bound here, so a taken one is reported by [`ServiceHandle::http_error`]). Must be
/// called inside a tokio runtime. [`crate::start`] is this with the crate's HTTP API.
pub async fn start_with(
    config: Config,
    http: Option<HttpServer>,
) -> Result<ServiceHandle, StartError> {
    start_inner(config, http, false).await.map(|(h, _)| h)
}

/// [`start_with`], and a reader of the events subscribed before the listener accepts its first
/// connection: a watcher that must see everything from the start (the console's traffic log, after a
/// restart that devices answer by reconnecting at once) misses nothing. Others subscribe with
/// [`ServiceHandle::events`] when they like; packet events are only built while someone reads.
pub async fn start_watched(
    config: Config,
    http: Option<HttpServer>,
) -> Result<(ServiceHandle, EventReceiver), StartError> {
    let (h, rx) = start_inner(config, http, true).await?;
    let rx = rx.unwrap_or_else(|| h.events());
    Ok((h, rx))
}

/// The MQTT listener, as `TcpListener::bind` makes it (address reuse except on Windows, a backlog of
/// 128), with TCP_NODELAY set on it: Linux gives every accepted socket the listener's options, so a
/// connection needs no `setsockopt` of its own (one system call fewer per connection). Where the option
/// is not passed on, the accept loop sets it per connection (`broker::accept_loop`).
fn bind_mqtt(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    // Only a saving: a listener without it still works (each connection then sets it).
    let _ = socket.set_nodelay(true);
    socket.bind(addr)?;
    socket.listen(128)
}

async fn start_inner(
    config: Config,
    http: Option<HttpServer>,
    watched: bool,
) -> Result<(ServiceHandle, Option<EventReceiver>), StartError> {
    config.validate()?;
    let config = Arc::new(config);
    let db_path = config.db_path();
    let db = Db::open_with(&db_path, config.limits.store_busy_timeout)?;
    let state = db.load_state()?;
    let listener = bind_mqtt(config.mqtt_addr).map_err(|source| StartError::Bind {
        addr: config.mqtt_addr,
        source,
    })?;
    let mqtt_addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.mqtt_addr,
        source,
    })?;
    let (store, writer) = spawn_writer(
        db_path,
        config.retention.clone(),
        config.limits.store_busy_timeout,
    )?;
    db.leave_checkpoints_to_the_writer()?;
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let (live_tx, live) = watch::channel(config.clone());
    tracing::info!(
        sessions = state.sessions.len(),
        retained = state.retained.len(),
        "state loaded from {}",
        db.path().display()
    );
    let events = Events::new();
    let first_reader = watched.then(|| events.subscribe());
    let metrics = Arc::new(Metrics::default());
    let router = Driver::new(
        config.clone(),
        store.clone(),
        events.clone(),
        metrics.clone(),
        state,
    );
    let (hub, mailbox) = Hub::new(router, ROUTER_MAILBOX, ROUTER_MAILBOX_BYTES);
    tracker.spawn(hub.clone().run(mailbox, shutdown.clone()));
    tracker.spawn(report_store_failures(
        store.failing(),
        events.clone(),
        config.data_dir.clone(),
        shutdown.clone(),
    ));
    let ctx = Arc::new(ConnCtx {
        cfg: config.clone(),
        hub: hub.clone(),
        db: db.clone(),
        committed: store.committed(),
        shutdown: shutdown.clone(),
        next_conn_id: AtomicU64::new(1),
        online: AtomicUsize::new(0),
        events: events.clone(),
        metrics: metrics.clone(),
        live,
    });
    tracker.spawn(accept_loop(listener, ctx, tracker.clone()));
    // The HTTP API is a convenience next to the broker: when its port is taken (a second `serve`, the
    // console already running) the broker runs without it and says why, instead of not starting at all.
    let mut http_error = None;
    let http_listener = match config.http_addr.filter(|_| http.is_some()) {
        Some(addr) => match bind_http(addr).await {
            Ok(l) => Some(l),
            Err(e) => {
                http_error = Some(e);
                None
            }
        },
        None => None,
    };
    let handle = ServiceHandle {
        inner: Arc::new(Inner {
            config: live_tx,
            mqtt_addr,
            data: DataStore::from_db(db),
            store,
            router: hub,
            shutdown,
            tracker,
            writer: Mutex::new(Some(writer)),
            started: Instant::now(),
            events,
            metrics,
            http_addr: http_listener.as_ref().map(|(_, a)| *a),
            http_error,
        }),
    };
    if let (Some((listener, _)), Some(serve)) = (http_listener, http) {
        let (h, token) = (handle.clone(), handle.inner.shutdown.clone());
        handle.inner.tracker.spawn(serve(listener, h, token));
    }
    Ok((handle, first_reader))
}

/// Binds the HTTP API's listener; the error is the one line `serve` and the console show.
async fn bind_http(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), String> {
    let l = TcpListener::bind(addr).await.and_then(|l| {
        let bound = l.local_addr()?;
        Ok((l, bound))
    });
    l.map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::AddrInUse {
            "the port is in use (another onenet-desk serve or console?)".to_string()
        } else {
            e.to_string()
        };
        format!(
            "HTTP API off: cannot listen on {addr}: {why}; the MQTT broker runs without it. \
             Choose another address with --http ADDR (port 0 picks a free one) or http_addr in onenet-desk.toml"
        )
    })
}

impl ServiceHandle {
    /// The address the MQTT listener is bound to (the real port when 0 was asked for).
    pub fn mqtt_addr(&self) -> SocketAddr {
        self.inner.mqtt_addr
    }

    /// The HTTP API's address, when it runs.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.inner.http_addr
    }

    /// Why the HTTP API is not running although an address was configured (its port was taken).
    pub fn http_error(&self) -> Option<&str> {
        self.inner.http_error.as_deref()
    }

    /// The settings in effect (after any [`ServiceHandle::apply_config`]).
    pub fn config(&self) -> Arc<Config> {
        self.inner.config.borrow().clone()
    }

    /// Applies new settings to the running service. In effect when this returns: auto-register, offline
    /// count and age, command response window and reply limit, the RETAIN-on-delivery decision, the `$dp`
    /// options (UTC offset, type 7 and binary limits, disconnect on bad `$dp`, datapoint-subscription
    /// JSON), diagnostics kept, subscription limits, retention (run at once); the in-flight, queue, output,
    /// retained and store-backlog bounds and the stuck-reader and acknowledgement timeouts, for open
    /// connections too, from the next message, acknowledgement or write they govern. The others (listen
    /// addresses, data dir, profile, packet size, connection count, the CONNECT, PUBREL and database-lock
    /// timeouts) keep their running value and are named in [`Applied::restart_needed`];
    /// [`ServiceHandle::config`] shows what runs. Saving the file is separate ([`Config::save`]).
    pub async fn apply_config(&self, new: Config) -> Result<Applied, ConfigError> {
        new.validate()?;
        let old = self.config();
        let mut next = new;
        let mut restart_needed = Vec::new();
        macro_rules! keep {
            ($($field:ident).+, $key:literal) => {
                if next.$($field).+ != old.$($field).+ {
                    restart_needed.push($key);
                    next.$($field).+ = old.$($field).+.clone();
                }
            };
        }
        keep!(profile, "profile");
        keep!(mqtt_addr, "mqtt_addr");
        keep!(http_addr, "http_addr");
        keep!(data_dir, "data_dir");
        keep!(limits.max_packet, "limits.max_packet");
        keep!(limits.max_connections, "limits.max_connections");
        keep!(limits.connect_timeout, "limits.connect_timeout_secs");
        keep!(limits.pubrel_timeout, "limits.pubrel_timeout_secs");
        keep!(limits.store_busy_timeout, "limits.store_busy_timeout_secs");
        let next = Arc::new(next);
        self.inner.config.send_replace(next.clone());
        let _ = self
            .ask(|done| RouterMsg::SetConfig { cfg: next, done })
            .await;
        Ok(Applied { restart_needed })
    }

    /// How `$dp` payloads are decoded under the settings in effect (UTC offset, type 7 and binary
    /// limits): the HTTP API checks uploads with the same options the broker decodes them with.
    pub fn dp_options(&self) -> crate::onenet::datapoint::DpOptions {
        self.config().dp_options()
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.inner.started.elapsed()
    }

    /// Sends the router a request and waits for its answer; None when the service is stopped.
    /// Whether both handles are of the same running service (a restarted broker is another one).
    pub fn same(&self, other: &ServiceHandle) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> RouterMsg) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        if !self.inner.router.request(make(tx)).await {
            return None;
        }
        rx.await.ok()
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
        // Before the final flush: on a full disk the flush would otherwise wait for space forever.
        if let Some(w) = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            w.stopping();
        }
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

#[cfg(test)]
mod tests;
