//! Encoding packets to standard MQTT 3.1.1 bytes (§2, §3).
//!
//! The broker always emits the letter of the spec (PUBREL 0x62, SUBSCRIBE
//! 0x82, UNSUBSCRIBE 0xA2) even though the decoder tolerates the OneNET
//! SDK's 0000 flags: be strict in what you send.
//!
//! Encoding first computes and validates the exact size, then reserves it
//! once and writes; on error `out` is left untouched. A PUBLISH payload is
//! copied exactly once, into the reserved space.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{EncodeError, MAX_REMAINING_LEN};
use super::packet::{Connect, Packet, PacketType, QoS, QosPid};

/// Longest length-prefixed field (§1.5.3).
const MAX_FIELD_LEN: usize = u16::MAX as usize;

impl Packet {
    /// Appends the packet's wire form to `out`.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        if let Packet::Connect(c) = self {
            check_connect_fields(c)?;
        }
        put_fixed_header(
            out,
            self.packet_type(),
            self.first_byte(),
            self.remaining_len(),
        )?;
        match self {
            Packet::Connect(c) => put_connect(out, c),
            Packet::ConnAck(a) => {
                // §3.2.2: acknowledge flags (bit 0 = session present), return code.
                out.put_u8(u8::from(a.session_present));
                out.put_u8(a.code.as_u8());
            }
            Packet::Publish(p) => put_publish_body(out, p.topic.as_str(), p.qos_pid, &p.payload),
            Packet::PubAck(pid)
            | Packet::PubRec(pid)
            | Packet::PubRel(pid)
            | Packet::PubComp(pid)
            | Packet::UnsubAck(pid) => out.put_u16(pid.get()),
            Packet::Subscribe(s) => {
                // §3.8.2 packet identifier, §3.8.3 filter + requested QoS pairs.
                out.put_u16(s.pid.get());
                for (filter, qos) in &s.filters {
                    put_str(out, filter.as_str());
                    out.put_u8(qos.as_u8());
                }
            }
            Packet::SubAck(s) => {
                // §3.9.2 packet identifier, §3.9.3 return codes.
                out.put_u16(s.pid.get());
                for code in &s.codes {
                    out.put_u8(code.as_u8());
                }
            }
            Packet::Unsubscribe(u) => {
                // §3.10.2 packet identifier, §3.10.3 filters.
                out.put_u16(u.pid.get());
                for filter in &u.filters {
                    put_str(out, filter.as_str());
                }
            }
            Packet::PingReq | Packet::PingResp | Packet::Disconnect => {}
        }
        Ok(())
    }

    /// Exact number of bytes [`Packet::encode`] writes (meaningful when it
    /// succeeds; for an unencodable packet it is the size it would have).
    pub fn encoded_len(&self) -> usize {
        let remaining_len = self.remaining_len();
        1 + remaining_len_bytes(remaining_len) + remaining_len
    }

    /// Encodes into a new buffer of exactly [`Packet::encoded_len`] bytes.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out)?;
        Ok(out.freeze())
    }

    /// Byte 0 of the fixed header (§2.2.1, §2.2.2 Table 2.2).
    fn first_byte(&self) -> u8 {
        let type_nibble = (self.packet_type() as u8) << 4;
        let flags = match self {
            Packet::Publish(p) => publish_flags(p.qos_pid.qos(), p.dup, p.retain),
            _ => self.packet_type().required_flags().unwrap_or(0),
        };
        type_nibble | flags
    }

    /// Variable header + payload size (§2.2.3). Saturating, so an absurd
    /// packet yields a large number (rejected later) instead of wrapping.
    fn remaining_len(&self) -> usize {
        match self {
            Packet::Connect(c) => connect_len(c),
            Packet::ConnAck(_)
            | Packet::PubAck(_)
            | Packet::PubRec(_)
            | Packet::PubRel(_)
            | Packet::PubComp(_)
            | Packet::UnsubAck(_) => 2,
            Packet::Publish(p) => {
                publish_remaining_len(p.topic.as_str(), p.qos_pid, p.payload.len())
            }
            Packet::Subscribe(s) => s.filters.iter().fold(2usize, |n, (f, _)| {
                n.saturating_add(2 + f.as_str().len() + 1)
            }),
            Packet::SubAck(s) => 2usize.saturating_add(s.codes.len()),
            Packet::Unsubscribe(u) => u
                .filters
                .iter()
                .fold(2usize, |n, f| n.saturating_add(2 + f.as_str().len())),
            Packet::PingReq | Packet::PingResp | Packet::Disconnect => 0,
        }
    }
}

/// Appends a PUBLISH from borrowed parts: the broker writes each delivery of a shared message this way,
/// without building a [`Publish`](super::packet::Publish) (whose topic and payload clones are atomic
/// operations on counters the publisher's and router's threads touch too).
pub fn encode_publish(
    out: &mut BytesMut,
    topic: &str,
    qos_pid: QosPid,
    dup: bool,
    retain: bool,
    payload: &[u8],
) -> Result<(), EncodeError> {
    let first_byte = ((PacketType::Publish as u8) << 4) | publish_flags(qos_pid.qos(), dup, retain);
    let remaining_len = publish_remaining_len(topic, qos_pid, payload.len());
    put_fixed_header(out, PacketType::Publish, first_byte, remaining_len)?;
    put_publish_body(out, topic, qos_pid, payload);
    Ok(())
}

/// The fixed header (§2.2), after room for the whole packet is reserved; a remaining length past the
/// protocol's maximum writes nothing.
fn put_fixed_header(
    out: &mut BytesMut,
    packet: PacketType,
    first_byte: u8,
    remaining_len: usize,
) -> Result<(), EncodeError> {
    if remaining_len > MAX_REMAINING_LEN {
        return Err(EncodeError::TooLarge {
            packet,
            remaining_len,
        });
    }
    out.reserve(1 + remaining_len_bytes(remaining_len) + remaining_len);
    out.put_u8(first_byte);
    put_remaining_len(out, remaining_len);
    Ok(())
}

/// §3.3.2: topic name, packet identifier if QoS > 0; §3.3.3 payload.
fn put_publish_body(out: &mut BytesMut, topic: &str, qos_pid: QosPid, payload: &[u8]) {
    put_str(out, topic);
    if let Some(pid) = qos_pid.pid() {
        out.put_u16(pid.get());
    }
    out.put_slice(payload);
}

/// §3.3.2 + §3.3.3: topic, packet identifier when QoS > 0, payload (saturating, like `remaining_len`).
fn publish_remaining_len(topic: &str, qos_pid: QosPid, payload_len: usize) -> usize {
    let pid = if qos_pid.pid().is_some() { 2 } else { 0 };
    (2 + topic.len() + pid).saturating_add(payload_len)
}

/// PUBLISH flags (§3.3.1): DUP, QoS, RETAIN. DUP is written as 0 for QoS 0
/// [MQTT-3.3.1-2], so a message downgraded to QoS 0 on delivery cannot
/// carry the DUP of its inbound retransmission onto the wire [MQTT-3.3.1-3].
fn publish_flags(qos: QoS, dup: bool, retain: bool) -> u8 {
    let dup = dup && qos != QoS::AtMostOnce;
    (u8::from(dup) << 3) | (qos.as_u8() << 1) | u8::from(retain)
}

/// Remaining length field size: 1..=4 bytes (§2.2.3, Table 2.4).
fn remaining_len_bytes(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Variable-length remaining length (§2.2.3). `n` must be <= MAX_REMAINING_LEN.
fn put_remaining_len(out: &mut BytesMut, mut n: usize) {
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if n == 0 {
            break;
        }
    }
}

/// u16 length + bytes (§1.5.3). The caller has checked the length.
fn put_prefixed(out: &mut BytesMut, data: &[u8]) {
    out.put_u16(u16::try_from(data.len()).unwrap_or(u16::MAX));
    out.put_slice(data);
}

fn put_str(out: &mut BytesMut, s: &str) {
    put_prefixed(out, s.as_bytes());
}

/// The length-prefixed fields of a CONNECT that are not validated by their
/// type (topic names are) must fit in a u16 length.
fn check_connect_fields(c: &Connect) -> Result<(), EncodeError> {
    let fields = [
        ("protocol name", Some(c.protocol_name.len())),
        ("client identifier", Some(c.client_id.len())),
        ("will message", c.will.as_ref().map(|w| w.message.len())),
        ("user name", c.username.as_ref().map(String::len)),
        ("password", c.password.as_ref().map(Bytes::len)),
    ];
    for (field, len) in fields {
        if let Some(len) = len
            && len > MAX_FIELD_LEN
        {
            return Err(EncodeError::FieldTooLong {
                packet: PacketType::Connect,
                field,
                len,
            });
        }
    }
    Ok(())
}

fn connect_len(c: &Connect) -> usize {
    let prefixed = |len: usize| len.saturating_add(2);
    let mut n = prefixed(c.protocol_name.len()) + 1 + 1 + 2;
    n = n.saturating_add(prefixed(c.client_id.len()));
    if let Some(w) = &c.will {
        n = n.saturating_add(prefixed(w.topic.as_str().len()));
        n = n.saturating_add(prefixed(w.message.len()));
    }
    if let Some(u) = &c.username {
        n = n.saturating_add(prefixed(u.len()));
    }
    if let Some(p) = &c.password {
        n = n.saturating_add(prefixed(p.len()));
    }
    n
}

/// CONNECT variable header (§3.1.2) and payload (§3.1.3).
fn put_connect(out: &mut BytesMut, c: &Connect) {
    put_str(out, &c.protocol_name);
    out.put_u8(c.level);
    let mut flags = 0u8;
    if c.clean_session {
        flags |= 0x02;
    }
    if let Some(w) = &c.will {
        flags |= 0x04 | (w.qos.as_u8() << 3);
        if w.retain {
            flags |= 0x20;
        }
    }
    if c.password.is_some() {
        flags |= 0x40;
    }
    if c.username.is_some() {
        flags |= 0x80;
    }
    out.put_u8(flags);
    out.put_u16(c.keep_alive);
    put_str(out, &c.client_id);
    if let Some(w) = &c.will {
        put_str(out, w.topic.as_str());
        put_prefixed(out, &w.message);
    }
    if let Some(u) = &c.username {
        put_str(out, u);
    }
    if let Some(p) = &c.password {
        put_prefixed(out, p);
    }
}
