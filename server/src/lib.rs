//! The address-book service. `main.rs` only parses the command line and calls [`cli::run`].
//!
//! Layers, outermost first: [`api`] (HTTP, one file per resource) → [`service`] (the operations)
//! → [`storage`] (an async trait, one file per engine); [`domain`] holds the types and rules all
//! of them share and knows nothing of HTTP or SQL.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connections;
pub mod domain;
pub mod healthcheck;
pub mod manage;
pub mod metrics;
pub mod service;
pub mod startup;
pub mod storage;
pub mod telemetry;
