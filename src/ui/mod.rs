//! The desktop console (feature `gui`): a client of [`crate::service::ServiceHandle`] only.
//!
//! Logic and UI are split: [`state`] is the view-model (plain data, filled from the event channel and
//! the backend's replies by its reducers, bounded everywhere); each panel in [`panels`] draws from
//! `&Model` and emits [`actions::Action`]s; [`app`] carries them out through [`backend`], which owns the
//! tokio runtime and the service. Every frame drains the events under a time budget, so a flood of
//! packets never freezes the window. [`prefs`] holds the settings: the broker's `Config` sections
//! themselves and the window's own.
//!
//! Shared by the panels: [`widgets`], [`plot`], [`format`], [`json_fields`], [`validity`], [`i18n`].

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
pub mod prefs;
pub mod savefile;
pub mod state;
pub mod validity;
pub mod widgets;

pub use app::{ConsoleApp, run, run_demo};
