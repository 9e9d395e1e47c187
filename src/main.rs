//! Command line: `onenet-desk` opens the desktop console (or runs `serve` when built without the `gui`
//! feature); `serve` runs the headless broker; `product` and `device` manage the registry.
//! Exit codes: 0 success, 1 runtime failure, 2 bad arguments (clap's convention, kept for our own checks).
// The "can panic" lints, denied outside tests (Cargo.toml [lints] explains why they live here). Unit tests
// opt out through clippy.toml; the console opts out of indexing only, at src/ui/mod.rs.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable
)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

mod cmd_client;
mod sim_cli;

use clap::{Parser, Subcommand};
use onenet_desk::config::{self, Config, Override, Profile};
use onenet_desk::export::{self, ExportFormat, ExportRequest};
use onenet_desk::store::{Db, DpFilter, NewDevice, NewProduct, StoreError};

#[derive(Parser)]
#[command(
    name = "onenet-desk",
    version,
    about = "A local OneNET: MQTT broker (port 6002), datapoints and a desktop console"
)]
struct Cli {
    /// Where the SQLite database lives (default: the user's data directory).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker without a window (CI, servers). Stops cleanly on Ctrl+C / SIGTERM.
    /// Settings: DATA_DIR/onenet-desk.toml (the console's Settings write it too), then the flags below.
    Serve {
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// The console with virtual devices already running: try it without hardware. Adds the product
    /// (`--product`, API key `demo-key`) to the data dir's registry when it is missing, registers
    /// `--devices` virtual devices ("virtual ID") and starts them uploading `$dp` every second.
    #[cfg(feature = "gui")]
    Demo {
        /// The product the virtual devices belong to.
        #[arg(long, value_name = "ID", default_value = "100")]
        product: String,
        /// How many virtual devices.
        #[arg(long, value_name = "N", default_value_t = 5,
              value_parser = clap::value_parser!(u32).range(1..=1000))]
        devices: u32,
    },
    /// The settings file shared by `serve` and the console.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Platform commands, through the running service's HTTP API.
    #[command(subcommand)]
    Cmd(CmdCmd),
    /// Manage products.
    #[command(subcommand)]
    Product(ProductCmd),
    /// Manage devices.
    #[command(subcommand)]
    Device(DeviceCmd),
    /// Export datapoints to a CSV or JSON Lines file, ordered by device, stream and time (streamed;
    /// written to FILE.tmp, then renamed). Prints `exported N datapoints to FILE` on stderr.
    Export {
        /// The file to write (replaced only when the export completes).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// `csv` (RFC 4180, header line first) or `jsonl` (one JSON object per line).
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormatArg,
        /// Only this device.
        #[arg(long, value_name = "ID")]
        device: Option<String>,
        /// Only this datastream.
        #[arg(long, value_name = "NAME")]
        stream: Option<String>,
        /// From this time, inclusive: `YYYY-MM-DD hh:mm:ss[.fff]` (or `T` form) at --utc-offset, or Unix ms.
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Up to this time, inclusive (same forms as --since).
        #[arg(long, value_name = "T")]
        until: Option<String>,
        /// CSV: start with a UTF-8 byte order mark, so Excel (e.g. on a Chinese Windows) reads it as UTF-8.
        #[arg(long)]
        bom: bool,
        #[command(flatten)]
        offset: UtcOffsetArg,
    },
    /// Run virtual devices against a broker (registered in the data dir), then print a summary.
    Simulate(sim_cli::SimulateArgs),
    /// Record a device's session from the running service to a JSON Lines file.
    Record(sim_cli::RecordArgs),
    /// Replay a recording against a broker; exits 1 if the broker answers differently.
    Replay(sim_cli::ReplayArgs),
    /// Print a device's newest datapoints as JSON Lines, oldest of them first.
    Datapoints {
        /// The device.
        #[arg(long, value_name = "ID")]
        device: String,
        /// Only this datastream.
        #[arg(long, value_name = "NAME")]
        stream: Option<String>,
        /// How many of the newest datapoints.
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        offset: UtcOffsetArg,
    },
}

/// Where `serve` takes its settings from: the defaults, then DATA_DIR/onenet-desk.toml (or `--config
/// FILE` instead), then these flags. `config show` takes the same flags and prints the result.
#[derive(clap::Args)]
struct SettingsArgs {
    /// Read this settings file instead of DATA_DIR/onenet-desk.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// MQTT listen address (`mqtt_addr`, default 0.0.0.0:6002); port 0 picks a free port (printed on stdout).
    #[arg(long, value_name = "ADDR")]
    mqtt: Option<SocketAddr>,
    /// `onenet` (registered devices, OneNET rules) or `mqtt` (plain MQTT 3.1.1, anonymous).
    #[arg(long)]
    profile: Option<Profile>,
    /// Register unknown device ids of known products on first connect (password becomes auth_info).
    #[arg(long)]
    auto_register: bool,
    /// OneNET-compatible HTTP API address (`http_addr`, default 127.0.0.1:8080: loopback, it is an admin
    /// surface); port 0 picks one; `off` for none. If the port is taken, `serve` says so and runs without it.
    #[arg(long, value_name = "ADDR|off")]
    http: Option<String>,
    /// Retention: delete datapoints older than this many days (default: keep everything).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    keep_days: Option<u32>,
    /// Retention: keep only the newest N datapoints of each datastream (default: keep everything).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    keep_rows: Option<u64>,
    /// Any setting, by its key in the file: `--set onenet.retain_flag_on_delivery=false` (repeatable;
    /// `onenet-desk config show` lists the keys).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse_set)]
    set: Vec<Override>,
}

impl SettingsArgs {
    /// The flags as overrides of file keys, in the order they apply (`--set` last).
    fn overrides(&self) -> Vec<Override> {
        let mut o = Vec::new();
        if let Some(a) = self.mqtt {
            o.push(Override::new("mqtt_addr", a.to_string(), "--mqtt"));
        }
        if let Some(p) = self.profile {
            o.push(Override::new("profile", p.name(), "--profile"));
        }
        if self.auto_register {
            o.push(Override::new("auto_register", true, "--auto-register"));
        }
        if let Some(h) = &self.http {
            o.push(Override::new("http_addr", h.as_str(), "--http"));
        }
        if let Some(d) = self.keep_days {
            o.push(Override::new(
                "retention.max_age_days",
                d as i64,
                "--keep-days",
            ));
        }
        if let Some(n) = self.keep_rows {
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            o.push(Override::new(
                "retention.max_rows_per_stream",
                n,
                "--keep-rows",
            ));
        }
        o.extend(self.set.iter().cloned());
        o
    }

    fn resolve(&self, dir: &std::path::Path) -> Result<config::Effective, Failure> {
        config::resolve(dir, self.config.as_deref(), &self.overrides())
            .map_err(|e| Failure(2, e.to_string()))
    }
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Print the configuration `serve` would run with (give it the same flags), each value commented
    /// with where it came from: default, file or flag. The output is itself a valid settings file.
    Show {
        #[command(flatten)]
        settings: SettingsArgs,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormatArg {
    Csv,
    Jsonl,
}

#[derive(clap::Args)]
struct UtcOffsetArg {
    /// UTC offset (hours) of the times written and of export's --since/--until; OneNET shows UTC+8.
    #[arg(
        long = "utc-offset",
        value_name = "HOURS",
        default_value_t = 8,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i32).range(-14..=14)
    )]
    hours: i32,
}

#[derive(Subcommand)]
enum CmdCmd {
    /// Send a command to a device; prints it as JSON (with --wait: its final status and the reply).
    Send {
        #[arg(long)]
        device: String,
        /// The command body as text.
        #[arg(long, conflicts_with = "hex", required_unless_present = "hex")]
        body: Option<String>,
        /// The command body as hex bytes (spaces and colons allowed).
        #[arg(long)]
        hex: Option<String>,
        /// Offline validity in seconds: delivered when the device next connects (0 = online only).
        #[arg(long, default_value_t = 0)]
        timeout: u32,
        /// Wait for the reply (or the timeout) and print it.
        #[arg(long)]
        wait: bool,
        /// Where `serve` (or the desktop app) serves the HTTP API.
        #[arg(long, value_name = "ADDR", default_value = onenet_desk::config::DEFAULT_HTTP_ADDR)]
        http: String,
    },
}

#[derive(Subcommand)]
enum ProductCmd {
    /// Add a product; prints it as one JSON object.
    Add {
        /// The product id the firmware sends as MQTT user name (generated if omitted).
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Master API key (auth method 2 password); generated if omitted.
        #[arg(long)]
        api_key: Option<String>,
    },
    /// List products as a JSON array.
    List,
}

#[derive(Subcommand)]
enum DeviceCmd {
    /// Add a device; prints it as one JSON object.
    Add {
        #[arg(long)]
        product: String,
        /// The device id the firmware sends as MQTT client id (generated if omitted).
        #[arg(long)]
        id: Option<String>,
        /// The password of auth method 1, unique within the product (generated if omitted).
        #[arg(long)]
        auth_info: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
    /// List devices as a JSON array.
    List {
        #[arg(long)]
        product: Option<String>,
    },
}

/// A failure with the exit code it deserves.
pub(crate) struct Failure(pub u8, pub String);

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let code = match e {
            StoreError::Invalid(_)
            | StoreError::Conflict(_)
            | StoreError::NotFound(_)
            | StoreError::Limit(_) => 2,
            _ => 1,
        };
        Failure(code, e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(code)
        }
    }
}

fn data_dir(cli_dir: Option<PathBuf>) -> Result<PathBuf, Failure> {
    cli_dir.or_else(Config::default_data_dir).ok_or_else(|| {
        Failure(
            1,
            "no home directory found for the data dir: pass --data-dir DIR".into(),
        )
    })
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<(), Failure> {
    let s = serde_json::to_string(v).map_err(|e| Failure(1, e.to_string()))?;
    println!("{s}");
    Ok(())
}

fn run(cli: Cli) -> Result<(), Failure> {
    let dir = data_dir(cli.data_dir)?;
    let db = || Db::open(&dir.join(onenet_desk::config::DB_FILE)).map_err(Failure::from);
    match cli.command {
        None => default_command(dir),
        Some(Command::Serve { settings }) => serve(settings.resolve(&dir)?.config),
        Some(Command::Config(ConfigCmd::Show { settings })) => {
            print!("{}", settings.resolve(&dir)?.render());
            Ok(())
        }
        Some(Command::Cmd(CmdCmd::Send {
            device,
            body,
            hex,
            timeout,
            wait,
            http,
        })) => {
            let body = match (body, hex) {
                (Some(b), None) => b.into_bytes(),
                (None, Some(h)) => hex::decode(h.replace([' ', ':'], ""))
                    .map_err(|e| Failure(2, format!("--hex is not hexadecimal: {e}")))?,
                _ => {
                    return Err(Failure(
                        2,
                        "give exactly one of --body TEXT and --hex HEX".into(),
                    ));
                }
            };
            cmd_client::send(
                &dir,
                cmd_client::SendArgs {
                    device,
                    body,
                    timeout,
                    wait,
                    http,
                },
            )
        }
        #[cfg(feature = "gui")]
        Some(Command::Demo { product, devices }) => {
            let db = db()?;
            if db.product(&product)?.is_none() {
                db.add_product(NewProduct {
                    id: Some(product.clone()),
                    name: Some("demo".into()),
                    api_key: Some("demo-key".into()),
                })?;
            }
            drop(db);
            let _log = init_tracing(&dir);
            let config = Config::load(&dir).map_err(|e| Failure(2, e.to_string()))?;
            onenet_desk::ui::run_demo(config, product, devices).map_err(|e| Failure(1, e))
        }
        Some(Command::Simulate(a)) => sim_cli::simulate(&dir, a),
        Some(Command::Record(a)) => sim_cli::record(&dir, a),
        Some(Command::Replay(a)) => sim_cli::replay(&dir, a),
        Some(Command::Product(ProductCmd::Add { id, name, api_key })) => {
            print_json(&db()?.add_product(NewProduct { id, name, api_key })?)
        }
        Some(Command::Product(ProductCmd::List)) => print_json(&db()?.products()?),
        Some(Command::Device(DeviceCmd::Add {
            product,
            id,
            auth_info,
            name,
        })) => print_json(&db()?.add_device(NewDevice {
            product_id: product,
            id,
            name,
            auth_info,
            auto_registered: false,
        })?),
        Some(Command::Device(DeviceCmd::List { product })) => {
            print_json(&db()?.devices(product.as_deref())?)
        }
        Some(Command::Export {
            out,
            format,
            device,
            stream,
            since,
            until,
            bom,
            offset,
        }) => {
            if bom && matches!(format, ExportFormatArg::Jsonl) {
                return Err(Failure(
                    2,
                    "--bom is for CSV (JSON Lines is always plain UTF-8)".into(),
                ));
            }
            let offset = offset.hours * 3600;
            let req = ExportRequest {
                filter: time_filter(device, stream, since, until, offset)?,
                format: match format {
                    ExportFormatArg::Csv => ExportFormat::Csv,
                    ExportFormatArg::Jsonl => ExportFormat::JsonLines,
                },
                utc_offset_secs: offset,
                bom,
            };
            let db_path = db()?.path().to_path_buf();
            let n = export::export_to_file(&db_path, &req, &out, &mut |_| true)
                .map_err(|e| Failure(1, e.to_string()))?;
            eprintln!("exported {n} datapoints to {}", out.display());
            Ok(())
        }
        Some(Command::Datapoints {
            device,
            stream,
            limit,
            offset,
        }) => {
            let filter = DpFilter {
                device_id: Some(device),
                stream,
                ..Default::default()
            };
            let points = db()?.datapoints(&filter, limit, true)?;
            print_lines(
                points
                    .iter()
                    .map(|p| export::jsonl_line(p, offset.hours * 3600)),
            )
        }
    }
}

#[cfg(feature = "gui")]
fn default_command(dir: PathBuf) -> Result<(), Failure> {
    let _log = init_tracing(&dir);
    // The data dir's settings file, as `serve` reads it; a bad file is an error naming the key.
    let config = Config::load(&dir).map_err(|e| Failure(2, e.to_string()))?;
    onenet_desk::ui::run(config).map_err(|e| Failure(1, e))
}

#[cfg(not(feature = "gui"))]
fn default_command(dir: PathBuf) -> Result<(), Failure> {
    serve(Config::load(&dir).map_err(|e| Failure(2, e.to_string()))?)
}

/// Logs to stderr, the rolling file in `<data dir>/logs` and the console's ring; hold the guard until exit.
fn init_tracing(dir: &std::path::Path) -> onenet_desk::logging::LogGuard {
    onenet_desk::logging::init(dir, onenet_desk::logging::RollPolicy::default())
}

fn serve(cfg: Config) -> Result<(), Failure> {
    let _log = init_tracing(&cfg.data_dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(1, format!("cannot start the runtime: {e}")))?;
    rt.block_on(async move {
        let handle = onenet_desk::start(cfg)
            .await
            .map_err(|e| Failure(1, e.to_string()))?;
        // Installed before the addresses are printed: a supervisor (or test) that sends SIGTERM as soon as
        // it reads them gets a clean shutdown, not the default action that kills the process outright.
        let signalled = shutdown_signal();
        // Written with errors ignored: a reader that closed stdout after the first line must not stop us.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "mqtt listening on {}", handle.mqtt_addr());
        match handle.http_addr() {
            Some(http) => {
                let _ = writeln!(out, "http listening on {http}");
            }
            None => {
                let _ = writeln!(out, "http off");
            }
        }
        let _ = out.flush();
        // A taken HTTP port is one line, and MQTT keeps running (README: "Running two instances").
        if let Some(e) = handle.http_error() {
            eprintln!("warning: {e}");
        }
        signalled.await;
        tracing::info!("signal received: shutting down");
        handle.shutdown().await;
        Ok(())
    })
}

/// Ctrl+C everywhere; SIGTERM too on Unix (service managers, `kill`, CI). The handlers are registered when
/// this returns, not when the future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async fn next(s: Option<Signal>) {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                // Not installable: this one never fires, the other still does.
                None => std::future::pending::<()>().await,
            }
        }
        async move {
            tokio::select! {
                _ = next(term) => {}
                _ = next(int) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

// ---- export / datapoints helpers ----

/// The filter of `export`: `--since`/`--until` as wall clock at `offset_secs` or Unix ms (bad → exit 2).
fn time_filter(
    device_id: Option<String>,
    stream: Option<String>,
    since: Option<String>,
    until: Option<String>,
    offset_secs: i32,
) -> Result<DpFilter, Failure> {
    let time = |name: &str, v: Option<String>| -> Result<Option<i64>, Failure> {
        let Some(v) = v else { return Ok(None) };
        let t = v.trim();
        t.parse::<i64>()
            .ok()
            .or_else(|| onenet_desk::onenet::datapoint::time::parse_datetime(t, offset_secs))
            .map(Some)
            .ok_or_else(|| {
                Failure(
                    2,
                    format!(
                        "invalid --{name} '{v}': expected 'YYYY-MM-DD hh:mm:ss' (or 'YYYY-MM-DDThh:mm:ss', \
                         optional .fff fraction, read at UTC{:+}) or Unix milliseconds",
                        offset_secs / 3600
                    ),
                )
            })
    };
    let (since, until) = (time("since", since)?, time("until", until)?);
    if let (Some(s), Some(u)) = (since, until)
        && s > u
    {
        return Err(Failure(2, "--since is later than --until".into()));
    }
    Ok(DpFilter {
        device_id,
        stream,
        since,
        until,
    })
}

/// Prints one line per item on stdout; a closed pipe (`| head`) ends quietly.
fn print_lines(mut lines: impl Iterator<Item = String>) -> Result<(), Failure> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = lines
        .try_for_each(|l| writeln!(out, "{l}"))
        .and_then(|()| out.flush());
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure(1, format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}
