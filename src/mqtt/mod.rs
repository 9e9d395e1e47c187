//! MQTT 3.1.1 codec (OASIS standard, 29 October 2014).
//!
//! OneNET's legacy device protocol is plain MQTT 3.1.1, so the emulator
//! speaks exactly that and nothing of MQTT 5. The codec is sans-I/O: it turns
//! bytes into [`Packet`]s and back and knows nothing about sockets or
//! sessions, which keeps it testable byte by byte and lets the broker decide
//! policy (accepted protocol levels, client id rules, authentication).
//!
//! - [`packet`]: the packet types (§2, §3), shaped so invalid states cannot
//!   be represented.
//! - [`decode`]: two-stage framing ([`check`] then [`decode()`]) with errors
//!   that name the violated rule and the byte offset.
//! - [`encode`]: [`Packet::encode`], strict 3.1.1 output.
//! - [`topic`]: topic name/filter validation and matching (§4.7).
//! - [`error`]: [`DecodeError`], [`EncodeError`].
//!
//! Section numbers (§x.y) and rule ids (`[MQTT-x.y.z-n]`) throughout refer
//! to the OASIS MQTT Version 3.1.1 specification.

pub mod decode;
pub mod encode;
pub mod error;
pub mod packet;
pub mod topic;

#[cfg(test)]
mod tests;

pub use decode::{Conformance, Decoded, FrameHeader, check, decode, decode_slice};
pub use error::{DecodeError, EncodeError, MAX_REMAINING_LEN};
pub use packet::{
    ConnAck, Connect, ConnectReturnCode, LastWill, Packet, PacketType, Pid, Publish, QoS, QosPid,
    SubAck, SubackCode, Subscribe, Unsubscribe,
};
pub use topic::{TopicError, TopicFilter, TopicName, matches};
