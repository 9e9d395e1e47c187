//! What the panels ask for. Panels never touch the service: they push an [`Action`], the app carries it
//! out (navigation at once, everything else through the backend), and the result comes back as a
//! [`crate::ui::state::Reply`] into the model. Tests assert on these values.

use std::path::PathBuf;

use crate::export::ExportFormat;
use crate::ui::prefs::{Prefs, Template};

/// The main panels, in the order of the side bar (also their keyboard shortcuts: Alt+1 … Alt+0).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum Tab {
    #[default]
    Overview,
    Devices,
    Registry,
    Subscriptions,
    Retained,
    Offline,
    Datapoints,
    Commands,
    Traffic,
    Settings,
    Logs,
}

impl Tab {
    pub const ALL: [Tab; 11] = [
        Tab::Overview,
        Tab::Devices,
        Tab::Registry,
        Tab::Subscriptions,
        Tab::Retained,
        Tab::Offline,
        Tab::Datapoints,
        Tab::Commands,
        Tab::Traffic,
        Tab::Settings,
        Tab::Logs,
    ];

    /// The English name (also the key of its translation).
    pub fn name(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Devices => "Devices",
            Tab::Registry => "Registry",
            Tab::Subscriptions => "Subscriptions",
            Tab::Retained => "Retained",
            Tab::Offline => "Offline",
            Tab::Datapoints => "Datapoints",
            Tab::Commands => "Commands",
            Tab::Traffic => "Traffic",
            Tab::Settings => "Settings",
            Tab::Logs => "Logs",
        }
    }
}

/// A command body as the composer holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum BodyMode {
    #[default]
    Text,
    Json,
    Hex,
}

/// What to export from the datapoint store.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSpec {
    pub device: Option<String>,
    /// Empty: every stream of the device.
    pub streams: Vec<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub format: ExportFormat,
    /// CSV: start with a UTF-8 byte order mark (Excel on a Chinese Windows needs it).
    pub bom: bool,
    /// Chosen file; None = ask with a save dialog.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Navigate(Tab),
    /// Select a device everywhere (Devices detail, Datapoints, Commands).
    SelectDevice(Option<String>),
    /// Open a device's datapoints / command composer.
    OpenDatapoints(String),
    OpenCommands(String),
    StartBroker,
    StopBroker,
    RestartBroker,
    /// Save new settings and restart the broker with them.
    ApplySettings(Box<Prefs>),
    /// Refresh sessions, registry and retained now.
    Refresh,
    Kick(String),
    LoadDetail(String),
    ClearQueue(String),
    DeleteRetained {
        namespace: String,
        topic: String,
    },
    DeleteAllRetained,
    AddProduct {
        id: Option<String>,
        name: Option<String>,
        api_key: Option<String>,
    },
    UpdateProduct {
        id: String,
        name: Option<String>,
        api_key: Option<String>,
    },
    DeleteProduct(String),
    AddDevice {
        product: String,
        id: Option<String>,
        name: Option<String>,
        auth_info: Option<String>,
    },
    UpdateDevice {
        id: String,
        name: Option<String>,
        auth_info: Option<String>,
    },
    DeleteDevice(String),
    SetAutoRegister(bool),
    /// Load a device's datastreams (latest values) from the store.
    LoadStreams(String),
    /// Load a stream's history from the store and keep it live.
    OpenStream {
        device: String,
        stream: String,
    },
    /// Plot this field of a JSON-object stream's values (None: the values themselves); kept per stream.
    PlotField {
        device: String,
        stream: String,
        field: Option<String>,
    },
    CloseStream {
        device: String,
        stream: String,
    },
    /// `qos`: the API's (§7.2): 1 resends the command at each login of the device until it is answered
    /// or its validity runs out.
    SendCommand {
        device: String,
        body: Vec<u8>,
        validity_s: u32,
        qos: u8,
    },
    LoadCommandHistory(String),
    SaveTemplate {
        device: String,
        template: Template,
    },
    DeleteTemplate {
        device: String,
        name: String,
    },
    /// "Save as…" for bytes (a binary datapoint, a payload).
    SaveBytes {
        name: String,
        bytes: Vec<u8>,
    },
    ExportDatapoints(ExportSpec),
    /// Save what the save-as dialog holds to this file.
    SaveTo(PathBuf),
    /// Fill the save-as dialog's path with the system's file dialog (suggesting this path).
    BrowseSave(PathBuf),
    CancelSave,
    CancelExport,
    ExportTraffic,
    /// Record a device's session (Traffic panel): asks where to save, then records until Stop.
    RecordTraffic(String),
    ExportDiagnostics(String),
    OpenDataDir,
    /// Show a folder (the log folder) in the file manager.
    OpenPath(PathBuf),
    ClearTraffic,
    SetTrafficPaused(bool),
    DismissNotice(u64),
}
