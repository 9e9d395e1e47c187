//! Replays a recording against a broker: sends the device's packets with the recorded spacing (or faster),
//! reads the broker's packets in order and compares each with the recorded one (packet type, return codes,
//! packet identifiers, topic, QoS, flags, payload). A recorded session thus becomes a regression test.
//!
//! What cannot be reproduced is skipped and said so: a `$creq` command was sent by an application during the
//! recording, so replay neither expects it nor counts its absence as a difference (the recorded reply is still
//! sent, and the broker's answer to it compared).

use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::time::Instant;

use crate::client::{ClientError, DEFAULT_MAX_PACKET, Framed};
use crate::mqtt::{self, Packet};

use super::{Dir, Line, describe};

/// How to replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Broker `host:port`.
    pub addr: String,
    /// 1.0 = recorded spacing; 10.0 = ten times faster. Answers are still awaited.
    pub speed: f64,
    /// Connect as this device instead (client id, auth_info): the CONNECT is rewritten.
    pub as_device: Option<(String, String)>,
    /// How long to wait for each broker packet beyond the recorded gap.
    pub reply_timeout: Duration,
    /// Lines of the recording handled so far (the console's progress bar reads it).
    pub progress: Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
}

impl ReplayOptions {
    pub fn new(addr: impl Into<String>) -> ReplayOptions {
        ReplayOptions {
            addr: addr.into(),
            speed: 1.0,
            as_device: None,
            reply_timeout: Duration::from_secs(5),
            progress: None,
        }
    }
}

/// One place where the broker did not answer as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// 1-based line of the recording (0: after the last line).
    pub line: usize,
    pub expected: String,
    pub got: String,
    /// Which field differs, e.g. "CONNACK return code".
    pub what: String,
}

/// The outcome of a replay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub sent: usize,
    pub compared: usize,
    pub skipped: Vec<String>,
    pub differences: Vec<Difference>,
}

/// Differences reported at most; past this the replay stops.
const MAX_DIFFERENCES: usize = 100;

fn bytes_of(line: &Line) -> Result<Vec<u8>, ClientError> {
    hex::decode(&line.hex).map_err(|e| ClientError::Invalid(format!("bad hex in recording: {e}")))
}

fn decode(bytes: &[u8]) -> Option<Packet> {
    mqtt::decode_slice(bytes, usize::MAX)
        .ok()
        .flatten()
        .map(|d| d.packet)
}

/// Rewrites a CONNECT's client id and password (auth method 1) for `--as`.
fn rewrite_connect(bytes: &[u8], id: &str, auth: &str) -> Result<Vec<u8>, ClientError> {
    match decode(bytes) {
        Some(Packet::Connect(mut c)) => {
            c.client_id = id.to_string();
            if c.username.is_some() {
                c.password = Some(Bytes::copy_from_slice(auth.as_bytes()));
            }
            Ok(Packet::Connect(c).to_bytes()?.to_vec())
        }
        _ => Ok(bytes.to_vec()),
    }
}

/// What differs between the recorded and the received packet, if anything.
pub fn compare(expected: &Packet, got: &Packet) -> Option<String> {
    if expected.packet_type() != got.packet_type() {
        return Some("packet type".into());
    }
    match (expected, got) {
        (Packet::ConnAck(a), Packet::ConnAck(b)) => {
            if a.code != b.code {
                Some("CONNACK return code".into())
            } else if a.session_present != b.session_present {
                Some("CONNACK session present".into())
            } else {
                None
            }
        }
        (Packet::SubAck(a), Packet::SubAck(b)) => {
            if a.pid != b.pid {
                Some("SUBACK packet identifier".into())
            } else if a.codes != b.codes {
                Some("SUBACK return codes".into())
            } else {
                None
            }
        }
        (Packet::Publish(a), Packet::Publish(b)) => {
            let same_topic = a.topic == b.topic
                || (a.topic.as_str().starts_with("$creq/")
                    && b.topic.as_str().starts_with("$creq/"));
            if !same_topic {
                Some("PUBLISH topic".into())
            } else if a.qos_pid.qos() != b.qos_pid.qos() {
                Some("PUBLISH QoS".into())
            } else if a.qos_pid.pid() != b.qos_pid.pid() {
                Some("PUBLISH packet identifier".into())
            } else if a.retain != b.retain {
                Some("PUBLISH RETAIN flag".into())
            } else if a.dup != b.dup {
                Some("PUBLISH DUP flag".into())
            } else if a.payload != b.payload {
                Some("PUBLISH payload".into())
            } else {
                None
            }
        }
        (a, b) if a != b => Some(format!("{} packet identifier", a.packet_type())),
        _ => None,
    }
}

/// Plays `lines` against `opts.addr`.
pub async fn replay(lines: &[Line], opts: &ReplayOptions) -> Result<Report, ClientError> {
    if !(opts.speed > 0.0 && opts.speed.is_finite()) {
        return Err(ClientError::Invalid(format!(
            "speed must be positive, not {}",
            opts.speed
        )));
    }
    let mut framed = Framed::connect(&opts.addr, DEFAULT_MAX_PACKET).await?;
    let mut report = Report::default();
    let start = Instant::now();
    let scaled = |t_ms: u64| Duration::from_secs_f64(t_ms as f64 / 1000.0 / opts.speed);
    let mut closed = false;
    let mut disconnected = false;
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if let Some(p) = &opts.progress {
            p.store(i, std::sync::atomic::Ordering::Relaxed);
        }
        let bytes = bytes_of(line)?;
        match line.dir {
            Some(Dir::Up) => {
                if closed {
                    report.skipped.push(format!(
                        "line {n}: not sent, the broker had closed the connection"
                    ));
                    continue;
                }
                tokio::time::sleep_until(start + scaled(line.t_ms)).await;
                let bytes = match &opts.as_device {
                    Some((id, auth)) => rewrite_connect(&bytes, id, auth)?,
                    None => bytes,
                };
                disconnected = decode(&bytes) == Some(Packet::Disconnect);
                if framed.write_raw(&bytes).await.is_err() {
                    closed = true;
                    report.differences.push(Difference {
                        line: n,
                        expected: format!("to send {}", line.summary),
                        got: "the connection was closed".into(),
                        what: "connection".into(),
                    });
                    continue;
                }
                report.sent += 1;
            }
            Some(Dir::Down) => {
                let Some(expected) = decode(&bytes) else {
                    report
                        .skipped
                        .push(format!("line {n}: recorded bytes do not decode"));
                    continue;
                };
                if let Packet::Publish(p) = &expected
                    && p.topic.as_str().starts_with("$creq/")
                {
                    report.skipped.push(format!(
                        "line {n}: {} was sent by an application during the recording; not reproduced",
                        p.topic.as_str()
                    ));
                    continue;
                }
                if closed {
                    report.differences.push(Difference {
                        line: n,
                        expected: describe(&expected),
                        got: "the connection was closed".into(),
                        what: "connection".into(),
                    });
                    continue;
                }
                let wait = opts.reply_timeout + scaled(line.t_ms).saturating_sub(start.elapsed());
                let got = tokio::time::timeout(wait, framed.read()).await;
                report.compared += 1;
                let diff = match got {
                    Err(_) => Some((
                        format!("nothing within {wait:?}"),
                        "missing packet".to_string(),
                    )),
                    Ok(Err(e)) => {
                        closed = true;
                        Some((format!("error: {e}"), "connection".into()))
                    }
                    Ok(Ok(None)) => {
                        closed = true;
                        Some((
                            "the broker closed the connection".into(),
                            "connection".into(),
                        ))
                    }
                    Ok(Ok(Some((p, _)))) => compare(&expected, &p).map(|w| (describe(&p), w)),
                };
                if let Some((got, what)) = diff {
                    report.differences.push(Difference {
                        line: n,
                        expected: describe(&expected),
                        got,
                        what,
                    });
                }
            }
            None => {}
        }
        if report.differences.len() >= MAX_DIFFERENCES {
            return Ok(report);
        }
    }
    if !closed {
        trailing(&mut framed, disconnected, opts.reply_timeout, &mut report).await;
    }
    if let Some(p) = &opts.progress {
        p.store(lines.len(), std::sync::atomic::Ordering::Relaxed);
    }
    Ok(report)
}

/// After the last line the broker must send nothing more: after DISCONNECT it closes; otherwise a
/// PINGREQ/PINGRESP round trip shows whether anything else was queued.
async fn trailing(framed: &mut Framed, disconnected: bool, timeout: Duration, report: &mut Report) {
    if !disconnected && framed.write(&Packet::PingReq).await.is_err() {
        return;
    }
    loop {
        match tokio::time::timeout(timeout, framed.read()).await {
            Ok(Ok(Some((Packet::PingResp, _)))) if !disconnected => return,
            Ok(Ok(Some((p, _)))) => report.differences.push(Difference {
                line: 0,
                expected: if disconnected {
                    "end of connection".into()
                } else {
                    "PINGRESP".into()
                },
                got: describe(&p),
                what: "extra packet after the recording".into(),
            }),
            Ok(Ok(None)) | Ok(Err(_)) => return,
            Err(_) => {
                report.differences.push(Difference {
                    line: 0,
                    expected: if disconnected {
                        "the broker closes the connection".into()
                    } else {
                        "PINGRESP".into()
                    },
                    got: format!("nothing within {timeout:?}"),
                    what: "end of session".into(),
                });
                return;
            }
        }
        if report.differences.len() >= MAX_DIFFERENCES {
            return;
        }
    }
}
