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
//!
//! This file frames and dispatches; `body` parses each packet's variable header and payload.

mod body;

pub use body::LastTopic;
use body::{Reader, connack, connect, publish, suback, subscribe, unsubscribe};

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::error::DecodeError;
use super::packet::{Packet, PacketType};

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
    /// The whole frame as received; the packet's payloads are slices of it (no copy). Empty from
    /// [`decode_stream_frameless`].
    pub frame: Bytes,
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
    decode_stream(buf, max_packet, opts, &mut LastTopic::default())
}

/// [`decode_with`] for one connection's stream of packets: `last` carries the last PUBLISH topic from
/// one call to the next, so a topic repeated is shared rather than copied again.
pub fn decode_stream(
    buf: &mut BytesMut,
    max_packet: usize,
    opts: DecodeOptions,
    last: &mut LastTopic,
) -> Result<Option<Decoded>, DecodeError> {
    stream_frame(buf, max_packet, opts, last, true)
}

/// [`decode_stream`] for a caller that does not need the frame: a PUBLISH's payload is then the frame
/// itself, advanced past the headers, and [`Decoded::frame`] is empty. Each taking or releasing of a
/// share of the read buffer is an atomic operation, and a slice of the frame plus the frame's release
/// were two of the four per routed message (the connection asks for the frame only while packets are
/// watched).
pub fn decode_stream_frameless(
    buf: &mut BytesMut,
    max_packet: usize,
    opts: DecodeOptions,
    last: &mut LastTopic,
) -> Result<Option<Decoded>, DecodeError> {
    stream_frame(buf, max_packet, opts, last, false)
}

fn stream_frame(
    buf: &mut BytesMut,
    max_packet: usize,
    opts: DecodeOptions,
    last: &mut LastTopic,
    keep_frame: bool,
) -> Result<Option<Decoded>, DecodeError> {
    let Some(header) = check(buf, max_packet)? else {
        return Ok(None);
    };
    if buf.len() < header.total_len() {
        return Ok(None);
    }
    let frame = buf.split_to(header.total_len()).freeze();
    parse(header, frame, opts, last, keep_frame).map(Some)
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
        &mut LastTopic::default(),
        true,
    )
    .map(Some)
}

/// Like [`decode_slice`] for bytes already shared (a packet event's): the packet and its payloads are
/// slices of `bytes`, nothing is copied.
pub fn decode_bytes(bytes: &Bytes, max_packet: usize) -> Result<Option<Decoded>, DecodeError> {
    let Some(header) = check(bytes, max_packet)? else {
        return Ok(None);
    };
    if bytes.len() < header.total_len() {
        return Ok(None);
    }
    parse(
        header,
        bytes.slice(..header.total_len()),
        DecodeOptions::default(),
        &mut LastTopic::default(),
        true,
    )
    .map(Some)
}

/// Parses a complete frame whose fixed header is `header`. Without `keep_frame` the frame is spent
/// instead of returned: a PUBLISH's payload is the frame advanced past its headers (see
/// [`decode_stream_frameless`]).
fn parse(
    header: FrameHeader,
    frame: Bytes,
    opts: DecodeOptions,
    last: &mut LastTopic,
    keep_frame: bool,
) -> Result<Decoded, DecodeError> {
    let (packet_type, conformance) = check_first_byte(header.first_byte)?;
    let mut r = Reader {
        frame: &frame,
        pos: header.header_len,
        packet: packet_type,
        opts,
    };
    let mut packet = match packet_type {
        PacketType::Connect => Packet::Connect(Box::new(connect(&mut r)?)),
        PacketType::ConnAck => Packet::ConnAck(connack(&mut r)?),
        PacketType::Publish => {
            Packet::Publish(publish(&mut r, header.first_byte, last, keep_frame)?)
        }
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
    let (len, payload_at) = (frame.len(), r.pos);
    let frame = if keep_frame {
        frame
    } else {
        // An empty payload stays `Bytes::new()` (from `publish`): no share of the read buffer.
        if let Packet::Publish(p) = &mut packet
            && payload_at < len
        {
            let mut payload = frame;
            bytes::Buf::advance(&mut payload, payload_at);
            p.payload = payload;
        }
        Bytes::new()
    };
    Ok(Decoded {
        packet,
        len,
        conformance,
        frame,
    })
}
