//! PUBACKs written by the router's driver straight to the publisher's socket (`Outbox::write_direct`),
//! instead of waking the publisher's connection task to write 4 bytes.
//!
//! A QoS 1 PUBLISH gives the router two outputs: the delivery and the publisher's PUBACK. Waking two
//! connection tasks made tokio hand one of them to its other worker thread, a futex wake and a thread
//! switch per message on the delivery's path (`latency-qos1` broker CPU per run 720–1,010 → 560–760 ms,
//! 4 interleaved runs of `scripts/bench-ab.sh`).
//! The PUBACKs of a mailbox batch, when one connection is owed them, are held and written after the
//! wake-ups, one write for all of them, as the connection task would have: written one run at a time, a publisher with 64 in
//! flight got a stream of 4-byte writes and `qos1-4x4` fell to a fifth.

use std::sync::Arc;

use bytes::BytesMut;

use crate::broker::message::{ConnId, ConnMap, ConnTx, Direct, Outbound};
use crate::metrics::Metrics;
use crate::mqtt::Packet;

/// PUBACKs held at most (4 bytes each); beyond it they are queued for the connection.
const HELD_MAX: usize = 64;

pub(super) struct AckWriter {
    /// Off while anyone watches packets: the connection is what reports each packet it writes.
    pub on: bool,
    metrics: Arc<Metrics>,
    /// The PUBACKs held since the last [`AckWriter::write_held`], in order, for the one connection
    /// owed any (at most `HELD_MAX`).
    held: Option<(ConnId, Vec<Outbound>)>,
    /// A second connection was owed PUBACKs since the last [`AckWriter::write_held`]: that is load, so
    /// nothing more is held and what is held is queued then (see `write_held`).
    crowded: bool,
    /// The held PUBACKs, encoded.
    buf: BytesMut,
}

impl AckWriter {
    pub fn new(metrics: Arc<Metrics>) -> AckWriter {
        AckWriter {
            on: false,
            metrics,
            held: None,
            crowded: false,
            buf: BytesMut::new(),
        }
    }

    /// Holds `run` (emptied) when it is only PUBACKs, fits, and no other connection was owed PUBACKs
    /// since the last wake-up; false leaves it for the queue.
    pub fn hold(&mut self, conn: ConnId, run: &mut Vec<Outbound>) -> bool {
        if !self.on
            || self.crowded
            || !run
                .iter()
                .all(|o| matches!(o, Outbound::Packet(Packet::PubAck(_))))
        {
            return false;
        }
        match &mut self.held {
            Some((c, h)) if *c == conn => {
                if h.len() + run.len() > HELD_MAX {
                    return false;
                }
                h.append(run);
            }
            Some(_) => {
                self.crowded = true;
                return false;
            }
            None if run.len() <= HELD_MAX => self.held = Some((conn, std::mem::take(run))),
            None => return false,
        }
        true
    }

    /// Queues what is held for `conn` (output queued for it next must not overtake it).
    pub fn queue_held(&mut self, conn: ConnId, c: &ConnTx, touched: &mut Vec<ConnId>) {
        if let Some((_, mut items)) = self.held.take_if(|(h, _)| *h == conn)
            && c.send_quiet(&mut items)
        {
            touched.push(conn);
        }
    }

    /// Writes the held PUBACKs in one write when their connection is idle, and queues them (waking it)
    /// when it is not. Only when the router goes idle (`router_idle`) and no other connection was owed
    /// PUBACKs: under load the PUBACKs of later batches join them if the publisher's task writes them
    /// (woken, it runs after the router), and the writes of many publishers' tasks run on every worker,
    /// where these would all be on the router's one thread.
    pub fn write_held(&mut self, conns: &ConnMap<ConnTx>, router_idle: bool) {
        let direct = router_idle && !self.crowded;
        self.crowded = false;
        let Some((conn, mut items)) = self.held.take() else {
            return;
        };
        // A connection that ended meanwhile: its task reports the disconnect.
        let Some(c) = conns.get(&conn) else {
            return;
        };
        if direct {
            self.buf.clear();
            let encoded = items.iter().all(|o| match o {
                Outbound::Packet(p) => p.encode(&mut self.buf).is_ok(),
                _ => false,
            });
            let d = if encoded {
                c.outbox.write_direct(&self.buf, &c.gauge)
            } else {
                Direct::Refused
            };
            match d {
                Direct::Written => {
                    Metrics::add(&self.metrics.bytes_out, self.buf.len() as u64);
                    return;
                }
                Direct::Partial(n) => {
                    Metrics::add(&self.metrics.bytes_out, n as u64);
                    c.outbox.signal();
                    return;
                }
                Direct::Refused => {}
            }
        }
        if c.send_quiet(&mut items) {
            c.outbox.signal();
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
        // A second publisher: its run goes to the queue at once (as `flush_run` does with a run not
        // held), and what is held for the first is queued at the wake-up.
        let mut second = acks(&[9]);
        assert!(!w.hold(2, &mut second), "a second publisher is load");
        conns[&2].send_quiet(&mut second);
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
