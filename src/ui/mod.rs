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

// The crate denies indexing in code that reads bytes from the network or files (src/lib.rs). The
// console indexes only its own bounded vectors (plot samples, table rows, hex columns computed from a length
// it just took), where a lookup that cannot miss would only add noise.
#![allow(clippy::indexing_slicing)]

pub mod actions;
pub mod app;
pub mod backend;
pub mod fonts;
pub mod format;
pub mod i18n;
pub mod json_fields;
pub mod panels;
pub mod plot;
pub mod poller;
pub mod prefs;
pub mod savefile;
pub mod state;
pub mod validity;
pub mod widgets;

pub use app::{ConsoleApp, run, run_demo};

// The backend's files, being moved into `backend/` in parallel (issue 9), still name these by
// their old paths.
pub use panels::overview;
pub use state as model;
pub use state::packets;
