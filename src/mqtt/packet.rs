//! MQTT 3.1.1 control packets as Rust values (OASIS standard, §2 and §3).
//!
//! The types are shaped so that a value which cannot appear on the wire
//! cannot be built either: a packet identifier is never 0 ([`Pid`]), a QoS 0
//! PUBLISH has no identifier and a QoS 1/2 one always has one ([`QosPid`]),
//! and topic names/filters are validated once at construction
//! ([`TopicName`], [`TopicFilter`]). That moves the checks to the edges (the
//! decoder and whoever builds packets) so the broker core never re-checks.
//!
//! Fields that the broker, not the codec, must judge (protocol level, client
//! identifier length, user name/password) are kept exactly as sent.

use std::fmt;
use std::num::NonZeroU16;

use bytes::Bytes;

pub use super::topic::{TopicFilter, TopicName};

/// Packet identifier (§2.3.1). Never 0 [MQTT-2.3.1-1].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid(NonZeroU16);

impl Pid {
    /// The first packet identifier a session hands out, and where the counter wraps to.
    pub const ONE: Pid = Pid(NonZeroU16::MIN);

    /// `None` for 0, which is not a valid packet identifier [MQTT-2.3.1-1].
    pub fn new(v: u16) -> Option<Pid> {
        NonZeroU16::new(v).map(Pid)
    }

    /// The identifier as sent on the wire.
    pub fn get(self) -> u16 {
        self.0.get()
    }

    /// The next identifier in sequence, wrapping 65535 -> 1 (0 is skipped).
    pub fn next(self) -> Pid {
        match self.0.checked_add(1) {
            Some(n) => Pid(n),
            None => Pid(NonZeroU16::MIN),
        }
    }
}

impl Default for Pid {
    /// Identifier 1, the first one a fresh session hands out.
    fn default() -> Self {
        Pid(NonZeroU16::MIN)
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// Quality of service level (§4.3). Ordered so `min(requested, granted)` works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum QoS {
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    /// `None` for 3 and above (QoS 3 is reserved, e.g. [MQTT-3.3.1-4]).
    pub fn from_u8(v: u8) -> Option<QoS> {
        match v {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }

    /// The wire value 0, 1 or 2.
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// QoS and packet identifier of a PUBLISH, fused (§3.3.1.2, §3.3.2.2): the
/// identifier is present if and only if QoS > 0 [MQTT-2.3.1-1], [MQTT-2.3.1-5].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QosPid {
    AtMostOnce,
    AtLeastOnce(Pid),
    ExactlyOnce(Pid),
}

impl QosPid {
    pub fn qos(&self) -> QoS {
        match self {
            QosPid::AtMostOnce => QoS::AtMostOnce,
            QosPid::AtLeastOnce(_) => QoS::AtLeastOnce,
            QosPid::ExactlyOnce(_) => QoS::ExactlyOnce,
        }
    }

    pub fn pid(&self) -> Option<Pid> {
        match self {
            QosPid::AtMostOnce => None,
            QosPid::AtLeastOnce(p) | QosPid::ExactlyOnce(p) => Some(*p),
        }
    }

    /// Combine a QoS with an identifier; the identifier is dropped for QoS 0.
    pub fn from_parts(qos: QoS, pid: Pid) -> QosPid {
        match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            QoS::AtLeastOnce => QosPid::AtLeastOnce(pid),
            QoS::ExactlyOnce => QosPid::ExactlyOnce(pid),
        }
    }
}

/// The Will Message of a CONNECT (§3.1.2.5 – §3.1.2.7, §3.1.3.2, §3.1.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    pub topic: TopicName,
    /// Binary, not necessarily UTF-8 (§3.1.3.3).
    pub message: Bytes,
    pub qos: QoS,
    pub retain: bool,
}

/// CONNECT (§3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// "MQTT" for 3.1.1, "MQIsdp" for 3.1 (§3.1.2.1).
    pub protocol_name: String,
    /// 4 for 3.1.1, 3 for 3.1. Kept as sent: the broker answers unsupported
    /// levels with CONNACK 0x01 [MQTT-3.1.2-2], so the codec must not reject them.
    pub level: u8,
    pub clean_session: bool,
    /// Seconds; 0 disables the keep-alive mechanism (§3.1.2.10).
    pub keep_alive: u16,
    /// May be empty or longer than 23 bytes; the broker decides (§3.1.3.1).
    pub client_id: String,
    pub will: Option<LastWill>,
    pub username: Option<String>,
    /// Binary data, 0..=65535 bytes (§3.1.3.5).
    pub password: Option<Bytes>,
}

/// CONNACK return code (§3.2.2.3, Table 3.1). Values 6–255 are reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ConnectReturnCode {
    Accepted = 0,
    UnacceptableProtocolVersion = 1,
    IdentifierRejected = 2,
    ServerUnavailable = 3,
    BadUserNameOrPassword = 4,
    NotAuthorized = 5,
}

impl ConnectReturnCode {
    /// `None` for the reserved values 6–255.
    pub fn from_u8(v: u8) -> Option<ConnectReturnCode> {
        match v {
            0 => Some(ConnectReturnCode::Accepted),
            1 => Some(ConnectReturnCode::UnacceptableProtocolVersion),
            2 => Some(ConnectReturnCode::IdentifierRejected),
            3 => Some(ConnectReturnCode::ServerUnavailable),
            4 => Some(ConnectReturnCode::BadUserNameOrPassword),
            5 => Some(ConnectReturnCode::NotAuthorized),
            _ => None,
        }
    }

    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// CONNACK (§3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnAck {
    pub session_present: bool,
    pub code: ConnectReturnCode,
}

/// PUBLISH (§3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos_pid: QosPid,
    pub retain: bool,
    pub topic: TopicName,
    /// The application message; may be empty (§3.3.3). When decoded from a
    /// `BytesMut` this is a slice of the received buffer, not a copy.
    pub payload: Bytes,
}

impl Publish {
    /// A PUBLISH with DUP and RETAIN clear; `pid` is ignored for QoS 0.
    pub fn new(topic: TopicName, qos: QoS, pid: Pid, payload: Bytes) -> Publish {
        Publish {
            dup: false,
            qos_pid: QosPid::from_parts(qos, pid),
            retain: false,
            topic,
            payload,
        }
    }
}

/// SUBSCRIBE (§3.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub pid: Pid,
    /// Topic filter and requested QoS pairs, in wire order (§3.8.3).
    pub filters: Vec<(TopicFilter, QoS)>,
}

/// One SUBACK return code (§3.9.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubackCode {
    /// 0x00, 0x01 or 0x02: the maximum QoS granted.
    Granted(QoS),
    /// 0x80.
    Failure,
}

impl SubackCode {
    /// `None` for every value other than 0x00, 0x01, 0x02, 0x80 [MQTT-3.9.3-2].
    pub fn from_u8(v: u8) -> Option<SubackCode> {
        match v {
            0x80 => Some(SubackCode::Failure),
            _ => QoS::from_u8(v).map(SubackCode::Granted),
        }
    }

    pub fn as_u8(self) -> u8 {
        match self {
            SubackCode::Granted(q) => q.as_u8(),
            SubackCode::Failure => 0x80,
        }
    }
}

/// SUBACK (§3.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    pub pid: Pid,
    /// One code per filter of the SUBSCRIBE, in the same order [MQTT-3.8.4-5].
    pub codes: Vec<SubackCode>,
}

/// UNSUBSCRIBE (§3.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub pid: Pid,
    pub filters: Vec<TopicFilter>,
}

/// Any MQTT 3.1.1 control packet (§2.2.1, Table 2.1).
///
/// `Connect` is boxed because it is by far the largest variant and appears
/// once per connection, while PUBLISH and the acks are the hot path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Connect(Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(Pid),
    PubRec(Pid),
    PubRel(Pid),
    PubComp(Pid),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(Pid),
    PingReq,
    PingResp,
    Disconnect,
}

impl Packet {
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect => PacketType::Disconnect,
        }
    }
}

/// Control packet type, the high nibble of byte 0 (§2.2.1, Table 2.1).
/// 0 and 15 are reserved and have no variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
}

impl PacketType {
    /// The type encoded in the high nibble of a fixed header's first byte;
    /// `None` for the reserved types 0 and 15. Flags are not looked at.
    pub fn from_first_byte(b: u8) -> Option<PacketType> {
        Some(match b >> 4 {
            1 => PacketType::Connect,
            2 => PacketType::ConnAck,
            3 => PacketType::Publish,
            4 => PacketType::PubAck,
            5 => PacketType::PubRec,
            6 => PacketType::PubRel,
            7 => PacketType::PubComp,
            8 => PacketType::Subscribe,
            9 => PacketType::SubAck,
            10 => PacketType::Unsubscribe,
            11 => PacketType::UnsubAck,
            12 => PacketType::PingReq,
            13 => PacketType::PingResp,
            14 => PacketType::Disconnect,
            _ => return None,
        })
    }

    /// The spec's upper-case name, e.g. "CONNECT".
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Connect => "CONNECT",
            PacketType::ConnAck => "CONNACK",
            PacketType::Publish => "PUBLISH",
            PacketType::PubAck => "PUBACK",
            PacketType::PubRec => "PUBREC",
            PacketType::PubRel => "PUBREL",
            PacketType::PubComp => "PUBCOMP",
            PacketType::Subscribe => "SUBSCRIBE",
            PacketType::SubAck => "SUBACK",
            PacketType::Unsubscribe => "UNSUBSCRIBE",
            PacketType::UnsubAck => "UNSUBACK",
            PacketType::PingReq => "PINGREQ",
            PacketType::PingResp => "PINGRESP",
            PacketType::Disconnect => "DISCONNECT",
        }
    }

    /// The spec section describing this packet, e.g. "§3.1" for CONNECT.
    pub fn section(self) -> &'static str {
        match self {
            PacketType::Connect => "§3.1",
            PacketType::ConnAck => "§3.2",
            PacketType::Publish => "§3.3",
            PacketType::PubAck => "§3.4",
            PacketType::PubRec => "§3.5",
            PacketType::PubRel => "§3.6",
            PacketType::PubComp => "§3.7",
            PacketType::Subscribe => "§3.8",
            PacketType::SubAck => "§3.9",
            PacketType::Unsubscribe => "§3.10",
            PacketType::UnsubAck => "§3.11",
            PacketType::PingReq => "§3.12",
            PacketType::PingResp => "§3.13",
            PacketType::Disconnect => "§3.14",
        }
    }

    /// The fixed-header flags (low nibble of byte 0) the spec requires, or
    /// `None` for PUBLISH whose flags carry DUP/QoS/RETAIN (§2.2.2, Table 2.2).
    pub fn required_flags(self) -> Option<u8> {
        match self {
            PacketType::Publish => None,
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => Some(0b0010),
            _ => Some(0b0000),
        }
    }

    /// The body length if the spec fixes it (§3.2.1, §3.4.1 – §3.7.1,
    /// §3.11.1, §3.12.1 – §3.14.1), `None` for variable-length packets.
    pub fn fixed_body_len(self) -> Option<usize> {
        match self {
            PacketType::ConnAck
            | PacketType::PubAck
            | PacketType::PubRec
            | PacketType::PubRel
            | PacketType::PubComp
            | PacketType::UnsubAck => Some(2),
            PacketType::PingReq | PacketType::PingResp | PacketType::Disconnect => Some(0),
            _ => None,
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
