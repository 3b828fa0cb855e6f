//! Storage for matrix-sync: the platform's desired state, what the service
//! created on the homeserver, and the durable job queue of the reconciler.
//!
//! Everything goes through the store's traits, one per concern
//! ([`UserStore`], [`CommunityStore`], [`RequestStore`], [`LifecycleStore`],
//! [`RoomStore`], [`AuditStore`], [`SessionStore`], [`JobQueue`]); [`Store`]
//! is all of them. Each is implemented once for SQLite (the embedded default)
//! and once for PostgreSQL (production, several processes), from one SQL
//! module per concern (`sql/`). Both run the same contract test suite
//! (`tests/contract.rs`). Callers bring the traits into scope with
//! `use matrix_sync_store::prelude::*`.

#![warn(missing_docs)]

mod connect;
mod error;
mod model;
mod postgres;
mod sql;
mod sqlite;
mod traits;

pub use connect::{DEFAULT_SCHEMA, connect};
pub use error::StoreError;
pub use model::Elevated;
pub use model::{
    AuditEntry, AuditFilter, CommunityRecord, CouncilMemberRecord, CouncilRecord, DirectRecord, FailOutcome, Job,
    KeyBackupRecord, MemberRecord, NewAuditEntry, NewMessage, NewUserMapping, ProfileWrite, QueueDepth, RequestRecord,
    RoomRecord, SessionRecord, Transaction, UserMapping, UserProfile, WebhookDelivery,
};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use traits::{
    AuditStore, CommunityStore, JobQueue, LifecycleStore, RequestStore, RoomStore, SessionStore, Store, UserStore,
    WebhookStore,
};

/// The store's traits, for calling their methods on a `dyn Store`.
pub mod prelude {
    pub use crate::traits::{
        AuditStore, CommunityStore, JobQueue, LifecycleStore, RequestStore, RoomStore, SessionStore, Store, UserStore,
        WebhookStore,
    };
}

/// The store's result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Milliseconds since the Unix epoch. The service passes "now" into every
/// call that depends on time, so tests control the clock and every process
/// sharing a database compares the same kind of number.
pub type Millis = i64;

/// When a write that comes in bursts (trust scores) gets reconciled: once
/// no write has come for `quiet_ms`, but never later than `max_wait_ms`
/// after the job became pending, so a steady stream is still served. A
/// storm of changes then costs one power-levels event per room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Debounce {
    /// Run once no write has come for this long (ms).
    pub quiet_ms: i64,
    /// But no later than this after the job became pending (ms).
    pub max_wait_ms: i64,
}
