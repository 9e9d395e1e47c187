//! Command line: `onenet-desk` opens the desktop console (or runs `serve` when built without the `gui`
//! feature); `serve` runs the headless broker; `product` and `device` manage the registry.
//! Exit codes: 0 success, 1 runtime failure, 2 bad arguments (clap's convention, kept for our own checks).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use onenet_desk::config::{Config, Profile};
use onenet_desk::store::{Db, NewDevice, NewProduct, StoreError};

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
    Serve {
        /// MQTT listen address; port 0 picks a free port (printed on stdout).
        #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:6002")]
        mqtt: SocketAddr,
        /// `onenet` (registered devices, OneNET rules) or `mqtt` (plain MQTT 3.1.1, anonymous).
        #[arg(long, default_value = "onenet")]
        profile: Profile,
        /// Register unknown device ids of known products on first connect (password becomes auth_info).
        #[arg(long)]
        auto_register: bool,
    },
    /// Manage products.
    #[command(subcommand)]
    Product(ProductCmd),
    /// Manage devices.
    #[command(subcommand)]
    Device(DeviceCmd),
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
struct Failure(u8, String);

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let code = match e {
            StoreError::Invalid(_) | StoreError::Conflict(_) | StoreError::NotFound(_) => 2,
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
        Some(Command::Serve {
            mqtt,
            profile,
            auto_register,
        }) => {
            let mut cfg = Config::new(dir);
            cfg.mqtt_addr = mqtt;
            cfg.profile = profile;
            cfg.auto_register = auto_register;
            serve(cfg)
        }
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
    }
}

#[cfg(feature = "gui")]
fn default_command(dir: PathBuf) -> Result<(), Failure> {
    init_tracing();
    onenet_desk::ui::run(Config::new(dir)).map_err(|e| Failure(1, e))
}

#[cfg(not(feature = "gui"))]
fn default_command(dir: PathBuf) -> Result<(), Failure> {
    serve(Config::new(dir))
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn serve(cfg: Config) -> Result<(), Failure> {
    init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(1, format!("cannot start the runtime: {e}")))?;
    rt.block_on(async move {
        let handle = onenet_desk::start(cfg)
            .await
            .map_err(|e| Failure(1, e.to_string()))?;
        println!("mqtt listening on {}", handle.mqtt_addr());
        let _ = std::io::stdout().flush();
        wait_for_signal().await;
        tracing::info!("signal received: shutting down");
        handle.shutdown().await;
        Ok(())
    })
}

/// Ctrl+C everywhere; SIGTERM too on Unix (service managers, `kill`, CI).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
