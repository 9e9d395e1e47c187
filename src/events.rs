//! Events for the console (and any other watcher): what happened in the broker, as it happens.
//!
//! One `broadcast` channel: the broker never waits for a reader. A reader that falls behind by more than
//! the channel holds is told how many events it missed ([`Received::Missed`]) and continues from the
//! oldest still held, so a slow console can show "N dropped" rather than slowing the devices.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::onenet::commands::Command;
use crate::onenet::datapoint::{Datapoint, DpError, DpUpload};
use crate::onenet::diagnostics::Diagnostic;

/// Direction of a packet on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

/// One `$dp` upload as stored: the device, its arrival time (Unix ms) and the upload the connection decoded.
///
/// The upload is decoded once, by the connection that read it, and shared (`Arc`) by the store's insert,
/// the datapoint event and the traffic view's packet event; nothing copies its points.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPoints {
    pub device_id: String,
    pub received_at: i64,
    pub upload: Arc<DpUpload>,
}

impl StoredPoints {
    /// An upload of `points` of type `dp_type`, built from parts (tests; the broker shares the connection's).
    pub fn new(device_id: String, received_at: i64, dp_type: u8, points: Vec<Datapoint>) -> Self {
        StoredPoints {
            device_id,
            received_at,
            upload: Arc::new(DpUpload { dp_type, points }),
        }
    }

    /// The `$dp` type, 1–7.
    pub fn dp_type(&self) -> u8 {
        self.upload.dp_type
    }

    /// The datapoints in payload order.
    pub fn points(&self) -> &[Datapoint] {
        &self.upload.points
    }

    /// A point's time: its own (device time), else the upload's arrival (§6: the platform stamps
    /// points sent without one).
    pub fn at(&self, p: &Datapoint) -> i64 {
        p.at.unwrap_or(self.received_at)
    }
}

/// The connection's decoding of an inbound `$dp` payload, shared by the router and the packet event.
pub type SharedDp = Result<Arc<DpUpload>, DpError>;

#[derive(Debug, Clone)]
pub enum Event {
    Connected {
        client_id: String,
        namespace: String,
        remote: String,
        clean_session: bool,
        keep_alive: u16,
        session_present: bool,
    },
    Disconnected {
        client_id: String,
        reason: String,
    },
    /// `qos` None: unsubscribed.
    Subscription {
        client_id: String,
        filter: String,
        qos: Option<u8>,
    },
    Datapoints(Arc<StoredPoints>),
    Command(Box<Command>),
    Retained {
        namespace: String,
        topic: String,
        present: bool,
    },
    /// Messages waiting for an offline (or busy) session; `dropped` counts those discarded by the
    /// offline rules (older than the age limit, beyond the count limit, queue full).
    OfflineQueue {
        client_id: String,
        queued: usize,
        dropped: u64,
    },
    Diagnostic(Box<Diagnostic>),
    /// The store cannot commit (`error`: the store's error and the data dir, e.g. disk full), so nothing
    /// that depends on it is acknowledged; `None` once it commits again.
    StoreStatus {
        error: Option<String>,
    },
    /// Every packet on the wire, with its bytes (only produced while someone listens). `bytes` is the
    /// frame exactly, copied once from the socket's buffer (so an event never keeps a read buffer alive);
    /// `dp` is the connection's own decoding of an inbound `$dp` upload (with the configured UTC offset
    /// and limits), so the traffic view shows what the broker stored without decoding it again.
    Packet {
        at: i64,
        client_id: Option<String>,
        direction: Direction,
        bytes: Bytes,
        dp: Option<SharedDp>,
    },
}

/// What a reader gets.
#[derive(Debug, Clone)]
pub enum Received {
    Event(Event),
    /// The reader was too slow: this many events were dropped for it.
    Missed(u64),
}

/// The sending side; cheap to clone.
#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
    /// Live readers, counted here because the channel's own count takes its lock, and the router and
    /// every connection ask at each turn.
    readers: Arc<AtomicUsize>,
}

/// Events held for slow readers before they start missing some.
pub const EVENT_BUFFER: usize = 65_536;

impl Events {
    pub fn new() -> Events {
        Events {
            tx: broadcast::channel(EVENT_BUFFER).0,
            readers: Arc::default(),
        }
    }

    /// Sends to whoever listens; nobody listening is fine (and costs no lock).
    pub fn send(&self, e: Event) {
        if self.watched() {
            let _ = self.tx.send(e);
        }
    }

    /// True when a reader exists: packet events are only built then. A reader counts from before it
    /// subscribes, so an event skipped because nobody counted was sent before the reader subscribed or
    /// while it did, which a broadcast does not promise to deliver either.
    pub fn watched(&self) -> bool {
        self.readers.load(Ordering::SeqCst) > 0
    }

    pub fn subscribe(&self) -> EventReceiver {
        self.readers.fetch_add(1, Ordering::SeqCst);
        EventReceiver {
            rx: self.tx.subscribe(),
            readers: self.readers.clone(),
        }
    }
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

/// A reader of events.
pub struct EventReceiver {
    rx: broadcast::Receiver<Event>,
    readers: Arc<AtomicUsize>,
}

impl Drop for EventReceiver {
    fn drop(&mut self) {
        self.readers.fetch_sub(1, Ordering::SeqCst);
    }
}

impl EventReceiver {
    /// The next event, or how many were missed. None once the service is gone.
    pub async fn recv(&mut self) -> Option<Received> {
        match self.rx.recv().await {
            Ok(e) => Some(Received::Event(e)),
            Err(broadcast::error::RecvError::Lagged(n)) => Some(Received::Missed(n)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// Non-blocking: for a UI frame that drains what is there.
    pub fn try_recv(&mut self) -> Option<Received> {
        match self.rx.try_recv() {
            Ok(e) => Some(Received::Event(e)),
            Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Received::Missed(n)),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packet events are built only while someone reads: the count follows readers as they come and go.
    #[tokio::test]
    async fn watched_while_a_reader_lives() {
        let ev = Events::new();
        assert!(!ev.watched());
        let a = ev.subscribe();
        let mut b = ev.clone().subscribe();
        assert!(ev.watched());
        drop(a);
        assert!(ev.watched(), "one reader left");
        ev.send(Event::StoreStatus { error: None });
        assert!(matches!(
            b.try_recv(),
            Some(Received::Event(Event::StoreStatus { error: None }))
        ));
        drop(b);
        assert!(!ev.watched());
        ev.send(Event::StoreStatus { error: None });
        let mut c = ev.subscribe();
        assert!(c.try_recv().is_none(), "sent before it subscribed");
    }

    #[tokio::test]
    async fn a_slow_reader_is_told_how_many_it_missed() {
        let ev = Events::new();
        let mut rx = ev.subscribe();
        assert!(ev.watched());
        for i in 0..(EVENT_BUFFER + 5) {
            ev.send(Event::Disconnected {
                client_id: i.to_string(),
                reason: String::new(),
            });
        }
        match rx.recv().await {
            Some(Received::Missed(n)) => assert_eq!(n, 5),
            other => panic!("expected Missed, got {other:?}"),
        }
        match rx.recv().await {
            Some(Received::Event(Event::Disconnected { client_id, .. })) => {
                assert_eq!(client_id, "5")
            }
            other => panic!("{other:?}"),
        }
    }
}
