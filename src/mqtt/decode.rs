//! Decoding MQTT 3.1.1 packets from a byte stream (§2, §3).
//!
//! Framing is two-stage because a broker reads from sockets it does not
//! trust: [`check`] looks only at the fixed header (§2.2) and rejects a bad
//! first byte or an oversized packet as soon as those bytes are there, before
//! a single byte of the body is buffered. [`decode`] then waits until the
//! whole packet is in the buffer and parses it. "Need more bytes" is
//! `Ok(None)`, never an error, and leaves the buffer alone.
//!
//! The decoder is strict about the wire format, with one documented
//! exception: OneNET's official C SDK sends SUBSCRIBE, UNSUBSCRIBE and
//! PUBREL with fixed-header flags 0000 instead of 0010. Those are accepted
//! and reported through [`Decoded::conformance`] so the broker can log them.
//!
//! Nothing here panics on any input: all reads go through a bounds-checked
//! `Reader`, which turns a short packet into [`DecodeError::Truncated`].

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::error::DecodeError;
use super::packet::{
    ConnAck, Connect, ConnectReturnCode, LastWill, Packet, PacketType, Pid, Publish, QoS, QosPid,
    SubAck, SubackCode, Subscribe, TopicFilter, TopicName, Unsubscribe,
};
use super::topic::TopicError;

/// The fixed header (§2.2) of a packet whose first byte has been validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Packet type and flags (§2.2.1, §2.2.2).
    pub first_byte: u8,
    /// Bytes of fixed header: 1 + 1..=4 bytes of remaining length, so 2..=5.
    pub header_len: usize,
    /// The remaining length (§2.2.3): variable header + payload.
    pub remaining_len: usize,
}

impl FrameHeader {
    /// Whole packet size in bytes, what a reader has to buffer.
    pub fn total_len(&self) -> usize {
        self.header_len + self.remaining_len
    }

    /// The packet type; `None` only for a hand-built header with type 0/15.
    pub fn packet_type(&self) -> Option<PacketType> {
        PacketType::from_first_byte(self.first_byte)
    }

    /// The accepted deviation this header carries, if any.
    pub fn conformance(&self) -> Option<Conformance> {
        check_first_byte(self.first_byte).ok().and_then(|(_, c)| c)
    }
}

/// A deviation from the letter of the spec that the decoder accepts because
/// real OneNET devices produce it. The broker should log it, not drop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conformance {
    /// SUBSCRIBE with fixed-header flags 0000 (first byte 0x80) [MQTT-3.8.1-1].
    SubscribeFlags0000,
    /// UNSUBSCRIBE with fixed-header flags 0000 (first byte 0xA0) [MQTT-3.10.1-1].
    UnsubscribeFlags0000,
    /// PUBREL with fixed-header flags 0000 (first byte 0x60) [MQTT-3.6.1-1].
    PubRelFlags0000,
}

impl Conformance {
    /// The normative statement that is not met.
    pub fn rule(self) -> &'static str {
        match self {
            Conformance::SubscribeFlags0000 => "MQTT-3.8.1-1",
            Conformance::UnsubscribeFlags0000 => "MQTT-3.10.1-1",
            Conformance::PubRelFlags0000 => "MQTT-3.6.1-1",
        }
    }

    pub fn packet_type(self) -> PacketType {
        match self {
            Conformance::SubscribeFlags0000 => PacketType::Subscribe,
            Conformance::UnsubscribeFlags0000 => PacketType::Unsubscribe,
            Conformance::PubRelFlags0000 => PacketType::PubRel,
        }
    }
}

impl fmt::Display for Conformance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] {} sent with fixed header flags 0000 instead of 0010; accepted because OneNET's official C SDK does this",
            self.rule(),
            self.packet_type()
        )
    }
}

/// One decoded packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub packet: Packet,
    /// Bytes consumed: fixed header + remaining length.
    pub len: usize,
    /// Set when the packet was accepted despite a known deviation.
    pub conformance: Option<Conformance>,
}

/// Validates the first byte (§2.2.1 type, §2.2.2 flags).
fn check_first_byte(byte: u8) -> Result<(PacketType, Option<Conformance>), DecodeError> {
    let Some(packet) = PacketType::from_first_byte(byte) else {
        return Err(DecodeError::ReservedPacketType { byte });
    };
    let flags = byte & 0x0F;
    let (rule, lenient) = match packet {
        // §3.3.1: DUP (bit 3), QoS (bits 2-1), RETAIN (bit 0).
        PacketType::Publish => {
            let qos = (flags >> 1) & 0b11;
            if qos == 3 {
                return Err(DecodeError::PublishQos3 { byte });
            }
            if qos == 0 && flags & 0b1000 != 0 {
                return Err(DecodeError::PublishDupQos0 { byte });
            }
            return Ok((packet, None));
        }
        PacketType::PubRel => ("MQTT-3.6.1-1", Some(Conformance::PubRelFlags0000)),
        PacketType::Subscribe => ("MQTT-3.8.1-1", Some(Conformance::SubscribeFlags0000)),
        PacketType::Unsubscribe => ("MQTT-3.10.1-1", Some(Conformance::UnsubscribeFlags0000)),
        _ => ("MQTT-2.2.2-1", None),
    };
    let expected = packet.required_flags().unwrap_or(0);
    if flags == expected {
        Ok((packet, None))
    } else if flags == 0 && lenient.is_some() {
        Ok((packet, lenient))
    } else {
        Err(DecodeError::InvalidFlags {
            packet,
            flags,
            expected,
            rule,
        })
    }
}

/// Reads and validates the fixed header at the start of `buf` (§2.2).
///
/// `Ok(None)`: the header is not complete yet. Errors are reported as soon
/// as the bytes that prove them are present: first byte problems after one
/// byte, [`DecodeError::TooLarge`] and [`DecodeError::BadLength`] as soon as
/// the remaining length is known, whether or not the body has arrived.
pub fn check(buf: &[u8], max_packet: usize) -> Result<Option<FrameHeader>, DecodeError> {
    let Some(&first_byte) = buf.first() else {
        return Ok(None);
    };
    let (packet, _) = check_first_byte(first_byte)?;
    // §2.2.3: 7 bits per byte, least significant group first, bit 7 = more.
    let mut remaining_len = 0usize;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else {
            return Ok(None);
        };
        remaining_len |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            let header_len = 2 + i;
            if let Some(expected) = packet.fixed_body_len()
                && remaining_len != expected
            {
                return Err(DecodeError::BadLength {
                    packet,
                    expected,
                    actual: remaining_len,
                });
            }
            let size = header_len + remaining_len;
            if size > max_packet {
                return Err(DecodeError::TooLarge {
                    size,
                    max: max_packet,
                });
            }
            return Ok(Some(FrameHeader {
                first_byte,
                header_len,
                remaining_len,
            }));
        }
    }
    Err(DecodeError::RemainingLengthOverflow)
}

/// Decodes one packet from the front of `buf`.
///
/// On `Ok(Some)` the packet's bytes are split off `buf` and frozen, so a
/// PUBLISH payload, will message and password are slices of the received
/// buffer rather than copies. On `Ok(None)` `buf` is untouched. On `Err` the
/// contents of `buf` are unspecified: the connection must be closed.
pub fn decode(buf: &mut BytesMut, max_packet: usize) -> Result<Option<Decoded>, DecodeError> {
    decode_with(buf, max_packet, DecodeOptions::default())
}

/// How strict [`decode_with`] is where a profile needs it to differ from MQTT 3.1.1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Accept a SUBSCRIBE / UNSUBSCRIBE filter whose `+` or `#` does not occupy a whole level
    /// (`room#1`, `a+/b`) instead of failing the packet: OneNET refuses that one filter with SUBACK 0x80
    /// and grants the others (spec §13). The caller must refuse such filters (they are never valid for
    /// matching); [`TopicFilter::has_wildcards`] is true for them.
    pub lenient_wildcards: bool,
}

/// [`decode`] with options.
pub fn decode_with(
    buf: &mut BytesMut,
    max_packet: usize,
    opts: DecodeOptions,
) -> Result<Option<Decoded>, DecodeError> {
    let Some(header) = check(buf, max_packet)? else {
        return Ok(None);
    };
    if buf.len() < header.total_len() {
        return Ok(None);
    }
    let frame = buf.split_to(header.total_len()).freeze();
    parse(header, frame, opts).map(Some)
}

/// Like [`decode`] but from a borrowed slice; copies the packet's bytes.
pub fn decode_slice(buf: &[u8], max_packet: usize) -> Result<Option<Decoded>, DecodeError> {
    let Some(header) = check(buf, max_packet)? else {
        return Ok(None);
    };
    let Some(bytes) = buf.get(..header.total_len()) else {
        return Ok(None);
    };
    parse(
        header,
        Bytes::copy_from_slice(bytes),
        DecodeOptions::default(),
    )
    .map(Some)
}

/// Parses a complete frame whose fixed header is `header`.
fn parse(header: FrameHeader, frame: Bytes, opts: DecodeOptions) -> Result<Decoded, DecodeError> {
    let (packet_type, conformance) = check_first_byte(header.first_byte)?;
    let mut r = Reader {
        frame: &frame,
        pos: header.header_len,
        packet: packet_type,
        opts,
    };
    let packet = match packet_type {
        PacketType::Connect => Packet::Connect(Box::new(connect(&mut r)?)),
        PacketType::ConnAck => Packet::ConnAck(connack(&mut r)?),
        PacketType::Publish => Packet::Publish(publish(&mut r, header.first_byte)?),
        PacketType::PubAck => Packet::PubAck(r.pid()?),
        PacketType::PubRec => Packet::PubRec(r.pid()?),
        PacketType::PubRel => Packet::PubRel(r.pid()?),
        PacketType::PubComp => Packet::PubComp(r.pid()?),
        PacketType::Subscribe => Packet::Subscribe(subscribe(&mut r)?),
        PacketType::SubAck => Packet::SubAck(suback(&mut r)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(unsubscribe(&mut r)?),
        PacketType::UnsubAck => Packet::UnsubAck(r.pid()?),
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => Packet::Disconnect,
    };
    // Fixed-length bodies were checked in `check`; variable-length parsers
    // consume everything or report trailing bytes themselves.
    Ok(Decoded {
        packet,
        len: frame.len(),
        conformance,
    })
}

/// CONNECT (§3.1).
fn connect(r: &mut Reader<'_>) -> Result<Connect, DecodeError> {
    // §3.1.2.1 Protocol Name.
    let (name_at, protocol_name) = r.string("protocol name", None)?;
    if protocol_name != "MQTT" && protocol_name != "MQIsdp" {
        return Err(DecodeError::ProtocolName {
            name: protocol_name,
            offset: name_at,
        });
    }
    // §3.1.2.2 Protocol Level: kept as sent, see `Connect::level`.
    let level = r.u8("protocol level")?;
    // §3.1.2.3 Connect Flags.
    let flags_at = r.pos;
    let flags = r.u8("connect flags")?;
    if flags & 0x01 != 0 {
        return Err(DecodeError::ConnectReservedFlag { offset: flags_at });
    }
    let clean_session = flags & 0x02 != 0;
    let will_flag = flags & 0x04 != 0;
    let will_qos = (flags >> 3) & 0b11;
    let will_retain = flags & 0x20 != 0;
    let password_flag = flags & 0x40 != 0;
    let username_flag = flags & 0x80 != 0;
    if !will_flag && will_qos != 0 {
        return Err(DecodeError::WillQosWithoutWill {
            qos: will_qos,
            offset: flags_at,
        });
    }
    if !will_flag && will_retain {
        return Err(DecodeError::WillRetainWithoutWill { offset: flags_at });
    }
    let Some(will_qos) = QoS::from_u8(will_qos) else {
        return Err(DecodeError::WillQos3 { offset: flags_at });
    };
    if password_flag && !username_flag {
        return Err(DecodeError::PasswordWithoutUsername { offset: flags_at });
    }
    // §3.1.2.10 Keep Alive.
    let keep_alive = r.u16("keep alive")?;
    // §3.1.3 Payload, in the order of [MQTT-3.1.3-1].
    let (_, client_id) = r.string("client identifier", Some("MQTT-3.1.3-3"))?;
    let will = if will_flag {
        let (topic_at, topic) = r.string("will topic", Some("MQTT-3.1.2-9"))?;
        let topic = TopicName::new(topic).map_err(|e| r.topic_error("will topic", topic_at, e))?;
        let message = r.binary("will message", Some("MQTT-3.1.2-9"))?;
        Some(LastWill {
            topic,
            message,
            qos: will_qos,
            retain: will_retain,
        })
    } else {
        None
    };
    let username = if username_flag {
        Some(r.string("user name", Some("MQTT-3.1.2-19"))?.1)
    } else {
        None
    };
    let password = if password_flag {
        Some(r.binary("password", Some("MQTT-3.1.2-21"))?)
    } else {
        None
    };
    if r.remaining() > 0 {
        return Err(DecodeError::TrailingBytes {
            packet: r.packet,
            offset: r.pos,
            count: r.remaining(),
        });
    }
    Ok(Connect {
        protocol_name,
        level,
        clean_session,
        keep_alive,
        client_id,
        will,
        username,
        password,
    })
}

/// CONNACK (§3.2).
fn connack(r: &mut Reader<'_>) -> Result<ConnAck, DecodeError> {
    let flags_at = r.pos;
    let flags = r.u8("acknowledge flags")?;
    if flags & 0xFE != 0 {
        return Err(DecodeError::ConnAckFlags {
            flags,
            offset: flags_at,
        });
    }
    let code_at = r.pos;
    let code = r.u8("return code")?;
    let Some(code) = ConnectReturnCode::from_u8(code) else {
        return Err(DecodeError::ConnAckCode {
            code,
            offset: code_at,
        });
    };
    Ok(ConnAck {
        session_present: flags & 0x01 != 0,
        code,
    })
}

/// PUBLISH (§3.3). Flags were validated by `check_first_byte`.
fn publish(r: &mut Reader<'_>, first_byte: u8) -> Result<Publish, DecodeError> {
    let (topic_at, topic) = r.string("topic name", Some("MQTT-3.3.2-1"))?;
    let topic = TopicName::new(topic).map_err(|e| r.topic_error("topic name", topic_at, e))?;
    let qos_pid = match (first_byte >> 1) & 0b11 {
        0 => QosPid::AtMostOnce,
        1 => QosPid::AtLeastOnce(r.pid()?),
        2 => QosPid::ExactlyOnce(r.pid()?),
        _ => return Err(DecodeError::PublishQos3 { byte: first_byte }),
    };
    Ok(Publish {
        dup: first_byte & 0b1000 != 0,
        qos_pid,
        retain: first_byte & 0b0001 != 0,
        topic,
        payload: r.rest(),
    })
}

/// SUBSCRIBE (§3.8).
fn subscribe(r: &mut Reader<'_>) -> Result<Subscribe, DecodeError> {
    let pid = r.pid()?;
    r.require_payload()?;
    let mut filters = Vec::new();
    while r.remaining() > 0 {
        let filter = r.filter()?;
        let qos_at = r.pos;
        let byte = r.u8("requested QoS")?;
        let qos = match byte & 0xFC {
            0 => QoS::from_u8(byte),
            _ => None,
        };
        let Some(qos) = qos else {
            return Err(DecodeError::SubscribeQos {
                byte,
                offset: qos_at,
            });
        };
        filters.push((filter, qos));
    }
    Ok(Subscribe { pid, filters })
}

/// SUBACK (§3.9).
fn suback(r: &mut Reader<'_>) -> Result<SubAck, DecodeError> {
    let pid = r.pid()?;
    r.require_payload()?;
    let mut codes = Vec::with_capacity(r.remaining());
    while r.remaining() > 0 {
        let at = r.pos;
        let code = r.u8("return code")?;
        let Some(code) = SubackCode::from_u8(code) else {
            return Err(DecodeError::SubackCode { code, offset: at });
        };
        codes.push(code);
    }
    Ok(SubAck { pid, codes })
}

/// UNSUBSCRIBE (§3.10).
fn unsubscribe(r: &mut Reader<'_>) -> Result<Unsubscribe, DecodeError> {
    let pid = r.pid()?;
    r.require_payload()?;
    let mut filters = Vec::new();
    while r.remaining() > 0 {
        filters.push(r.filter()?);
    }
    Ok(Unsubscribe { pid, filters })
}

/// Bounds-checked cursor over one complete frame. `pos` is an offset from
/// the first fixed-header byte, so it is directly the offset errors report.
struct Reader<'a> {
    frame: &'a Bytes,
    pos: usize,
    packet: PacketType,
    opts: DecodeOptions,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.frame.len().saturating_sub(self.pos)
    }

    /// Takes `n` bytes, returning the range they occupy in the frame.
    fn take(
        &mut self,
        n: usize,
        field: &'static str,
        in_length_prefix: bool,
        offset: usize,
        rule: Option<&'static str>,
    ) -> Result<std::ops::Range<usize>, DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                packet: self.packet,
                field,
                in_length_prefix,
                offset,
                needed: n + (self.pos - offset),
                available: self.remaining() + (self.pos - offset),
                rule,
            });
        }
        let range = self.pos..self.pos + n;
        self.pos += n;
        Ok(range)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let at = self.pos;
        let range = self.take(1, field, false, at, None)?;
        Ok(self.frame.get(range.start).copied().unwrap_or(0))
    }

    /// Big-endian u16 (§1.5.2).
    fn u16_inner(
        &mut self,
        field: &'static str,
        in_length_prefix: bool,
        rule: Option<&'static str>,
    ) -> Result<u16, DecodeError> {
        let at = self.pos;
        let range = self.take(2, field, in_length_prefix, at, rule)?;
        let hi = self.frame.get(range.start).copied().unwrap_or(0);
        let lo = self.frame.get(range.start + 1).copied().unwrap_or(0);
        Ok(u16::from_be_bytes([hi, lo]))
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.u16_inner(field, false, None)
    }

    /// Packet identifier (§2.3.1), non-zero [MQTT-2.3.1-1].
    fn pid(&mut self) -> Result<Pid, DecodeError> {
        let at = self.pos;
        let v = self.u16("packet identifier")?;
        Pid::new(v).ok_or(DecodeError::ZeroPid {
            packet: self.packet,
            offset: at,
        })
    }

    /// u16 length + that many bytes (§1.5.3 strings, §3.1.3 binary fields).
    /// Returns the range of the data (without the prefix).
    fn prefixed(
        &mut self,
        field: &'static str,
        rule: Option<&'static str>,
    ) -> Result<std::ops::Range<usize>, DecodeError> {
        let at = self.pos;
        let len = self.u16_inner(field, true, rule)?;
        self.take(usize::from(len), field, false, at, rule)
    }

    /// Binary data as a zero-copy slice of the frame.
    fn binary(
        &mut self,
        field: &'static str,
        rule: Option<&'static str>,
    ) -> Result<Bytes, DecodeError> {
        let range = self.prefixed(field, rule)?;
        Ok(self.frame.slice(range))
    }

    /// UTF-8 encoded string (§1.5.3). Returns the offset of its first data
    /// byte and the string.
    fn string(
        &mut self,
        field: &'static str,
        rule: Option<&'static str>,
    ) -> Result<(usize, String), DecodeError> {
        let range = self.prefixed(field, rule)?;
        let start = range.start;
        let bytes = self.frame.get(range).unwrap_or_default();
        let null_before = |limit: usize| bytes.iter().take(limit).position(|&b| b == 0);
        let null = |i: usize| DecodeError::NullChar {
            packet: self.packet,
            field,
            offset: start + i,
        };
        match std::str::from_utf8(bytes) {
            Ok(s) => match null_before(s.len()) {
                Some(i) => Err(null(i)),
                None => Ok((start, s.to_owned())),
            },
            Err(e) => match null_before(e.valid_up_to()) {
                Some(i) => Err(null(i)),
                None => Err(DecodeError::InvalidUtf8 {
                    packet: self.packet,
                    field,
                    offset: start + e.valid_up_to(),
                }),
            },
        }
    }

    /// A topic filter (§4.7) in SUBSCRIBE/UNSUBSCRIBE.
    fn filter(&mut self) -> Result<TopicFilter, DecodeError> {
        let rule = match self.packet {
            PacketType::Subscribe => "MQTT-3.8.3-1",
            _ => "MQTT-3.10.3-1",
        };
        let (at, s) = self.string("topic filter", Some(rule))?;
        match TopicFilter::new(s.clone()) {
            Err(TopicError::MultiLevelWildcard { .. } | TopicError::SingleLevelWildcard { .. })
                if self.opts.lenient_wildcards =>
            {
                Ok(TopicFilter::misplaced_wildcard(s))
            }
            other => other.map_err(|e| self.topic_error("topic filter", at, e)),
        }
    }

    /// Positions a topic error: the offending byte, or the length prefix.
    fn topic_error(&self, field: &'static str, data_at: usize, source: TopicError) -> DecodeError {
        DecodeError::InvalidTopic {
            packet: self.packet,
            field,
            offset: match source.at() {
                Some(i) => data_at + i,
                None => data_at.saturating_sub(2),
            },
            source,
        }
    }

    /// At least one payload entry [MQTT-3.8.3-3] [MQTT-3.10.3-2] (§3.9.3).
    fn require_payload(&self) -> Result<(), DecodeError> {
        if self.remaining() == 0 {
            return Err(DecodeError::EmptyPayload {
                packet: self.packet,
                offset: self.pos,
            });
        }
        Ok(())
    }

    /// Everything left: the PUBLISH payload (§3.3.3), zero-copy.
    fn rest(&mut self) -> Bytes {
        let start = self.pos.min(self.frame.len());
        self.pos = self.frame.len();
        self.frame.slice(start..)
    }
}
