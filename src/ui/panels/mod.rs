//! The console's panels and windows, one file each: each draws from `&Model` and emits
//! [`crate::ui::actions::Action`]s, never reaching into the service itself.

pub mod about;
pub mod commands;
pub mod datapoints;
pub mod devices;
pub mod export;
pub mod first_run;
pub mod logs;
pub mod notices;
pub mod offline;
pub mod overview;
pub mod registry;
pub mod retained;
pub mod settings;
pub mod simulator;
pub mod subscriptions;
pub mod traffic;
pub mod traffic_record;
pub mod traffic_replay;
