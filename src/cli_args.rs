//! The command line's grammar (clap derive): the subcommands, their flags and help texts. `main` runs them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use onenet_desk::config::{self, Override, Profile};

use crate::{Failure, sim_cli};

#[derive(Parser)]
#[command(
    name = "onenet-desk",
    version,
    about = "A local OneNET: MQTT broker (port 6002), datapoints and a desktop console"
)]
pub(crate) struct Cli {
    /// Where the SQLite database lives (default: the user's data directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
pub(crate) struct SettingsArgs {
    /// Read this settings file instead of DATA_DIR/onenet-desk.toml.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// MQTT listen address (`mqtt_addr`, default 0.0.0.0:6002); port 0 picks a free port (printed on stdout).
    #[arg(long, value_name = "ADDR")]
    pub(crate) mqtt: Option<SocketAddr>,
    /// `onenet` (registered devices, OneNET rules) or `mqtt` (plain MQTT 3.1.1, anonymous).
    #[arg(long)]
    pub(crate) profile: Option<Profile>,
    /// Register unknown device ids of known products on first connect (password becomes auth_info).
    #[arg(long)]
    pub(crate) auto_register: bool,
    /// OneNET-compatible HTTP API address (`http_addr`, default 127.0.0.1:8080: loopback, it is an admin
    /// surface); port 0 picks one; `off` for none. If the port is taken, `serve` says so and runs without it.
    #[arg(long, value_name = "ADDR|off")]
    pub(crate) http: Option<String>,
    /// Retention: delete datapoints older than this many days (default: keep everything).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) keep_days: Option<u32>,
    /// Retention: keep only the newest N datapoints of each datastream (default: keep everything).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) keep_rows: Option<u64>,
    /// Any setting, by its key in the file: `--set onenet.retain_flag_on_delivery=false` (repeatable;
    /// `onenet-desk config show` lists the keys).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse_set)]
    pub(crate) set: Vec<Override>,
}

impl SettingsArgs {
    /// The flags as overrides of file keys, in the order they apply (`--set` last).
    pub(crate) fn overrides(&self) -> Vec<Override> {
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

    pub(crate) fn resolve(&self, dir: &std::path::Path) -> Result<config::Effective, Failure> {
        config::resolve(dir, self.config.as_deref(), &self.overrides())
            .map_err(|e| Failure(2, e.to_string()))
    }
}

#[derive(Subcommand)]
pub(crate) enum ConfigCmd {
    /// Print the configuration `serve` would run with (give it the same flags), each value commented
    /// with where it came from: default, file or flag. The output is itself a valid settings file.
    Show {
        #[command(flatten)]
        settings: SettingsArgs,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum ExportFormatArg {
    Csv,
    Jsonl,
}

#[derive(clap::Args)]
pub(crate) struct UtcOffsetArg {
    /// UTC offset (hours) of the times written and of export's --since/--until; OneNET shows UTC+8.
    #[arg(
        long = "utc-offset",
        value_name = "HOURS",
        default_value_t = 8,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i32).range(-14..=14)
    )]
    pub(crate) hours: i32,
}

#[derive(Subcommand)]
pub(crate) enum CmdCmd {
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
pub(crate) enum ProductCmd {
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
pub(crate) enum DeviceCmd {
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
