//! The pure heart of matrix-sync: identifiers, scopes of reconciliation and the
//! retry policy. Nothing here does I/O or needs an async runtime, so it builds
//! in seconds and is tested without a homeserver.

pub mod backoff;
pub mod ids;
pub mod scope;

pub use backoff::Backoff;
pub use ids::{IdError, MatrixIds};
pub use scope::{Scope, ScopeParseError};
