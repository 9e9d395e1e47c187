//! Soak benchmark: a `serve --auto-register` process with 1,000 virtual devices uploading one QoS 1 `$dp`
//! per second each, and datapoint subscribers receiving every upload; each minute it prints the broker's
//! RSS and open files and the minute's latencies (upload → PUBACK, upload → subscriber delivery).
//!
//! ```text
//! cargo build --release --no-default-features        # the headless broker binary
//! cargo run --release --no-default-features --example soak -- [--duration 600] [--devices 1000]
//! ```
//!
//! Bounded in time (`--duration` seconds, default 600) and size. The devices speak through the crate's
//! own codec over real TCP on 127.0.0.1; the broker is a separate process so its RSS is its own. Linux
//! only (RSS and open files are read from `/proc`). Exits non-zero if an upload went unacknowledged, a
//! delivery was missing, or RSS grew by more than 25 % from minute 2 to the last minute.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use onenet_desk::mqtt::{
    Connect, Packet, Pid, Publish, QoS, QosPid, Subscribe, TopicFilter, TopicName, decode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

const PRODUCT: &str = "339";
/// Filters per subscriber: the broker's default per-client subscription limit.
const PER_SUBSCRIBER: usize = 100;

struct Args {
    duration: Duration,
    devices: usize,
    bin: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        duration: Duration::from_secs(600),
        devices: 1000,
        bin: std::env::current_exe()
            .ok()
            .and_then(|p| Some(p.parent()?.parent()?.join("onenet-desk")))
            .unwrap_or_else(|| PathBuf::from("onenet-desk")),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--duration" => {
                a.duration = Duration::from_secs(v.parse().expect("--duration SECONDS"))
            }
            "--devices" => a.devices = v.parse().expect("--devices N"),
            "--bin" => a.bin = PathBuf::from(v),
            // `cargo bench`-style flags are ignored.
            _ => {}
        }
    }
    a
}

/// Latencies of the current minute, in microseconds (bounded: at most one entry per upload).
#[derive(Default)]
struct Window {
    ack: Vec<u32>,
    delivery: Vec<u32>,
}

struct Shared {
    start: Instant,
    window: Mutex<Window>,
    sent: AtomicU64,
    acked: AtomicU64,
    delivered: AtomicU64,
    /// Subscribers whose connection ended during the run.
    sub_lost: AtomicU64,
    /// Set at the end of the run: devices finish their current upload and disconnect.
    stop: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn micros(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
}

fn connect_packet(id: &str, password: &str) -> Packet {
    Packet::Connect(Box::new(Connect {
        protocol_name: "MQTT".into(),
        level: 4,
        clean_session: true,
        keep_alive: 120,
        client_id: id.into(),
        will: None,
        username: Some(PRODUCT.into()),
        password: Some(Bytes::copy_from_slice(password.as_bytes())),
    }))
}

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

impl Conn {
    async fn open(addr: SocketAddr, id: &str) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut c = Conn {
            stream,
            buf: BytesMut::with_capacity(4096),
        };
        c.send(&connect_packet(id, &format!("pw{id}"))).await?;
        match c.recv().await? {
            Packet::ConnAck(a) if a.code as u8 == 0 => Ok(c),
            other => Err(std::io::Error::other(format!("{id}: {other:?}"))),
        }
    }

    async fn send(&mut self, p: &Packet) -> std::io::Result<()> {
        let b = p.to_bytes().map_err(std::io::Error::other)?;
        self.stream.write_all(&b).await
    }

    async fn recv(&mut self) -> std::io::Result<Packet> {
        loop {
            if let Some(d) = decode(&mut self.buf, 1 << 20).map_err(std::io::Error::other)? {
                return Ok(d.packet);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(std::io::Error::other("closed by the broker"));
            }
        }
    }
}

fn device_id(i: usize) -> String {
    format!("{}", 500_000 + i)
}

/// One virtual device: a QoS 1 type 3 upload `{"t":<µs since start>}` per second at its own phase.
async fn device(
    addr: SocketAddr,
    i: usize,
    sh: Arc<Shared>,
    connected: tokio::sync::mpsc::Sender<()>,
    mut go: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    // Connecting registers the device (auto-register), so subscribers can then name it.
    let mut c = Conn::open(addr, &device_id(i)).await?;
    let _ = connected.send(()).await;
    let _ = go.wait_for(|g| *g).await;
    let topic = TopicName::new("$dp").map_err(std::io::Error::other)?;
    let phase = Duration::from_millis((i as u64 * 997) % 1000);
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + phase, Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u16 = 0;
    while !sh.stop.load(Ordering::Relaxed) {
        tick.tick().await;
        n = n % 65_000 + 1;
        let t = sh.micros();
        let json = format!(r#"{{"t":{t}}}"#);
        let mut payload = vec![3u8];
        payload.extend_from_slice(&(json.len() as u16).to_be_bytes());
        payload.extend_from_slice(json.as_bytes());
        let pid = Pid::new(n).ok_or_else(|| std::io::Error::other("pid 0"))?;
        c.send(&Packet::Publish(Publish {
            dup: false,
            qos_pid: QosPid::AtLeastOnce(pid),
            retain: false,
            topic: topic.clone(),
            payload: Bytes::from(payload),
        }))
        .await?;
        sh.sent.fetch_add(1, Ordering::Relaxed);
        loop {
            match c.recv().await? {
                Packet::PubAck(p) if p == pid => break,
                _ => {}
            }
        }
        sh.acked.fetch_add(1, Ordering::Relaxed);
        let lat = (sh.micros() - t).min(u32::MAX as u64) as u32;
        sh.window.lock().await.ack.push(lat);
    }
    let _ = c.send(&Packet::Disconnect).await;
    Ok(())
}

/// A datapoint subscriber of `/{device}/t` for devices `from..to`; acknowledges and times each delivery.
async fn subscriber(
    addr: SocketAddr,
    k: usize,
    from: usize,
    to: usize,
    sh: Arc<Shared>,
    ready: tokio::sync::mpsc::Sender<()>,
) -> std::io::Result<()> {
    let mut c = Conn::open(addr, &format!("{}", 900_000 + k)).await?;
    let filters = (from..to)
        .map(|i| {
            TopicFilter::new(format!("/{}/t", device_id(i)))
                .map(|f| (f, QoS::AtLeastOnce))
                .map_err(std::io::Error::other)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pid = Pid::new(1).ok_or_else(|| std::io::Error::other("pid 0"))?;
    c.send(&Packet::Subscribe(Subscribe { pid, filters }))
        .await?;
    loop {
        if let Packet::SubAck(_) = c.recv().await? {
            break;
        }
    }
    let _ = ready.send(()).await;
    loop {
        let p = match c.recv().await {
            Ok(p) => p,
            // The broker stopping at the end of the run closes every subscriber: not a loss.
            Err(_) if sh.stop.load(Ordering::Relaxed) => return Ok(()),
            Err(e) => {
                // Counted: a subscriber cut off mid-run explains missing deliveries.
                sh.sub_lost.fetch_add(1, Ordering::Relaxed);
                eprintln!("subscriber {k} lost its connection: {e}");
                return Err(e);
            }
        };
        if let Packet::Publish(p) = p {
            if let QosPid::AtLeastOnce(id) = p.qos_pid {
                c.send(&Packet::PubAck(id)).await?;
            }
            if let Some(t) = std::str::from_utf8(&p.payload)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            {
                let lat = (sh.micros().saturating_sub(t)).min(u32::MAX as u64) as u32;
                sh.delivered.fetch_add(1, Ordering::Relaxed);
                sh.window.lock().await.delivery.push(lat);
            }
        }
    }
}

fn proc_status(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn pct(v: &mut [u32], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i] as f64 / 1000.0
}

fn cli(bin: &Path, dir: &Path, args: &[&str]) {
    let out = std::process::Command::new(bin)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e} (build it: cargo build --release --no-default-features)",
                bin.display()
            )
        });
    assert!(out.status.success(), "{args:?}: {out:?}");
}

#[tokio::main]
async fn main() {
    let a = args();
    let dir = std::env::temp_dir().join(format!("onenet-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    cli(
        &a.bin,
        &dir,
        &["product", "add", "--id", PRODUCT, "--api-key", "KEY339"],
    );
    let mut child = std::process::Command::new(&a.bin)
        .arg("--data-dir")
        .arg(&dir)
        .args([
            "serve",
            "--auto-register",
            "--mqtt",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::piped())
        // The broker's log is kept beside the (removed) data dir: warnings explain any shortfall.
        .stderr(
            std::fs::File::create(dir.with_extension("log"))
                .map(std::process::Stdio::from)
                .unwrap_or_else(|_| std::process::Stdio::null()),
        )
        .spawn()
        .expect("serve starts");
    let pid = child.id();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(
        child.stdout.take().expect("stdout"),
    ));
    let addr: SocketAddr = lines
        .next()
        .and_then(Result::ok)
        .and_then(|l| l.strip_prefix("mqtt listening on ").map(str::to_string))
        .and_then(|s| s.parse().ok())
        .expect("serve prints its MQTT address");
    let sh = Arc::new(Shared {
        start: Instant::now(),
        window: Mutex::new(Window::default()),
        sent: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        sub_lost: AtomicU64::new(0),
        stop: std::sync::atomic::AtomicBool::new(false),
    });
    // Devices connect (and so register) first, then subscribers name them, then uploads start.
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let (conn_tx, mut conn_rx) = tokio::sync::mpsc::channel(64);
    let mut devices = Vec::new();
    for i in 0..a.devices {
        devices.push(tokio::spawn(device(
            addr,
            i,
            sh.clone(),
            conn_tx.clone(),
            go_rx.clone(),
        )));
    }
    drop(conn_tx);
    let mut connected = 0;
    // Each device task keeps its sender, so count rather than wait for the channel to close; a device
    // that fails to connect drops its sender without sending, and the last such drop ends the wait.
    while connected < a.devices && conn_rx.recv().await.is_some() {
        connected += 1;
    }
    assert_eq!(connected, a.devices, "every device connects");
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(64);
    let subs = a.devices.div_ceil(PER_SUBSCRIBER);
    let mut sub_tasks = Vec::new();
    for k in 0..subs {
        let (from, to) = (
            k * PER_SUBSCRIBER,
            ((k + 1) * PER_SUBSCRIBER).min(a.devices),
        );
        sub_tasks.push(tokio::spawn(subscriber(
            addr,
            k,
            from,
            to,
            sh.clone(),
            ready_tx.clone(),
        )));
    }
    for _ in 0..subs {
        ready_rx.recv().await.expect("a subscriber is ready");
    }
    let _ = go_tx.send(true);
    let until = Instant::now() + a.duration;
    println!(
        "soak: {} devices at 1 msg/s (QoS 1 $dp type 3), {subs} datapoint subscribers, {} s, broker pid {pid}, broker log {}",
        a.devices,
        a.duration.as_secs(),
        dir.with_extension("log").display()
    );
    println!(
        "minute  rss_MiB  open_files  uploads  acked  delivered  ack_p50_ms  ack_p99_ms  dlv_p50_ms  dlv_p99_ms  dlv_max_ms"
    );
    let mut rss = Vec::new();
    let mut minute = 0;
    let (mut last_sent, mut last_acked, mut last_dlv) = (0, 0, 0);
    while Instant::now() < until {
        let left = until.saturating_duration_since(Instant::now());
        tokio::time::sleep(left.min(Duration::from_secs(60))).await;
        minute += 1;
        let mut w = std::mem::take(&mut *sh.window.lock().await);
        let r = proc_status(pid, "VmRSS:") as f64 / 1024.0;
        rss.push(r);
        let (s, ac, d) = (
            sh.sent.load(Ordering::Relaxed),
            sh.acked.load(Ordering::Relaxed),
            sh.delivered.load(Ordering::Relaxed),
        );
        println!(
            "{minute:>6}  {r:>7.1}  {:>10}  {:>7}  {:>5}  {:>9}  {:>10.2}  {:>10.2}  {:>10.2}  {:>10.2}  {:>10.2}",
            open_files(pid),
            s - last_sent,
            ac - last_acked,
            d - last_dlv,
            pct(&mut w.ack, 0.5),
            pct(&mut w.ack, 0.99),
            pct(&mut w.delivery, 0.5),
            pct(&mut w.delivery, 0.99),
            pct(&mut w.delivery, 1.0),
        );
        (last_sent, last_acked, last_dlv) = (s, ac, d);
    }
    sh.stop.store(true, Ordering::Relaxed);
    let mut failed = 0;
    for t in devices {
        if !matches!(t.await, Ok(Ok(()))) {
            failed += 1;
        }
    }
    // Deliveries still on their way (a lagging subscriber): wait for them, bounded. Stopping short of this
    // would count the tail of the run as missing.
    let settle = Instant::now() + Duration::from_secs(30);
    while sh.delivered.load(Ordering::Relaxed) < sh.acked.load(Ordering::Relaxed)
        && Instant::now() < settle
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (s, ac, d) = (
        sh.sent.load(Ordering::Relaxed),
        sh.acked.load(Ordering::Relaxed),
        sh.delivered.load(Ordering::Relaxed),
    );
    let lost = sh.sub_lost.load(Ordering::Relaxed);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    for t in sub_tasks {
        t.abort();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let growth = match (rss.get(1).or(rss.first()), rss.last()) {
        (Some(a), Some(b)) if *a > 0.0 => (b - a) / a * 100.0,
        _ => 0.0,
    };
    println!(
        "total: {s} uploads, {ac} acknowledged, {d} delivered, {failed} device tasks failed, {lost} subscribers lost; RSS from minute 2 to the end: {growth:+.1} %"
    );
    if failed > 0 || lost > 0 || ac != s || d < ac || growth > 25.0 {
        eprintln!("soak FAILED");
        std::process::exit(1);
    }
}
