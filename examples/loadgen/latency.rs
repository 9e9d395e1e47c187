//! The latency scenarios, on blocking sockets and threads of their own: the publisher sleeps to each
//! send time (`std::thread::sleep`, microsecond timers, where tokio's timer has 1 ms ticks), stamps the
//! payload and writes it in the same breath; the subscriber's thread is woken by the kernel as the bytes
//! arrive and reads the clock at once. No channel or task hop sits between a clock reading and the
//! socket, so what the percentiles show is the broker and the loopback, not the measuring client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use onenet_desk::client::ClientError;

use super::Res;
use super::raw::{connect_packet, frame, granted, put_publish, subscribe_packet};

/// Messages per second of each latency scenario.
pub const RATE: u64 = 2000;

/// What one latency run measured: each message's send-to-receipt time in nanoseconds (in arrival
/// order) and how many were sent.
pub struct Measured {
    pub sent: u64,
    pub latencies_ns: Vec<u64>,
}

/// Blocking connection after CONNACK (clean session), with `timeout` on each read; the CONNACK may take
/// until `deadline`.
fn connect(
    addr: &str,
    id: &str,
    user: Option<&str>,
    timeout: Duration,
    deadline: Instant,
) -> Res<TcpStream> {
    let mut s = TcpStream::connect(addr).map_err(|e| ClientError::Connect {
        addr: addr.to_string(),
        reason: e.to_string(),
    })?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(timeout))?;
    s.write_all(&connect_packet(id, user, 60))?;
    let (first, body) = read_frame(&mut s, deadline)?;
    if first != 0x20 || body.get(1) != Some(&0) {
        return Err(ClientError::Io(format!(
            "CONNACK expected with code 0, got first byte {first:#x}"
        )));
    }
    Ok(s)
}

/// Reads one handshake answer (CONNACK, SUBACK), until `deadline`: (first byte, variable header +
/// payload). Read byte by byte (a handful of bytes, twice per run), so nothing after it is taken from
/// the socket.
fn read_frame(s: &mut TcpStream, deadline: Instant) -> Res<(u8, Vec<u8>)> {
    let mut buf = Vec::new();
    loop {
        if let Some((first, hl, total)) = frame(&buf)? {
            return Ok((first, buf.get(hl..total).unwrap_or_default().to_vec()));
        }
        let mut byte = [0u8; 1];
        match read_polled(s, &mut byte)? {
            Some(0) => {
                return Err(ClientError::Closed(Some("EOF during the handshake".into())));
            }
            Some(_) => buf.push(byte[0]),
            None if Instant::now() >= deadline => {
                return Err(ClientError::Io(
                    "no handshake answer before the deadline".into(),
                ));
            }
            None => {}
        }
    }
}

/// One publisher at `RATE` msg/s on `topic` → one subscriber of it at `qos`, `total` messages or until
/// `deadline`. The subscriber acknowledges QoS 1 deliveries at once; the publisher's PUBACKs are read by
/// a thread of their own so its socket never fills.
pub fn run(
    addr: &str,
    ids: (&str, &str),
    user: Option<&str>,
    topic: &str,
    qos: u8,
    total: u64,
    deadline: Instant,
) -> Res<Measured> {
    let poll = Duration::from_millis(100);
    let mut sub = connect(addr, ids.1, user, poll, deadline)?;
    sub.write_all(&subscribe_packet(topic, qos))?;
    let (first, suback) = read_frame(&mut sub, deadline)?;
    granted(topic, first, &suback)?;
    let mut publisher = connect(addr, ids.0, user, poll, deadline)?;
    let origin = Instant::now();
    let receiver = std::thread::spawn(move || receive(sub, origin, total, deadline));
    // QoS 0 has nothing to read on the publisher's side (keep-alive 60 s, runs of seconds).
    let acks = if qos > 0 {
        let (mut rd, acked) = (publisher.try_clone()?, AtomicU64::new(0));
        Some(std::thread::spawn(move || {
            count_pubacks(&mut rd, &acked, total, deadline)
        }))
    } else {
        None
    };
    let (mut sent, mut out, mut pid) = (0u64, Vec::with_capacity(256), 0u16);
    let step = Duration::from_nanos(1_000_000_000 / RATE);
    while sent < total {
        let due = origin + step * sent as u32;
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if due > now {
            std::thread::sleep(due - now);
        }
        let mut payload = [0u8; 64];
        let stamp = origin.elapsed().as_nanos() as u64;
        payload[..8].copy_from_slice(&stamp.to_be_bytes());
        pid = pid.checked_add(1).unwrap_or(1);
        out.clear();
        put_publish(&mut out, topic.as_bytes(), qos, pid, &payload);
        publisher.write_all(&out)?;
        sent += 1;
    }
    let latencies_ns = receiver
        .join()
        .map_err(|_| ClientError::Io("the receiving thread panicked".into()))??;
    if let Some(a) = acks {
        let _ = a.join();
    }
    let _ = publisher.write_all(&[0xE0, 0]);
    Ok(Measured { sent, latencies_ns })
}

/// The subscriber's side: one clock reading per read, shared by the messages that read returned
/// (they arrived together).
fn receive(mut s: TcpStream, origin: Instant, total: u64, deadline: Instant) -> Res<Vec<u64>> {
    let mut lat = Vec::with_capacity(total as usize);
    let (mut buf, mut acks) = (Vec::with_capacity(64 * 1024), Vec::new());
    let mut chunk = vec![0u8; 64 * 1024];
    while (lat.len() as u64) < total && Instant::now() < deadline {
        let n = match read_polled(&mut s, &mut chunk)? {
            Some(0) => break,
            Some(n) => n,
            None => continue,
        };
        let now = origin.elapsed().as_nanos() as u64;
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        let mut at = 0;
        while let Some((first, hl, len)) = frame(buf.get(at..).unwrap_or_default())? {
            let body = buf.get(at + hl..at + len).unwrap_or_default();
            if first >> 4 == 3 {
                let tl = body
                    .get(..2)
                    .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]) as usize);
                let q = (first >> 1) & 3;
                let start = 2 + tl + if q > 0 { 2 } else { 0 };
                if q > 0
                    && let Some(p) = body.get(2 + tl..4 + tl)
                {
                    acks.extend_from_slice(&[0x40, 2, p[0], p[1]]);
                }
                if let Some(stamp) = body.get(start..start + 8) {
                    let sent = u64::from_be_bytes(stamp.try_into().unwrap_or_default());
                    lat.push(now.saturating_sub(sent));
                }
            }
            at += len;
        }
        buf.drain(..at);
        if !acks.is_empty() {
            s.write_all(&acks)?;
            acks.clear();
        }
    }
    let _ = s.write_all(&[0xE0, 0]);
    Ok(lat)
}

/// One read; `None` when the read timeout passed with nothing (the caller looks at its deadline).
fn read_polled(s: &mut TcpStream, into: &mut [u8]) -> std::io::Result<Option<usize>> {
    match s.read(into) {
        Ok(n) => Ok(Some(n)),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Reads the publisher's socket until `total` PUBACKs or the deadline (QoS 0: until the deadline or the
/// broker closes; the caller does not wait for it).
fn count_pubacks(s: &mut TcpStream, acked: &AtomicU64, total: u64, deadline: Instant) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while acked.load(Ordering::Relaxed) < total && Instant::now() < deadline {
        match read_polled(s, &mut chunk) {
            Ok(Some(0)) | Err(_) => return,
            Ok(Some(n)) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Ok(None) => continue,
        }
        let mut at = 0;
        while let Ok(Some((first, _, len))) = frame(buf.get(at..).unwrap_or_default()) {
            if first == 0x40 {
                acked.fetch_add(1, Ordering::Relaxed);
            }
            at += len;
        }
        buf.drain(..at);
    }
}
