//! The console's panels and windows, one file each: each draws from `&Model` and emits
//! [`crate::ui::actions::Action`]s, never reaching into the service itself.

pub mod simulator;
pub mod traffic_replay;
