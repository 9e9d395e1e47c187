//! `simulate`, `record` and `replay`: virtual devices and session record & replay from the command line.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use onenet_desk::mqtt::QoS;
use onenet_desk::record::{self, replay};
use onenet_desk::service::DataStore;
use onenet_desk::sim::{self, Faults, Generator, GroupConfig, Reply, Stream};

use crate::Failure;

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The product the virtual devices belong to (must exist in the data dir's registry).
    #[arg(long)]
    product: String,
    /// How many devices to register and run.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    devices: u32,
    /// Uploads per second per device.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// `$dp` types used in turn, e.g. 3,7 (streams "1" counter, "2" sine, "3" random walk; "blob" for 2).
    #[arg(long, value_delimiter = ',', default_value = "3")]
    types: Vec<u8>,
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,
    /// Answer to `$creq`: echo, none (timeout), malformed, or a template text ({uuid} {body} {device}).
    #[arg(long, default_value = "echo")]
    reply: String,
    /// Answer commands after this many milliseconds.
    #[arg(long, default_value_t = 0)]
    reply_delay_ms: u64,
    /// Broker address.
    #[arg(long, default_value = "127.0.0.1:6002")]
    mqtt: String,
    /// Run this many seconds, then stop and print the summary.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// First device id of the range (default: after the largest numeric id registered).
    #[arg(long)]
    first_id: Option<u64>,
    #[arg(long, default_value_t = 120)]
    keepalive: u16,
    /// Fault: drop each connection every S seconds (no DISCONNECT), then reconnect.
    #[arg(long, value_name = "S")]
    drop_every: Option<f64>,
    /// Fault: never acknowledge QoS 1/2 messages from the broker.
    #[arg(long)]
    skip_puback: bool,
    /// Fault: every Nth upload is a `$dp` payload the broker must refuse.
    #[arg(long, value_name = "N")]
    bad_dp_every: Option<u32>,
    /// Size of the type 2 blob.
    #[arg(long, default_value_t = 16)]
    blob_bytes: usize,
}

#[derive(clap::Args)]
pub struct RecordArgs {
    #[arg(long)]
    device: String,
    /// The JSON Lines file to write (one packet per line).
    #[arg(long)]
    out: PathBuf,
    /// Seconds to record (default: until Ctrl+C).
    #[arg(long)]
    duration: Option<u64>,
    #[arg(long, value_name = "ADDR", default_value = onenet_desk::config::DEFAULT_HTTP_ADDR)]
    http: String,
}

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// A recording made by `record`.
    file: PathBuf,
    /// Play X times faster than recorded.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Connect as this device (credentials from the data dir's registry) instead of the recorded one.
    #[arg(long = "as", value_name = "DEVICE_ID")]
    as_device: Option<String>,
    #[arg(long, default_value = "127.0.0.1:6002")]
    mqtt: String,
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(1, format!("cannot start the runtime: {e}")))
}

fn open_db(dir: &Path) -> Result<DataStore, Failure> {
    DataStore::open(dir).map_err(Failure::from)
}

pub fn simulate(dir: &Path, a: SimulateArgs) -> Result<(), Failure> {
    if !(a.rate > 0.0 && a.rate <= 100.0) {
        return Err(Failure(
            2,
            format!("--rate must be in (0, 100] uploads/s, not {}", a.rate),
        ));
    }
    if !(a.duration > 0.0 && a.duration.is_finite()) {
        return Err(Failure(2, "--duration must be positive".into()));
    }
    let mut streams = Stream::defaults();
    if a.types.contains(&2) {
        streams.push(Stream {
            name: "blob".into(),
            generator: Generator::Blob { len: a.blob_bytes },
        });
    }
    let mut reply = Reply::parse(&a.reply);
    reply.delay = Duration::from_millis(a.reply_delay_ms);
    let db = open_db(dir)?;
    if db.product(&a.product)?.is_none() {
        return Err(Failure(
            2,
            format!(
                "no product {} in {} (add it with `product add`)",
                a.product,
                dir.display()
            ),
        ));
    }
    let mut cfg = GroupConfig::new(&a.product, Vec::new(), &a.mqtt);
    cfg.types = a.types;
    cfg.streams = streams;
    cfg.interval = Duration::from_secs_f64(1.0 / a.rate);
    cfg.qos = QoS::from_u8(a.qos).unwrap_or(QoS::AtLeastOnce);
    cfg.keep_alive = a.keepalive;
    cfg.reply = reply;
    cfg.faults = Faults {
        drop_every: a.drop_every.map(Duration::from_secs_f64),
        skip_puback: a.skip_puback,
        bad_dp_every: a.bad_dp_every,
    };
    // Validate before registering anything, with a placeholder device.
    cfg.devices = vec![sim::DeviceCred {
        id: "0".into(),
        auth_info: "x".into(),
    }];
    cfg.validate().map_err(|e| Failure(2, e))?;
    cfg.devices = sim::register_devices(&db, &a.product, a.devices as usize, a.first_id)?;
    let ids: Vec<&str> = cfg.devices.iter().map(|d| d.id.as_str()).collect();
    println!("{}", serde_json::json!({ "registered": ids }));
    let duration = Duration::from_secs_f64(a.duration);
    let summary = runtime()?.block_on(async move {
        let group = sim::Group::start(cfg).map_err(|e| Failure(2, e))?;
        tokio::select! {
            _ = tokio::time::sleep(duration) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok::<_, Failure>(group.stop().await)
    })?;
    println!("{}", serde_json::to_string(&summary).unwrap_or_default());
    if summary.connects == 0 {
        return Err(Failure(
            1,
            format!(
                "no virtual device could connect to {}: {}",
                a.mqtt,
                summary.last_error.unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

pub fn record(dir: &Path, a: RecordArgs) -> Result<(), Failure> {
    let db = open_db(dir)?;
    let device = db
        .device(&a.device)?
        .ok_or_else(|| Failure(2, format!("no device {} in {}", a.device, dir.display())))?;
    let product = db
        .product(&device.product_id)?
        .ok_or_else(|| Failure(2, format!("no product {}", device.product_id)))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut url = format!("http://{}/admin/record/{}", a.http, a.device);
    if let Some(d) = a.duration {
        url.push_str(&format!("?duration={d}"));
    }
    let mut resp = agent
        .get(&url)
        .header("api-key", &product.api_key)
        .call()
        .map_err(|e| {
            Failure(
                1,
                format!(
                    "no onenet-desk service answers at {} (pass --http ADDR): {e}",
                    a.http
                ),
            )
        })?;
    let is_lines = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/x-ndjson"));
    if !is_lines {
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        return Err(Failure(1, format!("the service refused to record: {text}")));
    }
    // Written and flushed line by line: a recording stopped with Ctrl+C keeps every packet received.
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&a.out)
            .map_err(|e| Failure(1, format!("cannot write {}: {e}", a.out.display())))?,
    );
    let reader = std::io::BufReader::new(resp.into_body().into_reader());
    let mut n = 0u64;
    for line in reader.lines() {
        let line = line.map_err(|e| Failure(1, format!("recording interrupted: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| Failure(1, e.to_string()))?;
        n += 1;
    }
    eprintln!(
        "recorded {n} packets of device {} to {}",
        a.device,
        a.out.display()
    );
    Ok(())
}

pub fn replay(dir: &Path, a: ReplayArgs) -> Result<(), Failure> {
    let text = std::fs::read_to_string(&a.file)
        .map_err(|e| Failure(2, format!("cannot read {}: {e}", a.file.display())))?;
    let lines =
        record::parse(&text).map_err(|e| Failure(2, format!("{}: {e}", a.file.display())))?;
    let mut opts = replay::ReplayOptions::new(a.mqtt.clone());
    opts.speed = a.speed;
    if let Some(id) = a.as_device {
        let d = open_db(dir)?
            .device(&id)?
            .ok_or_else(|| Failure(2, format!("no device {id} in {}", dir.display())))?;
        opts.as_device = Some((d.id, d.auth_info));
    }
    let report = runtime()?
        .block_on(replay::replay(&lines, &opts))
        .map_err(|e| Failure(1, format!("replay against {}: {e}", a.mqtt)))?;
    for s in &report.skipped {
        eprintln!("skipped: {s}");
    }
    for d in &report.differences {
        println!("{}", serde_json::to_string(d).unwrap_or_default());
    }
    eprintln!(
        "replayed {} packets, compared {} broker packets: {} difference(s)",
        report.sent,
        report.compared,
        report.differences.len()
    );
    if report.differences.is_empty() {
        Ok(())
    } else {
        Err(Failure(
            1,
            format!(
                "{} difference(s) from the recording",
                report.differences.len()
            ),
        ))
    }
}
