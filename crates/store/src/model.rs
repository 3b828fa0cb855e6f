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

/// A community's desired state as the platform last wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunityRecord {
    pub id: Uuid,
    pub name: String,
    pub matrix_enabled: bool,
    pub general_encrypted: bool,
    /// The trust → power-level table, as JSON.
    pub trust_levels: matrix_sync_core::power::TrustLevels,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub hard_delete_at: Option<i64>,
    /// When the hard delete began: from then on it cannot be restored.
    pub purging_at: Option<i64>,
    /// When the hard delete was done.
    pub purged_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub user_id: Uuid,
    pub trust_score: i64,
    pub role: matrix_sync_core::power::CommunityRole,
}

/// A room the service made, by the scope and role it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRecord {
    pub room_id: String,
    pub scope: Scope,
    pub role: matrix_sync_core::rooms::RoomRole,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub at: i64,
    pub action: String,
    pub community_id: Option<Uuid>,
    pub council_id: Option<Uuid>,
    pub room_id: Option<String>,
    pub user_id: Option<String>,
    pub old_level: Option<i64>,
    pub new_level: Option<i64>,
    pub cause: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub entry: NewAuditEntry,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub community_id: Option<Uuid>,
    /// Only entries at or after this time (ms).
    pub since: Option<i64>,
    pub limit: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouncilRecord {
    pub id: Uuid,
    pub community_id: Uuid,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub hard_delete_at: Option<i64>,
    /// When the hard delete began: from then on it cannot be restored.
    pub purging_at: Option<i64>,
    /// When the hard delete was done.
    pub purged_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouncilMemberRecord {
    pub user_id: Uuid,
    pub role: matrix_sync_core::power::CouncilRole,
}

/// The direct chat of two users, by their Matrix ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectRecord {
    pub pair_id: Uuid,
    pub user_a: String,
    pub user_b: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub id: Uuid,
    pub community_id: Uuid,
    pub requester: String,
    pub owner: String,
    pub title: Option<String>,
    pub pair_id: Uuid,
    pub accepted_at: i64,
    pub message_event_id: Option<String>,
    pub message_sent_at: Option<i64>,
}

/// A chat session's device, minted through `/v1/sessions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub device_id: String,
    pub created_at: i64,
    /// The last sign-in on this device (its creation, or a later reuse).
    pub last_used_at: i64,
}

/// The server-side key backup the service made for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBackupRecord {
    pub user_id: Uuid,
    /// The backup's version on the homeserver.
    pub version: String,
    /// Its Curve25519 public key, unpadded base64 (as in `auth_data`).
    pub public_key: String,
    /// The private key, sealed by the service; the store never sees it open.
    pub sealed_private_key: String,
    pub created_at: i64,
}

/// An appservice transaction as the homeserver sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transaction<'a> {
    pub txn_id: &'a str,
    /// A digest of the body (hex): what tells a replay from a reused id.
    pub digest: &'a str,
    pub event_count: usize,
}

/// A community's members above level 0, but one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Elevated {
    /// How many, remote members included.
    pub count: i64,
    /// The remote ones' Matrix ids.
    pub remote: Vec<String>,
}
