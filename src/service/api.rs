//! What clients of the service (the console, the HTTP API, the CLI, tests) see: the types its methods
//! take and return. The broker keeps its own internal types next to its mailbox and the service converts
//! them here, so a change inside the router does not reach the console or the API's JSON.
//!
//! The methods themselves are on [`ServiceHandle`](super::ServiceHandle): registry, topics, datapoints
//! and export in `service::data`, sessions, queues, retained messages, commands and diagnostics in
//! `service::live`.

pub use super::store::{DataStore, HISTORY_PAGE};
pub use crate::export::{ExportError, ExportFormat, ExportRequest};
pub use crate::metrics::MetricsSnapshot;
pub use crate::onenet::commands::{Command, CommandError, CommandStatus};
pub use crate::onenet::diagnostics::Diagnostic;
pub use crate::onenet::registry::{Device, Product};
pub use crate::store::{
    DeviceStats, DpFilter, NewDevice, NewProduct, StoreError, StoredDatapoint, StreamSummary,
};

use crate::broker::message as internal;

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

/// A session as the console and API see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionInfo {
    pub client_id: String,
    pub namespace: String,
    pub online: bool,
    pub remote: Option<String>,
    pub clean_session: bool,
    pub keep_alive: u16,
    pub subscriptions: Vec<(String, u8)>,
    pub inflight: usize,
    pub queued: usize,
    /// Deliveries discarded (queue full, offline limits, QoS 0 to a full connection).
    pub dropped: u64,
    /// Of `dropped`: QoS 0 messages dropped because the connection's outbound queue was full.
    pub dropped_qos0: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    /// Conformance diagnostics recorded for this client.
    pub warnings: u64,
    /// Unix ms of the current connection's login, if online.
    pub connected_at: Option<i64>,
    /// Unix ms of the last packet routed from or to this client.
    pub last_seen: Option<i64>,
    /// The will of the current connection: (topic, qos, retain).
    pub will: Option<(String, u8, bool)>,
}

impl From<internal::SessionInfo> for SessionInfo {
    fn from(s: internal::SessionInfo) -> Self {
        SessionInfo {
            client_id: s.client_id,
            namespace: s.namespace,
            online: s.online,
            remote: s.remote,
            clean_session: s.clean_session,
            keep_alive: s.keep_alive,
            subscriptions: s.subscriptions,
            inflight: s.inflight,
            queued: s.queued,
            dropped: s.dropped,
            dropped_qos0: s.dropped_qos0,
            messages_in: s.messages_in,
            messages_out: s.messages_out,
            warnings: s.warnings,
            connected_at: s.connected_at,
            last_seen: s.last_seen,
            will: s.will,
        }
    }
}

/// A delivery waiting for a session, as the console and API see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueuedInfo {
    pub topic: String,
    pub qos: u8,
    pub payload_len: usize,
    /// The payload, for the console's viewer (not in the API's JSON).
    #[serde(skip)]
    pub payload: bytes::Bytes,
    /// Unix ms.
    pub queued_at: i64,
    /// Sent and waiting for PUBACK/PUBREC/PUBCOMP (packet id), or still queued (None).
    pub packet_id: Option<u16>,
}

impl From<internal::QueuedInfo> for QueuedInfo {
    fn from(q: internal::QueuedInfo) -> Self {
        QueuedInfo {
            topic: q.topic,
            qos: q.qos,
            payload_len: q.payload_len,
            payload: q.payload,
            queued_at: q.queued_at,
            packet_id: q.packet_id,
        }
    }
}

/// A retained message as the console and API see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RetainedInfo {
    pub namespace: String,
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub from_will_of: Option<String>,
}

impl From<internal::RetainedInfo> for RetainedInfo {
    fn from(r: internal::RetainedInfo) -> Self {
        RetainedInfo {
            namespace: r.namespace,
            topic: r.topic,
            payload: r.payload,
            qos: r.qos,
            from_will_of: r.from_will_of,
        }
    }
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

/// Converts a list of the broker's internal records.
pub(super) fn convert<A, B: From<A>>(v: Vec<A>) -> Vec<B> {
    v.into_iter().map(B::from).collect()
}
