//! A thin driver around the [`Router`] state machine: it feeds inputs and the service's requests in,
//! answers the requests, and applies the effects: output to a connection's queue, numbered ops to the
//! store writer, events to watchers, pauses to connections. Who calls it, and when, is `hub`'s business.

use std::sync::Arc;

use crate::broker::message::{ConnId, ConnMap, ConnTx, Input, Outbound, RouterMsg};
use crate::config::Config;
use crate::events::Events;
use crate::metrics::Metrics;
use crate::store::{LoadedState, StoreTx};

use super::acks::AckWriter;
use super::{Effect, Router};

/// Connections given output are woken at least every this many inputs (and after every mailbox batch).
const WAKE_EVERY: usize = 64;

pub(crate) struct Driver {
    router: Router,
    /// Live connections' handles. An entry goes when its connection reports `Closed`.
    conns: ConnMap<ConnTx>,
    store: StoreTx,
    events: Events,
    /// Connections given output since they were last woken: woken once per mailbox batch, not per
    /// message (bounded by the live connections; emptied every loop turn).
    touched: Vec<ConnId>,
    /// Inputs handled since the touched connections were last woken.
    since_wake: usize,
    /// Each connection's outputs of one `apply`, queued together; empty between calls.
    runs: Runs,
    /// PUBACKs written straight to idle connections' sockets.
    acks: AckWriter,
}

impl Driver {
    pub fn new(
        cfg: Arc<Config>,
        store: StoreTx,
        events: Events,
        metrics: Arc<Metrics>,
        state: LoadedState,
    ) -> Driver {
        Driver {
            router: Router::new(cfg, metrics.clone(), state),
            acks: AckWriter::new(metrics),
            conns: ConnMap::default(),
            store,
            events,
            touched: Vec::new(),
            runs: Runs::default(),
            since_wake: 0,
        }
    }

    /// The store's commit watermark.
    pub fn committed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.store.committed()
    }

    /// The store writer lags: no input is taken until the ops not yet committed are under
    /// `max_store_backlog` and their payloads under `max_store_backlog_bytes` (see `Hub`).
    pub fn backlogged(&mut self, committed: u64) -> bool {
        self.router.store_backlogged(committed)
    }

    /// When the router next needs a `Tick` (wall-clock ms).
    pub fn next_deadline(&self) -> Option<i64> {
        self.router.next_deadline()
    }

    /// Handles one input for the connection whose task runs the router (see `Hub`), and writes or
    /// queues what that turn owes.
    pub fn handle_inline(&mut self, m: RouterMsg, now: i64) {
        self.set_watched();
        self.acks.inline = true;
        self.handle(m, now);
        // The turn is over: what it owes is written now. Its PUBACKs are the running connection's own,
        // and that connection is not writing (it is here), so `write_held` may write them whatever waits
        // in the mailbox: its `router_idle` asks whether more input for them may come, and none can.
        self.wake_touched(true);
        self.acks.inline = false;
    }

    /// Ends an inline turn that a panic cut short (see `Hub::lock`).
    pub fn end_inline(&mut self) {
        self.acks.inline = false;
    }

    /// The router's deadline passed.
    pub fn tick(&mut self, now: i64) {
        self.set_watched();
        self.router.handle(Input::Tick, now);
        self.apply();
    }

    /// Writes the client totals that changed (periodically, and once at shutdown).
    pub fn save_stats(&mut self) {
        self.router.save_all_stats();
        self.apply();
    }

    pub fn set_watched(&mut self) {
        let watched = self.events.watched();
        self.router.set_watched(watched);
        // The connection is what reports each packet it writes: none is written around it then.
        self.acks.on = !watched;
    }

    /// Wakes every connection given output since the last call, the first given output last: tokio runs
    /// the task woken last first (its LIFO slot), and the first output of a routed message is the
    /// delivery, which should not wait behind the publisher's acknowledgement.
    /// `idle`: the router has no more input waiting (see `AckWriter::write_held`).
    pub fn wake_touched(&mut self, idle: bool) {
        self.since_wake = 0;
        for conn in self.touched.drain(..).rev() {
            if let Some(c) = self.conns.get(&conn) {
                c.outbox.signal();
            }
        }
        // After the wake-ups: a delivery does not wait behind these writes.
        self.acks.write_held(&self.conns, idle);
    }

    pub fn handle(&mut self, m: RouterMsg, now: i64) {
        let r = &mut self.router;
        match m {
            RouterMsg::Login(tx, login) => {
                self.conns.insert(tx.id, tx);
                r.handle(Input::Login(login), now);
            }
            RouterMsg::Conn(input) => self.input(input, now),
            // Applied once for the batch (at the end, or earlier past `APPLY_AT` effects or every
            // `WAKE_EVERY` inputs): a subscriber's deliveries of the whole batch are queued under one lock,
            // the publisher's PUBACKs as one run.
            RouterMsg::Batch(inputs) => {
                for input in inputs {
                    self.input(input, now);
                }
            }
            RouterMsg::Sessions(reply) => {
                let _ = reply.send(r.session_infos());
            }
            RouterMsg::Retained(reply) => {
                let _ = reply.send(r.retained_list());
            }
            RouterMsg::RetainedPage {
                namespace,
                query,
                reply,
            } => {
                let _ = reply.send(r.retained_page(&namespace, &query));
            }
            RouterMsg::SetConfig { cfg, done } => {
                r.set_config(cfg);
                // Its effects (e.g. the store's new retention) go out before the caller hears "done", so
                // a store flush the caller sends next is ordered after them.
                self.apply();
                let _ = done.send(());
            }
            RouterMsg::Kick { client_id, done } => {
                let _ = done.send(r.at(now).kick(&client_id));
            }
            RouterMsg::DeleteRetained {
                namespace,
                topic,
                reply,
            } => {
                let _ = reply.send(r.at(now).delete_retained(namespace, topic));
            }
            RouterMsg::Push {
                namespace,
                topic,
                payload,
                reply,
            } => {
                let _ = reply.send(r.at(now).push(&namespace, topic, payload));
            }
            RouterMsg::Ingest {
                device_id,
                namespace,
                payload,
                upload,
                reply,
            } => {
                let _ = reply.send(r.at(now).ingest(&device_id, &namespace, payload, upload));
            }
            RouterMsg::Queue { client_id, reply } => {
                let _ = reply.send(r.queue(&client_id));
            }
            RouterMsg::ClearQueue { client_id, reply } => {
                let _ = reply.send(r.at(now).clear_queue(client_id));
            }
            RouterMsg::SendCommand {
                device_id,
                body,
                validity_s,
                qos,
                reply,
            } => {
                let _ = reply.send(
                    r.at(now)
                        .send_command_qos(&device_id, body, validity_s, qos),
                );
            }
            RouterMsg::LiveCommand { uuid, reply } => {
                let _ = reply.send(r.live_command(&uuid));
            }
            RouterMsg::Diagnostics { device_id, reply } => {
                let _ = reply.send(r.diagnostics(&device_id));
            }
        }
        self.router.settle();
        self.apply();
    }

    fn input(&mut self, input: Input, now: i64) {
        let closed = match &input {
            Input::Closed { conn, .. } => Some(*conn),
            _ => None,
        };
        self.router.handle(input, now);
        if let Some(c) = closed {
            self.conns.remove(&c);
        }
        // A subscriber is not left waiting for a whole mailbox batch (up to 512 × 64 inputs): its bounded
        // output would fill before it is woken, and QoS 0 beyond it is dropped.
        self.since_wake += 1;
        if self.since_wake >= WAKE_EVERY {
            self.apply();
            self.wake_touched(false);
        } else if self.router.pending_effects() >= APPLY_AT {
            // A large fan-out: queued now, so the effects buffer stays small.
            self.apply();
        }
    }

    /// Carries out what the router asked for. Each connection's outputs are queued in the order the
    /// router gave them, as one run per connection (one lock and one wake-up for a subscriber's whole
    /// batch of deliveries); store ops, events and pauses go at once, in order among themselves. Nothing
    /// depends on the order between connections: a store barrier travels in its connection's own run,
    /// after its store op was sent.
    ///
    /// Output is counted in a connection's gauge when queued here, so while a mailbox message is
    /// handled the router does not see that message's own deliveries in it: a subscriber's output can
    /// pass its bound (`max_out_msgs`, `max_out_bytes`) by at most one mailbox message's deliveries (64).
    fn apply(&mut self) {
        let (conns, touched, runs, acks) = (
            &self.conns,
            &mut self.touched,
            &mut self.runs,
            &mut self.acks,
        );
        for e in self.router.effects() {
            match e {
                Effect::Send(conn, o) => {
                    if let Err(o) = runs.push(conn, o) {
                        runs.flush(conns, touched, acks);
                        let _ = runs.push(conn, o);
                    }
                }
                Effect::Store(n, op) => self.store.send_numbered(n, op),
                Effect::Event(ev) => self.events.send(ev),
                Effect::Pause(conn, paused) => {
                    if let Some(c) = conns.get(&conn) {
                        c.pause(paused);
                    }
                }
            }
        }
        runs.flush(conns, touched, acks);
        self.router.trim_effects();
    }
}

/// Connections with a run at most; another one first queues them all.
const RUNS_MAX: usize = 32;

/// Effects pending after which an input's effects are applied without waiting for the end of its
/// mailbox message (a message to many subscribers).
const APPLY_AT: usize = 256;

/// A run's vector is kept for the next `apply` only up to this room.
const SPARE_KEEP: usize = 1024;

/// One `apply`'s outputs, a run per connection in the order the connections were first given output.
/// The emptied vectors are kept for the next call (at most `RUNS_MAX` of them, each up to `SPARE_KEEP`).
#[derive(Default)]
struct Runs {
    runs: Vec<(ConnId, Vec<Outbound>)>,
    spare: Vec<Vec<Outbound>>,
}

impl Runs {
    /// Adds `o` to `conn`'s run; gives it back when `RUNS_MAX` other connections have runs.
    fn push(&mut self, conn: ConnId, o: Outbound) -> Result<(), Outbound> {
        if let Some(run) = self.runs.iter_mut().rev().find(|r| r.0 == conn) {
            run.1.push(o);
            return Ok(());
        }
        if self.runs.len() >= RUNS_MAX {
            return Err(o);
        }
        let mut run = self.spare.pop().unwrap_or_default();
        run.push(o);
        self.runs.push((conn, run));
        Ok(())
    }

    /// Queues every run (see `flush_run`), in order.
    fn flush(&mut self, conns: &ConnMap<ConnTx>, touched: &mut Vec<ConnId>, acks: &mut AckWriter) {
        for mut run in self.runs.drain(..) {
            flush_run(conns, touched, &mut run, acks);
            if run.1.capacity() <= SPARE_KEEP {
                self.spare.push(run.1);
            }
        }
    }
}

/// Queues the run of outputs to one connection (see `Driver::apply`); a run of PUBACKs is held back
/// instead, to be written straight to the socket after the wake-ups (see `AckWriter`).
fn flush_run(
    conns: &ConnMap<ConnTx>,
    touched: &mut Vec<ConnId>,
    run: &mut (ConnId, Vec<Outbound>),
    acks: &mut AckWriter,
) {
    if run.1.is_empty() {
        return;
    }
    // A connection not in the map has ended; its task reports the disconnect.
    let Some(c) = conns.get(&run.0) else {
        run.1.clear();
        return;
    };
    if acks.hold(run.0, &mut run.1) {
        return;
    }
    // PUBACKs held for this connection go before anything queued after them.
    acks.queue_held(run.0, c, touched);
    if acks.write_deliveries(c, &mut run.1) {
        return;
    }
    if c.send_quiet(&mut run.1) {
        touched.push(run.0);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::broker::message::{OutGauge, Outbox};

    /// Outputs to many connections, interleaved, more connections than `RUNS_MAX`: each connection's
    /// queue holds exactly its own outputs in the order given, each connection is marked for one
    /// wake-up, and nothing is left in the runs.
    #[test]
    fn each_connection_gets_its_outputs_in_order_as_one_run() {
        let n = RUNS_MAX as u64 + 8;
        let mut conns = ConnMap::default();
        for id in 0..n {
            let tx = ConnTx {
                id,
                outbox: Arc::new(Outbox::default()),
                gauge: Arc::new(OutGauge::default()),
            };
            conns.insert(id, tx);
        }
        let (mut runs, mut touched) = (Runs::default(), Vec::new());
        let mut acks = AckWriter::new(Arc::new(Metrics::default()));
        for round in 0..3 {
            for id in 0..n {
                let o = Outbound::Barrier(round * 1000 + id);
                if let Err(o) = runs.push(id, o) {
                    runs.flush(&conns, &mut touched, &mut acks);
                    assert!(runs.push(id, o).is_ok());
                }
            }
        }
        runs.flush(&conns, &mut touched, &mut acks);
        assert!(runs.runs.is_empty());
        touched.sort_unstable();
        assert_eq!(touched, (0..n).collect::<Vec<_>>());
        for id in 0..n {
            let mut q = VecDeque::new();
            conns[&id].outbox.take(&mut q);
            let got: Vec<String> = q.iter().map(|o| format!("{o:?}")).collect();
            let want: Vec<String> = (0..3)
                .map(|r| format!("{:?}", Outbound::Barrier(r * 1000 + id)))
                .collect();
            assert_eq!(got, want, "connection {id}");
            assert_eq!(conns[&id].gauge.load().1, 3);
        }
    }
}
