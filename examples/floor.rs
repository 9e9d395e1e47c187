//! The least an MQTT broker can do, as a yardstick for the load generator's `connect-rate` and latency
//! scenarios: what this machine's kernel, loopback and scheduler allow before any broker logic. One
//! thread, one epoll set (mio), no sessions, no topics, no queues, no limits:
//!
//! * CONNECT → CONNACK (accepted), PINGREQ → PINGRESP, DISCONNECT → the connection is closed;
//! * SUBSCRIBE → SUBACK (QoS 1 granted), and the connection receives every PUBLISH from then on,
//!   whatever its topic;
//! * PUBLISH → the same bytes to every subscriber, then PUBACK to the publisher at QoS 1.
//!
//! Not a broker: the throughput scenarios (which need topics) and the memory ones mean nothing here.
//! `FLOOR=on scripts/bench-peers.sh` runs it beside the peers for `latency-qos0`, `latency-qos1` and
//! `connect-rate`; by hand:
//!
//! ```text
//! cargo run --release --example floor -- 127.0.0.1:6010 &
//! cargo run --release --example loadgen -- --addr 127.0.0.1:6010 --scenario connect-rate
//! ```

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(0);

/// A packet larger than this closes the connection (nothing in the scenarios comes near).
const MAX_PACKET: usize = 1 << 20;

struct Client {
    socket: TcpStream,
    input: Vec<u8>,
    subscribed: bool,
}

/// What one client's packets ask for: bytes back to it, PUBLISH packets for the subscribers, and
/// whether it is done.
#[derive(Default)]
struct Answer {
    reply: Vec<u8>,
    publishes: Vec<Vec<u8>>,
    close: bool,
}

/// Handles every whole packet in `c.input`, leaving a partial one there.
fn handle(c: &mut Client, out: &mut Answer) {
    let mut at = 0;
    loop {
        let rest = c.input.get(at..).unwrap_or_default();
        // The crate's fixed-header check (as the load generator's own client uses it).
        let (header, total) = match onenet_desk::mqtt::check(rest, MAX_PACKET) {
            Ok(Some(h)) if rest.len() >= h.total_len() => (h.header_len, h.total_len()),
            Ok(_) => break,
            Err(_) => {
                out.close = true;
                break;
            }
        };
        let packet = rest.get(..total).unwrap_or_default();
        let body = packet.get(header..).unwrap_or_default();
        match packet.first().map(|b| b >> 4) {
            Some(1) => out.reply.extend_from_slice(&[0x20, 2, 0, 0]),
            Some(8) => {
                c.subscribed = true;
                let pid = body.get(..2).unwrap_or(&[0, 1]);
                out.reply.extend_from_slice(&[0x90, 3]);
                out.reply.extend_from_slice(pid);
                out.reply.push(1);
            }
            Some(3) => {
                out.publishes.push(packet.to_vec());
                let qos = packet.first().map_or(0, |b| (b >> 1) & 3);
                let topic_len = body
                    .get(..2)
                    .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])));
                if qos == 1
                    && let Some(pid) = body.get(2 + topic_len..4 + topic_len)
                {
                    out.reply.extend_from_slice(&[0x40, 2]);
                    out.reply.extend_from_slice(pid);
                }
            }
            Some(12) => out.reply.extend_from_slice(&[0xD0, 0]),
            Some(14) => out.close = true,
            _ => {}
        }
        at += total;
    }
    c.input.drain(..at);
}

/// Writes `bytes` on a non-blocking socket; false when it did not take them whole (the scenarios never
/// fill one): the caller closes that connection rather than leave half a packet in its stream.
fn send(socket: &mut TcpStream, bytes: &[u8]) -> bool {
    bytes.is_empty() || matches!(socket.write(bytes), Ok(n) if n == bytes.len())
}

/// One read, as onenet-desk's connections do (`broker::connection::read`): a read that did not fill
/// the buffer took everything the kernel had, and edge-triggered readiness comes again with new bytes.
/// True when the connection ended (end of stream or an error).
fn read_some(c: &mut Client, chunk: &mut [u8]) -> bool {
    loop {
        match c.socket.read(chunk) {
            Ok(0) => return true,
            Ok(n) => {
                c.input
                    .extend_from_slice(chunk.get(..n).unwrap_or_default());
                if n < chunk.len() {
                    return false;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

/// Takes every pending connection (edge-triggered: until the listener has none). A connection that
/// cannot be set up is dropped; the server goes on.
fn accept_all(
    listener: &TcpListener,
    poll: &Poll,
    clients: &mut HashMap<usize, Client>,
    next: &mut usize,
) {
    loop {
        match listener.accept() {
            Ok((mut socket, _)) => {
                let token = Token(*next);
                *next += 1;
                if socket.set_nodelay(true).is_err()
                    || poll
                        .registry()
                        .register(&mut socket, token, Interest::READABLE)
                        .is_err()
                {
                    continue;
                }
                let input = Vec::new();
                clients.insert(
                    token.0,
                    Client {
                        socket,
                        input,
                        subscribed: false,
                    },
                );
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            // A connection reset before it was taken: the next one may do.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::ConnectionReset
                ) => {}
            // Out of descriptors, or worse: stop for now; the next connection wakes the listener again.
            Err(_) => return,
        }
    }
}

fn close(poll: &Poll, clients: &mut HashMap<usize, Client>, id: usize) {
    if let Some(mut c) = clients.remove(&id) {
        let _ = poll.registry().deregister(&mut c.socket);
        let _ = c.socket.shutdown(std::net::Shutdown::Write);
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:6010".into());
    let addr: std::net::SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::new(ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            format!("{addr} is not a loopback address"),
        ));
    }
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut clients: HashMap<usize, Client> = HashMap::new();
    let mut next = 1;
    let mut events = Events::with_capacity(1024);
    let mut chunk = vec![0u8; 4096];
    let mut failed = Vec::new();
    loop {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                accept_all(&listener, &poll, &mut clients, &mut next);
                continue;
            }
            let id = ev.token().0;
            let mut out = Answer::default();
            if let Some(c) = clients.get_mut(&id) {
                out.close = read_some(c, &mut chunk);
                handle(c, &mut out);
            }
            // Deliveries first, as a broker would send them, then the publisher's answers.
            if !out.publishes.is_empty() {
                for (other, s) in clients.iter_mut() {
                    if *other != id
                        && s.subscribed
                        && !out.publishes.iter().all(|p| send(&mut s.socket, p))
                    {
                        failed.push(*other);
                    }
                }
            }
            if let Some(c) = clients.get_mut(&id)
                && !send(&mut c.socket, &out.reply)
            {
                out.close = true;
            }
            if out.close {
                close(&poll, &mut clients, id);
            }
            for other in failed.drain(..) {
                close(&poll, &mut clients, other);
            }
        }
    }
}
