//! Record & replay of one device's MQTT session.
//!
//! A recording is JSON Lines, one packet per line, oldest first:
//!
//! ```json
//! {"t_ms":0,"dir":"up","hex":"101d00044d515454…","summary":"CONNECT client 9277 user 339 keepalive 1200 clean"}
//! {"t_ms":3,"dir":"down","hex":"20020000","summary":"CONNACK code 0 session_present 0"}
//! ```
//!
//! `t_ms` is milliseconds since the first packet, `dir` is `up` (device → broker) or `down` (broker →
//! device), `hex` the packet's exact bytes, `summary` a decoded one-line description (for people; replay
//! reads only `t_ms`, `dir` and `hex`). If the recorder fell behind the broker, a line
//! `{"t_ms":…,"missed":N}` says how many packets (of all devices) it lost, and replay refuses the file.
//!
//! - [`recorder`]: turns the service's packet events into lines for one device (the HTTP endpoint
//!   `GET /admin/record/{device_id}` and the console use it).
//! - [`replay`]: plays a recording against a broker and reports where the broker's answers differ.

pub mod recorder;
pub mod replay;

use serde::{Deserialize, Serialize};

use crate::mqtt::{self, Packet};

/// Direction of a recorded packet, from the device's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// Device → broker.
    Up,
    /// Broker → device.
    Down,
}

/// One line of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub t_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<Dir>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hex: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// Set only on a gap line: packets the recorder lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<u64>,
}

impl Line {
    pub fn packet(t_ms: u64, dir: Dir, bytes: &[u8]) -> Line {
        Line {
            t_ms,
            dir: Some(dir),
            hex: hex::encode(bytes),
            summary: summary(bytes),
            missed: None,
        }
    }
}

/// Parses a recording; errors name the line.
pub fn parse(text: &str) -> Result<Vec<Line>, String> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(l)
            .map_err(|e| format!("line {}: not a recording line: {e}", i + 1))?;
        if let Some(n) = line.missed {
            return Err(format!(
                "line {}: the recorder missed {n} packets here; the recording is incomplete",
                i + 1
            ));
        }
        if line.dir.is_none() {
            return Err(format!("line {}: no \"dir\"", i + 1));
        }
        hex::decode(&line.hex)
            .map_err(|e| format!("line {}: \"hex\" is not hexadecimal: {e}", i + 1))?;
        out.push(line);
    }
    Ok(out)
}

/// A one-line description of a packet's bytes, e.g. `PUBLISH qos 1 pid 1 $dp type 3 (23 B)`.
pub fn summary(bytes: &[u8]) -> String {
    match mqtt::decode_slice(bytes, usize::MAX) {
        Ok(Some(d)) => describe(&d.packet),
        Ok(None) => format!("incomplete packet ({} B)", bytes.len()),
        Err(e) => format!("malformed: {e}"),
    }
}

/// A one-line description of a packet.
pub fn describe(p: &Packet) -> String {
    match p {
        Packet::Connect(c) => format!(
            "CONNECT client {} user {} keepalive {}{}{}",
            c.client_id,
            c.username.as_deref().unwrap_or("-"),
            c.keep_alive,
            if c.clean_session { " clean" } else { "" },
            c.will
                .as_ref()
                .map(|w| format!(" will {}", w.topic.as_str()))
                .unwrap_or_default()
        ),
        Packet::ConnAck(a) => format!(
            "CONNACK code {} session_present {}",
            a.code.as_u8(),
            u8::from(a.session_present)
        ),
        Packet::Publish(p) => {
            let dp = if p.topic.as_str() == "$dp" {
                p.payload
                    .first()
                    .map(|b| format!(" type {}", b & 0x3F))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            format!(
                "PUBLISH qos {}{}{}{} {}{dp} ({} B)",
                p.qos_pid.qos().as_u8(),
                p.qos_pid
                    .pid()
                    .map(|p| format!(" pid {p}"))
                    .unwrap_or_default(),
                if p.retain { " retain" } else { "" },
                if p.dup { " dup" } else { "" },
                p.topic.as_str(),
                p.payload.len()
            )
        }
        Packet::PubAck(pid)
        | Packet::PubRec(pid)
        | Packet::PubRel(pid)
        | Packet::PubComp(pid)
        | Packet::UnsubAck(pid) => format!("{} pid {pid}", p.packet_type()),
        Packet::Subscribe(s) => format!(
            "SUBSCRIBE pid {} {}",
            s.pid,
            s.filters
                .iter()
                .map(|(f, q)| format!("{} qos {}", f.as_str(), q.as_u8()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Packet::SubAck(s) => format!(
            "SUBACK pid {} codes {:?}",
            s.pid,
            s.codes.iter().map(|c| c.as_u8()).collect::<Vec<_>>()
        ),
        Packet::Unsubscribe(u) => format!(
            "UNSUBSCRIBE pid {} {}",
            u.pid,
            u.filters
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.packet_type().name().to_string(),
    }
}
