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
//!
//! In a turn that a connection runs the router for its own input (`Hub`), a short run of QoS 1/2
//! deliveries to an idle subscriber is written straight to the subscriber's socket too
//! (`write_deliveries`): the
//! publisher's task is running anyway, and the subscriber's is then not woken to write one message. From
//! the router task that was slower (the writes all landed on its one thread); a burst still goes through
//! the subscriber's own task, which writes it in one go.

use std::sync::Arc;

use bytes::BytesMut;

use crate::broker::message::{ConnId, ConnMap, ConnTx, Direct, Outbound};
use crate::metrics::Metrics;
use crate::mqtt::{Packet, QosPid, encode_publish};

/// PUBACKs held at most (4 bytes each); beyond it they are queued for the connection.
const HELD_MAX: usize = 64;

/// Deliveries in one run written straight to a subscriber's socket at most; a longer run is a burst,
/// for the subscriber's task.
const DIRECT_DELIVERIES: usize = 4;

pub(super) struct AckWriter {
    /// Off while anyone watches packets: the connection is what reports each packet it writes.
    pub on: bool,
    /// The router is being run by a connection's task for its own input (see `write_deliveries`).
    pub inline: bool,
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
            inline: false,
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

    /// Writes `run` straight to the connection's socket (emptying it) when it is a few QoS 1/2 deliveries, the
    /// router is run inline, and the connection is idle with nothing queued (`Outbox::write_direct`);
    /// false leaves the run for the queue. Call after `queue_held`: held PUBACKs are then queued, and a
    /// delivery cannot overtake them.
    pub fn write_deliveries(&mut self, c: &ConnTx, run: &mut Vec<Outbound>) -> bool {
        if !self.on || !self.inline || run.len() > DIRECT_DELIVERIES {
            return false;
        }
        self.buf.clear();
        for o in run.iter() {
            let Outbound::Publish {
                msg,
                qos,
                pid,
                dup,
                retain,
            } = o
            else {
                return false;
            };
            // QoS 0 goes through the queue: under load a stream of them written one run at a time
            // (`qos0-4x4`) cost throughput and got more of them dropped at the subscriber's bound.
            // QoS 1/2 deliveries are few at a time anyway (the subscriber's window).
            let Some(pid) = pid else {
                return false;
            };
            let qos_pid = QosPid::from_parts(*qos, *pid);
            let topic = msg.topic.as_str();
            // An error (a packet too large to encode) is left to the connection, which reports it.
            if encode_publish(&mut self.buf, topic, qos_pid, *dup, *retain, &msg.payload).is_err() {
                return false;
            }
        }
        if !self.write_buf(c) {
            return false;
        }
        Metrics::add(&self.metrics.publishes_out, run.len() as u64);
        run.clear();
        true
    }

    /// Writes what is encoded in `buf` straight to the connection's socket (`Outbox::write_direct`);
    /// false when refused. The rest of a partial write is queued there, and the connection woken for it.
    fn write_buf(&self, c: &ConnTx) -> bool {
        let n = match c.outbox.write_direct(&self.buf, &c.gauge) {
            Direct::Written => self.buf.len(),
            Direct::Partial(n) => {
                c.outbox.signal();
                n
            }
            Direct::Refused => return false,
        };
        Metrics::add(&self.metrics.bytes_out, n as u64);
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
            if encoded && self.write_buf(c) {
                return;
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
    use crate::broker::message::Message;
    use crate::broker::message::{OutGauge, Outbox};
    use crate::mqtt::{Pid, QoS, TopicName};

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

    fn delivery(qos: QoS, pid: Option<u16>) -> Outbound {
        Outbound::Publish {
            msg: Message {
                topic: TopicName::new("t").unwrap(),
                payload: bytes::Bytes::from_static(b"x"),
            },
            qos,
            pid: pid.map(|n| Pid::new(n).unwrap()),
            dup: false,
            retain: false,
        }
    }

    /// In a turn run inline, a few QoS 1 deliveries to an idle subscriber reach its socket in one write
    /// and nothing is queued; QoS 0, a turn of the router task, a burst, or output already queued there
    /// leave the run for the queue.
    #[tokio::test]
    async fn a_few_qos1_deliveries_in_an_inline_turn_are_written_to_an_idle_subscriber() {
        let (c, mut client) = conn(1).await;
        let mut w = writer();
        let mut run = vec![delivery(QoS::AtMostOnce, None)];
        w.inline = true;
        assert!(!w.write_deliveries(&c, &mut run), "QoS 0");
        let mut run: Vec<_> = (1..=5)
            .map(|n| delivery(QoS::AtLeastOnce, Some(n)))
            .collect();
        assert!(!w.write_deliveries(&c, &mut run), "a burst");
        w.inline = false;
        let mut run = vec![delivery(QoS::AtLeastOnce, Some(1))];
        assert!(!w.write_deliveries(&c, &mut run), "the router task's turn");
        w.inline = true;
        let mut run = vec![
            delivery(QoS::AtLeastOnce, Some(1)),
            delivery(QoS::AtLeastOnce, Some(2)),
        ];
        assert!(w.write_deliveries(&c, &mut run));
        assert!(run.is_empty());
        let mut got = [0u8; 16];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(
            got,
            [
                0x32, 6, 0, 1, b't', 0, 1, b'x', 0x32, 6, 0, 1, b't', 0, 2, b'x'
            ]
        );
        assert!(taken(&c).is_empty());
        // Something queued for it: a delivery must not overtake it.
        let mut queued = acks(&[7]);
        c.send_quiet(&mut queued);
        let mut run = vec![delivery(QoS::AtLeastOnce, Some(3))];
        assert!(!w.write_deliveries(&c, &mut run), "output queued");
        assert_eq!(run.len(), 1);
    }
}
