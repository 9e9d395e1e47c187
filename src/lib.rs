//! onenet-desk: a local OneNET (legacy MQTT device protocol, V2.6) in one native binary.
//!
//! Crate map, from the wire inwards:
//!
//! * [`mqtt`] — MQTT 3.1.1 codec, ours and pure: bytes ⇄ packets, every malformed input a typed error
//!   citing the rule it breaks (`[MQTT-x.y.z-n]`) and the byte where it happened.
//! * [`onenet`] — OneNET's layer: products and devices, CONNECT admission (auth methods 1 and 2), topic
//!   rules. Pure logic.
//! * [`broker`] — TCP listener, connection tasks, and the router that owns sessions, subscriptions and
//!   retained messages (run inline by a connection when free, or by the router task).
//! * [`store`] — SQLite: registry, persistent sessions, owed deliveries, retained messages; a writer
//!   thread with group commit.
//! * [`http`] — the OneNET-compatible HTTP API (axum) and local admin endpoints; a router built from a
//!   `ServiceHandle`, testable without a socket.
//! * [`service`] — `start_with(config, http) -> ServiceHandle`: the one door the console, the HTTP API,
//!   the CLI and tests use ([`start`] starts it with the HTTP API); its types are in `service::api`.
//! * [`export`] — datapoints to CSV / JSON Lines, streamed from a read-only connection (CLI and console).
//! * [`events`] — what happened, as it happens: a broadcast the console reads (slow readers miss, never block).
//! * [`metrics`] — counters for rates (messages/s, datapoints/s).
//! * [`config`] — settings, defaults, validation.
//! * [`record`] — record a device's session as JSON Lines and replay it as a regression test.
//! * [`sim`] — virtual devices (groups, generators, `$dp` encoders, reply modes, faults).
//! * [`client`] — the project's own async MQTT client (simulator, replay, load generator, tests).
//! * [`logging`] — stderr, a size-bounded rolling log file in the data dir, and an in-memory ring for the console.
//! * `ui` (feature `gui`) — the desktop console, a client of the service handle only.
//!
//! The fence: `broker`, `store`, `onenet`, `http` and `mqtt` never depend on the GUI crates;
//! `cargo build --no-default-features` builds the headless broker.
// The "can panic" lints, denied outside tests (Cargo.toml [lints] explains why they live here). Unit tests
// opt out through clippy.toml; the console opts out of indexing only, at src/ui/mod.rs.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable
)]

pub mod broker;
pub mod client;
pub mod config;
pub mod events;
pub mod export;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod mqtt;
pub mod onenet;
pub mod record;
pub mod service;
pub mod sim;
pub mod store;

#[cfg(feature = "gui")]
pub mod ui;

pub use config::{Config, Profile};
pub use service::{Applied, ServiceHandle, StartError};

/// Starts the broker with the crate's HTTP API (when `config.http_addr` is set): what `serve`, the
/// console and the tests run. The service does not name `http`; this is where the two meet.
pub async fn start(config: Config) -> Result<ServiceHandle, StartError> {
    service::start_with(config, Some(http::serve_boxed)).await
}

/// [`start`], with a reader of the events that saw everything from the first connection on (the console).
pub async fn start_watched(
    config: Config,
) -> Result<(ServiceHandle, events::EventReceiver), StartError> {
    service::start_watched(config, Some(http::serve_boxed)).await
}
