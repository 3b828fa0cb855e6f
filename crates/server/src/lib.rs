//! matrix-sync: keeps a Matrix homeserver in agreement with a community
//! platform. This crate is the service: configuration, CLI, HTTP API and the
//! wiring of the store and homeserver crates. `main.rs` only calls [`cli::main`].

pub mod api;
pub mod app;
pub mod appservice;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod error_code;
pub mod extract;
pub mod http_server;
pub mod import;
pub mod key_backup;
pub mod metrics;
pub mod oidc;
pub mod provision;
pub mod push;
pub mod readiness;
pub mod reconcile;
pub mod rules;
pub mod state;
pub mod status;
pub mod wakeup;
pub mod worker;

pub use app::{App, StartError};
pub use config::{Config, ConfigError, Source};
