//! The homeserver side of matrix-sync: the application-service client that
//! acts for the platform's users, and the registration the homeserver needs.

mod client;
mod error;
mod metrics;
mod registration;

pub use client::{AppserviceClient, ClientSettings, Registered, UserSession};
pub use error::HomeserverError;
pub use metrics::{CallLabels, HomeserverMetrics};
pub use registration::Registration;
