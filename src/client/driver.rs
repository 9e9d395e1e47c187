//! The task that owns one client connection: the socket, packet identifiers, the table of messages in
//! flight, the QoS 2 receive state and keepalive. The handle talks to it through a bounded command queue.
//!
//! One `select!` loop, never blocking on one direction while the other has work: it writes whatever is
//! queued, reads while there is room to put what it reads, takes commands while the write buffer is below
//! its high-water mark, and sends PINGREQ when the line has been quiet for the keepalive interval.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::mqtt::{
    self, Packet, Pid, Publish, QoS, QosPid, SubackCode, Subscribe, TopicFilter, TopicName,
    Unsubscribe,
};

use super::{ClientError, ConnectOptions};

/// Above this many unsent bytes the driver stops taking commands and reading (acks it owes would pile up).
const HIGH_WATER: usize = 256 * 1024;

pub(super) type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

/// One outgoing PUBLISH before it has a packet identifier.
pub(super) struct OutMsg {
    pub topic: TopicName,
    pub qos: QoS,
    pub retain: bool,
    pub payload: Bytes,
    pub done: Option<Reply<()>>,
    /// The in-flight window slot; released when the acknowledgement arrives (or the connection ends).
    pub permit: Option<OwnedSemaphorePermit>,
}

pub(super) enum Cmd {
    Publish(OutMsg),
    Subscribe {
        filters: Vec<(TopicFilter, QoS)>,
        done: Reply<Vec<SubackCode>>,
    },
    Unsubscribe {
        filters: Vec<TopicFilter>,
        done: Reply<()>,
    },
    Ping {
        done: Reply<()>,
    },
    Raw(Bytes),
    Disconnect {
        done: Reply<()>,
    },
    Abort,
}

/// What a packet identifier in use is waiting for.
enum Pending {
    PubAck(Option<Reply<()>>, Option<OwnedSemaphorePermit>),
    PubRec(Option<Reply<()>>, Option<OwnedSemaphorePermit>),
    PubComp(Option<Reply<()>>, Option<OwnedSemaphorePermit>),
    SubAck(Reply<Vec<SubackCode>>),
    UnsubAck(Reply<()>),
}

pub(super) struct Driver {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    rbuf: BytesMut,
    wbuf: BytesMut,
    max_packet: usize,
    keep_alive: Option<Duration>,
    ack_incoming: bool,
    cmd_rx: mpsc::Receiver<Cmd>,
    /// `None` once the reader of `Incoming` went away: messages are still acknowledged, then dropped.
    in_tx: Option<mpsc::Sender<Publish>>,
    /// Decoded, not yet handed over. Only filled from one read (reading pauses while it is non-empty), so
    /// it holds at most one read buffer's worth of packets.
    pending_in: VecDeque<Publish>,
    closed_tx: watch::Sender<Option<String>>,
    pending: HashMap<u16, Pending>,
    next_pid: Pid,
    /// QoS 2 messages received (and delivered) whose PUBREL has not arrived; at most 65535 identifiers.
    qos2_in: HashSet<u16>,
    /// Waiters for PINGRESP in order; `None` for the driver's own keepalive pings. One per PINGREQ sent, and
    /// PINGREQs are only sent from commands (bounded queue) or once per keepalive interval.
    pings: VecDeque<Option<Reply<()>>>,
    last_write: Instant,
    ping_sent: Option<Instant>,
    disconnecting: Option<Reply<()>>,
}

impl Driver {
    pub(super) fn new(
        stream: TcpStream,
        rbuf: BytesMut,
        opts: &ConnectOptions,
        cmd_rx: mpsc::Receiver<Cmd>,
        in_tx: mpsc::Sender<Publish>,
        closed_tx: watch::Sender<Option<String>>,
    ) -> Driver {
        let (rd, wr) = stream.into_split();
        Driver {
            rd,
            wr,
            rbuf,
            wbuf: BytesMut::with_capacity(16 * 1024),
            max_packet: opts.max_packet,
            keep_alive: (opts.keep_alive > 0).then(|| Duration::from_secs(opts.keep_alive.into())),
            ack_incoming: opts.ack_incoming,
            cmd_rx,
            in_tx: Some(in_tx),
            pending_in: VecDeque::new(),
            closed_tx,
            pending: HashMap::new(),
            next_pid: Pid::default(),
            qos2_in: HashSet::new(),
            pings: VecDeque::new(),
            last_write: Instant::now(),
            ping_sent: None,
            disconnecting: None,
        }
    }

    pub(super) async fn run(mut self) {
        // Packets that arrived in the same read as CONNACK.
        let reason = match self.decode_all() {
            Ok(()) => self.run_loop().await,
            Err(e) => Err(e),
        };
        let reason = match reason {
            Ok(r) => r,
            Err(e) => e.to_string(),
        };
        self.fail_all(&reason);
        let _ = self.closed_tx.send(Some(reason));
    }

    async fn run_loop(&mut self) -> Result<String, ClientError> {
        loop {
            if self.disconnecting.is_some() && self.wbuf.is_empty() {
                let _ = self.wr.shutdown().await;
                if let Some(done) = self.disconnecting.take() {
                    let _ = done.send(Ok(()));
                }
                return Ok("disconnected".into());
            }
            let room = self.wbuf.len() < HIGH_WATER;
            let can_read = room && self.pending_in.is_empty();
            let can_cmd = room && self.disconnecting.is_none();
            let tick = self.next_tick();
            let in_tx = self.in_tx.clone();
            tokio::select! {
                biased;
                n = self.wr.write(&self.wbuf), if !self.wbuf.is_empty() => {
                    let n = n?;
                    self.wbuf.advance(n);
                    self.last_write = Instant::now();
                }
                permit = async {
                    match in_tx.as_ref() {
                        Some(t) => t.reserve().await,
                        // The guard below keeps this branch off when there is no sender.
                        None => std::future::pending().await,
                    }
                },
                    if !self.pending_in.is_empty() && in_tx.is_some() => {
                    match permit {
                        Ok(p) => {
                            if let Some(m) = self.pending_in.pop_front() {
                                p.send(m);
                            }
                        }
                        Err(_) => {
                            self.in_tx = None;
                            self.pending_in.clear();
                        }
                    }
                }
                n = self.rd.read_buf(&mut self.rbuf), if can_read => {
                    if n? == 0 {
                        return Ok("the broker closed the connection".into());
                    }
                    self.decode_all()?;
                }
                cmd = self.cmd_rx.recv(), if can_cmd => match cmd {
                    None => return Ok("the client was dropped".into()),
                    Some(Cmd::Abort) => return Ok("aborted by the client".into()),
                    Some(cmd) => self.command(cmd)?,
                },
                _ = tokio::time::sleep_until(tick), if self.keep_alive.is_some() => self.keepalive()?,
            }
        }
    }

    /// When the keepalive logic next has something to decide.
    fn next_tick(&self) -> Instant {
        let ka = self.keep_alive.unwrap_or(Duration::from_secs(3600));
        match self.ping_sent {
            Some(sent) => sent + ka,
            None => self.last_write + ka,
        }
    }

    fn keepalive(&mut self) -> Result<(), ClientError> {
        let ka = self.keep_alive.unwrap_or(Duration::from_secs(3600));
        let now = Instant::now();
        if let Some(sent) = self.ping_sent {
            if now >= sent + ka {
                return Err(ClientError::Timeout(ka));
            }
        } else if now >= self.last_write + ka {
            self.ping_sent = Some(now);
            self.pings.push_back(None);
            self.put(&Packet::PingReq)?;
        }
        Ok(())
    }

    fn put(&mut self, p: &Packet) -> Result<(), ClientError> {
        p.encode(&mut self.wbuf)?;
        Ok(())
    }

    fn alloc_pid(&mut self) -> Result<Pid, ClientError> {
        for _ in 0..=u16::MAX {
            let pid = self.next_pid;
            self.next_pid = pid.next();
            if !self.pending.contains_key(&pid.get()) {
                return Ok(pid);
            }
        }
        Err(ClientError::Invalid(
            "all 65535 packet identifiers are in use".into(),
        ))
    }

    fn command(&mut self, cmd: Cmd) -> Result<(), ClientError> {
        match cmd {
            Cmd::Publish(m) => {
                let pid = if m.qos == QoS::AtMostOnce {
                    Pid::default()
                } else {
                    self.alloc_pid()?
                };
                let p = Packet::Publish(Publish {
                    dup: false,
                    qos_pid: QosPid::from_parts(m.qos, pid),
                    retain: m.retain,
                    topic: m.topic,
                    payload: m.payload,
                });
                if let Err(e) = self.put(&p) {
                    if let Some(d) = m.done {
                        let _ = d.send(Err(e));
                    }
                    return Ok(());
                }
                match m.qos {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => {
                        self.pending
                            .insert(pid.get(), Pending::PubAck(m.done, m.permit));
                    }
                    QoS::ExactlyOnce => {
                        self.pending
                            .insert(pid.get(), Pending::PubRec(m.done, m.permit));
                    }
                }
            }
            Cmd::Subscribe { filters, done } => {
                let pid = self.alloc_pid()?;
                match self.put(&Packet::Subscribe(Subscribe { pid, filters })) {
                    Ok(()) => {
                        self.pending.insert(pid.get(), Pending::SubAck(done));
                    }
                    Err(e) => {
                        let _ = done.send(Err(e));
                    }
                }
            }
            Cmd::Unsubscribe { filters, done } => {
                let pid = self.alloc_pid()?;
                match self.put(&Packet::Unsubscribe(Unsubscribe { pid, filters })) {
                    Ok(()) => {
                        self.pending.insert(pid.get(), Pending::UnsubAck(done));
                    }
                    Err(e) => {
                        let _ = done.send(Err(e));
                    }
                }
            }
            Cmd::Ping { done } => {
                self.pings.push_back(Some(done));
                self.ping_sent.get_or_insert_with(Instant::now);
                self.put(&Packet::PingReq)?;
            }
            Cmd::Raw(bytes) => self.wbuf.extend_from_slice(&bytes),
            Cmd::Disconnect { done } => {
                self.put(&Packet::Disconnect)?;
                self.disconnecting = Some(done);
            }
            Cmd::Abort => {}
        }
        Ok(())
    }

    fn decode_all(&mut self) -> Result<(), ClientError> {
        while let Some(d) = mqtt::decode(&mut self.rbuf, self.max_packet)? {
            self.incoming(d.packet)?;
        }
        Ok(())
    }

    fn incoming(&mut self, packet: Packet) -> Result<(), ClientError> {
        match packet {
            Packet::Publish(p) => {
                let deliver = match p.qos_pid {
                    QosPid::AtMostOnce => true,
                    QosPid::AtLeastOnce(pid) => {
                        if self.ack_incoming {
                            self.put(&Packet::PubAck(pid))?;
                        }
                        true
                    }
                    QosPid::ExactlyOnce(pid) => {
                        if self.ack_incoming {
                            self.put(&Packet::PubRec(pid))?;
                        }
                        // A resent PUBLISH before PUBREL is the same message: deliver it once.
                        self.qos2_in.insert(pid.get())
                    }
                };
                if deliver && self.in_tx.is_some() {
                    self.pending_in.push_back(p);
                }
            }
            Packet::PubRel(pid) => {
                self.qos2_in.remove(&pid.get());
                if self.ack_incoming {
                    self.put(&Packet::PubComp(pid))?;
                }
            }
            Packet::PubAck(pid) => {
                // The window slot is released when the entry is dropped, waiter or not.
                if let Some(Pending::PubAck(Some(d), _permit)) =
                    self.take_if(pid, |p| matches!(p, Pending::PubAck(..)))
                {
                    let _ = d.send(Ok(()));
                }
            }
            Packet::PubRec(pid) => {
                if let Some(Pending::PubRec(done, permit)) =
                    self.take_if(pid, |p| matches!(p, Pending::PubRec(..)))
                {
                    self.pending
                        .insert(pid.get(), Pending::PubComp(done, permit));
                }
                // PUBREL is owed even for an identifier we no longer know [MQTT-4.3.3-1].
                self.put(&Packet::PubRel(pid))?;
            }
            Packet::PubComp(pid) => {
                // The window slot is released when the entry is dropped, waiter or not.
                if let Some(Pending::PubComp(Some(d), _permit)) =
                    self.take_if(pid, |p| matches!(p, Pending::PubComp(..)))
                {
                    let _ = d.send(Ok(()));
                }
            }
            Packet::SubAck(ack) => {
                if let Some(Pending::SubAck(done)) =
                    self.take_if(ack.pid, |p| matches!(p, Pending::SubAck(_)))
                {
                    let _ = done.send(Ok(ack.codes));
                }
            }
            Packet::UnsubAck(pid) => {
                if let Some(Pending::UnsubAck(done)) =
                    self.take_if(pid, |p| matches!(p, Pending::UnsubAck(_)))
                {
                    let _ = done.send(Ok(()));
                }
            }
            Packet::PingResp => {
                if let Some(Some(done)) = self.pings.pop_front() {
                    let _ = done.send(Ok(()));
                }
                self.ping_sent = None;
            }
            other => {
                return Err(ClientError::Unexpected {
                    expected: "a packet a broker sends after CONNACK",
                    got: other.packet_type(),
                });
            }
        }
        Ok(())
    }

    fn take_if(&mut self, pid: Pid, want: impl Fn(&Pending) -> bool) -> Option<Pending> {
        if self.pending.get(&pid.get()).is_some_and(want) {
            self.pending.remove(&pid.get())
        } else {
            None
        }
    }

    /// Fails every waiter with the reason the connection ended.
    fn fail_all(&mut self, reason: &str) {
        let err = || ClientError::Closed(Some(reason.to_string()));
        for (_, p) in self.pending.drain() {
            match p {
                Pending::PubAck(d, _) | Pending::PubRec(d, _) | Pending::PubComp(d, _) => {
                    if let Some(d) = d {
                        let _ = d.send(Err(err()));
                    }
                }
                Pending::SubAck(d) => {
                    let _ = d.send(Err(err()));
                }
                Pending::UnsubAck(d) => {
                    let _ = d.send(Err(err()));
                }
            }
        }
        for d in self.pings.drain(..).flatten() {
            let _ = d.send(Err(err()));
        }
        if let Some(d) = self.disconnecting.take() {
            let _ = d.send(Ok(()));
        }
        // Commands still queued fail when their senders see the closed channel.
        self.cmd_rx.close();
        while let Ok(cmd) = self.cmd_rx.try_recv() {
            match cmd {
                Cmd::Publish(OutMsg { done: Some(d), .. }) => {
                    let _ = d.send(Err(err()));
                }
                Cmd::Subscribe { done, .. } => {
                    let _ = done.send(Err(err()));
                }
                Cmd::Unsubscribe { done, .. } | Cmd::Ping { done } => {
                    let _ = done.send(Err(err()));
                }
                Cmd::Disconnect { done } => {
                    let _ = done.send(Ok(()));
                }
                _ => {}
            }
        }
    }
}
