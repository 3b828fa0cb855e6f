//! matrix-sync: keeps a Matrix homeserver in agreement with a community
//! platform. This crate is the service: configuration, CLI, HTTP API and the
//! wiring of the store, the homeserver client and the reconciler
//! (`matrix_sync_engine`). `main.rs` only calls [`cli::main`].

pub mod api;
pub mod app;
pub mod appservice;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod error_code;
pub mod extract;
pub mod http_server;
pub mod import;
pub mod metrics;
pub mod oidc;
pub mod readiness;
pub mod state;
pub mod status;

pub use app::{App, StartError};
pub use config::{Config, ConfigError, Source};
