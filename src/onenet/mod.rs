//! OneNET's layer over MQTT: the registry of products and devices, CONNECT admission, and topic rules.
//! Pure logic; storage lives in `store`, sockets in `broker`.

pub mod auth;
pub mod commands;
pub mod datapoint;
pub mod diagnostics;
pub mod registry;
pub mod topic;
