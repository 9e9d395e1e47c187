//! What clients of the service (the console, the HTTP API, the CLI, tests) see: the types its methods
//! take and return. The broker's reports (sessions, queues, retained messages) are defined once in
//! `broker::info`, outside the router's mailbox, and re-exported here.
//!
//! The methods themselves are on [`ServiceHandle`](super::ServiceHandle): registry, topics, datapoints
//! and export in `service::data`, sessions, queues, retained messages, commands and diagnostics in
//! `service::live`.

pub use super::store::{DataStore, HISTORY_PAGE};
pub use crate::broker::info::{QueuedInfo, RetainedInfo, RetainedPage, RetainedQuery, SessionInfo};
pub use crate::export::{ExportError, ExportFormat, ExportRequest};
pub use crate::metrics::MetricsSnapshot;
pub use crate::onenet::commands::{Command, CommandError, CommandStatus};
pub use crate::onenet::diagnostics::Diagnostic;
pub use crate::onenet::registry::{Device, Product};
pub use crate::store::{
    DeviceStats, DpFilter, NewDevice, NewProduct, StoreError, StoredDatapoint, StreamSummary,
};

/// Why a read or write of the data dir's database through the service failed.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The store refused or failed (its message names the problem: unknown id, duplicate, limit …).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The service's runtime is shutting down (the blocking task did not run to the end).
    #[error("the service is stopping")]
    Stopped,
}

/// What the console's poller reads from the registry in one go.
#[derive(Debug, Clone, Default)]
pub struct RegistrySnapshot {
    pub products: Vec<Product>,
    pub devices: Vec<Device>,
    /// Size of the database and its WAL on disk, in bytes.
    pub db_bytes: u64,
    /// Per-device totals; empty when they could not be read (a nicety, never an error).
    pub device_stats: Vec<DeviceStats>,
}
