//! MQTT 3.1.1 codec (OASIS standard, 29 October 2014).
//!
//! OneNET's legacy device protocol is plain MQTT 3.1.1, so the emulator
//! speaks exactly that and nothing of MQTT 5. The codec is sans-I/O: it turns
//! bytes into [`Packet`]s and back and knows nothing about sockets or
//! sessions, which keeps it testable byte by byte and lets the broker decide
//! policy (accepted protocol levels, client id rules, authentication).
//!
//! - [`mod@packet`]: the packet types (§2, §3), shaped so invalid states cannot
//!   be represented.
//! - [`mod@decode`]: two-stage framing ([`check`] then [`decode()`]) with errors
//!   that name the violated rule and the byte offset.
//! - [`mod@encode`]: [`Packet::encode`], strict 3.1.1 output.
//! - [`mod@topic`]: topic name/filter validation and matching (§4.7).
//! - [`mod@error`]: [`DecodeError`], [`EncodeError`].
//!
//! Section numbers (§x.y) and rule ids (`[MQTT-x.y.z-n]`) throughout refer
//! to the OASIS MQTT Version 3.1.1 specification.
//!
//! The codec faces untrusted network input, so the lints below turn "never
//! panics on any input" into something the compiler checks (tests opt out).

#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo
)]

pub mod decode;
pub mod encode;
pub mod error;
pub mod packet;
pub mod topic;

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
mod tests;

pub use decode::{
    Conformance, DecodeOptions, Decoded, FrameHeader, LastTopic, check, decode, decode_bytes,
    decode_slice, decode_stream, decode_stream_frameless, decode_with,
};
pub use encode::encode_publish;
pub use error::{DecodeError, EncodeError, MAX_REMAINING_LEN};
pub use packet::{
    ConnAck, Connect, ConnectReturnCode, LastWill, Packet, PacketType, Pid, Publish, QoS, QosPid,
    SubAck, SubackCode, Subscribe, Unsubscribe,
};
pub use topic::{TopicError, TopicFilter, TopicName, matches};
