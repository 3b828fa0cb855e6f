//! The records the store reads and writes.

use chrono::{DateTime, Utc};
use matrix_sync_core::{Scope, Task};
use uuid::Uuid;

/// A platform user's Matrix account, as provisioning records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUserMapping {
    /// The platform user.
    pub user_id: Uuid,
    /// Their Matrix id.
    pub matrix_user_id: String,
    /// The display name set, if one was given.
    pub display_name: Option<String>,
    /// When the account was made.
    pub provisioned_at: DateTime<Utc>,
}

/// A platform user's Matrix account as recorded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserMapping {
    /// The row's id.
    pub id: Uuid,
    /// The platform user.
    pub user_id: Uuid,
    /// Their Matrix id.
    pub matrix_user_id: String,
    /// The display name last set.
    pub display_name: Option<String>,
    /// When the account was first made.
    pub provisioned_at: DateTime<Utc>,
    /// Not used yet.
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// A user's profile as the platform gave it, and what of its avatar the
/// homeserver has.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserProfile {
    /// The platform user.
    pub user_id: Uuid,
    /// Their display name, if the platform gave one.
    pub display_name: Option<String>,
    /// The platform's URL of their picture (or an `mxc://` URI), if given.
    pub avatar_url: Option<String>,
    /// The URL `avatar_mxc` was made from (the last one tried).
    pub avatar_source: Option<String>,
    /// The picture as uploaded to the homeserver; `None` with a source:
    /// that URL could not be used.
    pub avatar_mxc: Option<String>,
}

/// What a profile write gives; `None` keeps what is recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileWrite {
    /// The display name.
    pub display_name: Option<String>,
    /// The picture's URL.
    pub avatar_url: Option<String>,
}

/// A new message in a room of the service's, for the platform's webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The event (the idempotency key).
    pub event_id: String,
    /// Its room.
    pub room_id: String,
    /// Who sent it (a Matrix id).
    pub sender: String,
    /// When, by the sender's homeserver (ms).
    pub origin_server_ts: i64,
}

/// A message notice waiting for (or given to) the webhook.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WebhookDelivery {
    /// The delivery (its task's id).
    pub id: Uuid,
    /// The event.
    pub event_id: String,
    /// Its room.
    pub room_id: String,
    /// Who sent it.
    pub sender: String,
    /// When it was sent (ms).
    pub origin_server_ts: i64,
    /// When the webhook took it (ms), if it has.
    pub delivered_at: Option<i64>,
}

/// A job as a worker holds it (or as it stands in the queue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The row's id (for the jobs API).
    pub id: i64,
    /// What it does.
    pub task: Task,
    /// Bumped by every enqueue of the scope; a worker that finishes an older
    /// generation leaves the job to run again.
    pub generation: i64,
    /// Attempts made so far, the current one included.
    pub attempts: i32,
    /// Identifies this claim; a worker whose lease was taken over cannot
    /// complete or fail the job any more.
    pub lease_token: Option<String>,
    /// When it is due (ms).
    pub run_at: i64,
    /// Its attempts are used up.
    pub dead: bool,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// What became of a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// It will be tried again at this time (ms).
    RetryAt(i64),
    /// Its attempts are used up.
    Dead,
    /// The lease was lost meanwhile; another worker owns the job.
    LeaseLost,
}

/// How many jobs the queue holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Jobs waiting or running.
    pub pending: i64,
    /// Jobs that used up their attempts.
    pub dead: i64,
}

/// A community's desired state as the platform last wrote it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CommunityRecord {
    /// The platform's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// `matrixEnabled`.
    pub matrix_enabled: bool,
    /// `matrixGeneralChatEncrypted`.
    pub general_encrypted: bool,
    /// The trust → power-level table, as JSON.
    #[sqlx(try_from = "String")]
    pub trust_levels: matrix_sync_core::power::TrustLevels,
    /// When it was first recorded (ms).
    pub created_at: i64,
    /// When it was last written (ms).
    pub updated_at: i64,
    /// When it was soft-deleted (archived), if it is.
    pub deleted_at: Option<i64>,
    /// When its hard delete is due, if soft-deleted.
    pub hard_delete_at: Option<i64>,
    /// When the hard delete began: from then on it cannot be restored.
    pub purging_at: Option<i64>,
    /// When the hard delete was done.
    pub purged_at: Option<i64>,
}

impl CommunityRecord {
    /// A community as a write states it; its times and lifecycle are the
    /// store's to set (an update keeps them).
    pub fn desired(
        id: Uuid,
        name: String,
        matrix_enabled: bool,
        general_encrypted: bool,
        trust_levels: matrix_sync_core::power::TrustLevels,
    ) -> Self {
        Self {
            id,
            name,
            matrix_enabled,
            general_encrypted,
            trust_levels,
            created_at: 0,
            updated_at: 0,
            deleted_at: None,
            hard_delete_at: None,
            purging_at: None,
            purged_at: None,
        }
    }
}

/// A community member as recorded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRecord {
    /// The user's key (a remote user's is derived from their Matrix id).
    pub user_id: Uuid,
    /// Their trust score.
    pub trust_score: i64,
    /// Their role.
    #[sqlx(try_from = "String")]
    pub role: matrix_sync_core::power::CommunityRole,
}

/// A room the service made, by the scope and role it serves.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RoomRecord {
    /// The room's id.
    pub room_id: String,
    /// The scope it serves.
    #[sqlx(try_from = "String")]
    pub scope: Scope,
    /// What it is for there.
    #[sqlx(try_from = "String")]
    pub role: matrix_sync_core::rooms::RoomRole,
}

/// One entry of the audit trail, before it is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// When (ms).
    pub at: i64,
    /// What happened (`room_created`, `power_level_changed`, …).
    pub action: String,
    /// The community it concerns.
    pub community_id: Option<Uuid>,
    /// The council it concerns.
    pub council_id: Option<Uuid>,
    /// The room.
    pub room_id: Option<String>,
    /// The user (Matrix id).
    pub user_id: Option<String>,
    /// A level before.
    pub old_level: Option<i64>,
    /// A level after.
    pub new_level: Option<i64>,
    /// Why (`trust`, `role`, `drift`, `lifecycle`, …).
    pub cause: Option<String>,
    /// More, in words.
    pub detail: Option<String>,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its position in the trail.
    pub id: i64,
    /// The entry.
    pub entry: NewAuditEntry,
}

/// Which audit entries to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this community's entries.
    pub community_id: Option<Uuid>,
    /// Only entries at or after this time (ms).
    pub since: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

/// A council's desired state as recorded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CouncilRecord {
    /// The platform's id.
    pub id: Uuid,
    /// Its community.
    pub community_id: Uuid,
    /// Its name.
    pub name: String,
    /// When it was first recorded (ms).
    pub created_at: i64,
    /// When it was last written (ms).
    pub updated_at: i64,
    /// When it was soft-deleted, if it is.
    pub deleted_at: Option<i64>,
    /// When its hard delete is due, if soft-deleted.
    pub hard_delete_at: Option<i64>,
    /// When the hard delete began: from then on it cannot be restored.
    pub purging_at: Option<i64>,
    /// When the hard delete was done.
    pub purged_at: Option<i64>,
}

impl CouncilRecord {
    /// A council as a write states it; its times and lifecycle are the
    /// store's to set (an update keeps them).
    pub fn desired(id: Uuid, community_id: Uuid, name: String) -> Self {
        Self {
            id,
            community_id,
            name,
            created_at: 0,
            updated_at: 0,
            deleted_at: None,
            hard_delete_at: None,
            purging_at: None,
            purged_at: None,
        }
    }
}

/// A council member as recorded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CouncilMemberRecord {
    /// The user's key.
    pub user_id: Uuid,
    /// Their role in the council.
    #[sqlx(try_from = "String")]
    pub role: matrix_sync_core::power::CouncilRole,
}

/// The direct chat of two users, by their Matrix ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectRecord {
    /// The pair's id (`core::desired::pair_id`).
    pub pair_id: Uuid,
    /// One user (Matrix id), the lower of the two.
    pub user_a: String,
    /// The other.
    pub user_b: String,
}

/// An accepted request as recorded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RequestRecord {
    /// The platform's id.
    pub id: Uuid,
    /// The community it was made in.
    pub community_id: Uuid,
    /// Who asked (as the API names them).
    pub requester: String,
    /// Who owns the resource.
    pub owner: String,
    /// Its title, for the bot's message.
    pub title: Option<String>,
    /// The two users' direct chat.
    pub pair_id: Uuid,
    /// When it was accepted (ms).
    pub accepted_at: i64,
    /// The bot's message, once sent.
    pub message_event_id: Option<String>,
    /// When it was sent.
    pub message_sent_at: Option<i64>,
}

/// A chat session's device, minted through `/v1/sessions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The device.
    pub device_id: String,
    /// When it was made (ms).
    pub created_at: i64,
    /// The last sign-in on this device (its creation, or a later reuse).
    pub last_used_at: i64,
}

/// The server-side key backup the service made for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBackupRecord {
    /// The user.
    pub user_id: Uuid,
    /// The backup's version on the homeserver.
    pub version: String,
    /// Its Curve25519 public key, unpadded base64 (as in `auth_data`).
    pub public_key: String,
    /// The private key, sealed by the service; the store never sees it open.
    pub sealed_private_key: String,
    /// When it was made (ms).
    pub created_at: i64,
}

/// An appservice transaction as the homeserver sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transaction<'a> {
    /// The homeserver's transaction id.
    pub txn_id: &'a str,
    /// A digest of the body (hex): what tells a replay from a reused id.
    pub digest: &'a str,
    /// How many events it carried.
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
