//! The desktop console (feature `gui`): a client of [`crate::service::ServiceHandle`] only.
//!
//! Logic and UI are split: [`model`] is the view-model (plain data, filled from the event channel and
//! the backend's replies, bounded everywhere); each panel draws from `&Model` and emits [`actions::Action`]s;
//! [`app`] carries them out through [`backend`], which owns the tokio runtime and the service. Every
//! frame drains the events under a time budget, so a flood of packets never freezes the window.
//!
//! One file per panel: overview (and the status bar), devices, registry, subscriptions, retained, offline,
//! datapoints (with plot, series, export), commands, traffic (with packets), settings (with prefs), logs
//! (with the about box).

pub mod about;
pub mod actions;
pub mod app;
pub mod backend;
pub mod commands;
pub mod datapoints;
pub mod devices;
pub mod export;
pub mod first_run;
pub mod fonts;
pub mod format;
pub mod i18n;
pub mod i18n_more;
pub mod i18n_traffic;
pub mod json_fields;
pub mod logs;
pub mod model;
pub mod notices;
pub mod offline;
pub mod overview;
pub mod packets;
pub mod plot;
pub mod prefs;
pub mod registry;
pub mod retained;
pub mod savefile;
pub mod series;
pub mod settings;
pub mod simulator;
pub mod subscriptions;
pub mod traffic;
pub mod traffic_record;
pub mod traffic_replay;
pub mod validity;
pub mod widgets;

pub use app::{ConsoleApp, run, run_demo};
