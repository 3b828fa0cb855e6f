use chrono::{DateTime, Utc};
use matrix_sync_core::Scope;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUserMapping {
    pub user_id: Uuid,
    pub matrix_user_id: String,
    pub display_name: Option<String>,
    pub provisioned_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMapping {
    pub id: Uuid,
    pub user_id: Uuid,
    pub matrix_user_id: String,
    pub display_name: Option<String>,
    pub provisioned_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// A job as a worker holds it (or as it stands in the queue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub scope: Scope,
    /// Bumped by every enqueue of the scope; a worker that finishes an older
    /// generation leaves the job to run again.
    pub generation: i64,
    /// Attempts made so far, the current one included.
    pub attempts: i32,
    /// Identifies this claim; a worker whose lease was taken over cannot
    /// complete or fail the job any more.
    pub lease_token: Option<String>,
    pub run_at: i64,
    pub dead: bool,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// It will be tried again at this time (ms).
    RetryAt(i64),
    /// Its attempts are used up.
    Dead,
    /// The lease was lost meanwhile; another worker owns the job.
    LeaseLost,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub pending: i64,
    pub dead: i64,
}
