//! The traffic log as data: packet events decoded into rows (type, topic, QoS, decoded fields, the
//! `$dp` structure as byte spans for highlighting), kept in a bounded ring with a dropped counter.

use std::collections::VecDeque;
use std::ops::Range;

use bytes::Bytes;
use serde::Serialize;

use crate::events::{Direction, SharedDp};
use crate::mqtt::{Packet, check, decode_bytes};

/// Rows the log keeps; older ones are dropped (and counted).
pub const TRAFFIC_CAP: usize = 20_000;
/// Bytes of each packet kept for the hex dump.
pub const KEEP_BYTES: usize = 4096;

/// What a byte span of a packet is, for colouring the hex dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Part {
    FixedHeader,
    Topic,
    PacketId,
    Payload,
    DpType,
    DpTime,
    DpLength,
    DpBody,
    DpStreamId,
    DpCount,
    DpFloats,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::FixedHeader => "fixed header",
            Part::Topic => "topic",
            Part::PacketId => "packet id",
            Part::Payload => "payload",
            Part::DpType => "$dp type",
            Part::DpTime => "$dp time",
            Part::DpLength => "$dp length",
            Part::DpBody => "$dp body",
            Part::DpStreamId => "$dp ds_id",
            Part::DpCount => "$dp count",
            Part::DpFloats => "$dp floats",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PacketRow {
    pub seq: u64,
    /// Unix ms.
    pub at: i64,
    pub client: Option<String>,
    pub direction: Direction,
    pub kind: &'static str,
    pub topic: Option<String>,
    pub qos: Option<u8>,
    pub size: usize,
    /// Decoded fields in one line.
    pub fields: String,
    #[serde(skip)]
    pub bytes: Bytes,
    #[serde(skip)]
    pub spans: Vec<(Range<usize>, Part)>,
}

/// Decodes one packet event into a row. The frame is parsed in place (its payloads are slices of `frame`)
/// and kept without a copy when it is at most [`KEEP_BYTES`]; a longer one keeps a copy of its first
/// `KEEP_BYTES` only, so a 3 MiB upload does not stay in memory for the hex dump's first lines. A `$dp`
/// upload is shown as the broker decoded it (`dp`, with the configured UTC offset and limits), never
/// decoded again here.
pub fn decode_row(
    seq: u64,
    at: i64,
    client: Option<String>,
    direction: Direction,
    frame: &Bytes,
    dp: Option<&SharedDp>,
) -> PacketRow {
    let raw: &[u8] = frame;
    let mut row = PacketRow {
        seq,
        at,
        client,
        direction,
        kind: "?",
        topic: None,
        qos: None,
        size: raw.len(),
        fields: String::new(),
        bytes: if raw.len() <= KEEP_BYTES {
            frame.clone()
        } else {
            Bytes::copy_from_slice(raw.get(..KEEP_BYTES).unwrap_or(raw))
        },
        spans: Vec::new(),
    };
    let header_len = match check(raw, usize::MAX) {
        Ok(Some(h)) => h.header_len,
        _ => 0,
    };
    let decoded = match decode_bytes(frame, usize::MAX) {
        Ok(Some(d)) => d,
        Ok(None) => {
            row.fields = "incomplete packet".into();
            return row;
        }
        Err(e) => {
            row.fields = format!("malformed: {e}");
            return row;
        }
    };
    row.kind = decoded.packet.packet_type().name();
    row.spans.push((0..header_len, Part::FixedHeader));
    row.fields = match &decoded.packet {
        Packet::Connect(c) => format!(
            "client_id={} user={} keepalive={} clean_session={}{}",
            c.client_id,
            c.username.as_deref().unwrap_or("-"),
            c.keep_alive,
            c.clean_session,
            c.will
                .as_ref()
                .map(|w| format!(" will={} (QoS {})", w.topic, w.qos.as_u8()))
                .unwrap_or_default()
        ),
        Packet::ConnAck(a) => format!(
            "return code {} session_present={}",
            a.code.as_u8(),
            a.session_present
        ),
        Packet::Publish(p) => {
            row.topic = Some(p.topic.to_string());
            row.qos = Some(p.qos_pid.qos().as_u8());
            let topic_end = header_len + 2 + p.topic.as_str().len();
            row.spans.push((header_len..topic_end, Part::Topic));
            let mut body = topic_end;
            if p.qos_pid.pid().is_some() {
                row.spans.push((topic_end..topic_end + 2, Part::PacketId));
                body += 2;
            }
            let flags = format!(
                "{}{}",
                if p.dup { " dup" } else { "" },
                if p.retain { " retain" } else { "" }
            );
            if let Some(dp) = dp {
                row.spans.extend(dp_spans(&p.payload, body));
                let dp = match dp {
                    Ok(u) => format!(
                        "$dp type {}: {}",
                        u.dp_type,
                        u.points
                            .iter()
                            .take(8)
                            .map(|d| format!("{}={}", d.stream, d.value))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Err(e) => format!("$dp not decodable: {e}"),
                };
                format!("{dp}{flags}")
            } else {
                row.spans.push((body..raw.len(), Part::Payload));
                format!(
                    "{} B: {}{flags}",
                    p.payload.len(),
                    crate::ui::format::preview(&p.payload, 80)
                )
            }
        }
        Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
            row.spans.push((header_len..header_len + 2, Part::PacketId));
            format!("packet id {}", p.get())
        }
        Packet::UnsubAck(p) => format!("packet id {}", p.get()),
        Packet::Subscribe(s) => {
            if let [(f, _), ..] = s.filters.as_slice() {
                row.topic = Some(f.to_string());
            }
            format!(
                "packet id {}: {}",
                s.pid.get(),
                s.filters
                    .iter()
                    .map(|(f, q)| format!("{f} (QoS {})", q.as_u8()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        Packet::SubAck(a) => format!(
            "packet id {}: codes {}",
            a.pid.get(),
            a.codes
                .iter()
                .map(|c| format!("0x{:02X}", c.as_u8()))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Packet::Unsubscribe(u) => {
            if let Some(f) = u.filters.first() {
                row.topic = Some(f.to_string());
            }
            format!(
                "packet id {}: {}",
                u.pid.get(),
                u.filters
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        Packet::PingReq | Packet::PingResp | Packet::Disconnect => String::new(),
    };
    row
}

/// Byte spans of a `$dp` payload starting at `base` in the packet (§6): type byte, optional time, then
/// a u16 length and body (types 1–6; type 2 adds a u32 length and the binary) or ds_id/count/float groups
/// (type 7). Stops quietly where the payload is malformed.
pub fn dp_spans(payload: &[u8], base: usize) -> Vec<(Range<usize>, Part)> {
    let mut v = Vec::new();
    let Some(&first) = payload.first() else {
        return v;
    };
    let at = |r: Range<usize>| base + r.start..base + r.end;
    v.push((at(0..1), Part::DpType));
    let mut pos = 1;
    if first & 0x80 != 0 && payload.len() >= 7 {
        v.push((at(1..7), Part::DpTime));
        pos = 7;
    }
    let u16_at = |p: usize| {
        payload
            .get(p..p + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
    };
    match first & 0x3F {
        7 => {
            while let (Some(_), Some(n)) = (u16_at(pos), u16_at(pos + 2)) {
                v.push((at(pos..pos + 2), Part::DpStreamId));
                v.push((at(pos + 2..pos + 4), Part::DpCount));
                let end = (pos + 4 + n * 4).min(payload.len());
                v.push((at(pos + 4..end), Part::DpFloats));
                pos = end;
                if n == 0 {
                    break;
                }
            }
        }
        t => {
            if let Some(n) = u16_at(pos) {
                v.push((at(pos..pos + 2), Part::DpLength));
                let end = (pos + 2 + n).min(payload.len());
                v.push((at(pos + 2..end), Part::DpBody));
                pos = end;
                if t == 2
                    && let Some(b) = payload.get(pos..pos + 4)
                {
                    v.push((at(pos..pos + 4), Part::DpLength));
                    let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
                    let end = (pos + 4).saturating_add(len).min(payload.len());
                    v.push((at(pos + 4..end), Part::Payload));
                }
            }
        }
    }
    v
}

/// The log: a bounded ring of rows plus what was lost.
#[derive(Debug, Default)]
pub struct Traffic {
    pub rows: VecDeque<PacketRow>,
    next_seq: u64,
    /// Rows pushed out of the ring.
    pub evicted: u64,
    /// Events the console missed because it read too slowly.
    pub missed: u64,
    /// While paused the view shows rows up to this sequence number (new rows still come in).
    pub paused_at: Option<u64>,
    cap: usize,
}

impl Traffic {
    pub fn new(cap: usize) -> Traffic {
        Traffic {
            cap: cap.max(1),
            ..Default::default()
        }
    }

    pub fn push(
        &mut self,
        at: i64,
        client: Option<String>,
        direction: Direction,
        frame: &Bytes,
        dp: Option<&SharedDp>,
    ) {
        let row = decode_row(self.next_seq, at, client, direction, frame, dp);
        self.next_seq += 1;
        if self.rows.len() == self.cap {
            self.rows.pop_front();
            self.evicted += 1;
        }
        self.rows.push_back(row);
    }

    /// Everything lost: evicted from the ring or missed.
    pub fn dropped(&self) -> u64 {
        self.evicted + self.missed
    }

    /// Empties the log and its loss counters: what the user cleared was not lost, and a "dropped"
    /// figure should describe the log now shown.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.evicted = 0;
        self.missed = 0;
        self.paused_at = self.paused_at.map(|_| self.next_seq.saturating_sub(1));
    }

    /// The newest `n` rows of one client, newest first.
    pub fn recent_of(&self, client: &str, n: usize) -> Vec<&PacketRow> {
        self.rows
            .iter()
            .rev()
            .filter(|r| r.client.as_deref() == Some(client))
            .take(n)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::onenet::datapoint::{DpOptions, decode as dp_decode};

    /// A QoS 1 PUBLISH to `$dp` (packet id 1) carrying `payload`.
    fn publish_dp(payload: &[u8]) -> Bytes {
        let mut p = vec![0x32, 0, 0x00, 0x03, b'$', b'd', b'p', 0x00, 0x01];
        p.extend_from_slice(payload);
        p[1] = (p.len() - 2) as u8;
        Bytes::from(p)
    }

    /// What the connection hands the event: the payload decoded with the broker's options.
    fn broker_dp(frame: &Bytes, opts: &DpOptions) -> SharedDp {
        dp_decode(frame.get(9..).unwrap_or_default(), opts).map(Arc::new)
    }

    /// PUBLISH QoS 1 to `$dp`, pid 1, type 3 `{"t":1}`.
    fn dp_publish() -> Vec<u8> {
        let body = br#"{"t":1}"#;
        let mut p = vec![
            0x32, // PUBLISH, QoS 1
            0,    // remaining length, set below
            0x00,
            0x03,
            b'$',
            b'd',
            b'p', // topic
            0x00,
            0x01, // packet id
            0x03, // $dp type 3
            0x00,
            body.len() as u8, // length
        ];
        p.extend_from_slice(body);
        p[1] = (p.len() - 2) as u8;
        p
    }

    #[test]
    fn a_dp_publish_is_decoded_with_its_structure() {
        let raw = Bytes::from(dp_publish());
        let dp = broker_dp(&raw, &DpOptions::default());
        let r = decode_row(0, 0, Some("9277".into()), Direction::In, &raw, Some(&dp));
        assert_eq!(r.kind, "PUBLISH");
        assert_eq!(r.topic.as_deref(), Some("$dp"));
        assert_eq!(r.qos, Some(1));
        assert!(r.fields.contains("$dp type 3: t=1"), "{}", r.fields);
        let parts: Vec<Part> = r.spans.iter().map(|s| s.1).collect();
        assert_eq!(
            parts,
            vec![
                Part::FixedHeader,
                Part::Topic,
                Part::PacketId,
                Part::DpType,
                Part::DpLength,
                Part::DpBody
            ]
        );
        assert_eq!(r.spans[5].0, 12..raw.len());
    }

    #[test]
    fn type7_groups_are_spanned() {
        // time flag, 6 time bytes, group (1: 1 float)
        let p = [0x87, 1, 2, 3, 4, 5, 6, 0, 1, 0, 1, 0, 0, 0xB4, 0x41];
        let s = dp_spans(&p, 10);
        assert_eq!(s[1], (11..17, Part::DpTime));
        assert_eq!(s[2], (17..19, Part::DpStreamId));
        assert_eq!(s[4], (21..25, Part::DpFloats));
    }

    #[test]
    fn the_ring_is_bounded_and_counts_drops() {
        let mut t = Traffic::new(3);
        for _ in 0..5 {
            t.push(
                0,
                Some("a".into()),
                Direction::In,
                &Bytes::from_static(&[0xC0, 0x00]),
                None,
            );
        }
        t.missed = 2;
        assert_eq!(t.rows.len(), 3);
        assert_eq!(t.dropped(), 4);
        assert_eq!(t.rows[0].kind, "PINGREQ");
        assert_eq!(t.recent_of("a", 2).len(), 2);
        let bad = decode_row(
            0,
            0,
            None,
            Direction::In,
            &Bytes::from_static(&[0x00, 0x00]),
            None,
        );
        assert!(bad.fields.starts_with("malformed"), "{}", bad.fields);
    }

    #[test]
    fn a_dp_row_shows_what_the_broker_decoded_with_its_settings() {
        // Type 7, one group of one float: accepted with the default limit, refused when the broker's
        // `max_type7_floats` is 0. The row follows the broker's decoding, whatever the defaults say.
        let frame = publish_dp(&[0x07, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x28, 0x42]);
        let ok = broker_dp(&frame, &DpOptions::default());
        let r = decode_row(0, 0, None, Direction::In, &frame, Some(&ok));
        assert!(r.fields.starts_with("$dp type 7: 1=42"), "{}", r.fields);
        let strict = DpOptions {
            max_type7_floats: 0,
            ..DpOptions::default()
        };
        let refused = broker_dp(&frame, &strict);
        assert!(refused.is_err());
        let r = decode_row(0, 0, None, Direction::In, &frame, Some(&refused));
        assert!(r.fields.starts_with("$dp not decodable"), "{}", r.fields);
        // No decoding from the broker (the `mqtt` profile, where `$dp` is a topic like any other): the
        // payload is shown as bytes.
        let r = decode_row(0, 0, None, Direction::In, &frame, None);
        assert!(r.fields.starts_with("9 B: "), "{}", r.fields);
    }

    #[test]
    fn a_frame_is_kept_without_a_copy_up_to_keep_bytes() {
        let small = publish_dp(&[0x03, 0x00, 0x02, b'{', b'}']);
        let r = decode_row(0, 0, None, Direction::In, &small, None);
        assert_eq!(r.bytes.as_ptr(), small.as_ptr(), "shared, not copied");
        let big = publish_dp(&[0u8; 100]);
        let mut long = big.to_vec();
        long.extend(std::iter::repeat_n(0u8, KEEP_BYTES));
        // Remaining length on two bytes for the longer frame.
        let body = long.len() - 2;
        let mut framed = vec![0x32, (body as u8 & 0x7F) | 0x80, (body >> 7) as u8];
        framed.extend_from_slice(&long[2..]);
        let framed = Bytes::from(framed);
        let r = decode_row(0, 0, None, Direction::In, &framed, None);
        assert_eq!(r.kind, "PUBLISH");
        assert_eq!(r.size, framed.len());
        assert_eq!(r.bytes.len(), KEEP_BYTES);
        assert_ne!(
            r.bytes.as_ptr(),
            framed.as_ptr(),
            "a long frame keeps a copy of its start only"
        );
    }
}
