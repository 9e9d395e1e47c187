//! The variable header and payload of each packet type (§3), read through the bounds-checked [`Reader`]:
//! every field names the rule it breaks and the byte offset where it does.

use bytes::Bytes;

use super::super::error::DecodeError;
use super::super::packet::{
    ConnAck, Connect, ConnectReturnCode, LastWill, PacketType, Pid, Publish, QoS, QosPid, SubAck,
    SubackCode, Subscribe, TopicFilter, TopicName, Unsubscribe,
};
use super::super::topic::TopicError;
use super::DecodeOptions;

/// CONNECT (§3.1).
pub(super) fn connect(r: &mut Reader<'_>) -> Result<Connect, DecodeError> {
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
pub(super) fn connack(r: &mut Reader<'_>) -> Result<ConnAck, DecodeError> {
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

/// PUBLISH (§3.3). Flags were validated by `check_first_byte`. A topic byte-for-byte equal to the
/// `last` one decoded is that one again (shared, not validated or allocated twice). Without
/// `with_payload` the payload is left empty and `r` at its first byte, for the caller to take.
pub(super) fn publish(
    r: &mut Reader<'_>,
    first_byte: u8,
    last: &mut LastTopic,
    with_payload: bool,
) -> Result<Publish, DecodeError> {
    let topic = match last.0.as_ref() {
        Some(t) if r.prefixed_peek() == Some(t.as_str().as_bytes()) => {
            let t = t.clone();
            r.prefixed("topic name", Some("MQTT-3.3.2-1"))?;
            t
        }
        _ => {
            let (topic_at, topic) = r.str_ref("topic name", Some("MQTT-3.3.2-1"))?;
            let t =
                TopicName::from_ref(topic).map_err(|e| r.topic_error("topic name", topic_at, e))?;
            last.0 = Some(t.clone());
            t
        }
    };
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
        payload: if with_payload { r.rest() } else { Bytes::new() },
    })
}

/// SUBSCRIBE (§3.8).
pub(super) fn subscribe(r: &mut Reader<'_>) -> Result<Subscribe, DecodeError> {
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
pub(super) fn suback(r: &mut Reader<'_>) -> Result<SubAck, DecodeError> {
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
pub(super) fn unsubscribe(r: &mut Reader<'_>) -> Result<Unsubscribe, DecodeError> {
    let pid = r.pid()?;
    r.require_payload()?;
    let mut filters = Vec::new();
    while r.remaining() > 0 {
        filters.push(r.filter()?);
    }
    Ok(Unsubscribe { pid, filters })
}

/// The topic name of the last PUBLISH a connection's decoder read: a device publishes to the same few
/// topics again and again, and an equal one is then shared instead of validated and allocated anew.
#[derive(Debug, Default, Clone)]
pub struct LastTopic(Option<TopicName>);

/// Bounds-checked cursor over one complete frame. `pos` is an offset from
/// the first fixed-header byte, so it is directly the offset errors report.
pub(super) struct Reader<'a> {
    pub(super) frame: &'a Bytes,
    pub(super) pos: usize,
    pub(super) packet: PacketType,
    pub(super) opts: DecodeOptions,
}

impl<'a> Reader<'a> {
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
    pub(super) fn pid(&mut self) -> Result<Pid, DecodeError> {
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

    /// The data of the length-prefixed field at the current position, without moving past it; None when
    /// the frame is too short (then [`Reader::prefixed`] names the error).
    fn prefixed_peek(&self) -> Option<&'a [u8]> {
        let hi = *self.frame.get(self.pos)?;
        let lo = *self.frame.get(self.pos + 1)?;
        let start = self.pos + 2;
        let frame: &'a Bytes = self.frame;
        frame.get(start..start + usize::from(u16::from_be_bytes([hi, lo])))
    }

    /// UTF-8 encoded string (§1.5.3). Returns the offset of its first data
    /// byte and the string.
    fn string(
        &mut self,
        field: &'static str,
        rule: Option<&'static str>,
    ) -> Result<(usize, String), DecodeError> {
        let (start, s) = self.str_ref(field, rule)?;
        Ok((start, s.to_owned()))
    }

    /// [`Reader::string`] borrowed from the frame.
    fn str_ref(
        &mut self,
        field: &'static str,
        rule: Option<&'static str>,
    ) -> Result<(usize, &'a str), DecodeError> {
        let range = self.prefixed(field, rule)?;
        let start = range.start;
        let frame: &'a Bytes = self.frame;
        let bytes = frame.get(range).unwrap_or_default();
        let null_before = |limit: usize| bytes.iter().take(limit).position(|&b| b == 0);
        let null = |i: usize| DecodeError::NullChar {
            packet: self.packet,
            field,
            offset: start + i,
        };
        match std::str::from_utf8(bytes) {
            Ok(s) => match null_before(s.len()) {
                Some(i) => Err(null(i)),
                None => Ok((start, s)),
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
