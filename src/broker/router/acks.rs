//! PUBACKs written by the router's driver straight to the publisher's socket (`Outbox::write_direct`),
//! instead of waking the publisher's connection task to write 4 bytes.
//!
//! A QoS 1 PUBLISH gives the router two outputs: the delivery and the publisher's PUBACK. Waking two
//! connection tasks made tokio hand one of them to its other worker thread, a futex wake and a thread
//! switch per message on the delivery's path (`latency-qos1`: broker CPU 680–890 → 470–540 ms per run).
//! The PUBACKs of a mailbox batch are held and written per connection after the wake-ups, one write for
//! all of them, as the connection task would have: written one run at a time, a publisher with 64 in
//! flight got a stream of 4-byte writes and `qos1-4x4` fell to a fifth.

use std::sync::Arc;

use bytes::BytesMut;

use crate::broker::message::{ConnId, ConnMap, ConnTx, Direct, Outbound};
use crate::metrics::Metrics;
use crate::mqtt::Packet;

/// PUBACKs held per connection at most (4 bytes each); beyond it they are queued for the connection.
const HELD_MAX: usize = 64;

/// Connections owed PUBACKs at one wake-up up to which they are written here.
const DIRECT_CONNS: usize = 1;

pub(super) struct AckWriter {
    /// Off while anyone watches packets: the connection is what reports each packet it writes.
    pub on: bool,
    metrics: Arc<Metrics>,
    /// PUBACKs held since the last [`AckWriter::write_held`], per connection, in order (bounded by
    /// `HELD_MAX` per connection given output in one mailbox batch; emptied at every wake-up).
    held: Vec<(ConnId, Vec<Outbound>)>,
    /// One connection's held PUBACKs, encoded.
    buf: BytesMut,
}

impl AckWriter {
    pub fn new(metrics: Arc<Metrics>) -> AckWriter {
        AckWriter {
            on: false,
            metrics,
            held: Vec::new(),
            buf: BytesMut::new(),
        }
    }

    /// Holds `run` (emptied) when it is only PUBACKs and fits; false leaves it for the queue.
    pub fn hold(&mut self, conn: ConnId, run: &mut Vec<Outbound>) -> bool {
        if !self.on
            || !run
                .iter()
                .all(|o| matches!(o, Outbound::Packet(Packet::PubAck(_))))
        {
            return false;
        }
        match self.held.iter_mut().find(|(c, _)| *c == conn) {
            Some((_, h)) if h.len() + run.len() <= HELD_MAX => h.append(run),
            Some(_) => return false,
            None if run.len() <= HELD_MAX => self.held.push((conn, std::mem::take(run))),
            None => return false,
        }
        true
    }

    /// Queues what is held for `conn` (output queued for it next must not overtake it).
    pub fn queue_held(&mut self, conn: ConnId, c: &ConnTx, touched: &mut Vec<ConnId>) {
        if let Some(i) = self.held.iter().position(|(h, _)| *h == conn) {
            let (_, mut items) = self.held.swap_remove(i);
            if c.send_quiet(&mut items) {
                touched.push(conn);
            }
        }
    }

    /// Writes each connection's held PUBACKs in one write when it is idle, and queues them (waking it)
    /// when it is not. Only when the router goes idle (`router_idle`) and one connection is owed
    /// PUBACKs: under load the PUBACKs of later batches join them if the publisher's task writes them
    /// (woken, it runs after the router), and the writes of many publishers' tasks run on every worker,
    /// where these would all be on the router's one thread.
    pub fn write_held(&mut self, conns: &ConnMap<ConnTx>, router_idle: bool) {
        let direct = router_idle && self.held.len() <= DIRECT_CONNS;
        for (conn, mut items) in self.held.drain(..) {
            // A connection that ended meanwhile: its task reports the disconnect.
            let Some(c) = conns.get(&conn) else {
                continue;
            };
            self.buf.clear();
            let encoded = items.iter().all(|o| match o {
                Outbound::Packet(p) => p.encode(&mut self.buf).is_ok(),
                _ => false,
            });
            let d = if direct && encoded {
                c.outbox.write_direct(&self.buf, &c.gauge)
            } else {
                Direct::Refused
            };
            match d {
                Direct::Written => Metrics::add(&self.metrics.bytes_out, self.buf.len() as u64),
                Direct::Partial(n) => {
                    Metrics::add(&self.metrics.bytes_out, n as u64);
                    c.outbox.signal();
                }
                Direct::Refused => {
                    if c.send_quiet(&mut items) {
                        c.outbox.signal();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::broker::message::{OutGauge, Outbox};
    use crate::mqtt::Pid;

    /// A connection handle whose outbox writes to a real socket; returns it with the client side.
    async fn conn(id: ConnId) -> (ConnTx, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        server.writable().await.unwrap();
        let outbox = Arc::new(Outbox::default());
        outbox.attach(Arc::new(server));
        let gauge = Arc::new(OutGauge::default());
        (ConnTx { id, outbox, gauge }, client)
    }

    fn acks(ids: &[u16]) -> Vec<Outbound> {
        ids.iter()
            .map(|&n| Outbound::Packet(Packet::PubAck(Pid::new(n).unwrap())))
            .collect()
    }

    fn taken(c: &ConnTx) -> Vec<String> {
        let mut q = VecDeque::new();
        c.outbox.take(&mut q);
        q.iter().map(|o| format!("{o:?}")).collect()
    }

    fn writer() -> AckWriter {
        let mut w = AckWriter::new(Arc::new(Metrics::default()));
        w.on = true;
        w
    }

    /// The router goes idle with one publisher owed PUBACKs: they reach its socket in one write, in
    /// order, and nothing is queued.
    #[tokio::test]
    async fn one_publisher_owed_acks_gets_them_written_when_the_router_goes_idle() {
        let (c, mut client) = conn(1).await;
        let mut w = writer();
        assert!(w.hold(1, &mut acks(&[1, 2])));
        assert!(w.hold(1, &mut acks(&[3])));
        let mut conns = ConnMap::default();
        conns.insert(1, c);
        w.write_held(&conns, true);
        let mut got = [0u8; 12];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, [0x40, 2, 0, 1, 0x40, 2, 0, 2, 0x40, 2, 0, 3]);
        assert!(taken(&conns[&1]).is_empty());
    }

    /// With more input waiting, or several publishers owed PUBACKs, they are queued for the
    /// connections (in order) instead.
    #[tokio::test]
    async fn under_load_the_acks_are_queued_for_the_connections() {
        let ((c1, _k1), (c2, _k2)) = (conn(1).await, conn(2).await);
        let mut conns = ConnMap::default();
        conns.insert(1, c1);
        conns.insert(2, c2);
        let mut w = writer();
        assert!(w.hold(1, &mut acks(&[1, 2])));
        w.write_held(&conns, false);
        assert_eq!(taken(&conns[&1]).len(), 2, "more input waiting");
        assert!(w.hold(1, &mut acks(&[3])));
        assert!(w.hold(2, &mut acks(&[9])));
        w.write_held(&conns, true);
        assert_eq!(taken(&conns[&1]), vec![format!("{:?}", acks(&[3])[0])]);
        assert_eq!(taken(&conns[&2]), vec![format!("{:?}", acks(&[9])[0])]);
    }

    /// Held PUBACKs go to the queue before later output for the same connection; a run that is not
    /// only PUBACKs, or with watchers on, is never held.
    #[tokio::test]
    async fn held_acks_are_queued_before_later_output() {
        let (c, _k) = conn(1).await;
        let mut w = writer();
        assert!(w.hold(1, &mut acks(&[1])));
        let mut mixed = vec![Outbound::Barrier(5), acks(&[2]).remove(0)];
        assert!(!w.hold(1, &mut mixed), "not only PUBACKs");
        let mut touched = Vec::new();
        w.queue_held(1, &c, &mut touched);
        assert_eq!(touched, vec![1]);
        c.send_quiet(&mut mixed);
        let q = taken(&c);
        assert_eq!(q.len(), 3);
        assert_eq!(q[0], format!("{:?}", acks(&[1])[0]));
        assert_eq!(q[1], format!("{:?}", Outbound::Barrier(5)));
        w.on = false;
        assert!(!w.hold(1, &mut acks(&[3])), "watched");
    }
}
