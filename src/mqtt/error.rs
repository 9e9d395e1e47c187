//! Decode and encode errors.
//!
//! A decode error is what a device developer sees when the broker drops
//! their connection, so each one says which rule was broken, in which
//! packet, and at which byte. The byte offset counts from the first byte of
//! the fixed header (byte 0), so it can be read straight off a hex dump of
//! the packet. Where the spec has a normative statement the error carries
//! its id (e.g. `MQTT-3.8.1-1`); where it only describes the format without
//! a numbered statement (reserved packet types, the remaining-length
//! encoding, fixed body lengths) the error carries the section instead. The
//! message always starts with one of the two in brackets.

use super::packet::PacketType;
use super::topic::TopicError;

/// Largest value the 4-byte remaining-length encoding can hold (§2.2.3).
pub const MAX_REMAINING_LEN: usize = 268_435_455;

/// Why bytes received from a client are not an MQTT 3.1.1 packet we accept.
/// Every variant is fatal for the connection (§4.8).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Packet type 0 or 15 (§2.2.1, Table 2.1: "Forbidden").
    #[error("[{tag}] packet type {ty} is reserved (first byte 0x{byte:02X}) (byte 0)", tag = self.tag(), ty = byte >> 4)]
    ReservedPacketType { byte: u8 },

    /// Fixed-header flags other than those of Table 2.2 (§2.2.2).
    #[error(
        "[{rule}] {packet}: fixed header flags are {flags:04b}, must be {expected:04b} (byte 0)"
    )]
    InvalidFlags {
        packet: PacketType,
        flags: u8,
        expected: u8,
        rule: &'static str,
    },

    /// PUBLISH with both QoS bits set [MQTT-3.3.1-4].
    #[error("[{tag}] PUBLISH: QoS bits are 11; QoS 3 does not exist (first byte 0x{byte:02X}) (byte 0)", tag = self.tag())]
    PublishQos3 { byte: u8 },

    /// PUBLISH with QoS 0 and DUP 1 [MQTT-3.3.1-2].
    #[error("[{tag}] PUBLISH: DUP is 1 on a QoS 0 message (first byte 0x{byte:02X}) (byte 0)", tag = self.tag())]
    PublishDupQos0 { byte: u8 },

    /// The 4th remaining-length byte has its continuation bit set (§2.2.3).
    #[error("[{tag}] remaining length does not end within 4 bytes: byte 4 has the continuation bit set (byte 4)", tag = self.tag())]
    RemainingLengthOverflow,

    /// `size` = fixed header + remaining length exceeds the configured limit.
    /// Reported from the header alone, before the body is buffered.
    #[error("[{tag}] packet would be {size} bytes (fixed header + remaining length), over the limit of {max} (byte 1)", tag = self.tag())]
    TooLarge { size: usize, max: usize },

    /// A packet whose body length the spec fixes arrived with another one.
    #[error("[{tag}] {packet}: remaining length is {actual}, must be {expected} (byte 1)", tag = self.tag())]
    BadLength {
        packet: PacketType,
        expected: usize,
        actual: usize,
    },

    /// Packet identifier 0 [MQTT-2.3.1-1].
    #[error("[{tag}] {packet}: packet identifier is 0 (byte {offset})", tag = self.tag())]
    ZeroPid { packet: PacketType, offset: usize },

    /// The packet ends inside a field (or a length prefix points past its end).
    /// `offset` is where the field (or its length prefix) starts.
    #[error(
        "[{tag}] {packet}: {field}{part} needs {needed} bytes but only {available} remain in the packet (byte {offset})",
        tag = self.tag(),
        part = if *in_length_prefix { " length prefix" } else { "" }
    )]
    Truncated {
        packet: PacketType,
        field: &'static str,
        in_length_prefix: bool,
        offset: usize,
        needed: usize,
        available: usize,
        rule: Option<&'static str>,
    },

    /// Ill-formed UTF-8 in a string field [MQTT-1.5.3-1]; `offset` is the
    /// first byte that is not part of a valid sequence.
    #[error("[{tag}] {packet}: {field} is not valid UTF-8 (byte {offset})", tag = self.tag())]
    InvalidUtf8 {
        packet: PacketType,
        field: &'static str,
        offset: usize,
    },

    /// U+0000 in a string field [MQTT-1.5.3-2]; `offset` is the 0x00 byte.
    #[error("[{tag}] {packet}: {field} contains U+0000 (byte {offset})", tag = self.tag())]
    NullChar {
        packet: PacketType,
        field: &'static str,
        offset: usize,
    },

    /// CONNECT protocol name is neither "MQTT" nor "MQIsdp" [MQTT-3.1.2-1].
    #[error("[{tag}] CONNECT: protocol name is {name:?}, must be \"MQTT\" (or \"MQIsdp\" for 3.1) (byte {offset})", tag = self.tag())]
    ProtocolName { name: String, offset: usize },

    /// CONNECT flags bit 0 set [MQTT-3.1.2-3].
    #[error("[{tag}] CONNECT: reserved connect flag (bit 0) is 1 (byte {offset})", tag = self.tag())]
    ConnectReservedFlag { offset: usize },

    /// Will QoS not 0 while the will flag is 0 [MQTT-3.1.2-13].
    #[error("[{tag}] CONNECT: will QoS is {qos} but the will flag is 0 (byte {offset})", tag = self.tag())]
    WillQosWithoutWill { qos: u8, offset: usize },

    /// Will retain 1 while the will flag is 0 [MQTT-3.1.2-15].
    #[error("[{tag}] CONNECT: will retain is 1 but the will flag is 0 (byte {offset})", tag = self.tag())]
    WillRetainWithoutWill { offset: usize },

    /// Will QoS 3 [MQTT-3.1.2-14].
    #[error("[{tag}] CONNECT: will QoS is 3 (byte {offset})", tag = self.tag())]
    WillQos3 { offset: usize },

    /// Password flag 1 with user name flag 0 [MQTT-3.1.2-22].
    #[error("[{tag}] CONNECT: password flag is 1 but user name flag is 0 (byte {offset})", tag = self.tag())]
    PasswordWithoutUsername { offset: usize },

    /// Bytes left after the last field the flags announce.
    #[error("[{tag}] {packet}: {count} unexpected bytes after the last field (byte {offset})", tag = self.tag())]
    TrailingBytes {
        packet: PacketType,
        offset: usize,
        count: usize,
    },

    /// SUBSCRIBE/UNSUBSCRIBE without a topic filter [MQTT-3.8.3-3]
    /// [MQTT-3.10.3-2], or a SUBACK without a return code.
    #[error(
        "[{tag}] {packet}: payload is empty, at least one {what} is required (byte {offset})",
        tag = self.tag(),
        what = if *packet == PacketType::SubAck { "return code" } else { "topic filter" }
    )]
    EmptyPayload { packet: PacketType, offset: usize },

    /// Requested QoS byte with reserved bits set or QoS 3 [MQTT-3-8.3-4].
    #[error("[{tag}] SUBSCRIBE: requested QoS byte is 0x{byte:02X}; bits 7-2 must be 0 and QoS at most 2 (byte {offset})", tag = self.tag())]
    SubscribeQos { byte: u8, offset: usize },

    /// Invalid topic name or filter; the rule comes from `source`. `offset`
    /// is the offending character, or the length prefix for an empty topic.
    #[error("[{rule}] {packet}: {field} {problem} (byte {offset})", rule = source.rule(), problem = source.problem())]
    InvalidTopic {
        packet: PacketType,
        field: &'static str,
        offset: usize,
        source: TopicError,
    },

    /// SUBACK return code other than 0x00, 0x01, 0x02, 0x80 [MQTT-3.9.3-2].
    #[error("[{tag}] SUBACK: return code 0x{code:02X} is reserved; only 0x00, 0x01, 0x02 and 0x80 are allowed (byte {offset})", tag = self.tag())]
    SubackCode { code: u8, offset: usize },

    /// CONNACK acknowledge flags with bits 7-1 set (§3.2.2.1).
    #[error("[{tag}] CONNACK: acknowledge flags are 0x{flags:02X}; bits 7-1 are reserved and must be 0 (byte {offset})", tag = self.tag())]
    ConnAckFlags { flags: u8, offset: usize },

    /// CONNACK return code 6-255 (§3.2.2.3, Table 3.1: reserved).
    #[error("[{tag}] CONNACK: return code {code} is reserved; only 0-5 are defined (byte {offset})", tag = self.tag())]
    ConnAckCode { code: u8, offset: usize },
}

impl DecodeError {
    /// The normative statement violated, e.g. `Some("MQTT-3.8.1-1")`.
    /// `None` where the spec describes the format without a numbered
    /// statement; [`DecodeError::section`] names the place then.
    pub fn rule(&self) -> Option<&'static str> {
        use DecodeError as E;
        match self {
            E::InvalidFlags { rule, .. } => Some(rule),
            E::PublishQos3 { .. } => Some("MQTT-3.3.1-4"),
            E::PublishDupQos0 { .. } => Some("MQTT-3.3.1-2"),
            E::ZeroPid { .. } => Some("MQTT-2.3.1-1"),
            E::Truncated { rule, .. } => *rule,
            E::InvalidUtf8 { .. } => Some("MQTT-1.5.3-1"),
            E::NullChar { .. } => Some("MQTT-1.5.3-2"),
            E::ProtocolName { .. } => Some("MQTT-3.1.2-1"),
            E::ConnectReservedFlag { .. } => Some("MQTT-3.1.2-3"),
            E::WillQosWithoutWill { .. } => Some("MQTT-3.1.2-13"),
            E::WillRetainWithoutWill { .. } => Some("MQTT-3.1.2-15"),
            E::WillQos3 { .. } => Some("MQTT-3.1.2-14"),
            E::PasswordWithoutUsername { .. } => Some("MQTT-3.1.2-22"),
            E::EmptyPayload { packet, .. } => match packet {
                PacketType::Subscribe => Some("MQTT-3.8.3-3"),
                PacketType::Unsubscribe => Some("MQTT-3.10.3-2"),
                _ => None,
            },
            // Spelled as in the OASIS document (sic), so a search finds it.
            E::SubscribeQos { .. } => Some("MQTT-3-8.3-4"),
            E::InvalidTopic { source, .. } => Some(source.rule()),
            E::SubackCode { .. } => Some("MQTT-3.9.3-2"),
            E::ReservedPacketType { .. }
            | E::RemainingLengthOverflow
            | E::TooLarge { .. }
            | E::BadLength { .. }
            | E::TrailingBytes { .. }
            | E::ConnAckFlags { .. }
            | E::ConnAckCode { .. } => None,
        }
    }

    /// The spec section that defines what was violated, e.g. "§2.2.3".
    pub fn section(&self) -> &'static str {
        use DecodeError as E;
        match self {
            E::ReservedPacketType { .. } => "§2.2.1",
            E::InvalidFlags { .. } => "§2.2.2",
            E::PublishQos3 { .. } | E::PublishDupQos0 { .. } => "§3.3.1",
            E::RemainingLengthOverflow | E::TooLarge { .. } => "§2.2.3",
            E::ZeroPid { .. } => "§2.3.1",
            E::InvalidUtf8 { .. } | E::NullChar { .. } => "§1.5.3",
            E::ProtocolName { .. }
            | E::ConnectReservedFlag { .. }
            | E::WillQosWithoutWill { .. }
            | E::WillRetainWithoutWill { .. }
            | E::WillQos3 { .. }
            | E::PasswordWithoutUsername { .. } => "§3.1.2",
            E::SubscribeQos { .. } => "§3.8.3",
            E::InvalidTopic { .. } => "§4.7",
            E::SubackCode { .. } => "§3.9.3",
            E::ConnAckFlags { .. } => "§3.2.2.1",
            E::ConnAckCode { .. } => "§3.2.2.3",
            E::BadLength { packet, .. }
            | E::Truncated { packet, .. }
            | E::TrailingBytes { packet, .. }
            | E::EmptyPayload { packet, .. } => packet.section(),
        }
    }

    /// Byte offset of the problem, counted from the first fixed-header byte.
    pub fn offset(&self) -> usize {
        use DecodeError as E;
        match self {
            E::ReservedPacketType { .. }
            | E::InvalidFlags { .. }
            | E::PublishQos3 { .. }
            | E::PublishDupQos0 { .. } => 0,
            E::TooLarge { .. } | E::BadLength { .. } => 1,
            E::RemainingLengthOverflow => 4,
            E::ZeroPid { offset, .. }
            | E::Truncated { offset, .. }
            | E::InvalidUtf8 { offset, .. }
            | E::NullChar { offset, .. }
            | E::ProtocolName { offset, .. }
            | E::ConnectReservedFlag { offset }
            | E::WillQosWithoutWill { offset, .. }
            | E::WillRetainWithoutWill { offset }
            | E::WillQos3 { offset }
            | E::PasswordWithoutUsername { offset }
            | E::TrailingBytes { offset, .. }
            | E::EmptyPayload { offset, .. }
            | E::SubscribeQos { offset, .. }
            | E::InvalidTopic { offset, .. }
            | E::SubackCode { offset, .. }
            | E::ConnAckFlags { offset, .. }
            | E::ConnAckCode { offset, .. } => *offset,
        }
    }

    /// The bracketed prefix of the message: the rule if any, else the section.
    fn tag(&self) -> &'static str {
        self.rule().unwrap_or_else(|| self.section())
    }
}

/// Why a packet value cannot be put on the wire. The encoder only refuses
/// what the format cannot represent; it will encode e.g. a CONNECT with an
/// unknown protocol name so that tests can exercise the broker's checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A length-prefixed string or binary field over 65535 bytes (§1.5.3).
    #[error(
        "[§1.5.3] {packet}: {field} is {len} bytes; a length-prefixed field holds at most 65535"
    )]
    FieldTooLong {
        packet: PacketType,
        field: &'static str,
        len: usize,
    },
    /// Remaining length over 268,435,455 (§2.2.3).
    #[error(
        "[§2.2.3] {packet}: remaining length would be {remaining_len}; at most 268435455 can be encoded"
    )]
    TooLarge {
        packet: PacketType,
        remaining_len: usize,
    },
}
