//! What the broker reports about itself on request: sessions, queued deliveries, retained messages.
//! The router builds these as plain data in answer to a mailbox request; the service hands them to its
//! clients as they are (re-exported by `service::api`), so they are defined once, here.

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
    /// Payload bytes of the deliveries in flight and queued: what the session holds in memory (held back
    /// at `limits.max_inflight_bytes` and `limits.max_queued_bytes_per_session`; one message larger than
    /// a bound, and what publishers had sent before they were paused, can take it past them).
    pub held_bytes: usize,
    /// Deliveries discarded (queue full, offline limits, QoS 0 to a full connection).
    pub dropped: u64,
    /// Of `dropped`: QoS 0 messages dropped because the connection's outbound queue was full.
    pub dropped_qos0: u64,
    /// How many subscribers' full queues this client's reading waits for (backpressure: the broker reads
    /// nothing more from its connection until they drain). Full subscribers only: 0 also while every
    /// client waits for the store writer (`limits.max_store_backlog`).
    pub held_back: u32,
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
    /// A QoS 2 delivery the client has received (PUBREC): only PUBREL/PUBCOMP are owed, and its payload
    /// is no longer kept (`payload_len` 0).
    pub released: bool,
}

/// A retained message as the console and API see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RetainedInfo {
    pub namespace: String,
    pub topic: String,
    /// Shared with the broker's copy (a listing copies no payload); not in the API's JSON, which has
    /// its own text and hex forms.
    #[serde(skip)]
    pub payload: bytes::Bytes,
    pub qos: u8,
    pub from_will_of: Option<String>,
}

/// Which retained messages of one namespace a listing returns (`GET /admin/retained`): in topic order,
/// after the cursor, at most `limit` of them and, past the first, no more than `max_bytes` of payload. A
/// listing of everything at once was up to `limits.max_retained_bytes` (256 MiB) of payload, three times
/// over in the API's JSON, built in one response while the router did nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedQuery {
    /// Topics after this one (a page's `next`); from the first when None.
    pub after: Option<String>,
    /// This topic only (then `after` is ignored).
    pub topic: Option<String>,
    pub limit: usize,
    pub max_bytes: usize,
}

/// One window of a namespace's retained messages (see [`RetainedQuery`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetainedPage {
    pub items: Vec<RetainedInfo>,
    /// The namespace's retained messages, all of them.
    pub total: usize,
    /// The cursor of the next window (its `after`), or None when this one reached the end.
    pub next: Option<String>,
}
