//! Virtual devices: groups of simulated OneNET devices that connect over real TCP with the project's own
//! client ([`crate::client`]), so they put on the wire exactly what firmware does.
//!
//! - [`generator`]: per-stream value generators (sine, random walk, counter, constant, CSV column, blob).
//! - [`dp`]: `$dp` payload encoders for types 1–7 (spec §6).
//! - [`group`]: a group's settings ([`GroupConfig`]), registering its devices, running and stopping it, live
//!   counts ([`Stats`]).
//! - `device`: one virtual device's connection loop: uploads, `$creq` answers, faults.
//!
//! Headless on purpose (no GUI crate): the CLI `simulate`, the console's Simulator panel and the tests
//! drive the same code.

mod device;
pub mod dp;
pub mod generator;
pub mod group;

pub use generator::{Generator, Value};
pub use group::{
    DeviceCred, Faults, Group, GroupConfig, Reply, ReplyKind, Stats, StatsSnapshot, Stream,
    register_devices,
};
