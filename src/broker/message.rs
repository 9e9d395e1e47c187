//! What flows between connection tasks and the router.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::sync::oneshot;

pub use super::info::{QueuedInfo, RetainedInfo, SessionInfo};
use crate::mqtt::{LastWill, Pid, Publish, QoS, TopicFilter, TopicName};
use crate::onenet::commands::{Command, CommandError};
use crate::onenet::datapoint::DpUpload;
use crate::onenet::diagnostics::{DiagKind, Diagnostic};

/// Identifies one network connection (a session outlives many of them).
pub type ConnId = u64;

/// Hasher of maps keyed by [`ConnId`]: the ids are the broker's own sequence numbers, never chosen by a
/// client, so one multiply is enough, and these maps are looked up several times per routed message
/// (SipHash showed in the profile).
#[derive(Debug, Default, Clone, Copy)]
pub struct ConnIdHasher(u64);

impl std::hash::Hasher for ConnIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map keyed by client ids or topics on the router's hot path: foldhash (seeded per process) rather
/// than SipHash, which was ~3% of the broker's samples routing QoS 1 (`perf record` of `loadgen
/// --scenario qos1-4x4`).
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The router's sessions by client id: a [`FastMap`] whose lookups can take a [`SameClient`].
pub type SessionMap<V> = hashbrown::HashMap<Arc<str>, V, foldhash::fast::RandomState>;

/// A client id looked up by its allocation first. The session map's keys, the connection map's values
/// and the subscription index's targets are clones of one `Arc<str>` per session, so a lookup from one of
/// those compares two pointers instead of the id's bytes (that comparison and its cache misses were ~3 %
/// of the broker's samples in `qos0-4x4`: `perf record`). Another allocation of the same id still matches.
pub struct SameClient<'a>(pub &'a Arc<str>);

impl std::hash::Hash for SameClient<'_> {
    /// As the key hashes (`Arc<str>` hashes as its `str`), so both find the same bucket.
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (**self.0).hash(h);
    }
}

impl hashbrown::Equivalent<Arc<str>> for SameClient<'_> {
    fn equivalent(&self, key: &Arc<str>) -> bool {
        Arc::ptr_eq(self.0, key) || **self.0 == **key
    }
}

/// A map keyed by connection id.
pub type ConnMap<V> =
    std::collections::HashMap<ConnId, V, std::hash::BuildHasherDefault<ConnIdHasher>>;

/// An application message as routed. Both fields are already shared handles (the topic an `Arc<str>`
/// shared by a connection's repeated topic, the payload a slice of the frame it arrived in), so a clone
/// per subscriber costs two reference counts and no copy. It is held by value rather than behind one
/// more `Arc`: that `Arc` was a heap allocation per message, made on the router's thread and freed on
/// the writing connection's (when the router task ran it), a fifth of the broker's CPU on a QoS 0 stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: TopicName,
    pub payload: Bytes,
}

/// Payloads up to this size are copied by [`Message::detached`]. A connection reads 4 KiB at a time, and
/// a frame larger than that gets a buffer of about its own size (`connection/read.rs`, `room`; up to
/// twice it when the buffer held part of the frame before its room was made): a payload up to 16 KiB may
/// be a small part of its buffer, a larger one is most of it. Copying 16 KiB costs less than a read.
const DETACH_MAX: usize = 16 * 1024;

impl Message {
    /// The same message with a payload of its own when it may be a small part of a read's buffer (up to
    /// [`DETACH_MAX`]): for what the router keeps indefinitely (a retained message, a message queued for
    /// an offline session, what a persistent session holds when it goes offline), so that a 20-byte
    /// payload does not keep a whole read buffer alive.
    pub fn detached(&self) -> Message {
        if self.payload.len() > DETACH_MAX {
            return self.clone();
        }
        Message {
            topic: self.topic.clone(),
            payload: Bytes::copy_from_slice(&self.payload),
        }
    }
}

/// Why the broker closes a connection itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// Another connection logged in with the same client id (spec §3.3).
    TakenOver,
    /// An operator kicked the device from the console or API.
    Kicked,
    /// The broker is shutting down.
    Shutdown,
    /// A protocol rule was broken; the text says which.
    Protocol(String),
}

/// Output for one connection, written in order. The router is the main producer.
#[derive(Debug)]
pub enum Outbound {
    /// Any control packet.
    Packet(crate::mqtt::Packet),
    /// A PUBLISH built from a shared message (no copy of topic or payload per subscriber).
    Publish {
        msg: Message,
        qos: QoS,
        pid: Option<Pid>,
        dup: bool,
        retain: bool,
    },
    /// Hold everything after this until the store's committed watermark reaches the number:
    /// an acknowledgement that promises durability must not overtake the commit.
    Barrier(u64),
    /// Close the connection after writing what came before.
    Close(CloseReason),
    /// The rest of packets partly written straight to the socket (see [`Outbox::write_direct`]).
    Raw(Bytes),
}

/// What the router has queued for one connection and the connection has not yet taken for writing: the
/// one piece of state the two share. The driver adds as it queues, the connection subtracts as it
/// encodes; the router reads it to decide whether a QoS 0 delivery still fits (`Limits::max_outbound_*`).
#[derive(Debug, Default)]
pub struct OutGauge {
    bytes: AtomicUsize,
    msgs: AtomicUsize,
}

impl OutGauge {
    pub fn add(&self, bytes: usize) {
        self.add_n(bytes, 1);
    }

    /// Counts `msgs` outputs of `bytes` in all (a run of output queued at once; see `sub_n`).
    pub fn add_n(&self, bytes: usize, msgs: usize) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.msgs.fetch_add(msgs, Ordering::Relaxed);
    }

    pub fn sub(&self, bytes: usize) {
        self.sub_n(bytes, 1);
    }

    /// Uncounts `msgs` outputs of `bytes` in all (a connection's whole output burst at once: the
    /// gauge's line is shared with the thread running the router, so one subtraction per burst, not per packet).
    pub fn sub_n(&self, bytes: usize, msgs: usize) {
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        self.msgs.fetch_sub(msgs, Ordering::Relaxed);
    }

    /// (bytes, messages) waiting.
    pub fn load(&self) -> (usize, usize) {
        (
            self.bytes.load(Ordering::Relaxed),
            self.msgs.load(Ordering::Relaxed),
        )
    }
}

impl Outbound {
    /// Bytes this output accounts for in an [`OutGauge`] (about its encoded size).
    pub fn weight(&self) -> usize {
        match self {
            Outbound::Publish { msg, .. } => msg.topic.as_str().len() + msg.payload.len() + 8,
            Outbound::Raw(b) => b.len(),
            _ => 8,
        }
    }
}

pub use super::outbox::{Direct, Outbox};

/// The driver's handle to one connection (the router itself only knows its [`ConnId`]).
#[derive(Debug, Clone)]
pub struct ConnTx {
    pub id: ConnId,
    pub outbox: Arc<Outbox>,
    pub gauge: Arc<OutGauge>,
}

impl ConnTx {
    /// Queues output; a closed connection is simply gone (its task reports the disconnect).
    pub fn send(&self, o: Outbound) {
        let w = o.weight();
        // Counted before it is queued, so the connection never subtracts what was not yet added.
        self.gauge.add(w);
        if !self.outbox.push(o) {
            self.gauge.sub(w);
        }
    }

    /// Queues a run of outputs to this connection without waking it; true when the caller must
    /// [`Outbox::signal`] it (the first output since the last signal). The gauge, the queue's lock and
    /// the signal flag are each touched once for the run, not once per output: they are shared with the
    /// connection's thread. `items` is left empty.
    pub fn send_quiet(&self, items: &mut Vec<Outbound>) -> bool {
        let n = items.len();
        let w: usize = items.iter().map(Outbound::weight).sum();
        self.gauge.add_n(w, n);
        match self.outbox.push_quiet(items) {
            Some(first) => first,
            None => {
                self.gauge.sub_n(w, n);
                false
            }
        }
    }

    /// Stops or resumes reading from the connection.
    pub fn pause(&self, paused: bool) {
        self.outbox.set_paused(paused);
    }
}

/// A connection that passed authentication and asks the router for its session.
#[derive(Debug)]
pub struct Login {
    pub conn: ConnId,
    /// The connection's outbound gauge (see [`OutGauge`]).
    pub gauge: Arc<OutGauge>,
    pub client_id: String,
    /// Product id in `onenet`, empty in `mqtt`: topics are scoped by it.
    pub namespace: String,
    pub clean_session: bool,
    pub keep_alive: u16,
    pub will: Option<LastWill>,
    pub remote: SocketAddr,
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// DISCONNECT received: the will is discarded.
    Graceful,
    /// Anything else (keepalive expiry, socket error, protocol error): the will is published.
    Abnormal(String),
    /// Closed by the broker on the router's request (takeover, kick, shutdown): no will.
    ClosedByBroker,
}

/// Inputs of the router's state machine ([`crate::broker::router::Router::handle`]): what connections
/// report, and the passing of a deadline the router asked for.
#[derive(Debug)]
pub enum Input {
    Login(Box<Login>),
    /// `dp`: a `$dp` payload decoded by the connection task (decoding runs there, in parallel).
    Publish {
        conn: ConnId,
        publish: Publish,
        dp: Option<crate::events::SharedDp>,
    },
    PubAck {
        conn: ConnId,
        pid: Pid,
    },
    PubRec {
        conn: ConnId,
        pid: Pid,
    },
    PubRel {
        conn: ConnId,
        pid: Pid,
    },
    PubComp {
        conn: ConnId,
        pid: Pid,
    },
    Subscribe {
        conn: ConnId,
        pid: Pid,
        filters: Vec<(TopicFilter, QoS)>,
    },
    Unsubscribe {
        conn: ConnId,
        pid: Pid,
        filters: Vec<TopicFilter>,
    },
    Closed {
        conn: ConnId,
        ending: Ending,
    },
    /// Something the connection noticed (codec conformance, packets before CONNACK, malformed input).
    Diagnostic {
        conn: ConnId,
        kind: DiagKind,
        message: String,
    },
    /// The deadline of `Router::next_deadline` passed.
    Tick,
}

impl Input {
    /// What the input holds in memory while it waits for the router: its own size, and the payload it
    /// keeps (a slice of the read buffer, which it keeps alive).
    fn weight(&self) -> usize {
        match self {
            Input::Publish { publish, .. } => INPUT + publish.payload.len(),
            Input::Login(l) => l.weight(),
            _ => INPUT,
        }
    }
}

/// An input's own size, counted in every input's weight.
const INPUT: usize = std::mem::size_of::<Input>();

impl Login {
    /// Its weight as an input (see `Input::weight`): the input, and the will's payload it keeps.
    fn weight(&self) -> usize {
        INPUT + self.will.as_ref().map_or(0, |w| w.message.len())
    }
}

/// What the router is handed (inline, or through the router task's mailbox; see `router::Hub`):
/// connection inputs and the service handle's requests.
#[derive(Debug)]
pub enum RouterMsg {
    /// A connection passed authentication: the driver keeps its handle, the router gets the login.
    Login(ConnTx, Box<Login>),
    /// Anything else a connection reports.
    Conn(Input),
    /// Several inputs of one connection, in order (what one read decoded; at most 64).
    Batch(Vec<Input>),
    /// Service-handle queries and actions.
    Sessions(oneshot::Sender<Vec<SessionInfo>>),
    Retained(oneshot::Sender<Vec<RetainedInfo>>),
    /// One window of a namespace's retained messages (`GET /admin/retained`).
    RetainedPage {
        namespace: String,
        query: super::info::RetainedQuery,
        reply: oneshot::Sender<super::info::RetainedPage>,
    },
    Kick {
        client_id: String,
        done: oneshot::Sender<bool>,
    },
    /// Settings changed at run time (`ServiceHandle::apply_config`): the router uses them from the next
    /// message on. Answered once in effect.
    SetConfig {
        cfg: std::sync::Arc<crate::config::Config>,
        done: oneshot::Sender<()>,
    },
    /// Deletes retained messages: one topic, a whole namespace (`topic` None) or all (both None).
    DeleteRetained {
        namespace: Option<String>,
        topic: Option<String>,
        reply: oneshot::Sender<usize>,
    },
    /// The deliveries waiting for a session (in flight and queued).
    Queue {
        client_id: String,
        reply: oneshot::Sender<Vec<QueuedInfo>>,
    },
    /// HTTP push (§8.3): QoS 0 to the online subscribers of `topic` in `namespace`, not queued. Replies
    /// with how many received it.
    Push {
        namespace: String,
        topic: TopicName,
        payload: Bytes,
        reply: oneshot::Sender<usize>,
    },
    /// Datapoints uploaded over HTTP as if the device had sent `$dp` (§11). Replies with the store op
    /// number to wait for.
    Ingest {
        device_id: String,
        namespace: String,
        payload: Bytes,
        upload: DpUpload,
        reply: oneshot::Sender<u64>,
    },
    /// Drops the session's queued (not in-flight) deliveries.
    ClearQueue {
        client_id: String,
        reply: oneshot::Sender<usize>,
    },
    SendCommand {
        device_id: String,
        body: Bytes,
        validity_s: u32,
        /// The API's qos (0 or 1, §7.2).
        qos: u8,
        reply: oneshot::Sender<Result<Command, CommandError>>,
    },
    /// A live (created or sent) command; final ones are in the store.
    LiveCommand {
        uuid: String,
        reply: oneshot::Sender<Option<Command>>,
    },
    Diagnostics {
        device_id: String,
        reply: oneshot::Sender<Vec<Diagnostic>>,
    },
}

impl RouterMsg {
    /// The bytes a connection's message holds while it waits in the router's mailbox, for its byte
    /// bound (`router::Hub`); the service's requests are not counted.
    pub fn weight(&self) -> usize {
        match self {
            RouterMsg::Conn(i) => i.weight(),
            RouterMsg::Batch(inputs) => inputs.iter().map(Input::weight).sum(),
            RouterMsg::Login(_, l) => l.weight(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A retained message's small payload is copied out of the read buffer it is a slice of (which it
    /// would otherwise keep alive whole); a large one, in a buffer of its own already, is shared.
    #[test]
    fn a_kept_message_lets_go_of_its_read_buffer() {
        let read = Bytes::from(vec![7u8; 16 * 1024]);
        let topic = crate::mqtt::TopicName::new("t").unwrap();
        let small = Message {
            topic: topic.clone(),
            payload: read.slice(100..120),
        };
        let kept = small.detached();
        assert_eq!(kept, small);
        let inside = read.as_ptr_range();
        assert!(
            !inside.contains(&kept.payload.as_ptr()),
            "still a slice of the read"
        );
        let big = Message {
            topic,
            payload: Bytes::from(vec![1u8; 64 * 1024]),
        };
        assert_eq!(big.detached().payload.as_ptr(), big.payload.as_ptr());
    }

    /// A lookup by [`SameClient`] finds the session from the key's own allocation (pointer), from another
    /// allocation of the same id (bytes), and not for another id; plain `&str` lookups still work.
    #[test]
    fn a_client_id_is_found_by_pointer_or_by_bytes() {
        let mut m: SessionMap<u32> = SessionMap::default();
        let key: Arc<str> = Arc::from("dev-1");
        m.insert(key.clone(), 7);
        assert_eq!(m.get(&SameClient(&key)), Some(&7));
        let other: Arc<str> = Arc::from("dev-1");
        assert!(!Arc::ptr_eq(&key, &other));
        assert_eq!(m.get(&SameClient(&other)), Some(&7));
        assert_eq!(m.get(&SameClient(&Arc::from("dev-2"))), None);
        assert_eq!(m.get("dev-1"), Some(&7));
    }
}
