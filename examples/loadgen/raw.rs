//! A minimal MQTT 3.1.1 client for the throughput scenarios, so the load generator costs the broker's
//! CPU as little as possible: packets are encoded by hand into one buffer and written many at a time
//! (a publisher fills its whole in-flight window in one write), and a subscriber parses only the fixed
//! header and the packet id it must acknowledge, answering a whole read's worth of PUBACKs in one write.
//! The crate's full client (one task, one command and one channel hop per message) is kept for the
//! scenarios that measure memory, where its cost per message does not matter; latency has its own
//! blocking client (`latency.rs`).
//!
//! With 2 cores shared by the broker and the load generator, a client that spends more per message than
//! the broker does measures itself: both brokers then show the client's ceiling and their ratio tends
//! to 1.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use onenet_desk::client::ClientError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::{Counts, Res};

/// Largest packet the load generator accepts from a broker.
const MAX_PACKET: usize = 1 << 20;

/// One connection, after CONNACK.
pub struct Raw {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    buf: BytesMut,
}

/// Appends the remaining-length varint (§2.2.3).
pub fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
}

pub fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// CONNECT, MQTT 3.1.1, clean session; `user` also sends the client id as password.
pub fn connect_packet(id: &str, user: Option<&str>, keep_alive: u16) -> Vec<u8> {
    let mut body = Vec::with_capacity(32 + id.len());
    put_str(&mut body, b"MQTT");
    body.push(4);
    body.push(0x02 | if user.is_some() { 0xC0 } else { 0 });
    body.extend_from_slice(&keep_alive.to_be_bytes());
    put_str(&mut body, id.as_bytes());
    if let Some(u) = user {
        put_str(&mut body, u.as_bytes());
        put_str(&mut body, id.as_bytes());
    }
    let mut out = vec![0x10];
    put_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// Appends one PUBLISH (QoS 0 or 1; `pid` unused at QoS 0).
pub fn put_publish(out: &mut Vec<u8>, topic: &[u8], qos: u8, pid: u16, payload: &[u8]) {
    out.push(0x30 | (qos << 1));
    let pid_len = if qos > 0 { 2 } else { 0 };
    put_len(out, 2 + topic.len() + pid_len + payload.len());
    put_str(out, topic);
    if qos > 0 {
        out.extend_from_slice(&pid.to_be_bytes());
    }
    out.extend_from_slice(payload);
}

/// SUBSCRIBE (packet id 1) to one filter.
pub fn subscribe_packet(filter: &str, qos: u8) -> Vec<u8> {
    let mut body = vec![0, 1];
    put_str(&mut body, filter.as_bytes());
    body.push(qos);
    let mut out = vec![0x82];
    put_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// Whether the SUBACK frame (first byte, body) granted the subscription of `filter`.
pub fn granted(filter: &str, first: u8, body: &[u8]) -> Res<()> {
    if first != 0x90 || body.get(2).is_none_or(|c| *c == 0x80) {
        return Err(ClientError::Io(format!("SUBSCRIBE {filter} refused")));
    }
    Ok(())
}

/// Packet ids 1..=65535 in turn (a window far below 65535 never reuses one in flight).
fn next_pid(pid: u16) -> u16 {
    pid.checked_add(1).unwrap_or(1)
}

/// The next complete frame in `buf`: (first byte, header length, total length).
pub fn frame(buf: &[u8]) -> Res<Option<(u8, usize, usize)>> {
    match onenet_desk::mqtt::check(buf, MAX_PACKET)? {
        Some(h) if buf.len() >= h.total_len() => {
            Ok(Some((h.first_byte, h.header_len, h.total_len())))
        }
        _ => Ok(None),
    }
}

impl Raw {
    pub async fn connect(addr: &str, id: &str, user: Option<&str>, keep_alive: u16) -> Res<Raw> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| ClientError::Connect {
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
        stream.set_nodelay(true)?;
        let (rd, mut wr) = stream.into_split();
        wr.write_all(&connect_packet(id, user, keep_alive)).await?;
        let mut raw = Raw {
            rd,
            wr,
            buf: BytesMut::with_capacity(64 * 1024),
        };
        let (first, body) = raw.expect_frame("CONNACK").await?;
        let code = body.get(1).copied().unwrap_or(0xff);
        if first != 0x20 || code != 0 {
            return Err(ClientError::Io(format!(
                "CONNACK expected with code 0, got first byte {first:#x}, code {code}"
            )));
        }
        Ok(raw)
    }

    /// Reads until one whole frame is buffered and takes it: (first byte, variable header + payload).
    async fn expect_frame(&mut self, what: &str) -> Res<(u8, Vec<u8>)> {
        loop {
            if let Some((first, hl, total)) = frame(&self.buf)? {
                let body = self.buf.get(hl..total).unwrap_or_default().to_vec();
                self.buf.advance(total);
                return Ok((first, body));
            }
            if self.rd.read_buf(&mut self.buf).await? == 0 {
                return Err(ClientError::Closed(Some(format!(
                    "EOF while waiting for {what}"
                ))));
            }
        }
    }

    /// SUBSCRIBE one filter and wait for its SUBACK (granted, not 0x80).
    pub async fn subscribe(&mut self, filter: &str, qos: u8) -> Res<()> {
        self.wr.write_all(&subscribe_packet(filter, qos)).await?;
        let (first, body) = self.expect_frame("SUBACK").await?;
        granted(filter, first, &body)
    }

    /// Writes `bytes` (whole packets), waiting while the socket is full.
    pub async fn write(&mut self, bytes: &[u8]) -> Res<()> {
        self.wr.write_all(bytes).await?;
        Ok(())
    }

    /// PINGREQ, and its PINGRESP: the broker has read everything sent before.
    pub async fn ping(&mut self) -> Res<()> {
        self.wr.write_all(&[0xC0, 0]).await?;
        let (first, _) = self.expect_frame("PINGRESP").await?;
        if first != 0xD0 {
            return Err(ClientError::Io(format!(
                "PINGRESP expected, got first byte {first:#x}"
            )));
        }
        Ok(())
    }

    /// DISCONNECT, wait (at most 5 s) for the broker to close the connection (a server SHOULD, §3.14.4),
    /// then close.
    /// The broker closing first keeps TIME_WAIT on its side: were the client first, each cycle would
    /// hold one of the ~28,000 ephemeral ports for 60 s, and a run of 20,000 connections would slow the
    /// next run's `connect()` (whichever broker it measures) as the kernel searched for a free port.
    pub async fn disconnect(mut self) {
        let _ = self.wr.write_all(&[0xE0, 0]).await;
        let mut sink = [0u8; 256];
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while matches!(self.rd.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
        let _ = self.wr.shutdown().await;
    }
}

/// Publishes `n` messages on `topic` with at most `window` unacknowledged (QoS 1), each window's worth
/// in one write; QoS 0 writes `window` messages per write. `payload(k)` is message k's payload. Ends
/// with a PINGREQ round trip, so every message has reached the broker when it returns.
#[allow(clippy::too_many_arguments)]
pub async fn publish(
    raw: Raw,
    topic: String,
    qos: u8,
    n: u64,
    window: u64,
    deadline: Instant,
    counts: Arc<Counts>,
    mut payload: impl FnMut(u64) -> Vec<u8> + Send,
) -> Res<()> {
    let Raw {
        mut rd,
        mut wr,
        buf,
    } = raw;
    let (acked_tx, mut acked_rx) = tokio::sync::watch::channel(0u64);
    let (ping_tx, ping_rx) = tokio::sync::oneshot::channel::<()>();
    let reader_counts = counts.clone();
    // Counts PUBACKs (published once per read, not per packet) until the PINGRESP that ends the run.
    let reader = tokio::spawn(async move {
        let mut buf = buf;
        let mut acked = 0u64;
        let mut ping_tx = Some(ping_tx);
        loop {
            if rd.read_buf(&mut buf).await? == 0 {
                return Res::Ok(());
            }
            let before = acked;
            while let Some((first, _, total)) = frame(&buf)? {
                match first {
                    0x40 => acked += 1,
                    0xD0 => {
                        if let Some(t) = ping_tx.take() {
                            let _ = t.send(());
                        }
                    }
                    _ => {}
                }
                buf.advance(total);
            }
            if acked != before {
                reader_counts
                    .acked
                    .fetch_add(acked - before, Ordering::Relaxed);
                acked_tx.send_replace(acked);
            }
            if ping_tx.is_none() {
                return Ok(());
            }
        }
    });
    let mut out = Vec::with_capacity(64 * 1024);
    let (mut sent, mut pid) = (0u64, 0u16);
    let tb = topic.as_bytes();
    while sent < n && Instant::now() < deadline {
        let room = if qos == 0 {
            window
        } else {
            let acked = *acked_rx.borrow_and_update();
            window.saturating_sub(sent - acked)
        };
        if room == 0 {
            match tokio::time::timeout_at(deadline.into(), acked_rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => break,
            }
        }
        out.clear();
        let k = room.min(n - sent);
        for _ in 0..k {
            pid = next_pid(pid);
            put_publish(&mut out, tb, qos, pid, &payload(sent));
            sent += 1;
        }
        wr.write_all(&out).await?;
        counts.sent.fetch_add(k, Ordering::Relaxed);
    }
    if qos > 0 {
        // Every acknowledgement, then the closing round trip.
        let _ = tokio::time::timeout_at(deadline.into(), acked_rx.wait_for(|a| *a >= sent)).await;
    }
    wr.write_all(&[0xC0, 0]).await?;
    let _ = tokio::time::timeout_at(deadline.into(), ping_rx).await;
    reader.abort();
    let _ = wr.write_all(&[0xE0, 0]).await;
    let _ = wr.shutdown().await;
    Ok(())
}

/// Counts PUBLISHes received until `n` or the deadline, acknowledging QoS 1 ones (one write per read).
/// `lossless` (QoS 1) waits for every message until the deadline; otherwise, once `done` is set, 2 s of
/// silence ends it. Returns when the last message arrived.
pub async fn count(
    raw: Raw,
    n: u64,
    deadline: Instant,
    counts: Arc<Counts>,
    lossless: bool,
    done: tokio::sync::watch::Receiver<bool>,
) -> Option<Instant> {
    let Raw {
        mut rd,
        mut wr,
        mut buf,
    } = raw;
    let mut got = 0u64;
    let mut last = None;
    let mut acks = Vec::with_capacity(16 * 1024);
    'read: while got < n {
        // QoS 0 waits at most 2 s at a time, and ends on such a silence once the publishers are done.
        let until = if lossless {
            deadline
        } else {
            deadline.min(Instant::now() + Duration::from_secs(2))
        };
        match tokio::time::timeout_at(until.into(), rd.read_buf(&mut buf)).await {
            Ok(Ok(k)) if k > 0 => {}
            Err(_) if !lossless && !*done.borrow() && Instant::now() < deadline => continue,
            _ => break,
        }
        let before = got;
        loop {
            let (first, hl, total) = match frame(&buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => break 'read,
            };
            if first >> 4 == 3 {
                got += 1;
                if (first >> 1) & 3 == 1 {
                    let body = buf.get(hl..total).unwrap_or_default();
                    let tl = body
                        .get(..2)
                        .and_then(|b| <[u8; 2]>::try_from(b).ok())
                        .map_or(0, |b| u16::from_be_bytes(b) as usize);
                    if let Some(p) = body.get(2 + tl..4 + tl) {
                        acks.extend_from_slice(&[0x40, 2]);
                        acks.extend_from_slice(p);
                    }
                }
            }
            buf.advance(total);
        }
        if got != before {
            last = Some(Instant::now());
            counts.received.fetch_add(got - before, Ordering::Relaxed);
        }
        if !acks.is_empty() {
            if wr.write_all(&acks).await.is_err() {
                break;
            }
            acks.clear();
        }
    }
    let _ = wr.write_all(&[0xE0, 0]).await;
    let _ = wr.shutdown().await;
    last
}
