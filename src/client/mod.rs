//! The project's own asynchronous MQTT 3.1.1 client, over real TCP and the crate's codec ([`crate::mqtt`]).
//!
//! One implementation serves the simulator ([`crate::sim`]), record & replay ([`crate::record`]), the load
//! generator (`examples/loadgen.rs`) and the tests, so virtual devices put exactly the bytes on the wire that
//! the codec the broker trusts produces.
//!
//! - [`Client`] (`handle`): a cheap-to-clone handle; `publish` at QoS 0/1/2 with an in-flight window (the
//!   call waits for a free slot, the returned [`Delivery`] resolves on PUBACK / PUBCOMP), `subscribe`,
//!   `unsubscribe`, `ping` (a PINGREQ/PINGRESP round trip, also usable as a barrier), `disconnect`.
//! - [`Incoming`]: the bounded stream of what the broker sends (PUBLISH, already acknowledged unless a fault
//!   says otherwise). When nobody reads it the driver stops reading the socket: back-pressure reaches the
//!   broker through TCP instead of piling up in memory here.
//! - `driver`: the one task that owns the socket, packet identifiers, the in-flight table and keepalive.
//! - [`Framed`] (`framed`): packet-level I/O without any protocol logic, for replay and raw tests.
//! - [`ClientError`]: every failure typed.

mod driver;
mod framed;
mod handle;
mod options;

pub use framed::Framed;
pub use handle::{Client, Delivery, Incoming, connect};
pub use options::ConnectOptions;

use crate::mqtt::{ConnectReturnCode, DecodeError, EncodeError, PacketType, TopicError};

/// Largest packet the client accepts from a broker (the broker's own default limit).
pub const DEFAULT_MAX_PACKET: usize = 4 * 1024 * 1024;

/// Why a client operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("I/O error: {0}")]
    Io(String),
    #[error("the broker refused the connection: CONNACK code {} ({code:?})", code.as_u8())]
    Refused { code: ConnectReturnCode },
    #[error("the broker sent {got} where {expected} was expected")]
    Unexpected {
        expected: &'static str,
        got: PacketType,
    },
    #[error("the broker sent a malformed packet: {0}")]
    Decode(#[from] DecodeError),
    #[error("cannot encode the packet: {0}")]
    Encode(#[from] EncodeError),
    #[error("invalid topic: {0}")]
    Topic(#[from] TopicError),
    #[error("no answer from the broker within {0:?}")]
    Timeout(std::time::Duration),
    #[error("the connection is closed{}", .0.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Closed(Option<String>),
    #[error("invalid option: {0}")]
    Invalid(String),
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::Io(e.to_string())
    }
}
