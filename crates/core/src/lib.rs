//! The pure heart of matrix-sync: identifiers, scopes of reconciliation, the
//! trust → power-level mapping, desired and observed state, the planner, and
//! the retry policy. Nothing here does I/O or needs an async runtime, so it
//! builds in seconds and is tested without a homeserver.

#![warn(missing_docs)]

pub mod backoff;
pub mod desired;
pub mod direct;
pub mod ids;
pub mod minimal;
pub mod observed;
pub mod plan;
pub mod power;
pub mod rooms;
pub mod schedule;
pub mod scope;
pub mod simulate;
pub mod stored;
pub mod task;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod plan_tests;

pub use backoff::Backoff;
pub use ids::{IdError, MatrixIds, UserRef};
pub use scope::{Scope, ScopeParseError};
pub use task::{Task, TaskParseError};
