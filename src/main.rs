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
use std::path::PathBuf;
use std::process::ExitCode;

mod cli_args;
mod cmd_client;
mod sim_cli;

use clap::Parser;
use onenet_desk::config::Config;
use onenet_desk::export::{self, ExportFormat, ExportRequest};
use onenet_desk::service::DataStore;
use onenet_desk::service::api::{DpFilter, NewDevice, NewProduct, StoreError};

use cli_args::{Cli, CmdCmd, Command, ConfigCmd, DeviceCmd, ExportFormatArg, ProductCmd};

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
    // Registry and datapoint subcommands work on the data dir's database through the service's store,
    // whether or not a broker runs on it (WAL: both see each other's commits).
    let db = || DataStore::open(&dir).map_err(Failure::from);
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
            let n = db()?
                .export_to_file(&req, &out, &mut |_| true)
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
