//! Load generator for onenet-desk (or any MQTT 3.1.1 broker) on the loopback interface, built on the crate's
//! own client (`onenet_desk::client`). Every scenario is bounded in count and by `--deadline`, and prints one
//! JSON object per line on stdout so a script can build a table:
//!
//! ```text
//! cargo run --release --example loadgen -- --addr 127.0.0.1:6002 --scenario all --broker-pid 1234
//! ```
//!
//! Against onenet-desk's `onenet` profile run `serve --auto-register` with a product and pass
//! `--user PRODUCT_ID`: every client then connects with its client id as password (auth method 1, registered
//! on first connect). Without `--user` clients connect anonymously (`serve --profile mqtt`, other brokers).

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use onenet_desk::client::{self, Client, ClientError, ConnectOptions, Incoming};
use onenet_desk::mqtt::QoS;
use serde_json::{Value, json};
use tokio::task::JoinSet;

mod latency;
mod memory;
mod raw;
mod stalled;
mod store;

#[derive(Parser, Clone)]
#[command(
    about = "Bounded MQTT load scenarios against a broker on 127.0.0.1; one JSON line per scenario"
)]
struct Args {
    /// Broker address; must be a loopback address.
    #[arg(long, default_value = "127.0.0.1:6002")]
    addr: String,
    /// Scenario name, or `all`: qos0-4x4, qos1-4x4, qos1-100x1, latency-qos0, latency-qos1, stalled, idle,
    /// connect-rate, dp, silent, stalled-qos1; and, not in `all` (onenet-desk only, needs `--db`),
    /// locked-store.
    #[arg(long, default_value = "all")]
    scenario: String,
    /// The broker's process id: RSS figures are read from /proc/PID/status.
    #[arg(long)]
    broker_pid: Option<u32>,
    /// MQTT user name (the product id for onenet-desk's `onenet` profile); the password is the client id.
    #[arg(long)]
    user: Option<String>,
    /// Prefix of client ids and topics, so runs against a shared broker do not collide.
    #[arg(long, default_value = "lg")]
    prefix: String,
    /// Seconds each scenario may run at most; an unfinished scenario reports `"complete": false`.
    #[arg(long, default_value_t = 120)]
    deadline: u64,
    /// Connections of the `idle` and `silent` scenarios.
    #[arg(long, default_value_t = 1000)]
    idle: usize,
    /// `idle`: after measuring, every connection subscribes to one topic and receives this many 1 KiB
    /// QoS 0 messages, and the broker's RSS is measured again once they are idle (what a burst leaves
    /// behind); 0: not done.
    #[arg(long, default_value_t = 0)]
    idle_burst: u64,
    /// Messages of the stalled-subscriber scenario.
    #[arg(long, default_value_t = 500_000)]
    stalled_msgs: u64,
    /// Multiplies the message counts of the throughput scenarios (qos0-4x4, qos1-4x4, qos1-100x1, dp):
    /// longer runs for profiling and A/B comparisons; the table's figures use 1.
    #[arg(long, default_value_t = 1)]
    scale: u64,
    /// Messages of each latency scenario (sent at 2,000 msg/s).
    #[arg(long, default_value_t = 10_000)]
    latency_msgs: u64,
    /// `locked-store`: the broker's database (`DATA_DIR/onenet-desk.sqlite3`), whose write lock the
    /// scenario holds while it floods.
    #[arg(long)]
    db: Option<std::path::PathBuf>,
    /// `locked-store`: retained messages sent, and the payload bytes of each; `stalled-qos1`: QoS 1
    /// messages at most (it stops when the broker stops reading) and their payload bytes.
    #[arg(long, default_value_t = 1000)]
    flood_msgs: u64,
    #[arg(long, default_value_t = 1 << 20)]
    flood_size: usize,
    /// `locked-store`: seconds the database's write lock is held.
    #[arg(long, default_value_t = 8.0)]
    lock_secs: f64,
}

const SCENARIOS: &[&str] = &[
    "qos0-4x4",
    "qos1-4x4",
    "qos1-100x1",
    "latency-qos0",
    "latency-qos1",
    "stalled",
    "idle",
    "connect-rate",
    "dp",
    "silent",
    "stalled-qos1",
    "locked-store",
];

/// Scenarios that `all` leaves out: they need more than a broker's address.
const NOT_IN_ALL: &[&str] = &["locked-store"];

type Res<T> = Result<T, ClientError>;

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let loopback = args
        .addr
        .to_socket_addrs()
        .map(|mut a| a.all(|a| a.ip().is_loopback()))
        .unwrap_or(false);
    if !loopback {
        eprintln!("error: --addr {} is not a loopback address", args.addr);
        return std::process::ExitCode::from(2);
    }
    let names: Vec<&'static str> = if args.scenario == "all" {
        SCENARIOS
            .iter()
            .copied()
            .filter(|s| !NOT_IN_ALL.contains(s))
            .collect()
    } else if let Some(name) = SCENARIOS.iter().find(|s| **s == args.scenario) {
        vec![*name]
    } else {
        eprintln!(
            "error: unknown scenario {:?}; one of {SCENARIOS:?} or all",
            args.scenario
        );
        return std::process::ExitCode::from(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut failed = false;
    for name in names {
        let lg = Lg {
            a: args.clone(),
            name,
        };
        let deadline = Duration::from_secs(args.deadline);
        let out = rt.block_on(async {
            match tokio::time::timeout(deadline + Duration::from_secs(10), lg.run()).await {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => json!({ "error": e.to_string() }),
                Err(_) => json!({ "error": "scenario overran its deadline" }),
            }
        });
        let mut line = json!({ "scenario": name });
        if let (Some(l), Some(o)) = (line.as_object_mut(), out.as_object()) {
            l.extend(o.clone());
        }
        failed |= line.get("error").is_some();
        println!("{line}");
    }
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

struct Lg {
    a: Args,
    name: &'static str,
}

/// Counters shared by the tasks of one scenario.
#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    acked: AtomicU64,
    received: AtomicU64,
}

impl Lg {
    async fn run(&self) -> Res<Value> {
        let k = self.a.scale.max(1);
        match self.name {
            "qos0-4x4" => self.pairs(QoS::AtMostOnce, 4, 20_000 * k).await,
            "qos1-4x4" => self.pairs(QoS::AtLeastOnce, 4, 10_000 * k).await,
            "qos1-100x1" => self.fan_in(100, 500 * k).await,
            "latency-qos0" => self.latency(QoS::AtMostOnce).await,
            "latency-qos1" => self.latency(QoS::AtLeastOnce).await,
            "stalled" => self.stalled().await,
            "idle" => self.idle().await,
            "connect-rate" => self.connect_rate(5_000, 100).await,
            "dp" => self.dp(100, 100 * k).await,
            "silent" => self.silent().await,
            "stalled-qos1" => {
                let topic = self.topic(self.name);
                let sub = self
                    .raw_subscriber(&format!("{}-s", self.name), &topic, QoS::AtLeastOnce)
                    .await?;
                let publisher = self.raw(&format!("{}-p", self.name)).await?;
                stalled::stalled_qos1(
                    sub,
                    publisher,
                    &topic,
                    (self.a.flood_msgs, self.a.flood_size),
                    self.a.broker_pid,
                    self.deadline(),
                )
                .await
            }
            "locked-store" => {
                let db = self.a.db.clone().ok_or_else(|| {
                    ClientError::Invalid("locked-store needs --db (the broker's database)".into())
                })?;
                store::locked_store(store::Flood {
                    addr: self.a.addr.clone(),
                    id: format!("{}-{}", self.a.prefix, self.name),
                    user: self.a.user.clone(),
                    topic: self.topic(self.name),
                    db,
                    msgs: self.a.flood_msgs,
                    size: self.a.flood_size,
                    hold: Duration::from_secs_f64(self.a.lock_secs.max(0.0)),
                    broker_pid: self.a.broker_pid,
                    deadline: self.deadline(),
                })
                .await
            }
            _ => Err(ClientError::Invalid(format!("no scenario {}", self.name))),
        }
    }

    fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_secs(self.a.deadline)
    }

    fn opts(&self, id: &str) -> ConnectOptions {
        let id = format!("{}-{id}", self.a.prefix);
        let o = ConnectOptions::new(self.a.addr.clone(), id.clone());
        match &self.a.user {
            Some(u) => o.with_credentials(u.clone(), id),
            None => o,
        }
    }

    fn topic(&self, t: &str) -> String {
        format!("{}/{t}", self.a.prefix)
    }

    async fn subscriber(&self, id: &str, filter: &str, qos: QoS) -> Res<(Client, Incoming)> {
        let (c, inc, _) = client::connect(self.opts(id).with_incoming_capacity(4096)).await?;
        c.subscribe(&[(filter, qos)]).await?;
        Ok((c, inc))
    }

    /// A raw connection (see `raw`) with this scenario's client id scheme and credentials.
    async fn raw(&self, id: &str) -> Res<raw::Raw> {
        let id = format!("{}-{id}", self.a.prefix);
        raw::Raw::connect(&self.a.addr, &id, self.a.user.as_deref(), 600).await
    }

    async fn raw_subscriber(&self, id: &str, filter: &str, qos: QoS) -> Res<raw::Raw> {
        let mut c = self.raw(id).await?;
        c.subscribe(filter, qos as u8).await?;
        Ok(c)
    }

    /// Publisher i → subscriber i on its own topic; `per` messages each, 64 in flight for QoS 1 (QoS 0:
    /// 64 per write).
    async fn pairs(&self, qos: QoS, n: usize, per: u64) -> Res<Value> {
        let counts = Arc::new(Counts::default());
        let deadline = self.deadline();
        let lossless = qos != QoS::AtMostOnce;
        let (done_tx, done) = tokio::sync::watch::channel(false);
        let mut subs = JoinSet::new();
        let mut pubs = Vec::new();
        for i in 0..n {
            let topic = self.topic(&format!("{}/{i}", self.name));
            let sc = self
                .raw_subscriber(&format!("{}-s{i}", self.name), &topic, qos)
                .await?;
            subs.spawn(raw::count(
                sc,
                per,
                deadline,
                counts.clone(),
                lossless,
                done.clone(),
            ));
            let pc = self.raw(&format!("{}-p{i}", self.name)).await?;
            pubs.push((pc, topic));
        }
        let t0 = Instant::now();
        let pub_secs = publish_all(pubs, qos as u8, per, 64, deadline, &counts).await?;
        let _ = done_tx.send(true);
        let mut last = t0;
        while let Some(r) = subs.join_next().await {
            if let Ok(Some(t)) = r {
                last = last.max(t);
            }
        }
        // Deliveries per second up to the last one received (not counting a final wait for silence).
        let secs = (last - t0).as_secs_f64().max(pub_secs);
        Ok(summary(&counts, n as u64 * per, pub_secs, secs, lossless))
    }

    /// `n` QoS 1 publishers (16 in flight each) → one subscriber of a wildcard filter.
    async fn fan_in(&self, n: usize, per: u64) -> Res<Value> {
        let counts = Arc::new(Counts::default());
        let deadline = self.deadline();
        let base = self.topic(self.name);
        let sc = self
            .raw_subscriber(
                &format!("{}-s", self.name),
                &format!("{base}/+"),
                QoS::AtLeastOnce,
            )
            .await?;
        let (_done_tx, done) = tokio::sync::watch::channel(false);
        let sub = tokio::spawn(raw::count(
            sc,
            n as u64 * per,
            deadline,
            counts.clone(),
            true,
            done,
        ));
        let mut pubs = Vec::new();
        for i in 0..n {
            pubs.push(self.raw(&format!("{}-d{i}", self.name)).await?);
        }
        let pubs = pubs
            .into_iter()
            .enumerate()
            .map(|(i, pc)| (pc, format!("{base}/{i}")))
            .collect();
        let t0 = Instant::now();
        let pub_secs = publish_all(pubs, 1, per, 16, deadline, &counts).await?;
        let last = sub.await.ok().flatten().unwrap_or(t0);
        let secs = (last - t0).as_secs_f64().max(pub_secs);
        Ok(summary(&counts, n as u64 * per, pub_secs, secs, true))
    }

    /// One publisher at a fixed 2,000 msg/s → one subscriber; latency from send to receipt, measured on
    /// blocking sockets (see `latency`).
    async fn latency(&self, qos: QoS) -> Res<Value> {
        let total = self.a.latency_msgs;
        let deadline = self.deadline();
        let topic = self.topic(self.name);
        let ids = (
            format!("{}-{}-p", self.a.prefix, self.name),
            format!("{}-{}-s", self.a.prefix, self.name),
        );
        let (addr, user) = (self.a.addr.clone(), self.a.user.clone());
        let m = tokio::task::spawn_blocking(move || {
            latency::run(
                &addr,
                (&ids.0, &ids.1),
                user.as_deref(),
                &topic,
                qos as u8,
                total,
                deadline,
            )
        })
        .await
        .map_err(|e| ClientError::Io(e.to_string()))??;
        let (sent, mut lat) = (m.sent, m.latencies_ns);
        lat.sort_unstable();
        let q = |p: f64| -> f64 {
            lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
                .map_or(f64::NAN, |&n| n as f64 / 1e6)
        };
        let complete = lat.len() as u64 == total && sent == total;
        let mut v = json!({
            "rate_per_s": latency::RATE, "sent": sent, "received": lat.len(),
            "delivered_pct": pct(lat.len() as u64, sent),
            "p50_ms": q(0.50), "p90_ms": q(0.90), "p99_ms": q(0.99), "p999_ms": q(0.999),
            "max_ms": lat.last().map(|&n| n as f64 / 1e6),
            "complete": complete,
        });
        if !complete && let Some(o) = v.as_object_mut() {
            o.insert(
                "error".into(),
                json!(format!("incomplete: {} of {total} received", lat.len())),
            );
        }
        Ok(v)
    }

    /// `total` connect + CONNACK + DISCONNECT cycles, `parallel` at a time.
    async fn connect_rate(&self, total: usize, parallel: usize) -> Res<Value> {
        let deadline = self.deadline();
        let sem = Arc::new(tokio::sync::Semaphore::new(parallel));
        let done = Arc::new(AtomicU64::new(0));
        let t0 = Instant::now();
        let mut js = JoinSet::new();
        for i in 0..total {
            if Instant::now() >= deadline {
                break;
            }
            let permit = sem
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| ClientError::Io(e.to_string()))?;
            let id = format!("{}-{}-{}", self.a.prefix, self.name, i % 1000);
            let (addr, user) = (self.a.addr.clone(), self.a.user.clone());
            let done = done.clone();
            js.spawn(async move {
                let _permit = permit;
                raw::Raw::connect(&addr, &id, user.as_deref(), 60)
                    .await?
                    .disconnect()
                    .await;
                done.fetch_add(1, Ordering::Relaxed);
                Res::Ok(())
            });
            while let Some(r) = js.try_join_next() {
                r.map_err(|e| ClientError::Io(e.to_string()))??;
            }
        }
        while let Some(r) = js.join_next().await {
            r.map_err(|e| ClientError::Io(e.to_string()))??;
        }
        let secs = t0.elapsed().as_secs_f64();
        let n = done.load(Ordering::Relaxed);
        Ok(json!({
            "connections": n, "in_flight": parallel, "secs": secs,
            "connections_per_s": n as f64 / secs, "complete": n as usize == total,
        }))
    }

    /// `devices` devices each publishing `per` QoS 1 `$dp` type 3 messages of 10 datapoints, 16 in flight.
    async fn dp(&self, devices: usize, per: u64) -> Res<Value> {
        let counts = Arc::new(Counts::default());
        let deadline = self.deadline();
        let mut pubs = Vec::new();
        for i in 0..devices {
            pubs.push(self.raw(&format!("{}-d{i}", self.name)).await?);
        }
        let t0 = Instant::now();
        let mut js = JoinSet::new();
        for c in pubs {
            js.spawn(raw::publish(
                c,
                "$dp".into(),
                1,
                per,
                16,
                deadline,
                counts.clone(),
                dp_type3,
            ));
        }
        while let Some(r) = js.join_next().await {
            r.map_err(|e| ClientError::Io(e.to_string()))??;
        }
        let secs = t0.elapsed().as_secs_f64();
        let sent = counts.sent.load(Ordering::Relaxed);
        let acked = counts.acked.load(Ordering::Relaxed);
        Ok(json!({
            "devices": devices, "dp_type": 3, "datapoints_per_msg": 10, "qos": 1,
            "sent": sent, "acked": acked, "acked_pct": pct(acked, sent), "secs": secs,
            "msgs_per_s": acked as f64 / secs, "datapoints_per_s": acked as f64 * 10.0 / secs,
            "complete": acked == devices as u64 * per,
        }))
    }
}

/// Message `k` of a `$dp` scenario: type 3 (`{"s0":k.0,"s1":k.1,…}`), 10 datapoints.
fn dp_type3(k: u64) -> Vec<u8> {
    let body: serde_json::Map<String, Value> = (0..10)
        .map(|s| (format!("s{s}"), json!(k as f64 + s as f64 / 10.0)))
        .collect();
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut payload = Vec::with_capacity(body.len() + 3);
    payload.push(3u8);
    payload.extend_from_slice(&(body.len() as u16).to_be_bytes());
    payload.extend_from_slice(&body);
    payload
}

/// The scenario's figures. A QoS 1/2 run that did not deliver every message by the deadline is an error
/// (the script shows it as a failure), so no throughput is quoted for a lossy or unfinished run.
fn summary(c: &Counts, target: u64, pub_secs: f64, secs: f64, lossless: bool) -> Value {
    let sent = c.sent.load(Ordering::Relaxed);
    let received = c.received.load(Ordering::Relaxed);
    let complete = sent == target && received == target;
    let mut v = json!({
        "target": target, "sent": sent, "acked": c.acked.load(Ordering::Relaxed), "received": received,
        "delivered_pct": pct(received, sent), "publish_secs": pub_secs, "secs": secs,
        "sent_per_s": sent as f64 / pub_secs, "deliveries_per_s": received as f64 / secs,
        "complete": complete,
    });
    if lossless
        && !complete
        && let Some(o) = v.as_object_mut()
    {
        o.insert(
            "error".into(),
            json!(format!(
                "incomplete: {sent} of {target} published, {received} delivered before the deadline"
            )),
        );
    }
    v
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 * 100.0 / b as f64
    }
}

fn status_kib(pid: Option<u32>, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// VmRSS of the broker in KiB.
fn rss(pid: Option<u32>) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// VmHWM (peak RSS) of the broker in KiB.
fn hwm(pid: Option<u32>) -> Option<u64> {
    status_kib(pid, "VmHWM:")
}

/// Runs every `(publisher, topic)` pair to its end at once (`per` messages of 64 bytes each, `window`
/// unacknowledged), and returns how long the publishing took, in seconds.
async fn publish_all(
    pubs: Vec<(raw::Raw, String)>,
    qos: u8,
    per: u64,
    window: u64,
    deadline: Instant,
    counts: &Arc<Counts>,
) -> Res<f64> {
    let t0 = Instant::now();
    let mut js = JoinSet::new();
    let payload = vec![b'p'; 64];
    for (pc, topic) in pubs {
        let p = payload.clone();
        js.spawn(raw::publish(
            pc,
            topic,
            qos,
            per,
            window,
            deadline,
            counts.clone(),
            move |_| p.clone(),
        ));
    }
    while let Some(r) = js.join_next().await {
        r.map_err(|e| ClientError::Io(e.to_string()))??;
    }
    Ok(t0.elapsed().as_secs_f64())
}
