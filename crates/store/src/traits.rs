//! The store's traits, one per concern; [`Store`] is all of them. Every
//! backend implements each (`crate::sql`), and one contract suite
//! (`tests/contract.rs`) holds both backends to them.

use async_trait::async_trait;
use matrix_sync_core::{Backoff, Scope, Task};
use uuid::Uuid;

use crate::*;

/// Platform users and their Matrix accounts, including users of other homeservers a community names.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Records that a platform user's Matrix account exists. Idempotent: a
    /// second call keeps the first `provisioned_at` and updates the display
    /// name when one is given.
    async fn upsert_user_mapping(&self, mapping: &NewUserMapping) -> Result<UserMapping>;

    /// The user's account, if provisioned.
    async fn user_mapping(&self, user_id: Uuid) -> Result<Option<UserMapping>>;

    /// The members of a community who have no Matrix account yet (remote
    /// users are never provisioned, so never among them).
    async fn unprovisioned_members(&self, community: Uuid) -> Result<Vec<Uuid>>;

    /// Records that the community names a user of another homeserver,
    /// filed under `user` (the key their member rows use); idempotent. Must
    /// precede their first member row.
    async fn put_remote_member(&self, community: Uuid, user: Uuid, matrix_user_id: &str, now: Millis) -> Result<()>;

    /// Every user of another homeserver the community has named, members
    /// now or not: key and Matrix id.
    async fn remote_members(&self, community: Uuid) -> Result<Vec<(Uuid, String)>>;

    /// The Matrix ids of the remote members [`Store::count_elevated_members`]
    /// counts (their ids can be long: the capacity charges them by length).
    async fn elevated_remote_members(&self, community: Uuid, min_trust: i64, except: Uuid) -> Result<Vec<String>>;

    /// Records what the platform says a user is called and looks like (the
    /// fields given replace what is recorded) and, when that changed
    /// anything, enqueues their profile task due now, in one transaction.
    /// Returns the profile as recorded.
    async fn put_profile(&self, user: Uuid, write: &ProfileWrite, now: Millis) -> Result<UserProfile>;

    /// The user's recorded profile, if the platform gave one.
    async fn profile(&self, user: Uuid) -> Result<Option<UserProfile>>;

    /// Records what the avatar at `source` became on the homeserver
    /// (`None`: that URL cannot be used).
    async fn record_avatar(&self, user: Uuid, source: &str, mxc: Option<&str>, now: Millis) -> Result<()>;
}

/// Message notices for the platform's webhook (recorded with the
/// appservice transaction that brought them, `JobQueue::accept_transaction`).
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// A delivery by id.
    async fn delivery(&self, id: Uuid) -> Result<Option<WebhookDelivery>>;

    /// The webhook took it.
    async fn mark_delivered(&self, id: Uuid, now: Millis) -> Result<()>;
}

/// Communities, their members and councils: the desired state the API records, each write with its job.
#[async_trait]
pub trait CommunityStore: Send + Sync {
    /// Creates or updates a community's desired state and enqueues its
    /// reconcile, in one transaction. `created_at` and the lifecycle times
    /// are kept on update (only `set_deletion` and `mark_purged` change them).
    async fn put_community(&self, community: &CommunityRecord, now: Millis) -> Result<CommunityRecord>;

    /// The community, if recorded.
    async fn community(&self, id: Uuid) -> Result<Option<CommunityRecord>>;

    /// Every community, for the periodic anti-entropy pass.
    async fn community_ids(&self) -> Result<Vec<Uuid>>;

    /// Adds or updates a member and enqueues the community's reconcile,
    /// debounced (see [`Debounce`]), in one transaction. Returns the job's
    /// last error, if its previous attempt failed.
    async fn put_member(
        &self,
        community: Uuid,
        member: &MemberRecord,
        debounce: Debounce,
        now: Millis,
    ) -> Result<Option<String>>;

    /// [`Store::put_member`] for a member who newly rises above level 0, if
    /// `fits` accepts the community's other members above it (as
    /// [`Store::count_elevated_members`] and
    /// [`Store::elevated_remote_members`] read them for `min_trust`, and
    /// `m.user_id` excepted), counted in the same transaction with the
    /// community's row locked: concurrent promotions, from any process, are
    /// counted one after another and cannot overfill the power levels.
    /// `Err` with what was counted, and nothing written, when it does not fit.
    async fn put_elevated_member(
        &self,
        community: Uuid,
        m: &MemberRecord,
        min_trust: i64,
        fits: &(dyn for<'e> Fn(&'e Elevated) -> bool + Send + Sync),
        debounce: Debounce,
        now: Millis,
    ) -> Result<std::result::Result<Option<String>, Elevated>>;

    /// Removes a member (from the community's councils too) and enqueues
    /// the community's reconcile; `false` if they were not a member.
    async fn remove_member(&self, community: Uuid, user: Uuid, now: Millis) -> Result<bool>;

    /// The member, if they are one.
    async fn member(&self, community: Uuid, user: Uuid) -> Result<Option<MemberRecord>>;

    /// Every member of the community.
    async fn members(&self, community: Uuid) -> Result<Vec<MemberRecord>>;

    /// How many members other than `except` hold a level above the default:
    /// admins, and members with at least `min_trust`.
    async fn count_elevated_members(&self, community: Uuid, min_trust: i64, except: Uuid) -> Result<i64>;

    /// Creates or updates a council and enqueues its community's reconcile.
    async fn put_council(&self, council: &CouncilRecord, now: Millis) -> Result<CouncilRecord>;

    /// The council, if recorded.
    async fn council(&self, id: Uuid) -> Result<Option<CouncilRecord>>;

    /// The community's councils (archived and purged ones too).
    async fn councils_of(&self, community: Uuid) -> Result<Vec<CouncilRecord>>;

    /// Adds or updates a council member and enqueues the community's reconcile.
    async fn put_council_member(
        &self,
        council: &CouncilRecord,
        member: &CouncilMemberRecord,
        now: Millis,
    ) -> Result<()>;

    /// Removes a council member and enqueues the community's reconcile;
    /// `false` if they were not one.
    async fn remove_council_member(&self, council: &CouncilRecord, user: Uuid, now: Millis) -> Result<bool>;

    /// The council's members.
    async fn council_members(&self, council: Uuid) -> Result<Vec<CouncilMemberRecord>>;
}

/// Direct chats and accepted requests.
#[async_trait]
pub trait RequestStore: Send + Sync {
    /// Records that two users should share a direct chat and enqueues it.
    async fn put_direct(&self, direct: &DirectRecord, now: Millis) -> Result<()>;

    /// The pair's direct chat, if recorded.
    async fn direct(&self, pair_id: Uuid) -> Result<Option<DirectRecord>>;

    /// Every direct chat's pair, for the periodic anti-entropy pass.
    async fn direct_pair_ids(&self) -> Result<Vec<Uuid>>;

    /// Records an accepted request (and its pair's direct chat) and enqueues
    /// it. Accepting again changes nothing and returns the first record.
    async fn accept_request(
        &self,
        request: &RequestRecord,
        direct: &DirectRecord,
        now: Millis,
    ) -> Result<RequestRecord>;

    /// The accepted request, if recorded.
    async fn request(&self, id: Uuid) -> Result<Option<RequestRecord>>;

    /// The requests a pair's direct chat coordinates, the latest accepted first.
    async fn requests_of_pair(&self, pair_id: Uuid) -> Result<Vec<RequestRecord>>;

    /// Records that the request's context message was sent.
    async fn mark_request_message_sent(&self, id: Uuid, event_id: &str, now: Millis) -> Result<()>;

    /// Records that `device` sets out to send the request's context message;
    /// answers the device that had set out before, if any.
    async fn swap_message_device(&self, id: Uuid, device: &str) -> Result<Option<String>>;
}

/// Soft deletes, restores and hard deletes of communities and councils.
#[async_trait]
pub trait LifecycleStore: Send + Sync {
    /// Soft-deletes (both times set) or restores (both `None`) a community
    /// or council, and enqueues the community's reconcile; `false` if there
    /// is no such one to change. A restore needs a scope whose hard delete
    /// is not due at `now` and has not begun (see [`Store::begin_purge`]);
    /// a soft delete, one not purging or purged.
    async fn set_deletion(
        &self,
        scope: Scope,
        deleted_at: Option<Millis>,
        hard_delete_at: Option<Millis>,
        now: Millis,
    ) -> Result<bool>;

    /// Moves a community (with all its councils) or a council whose hard
    /// delete is due at `now` into the purging state, in one write, before
    /// any of its rooms is touched; `true` if it is purging now (also when it
    /// already was: an interrupted purge resumes). From then on a restore is
    /// refused; a restore that came first leaves nothing due, and `false`.
    async fn begin_purge(&self, scope: Scope, now: Millis) -> Result<bool>;

    /// Records a finished hard delete: a purging community or council is
    /// marked purged and its rooms' records are removed (the audit trail
    /// stays); `false` if it was not purging (or was marked already).
    async fn mark_purged(&self, scope: Scope, now: Millis) -> Result<bool>;

    /// The hard deletes due (or begun and unfinished) at `now`: communities,
    /// and councils of communities that are not due themselves.
    async fn due_hard_deletes(&self, now: Millis) -> Result<Vec<Scope>>;
}

/// The rooms the service made, their creation intents, and the version of each scope's rooms that keeps caches honest.
#[async_trait]
pub trait RoomStore: Send + Sync {
    /// The version of a scope's rooms (0 before the first bump); see
    /// `bump_scope_version`.
    async fn scope_version(&self, scope: Scope) -> Result<i64>;

    /// Moves the version of a scope's rooms on (their state may have
    /// changed) and returns the new version.
    async fn bump_scope_version(&self, scope: Scope) -> Result<i64>;

    /// Notes that a room is about to be created for a scope's role.
    async fn record_room_intent(
        &self,
        scope: Scope,
        role: matrix_sync_core::rooms::RoomRole,
        now: Millis,
    ) -> Result<()>;

    /// Whether a creation was started for the scope's role and its room
    /// never recorded (it may exist on the homeserver).
    async fn has_room_intent(&self, scope: Scope, role: matrix_sync_core::rooms::RoomRole) -> Result<bool>;

    /// Records the room serving a scope's role (replacing an older record),
    /// and clears the intent to create it.
    async fn record_room(&self, room: &RoomRecord, now: Millis) -> Result<()>;

    /// The rooms recorded for a scope.
    async fn rooms_of(&self, scope: Scope) -> Result<Vec<RoomRecord>>;

    /// The records of the given rooms, in the order given (rooms the
    /// service did not make are left out).
    async fn known_rooms(&self, room_ids: &[String]) -> Result<Vec<RoomRecord>>;

    /// Removes one room's record (a room purged from the homeserver);
    /// `false` if another eraser removed it first.
    async fn forget_room(&self, room_id: &str) -> Result<bool>;
}

/// The audit trail.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends entries, in one write.
    async fn append_audit(&self, entries: &[NewAuditEntry]) -> Result<()>;

    /// Entries newest first.
    async fn audit(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>>;
}

/// Members' chat sessions (devices) and key backups.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Records a session on a new device (used now); recording one that
    /// exists marks it used now.
    async fn record_session(&self, user: Uuid, device_id: &str, now: Millis) -> Result<()>;

    /// Marks a recorded session device used now; `false` (and nothing
    /// written) if the user has no session on that device.
    async fn touch_session(&self, user: Uuid, device_id: &str, now: Millis) -> Result<bool>;

    /// A user's sessions, oldest first.
    async fn sessions(&self, user: Uuid) -> Result<Vec<SessionRecord>>;

    /// Forgets a session device; `false` if there was none.
    async fn forget_session(&self, user: Uuid, device_id: &str) -> Result<bool>;

    /// The user's key backup, if one was made.
    async fn key_backup(&self, user: Uuid) -> Result<Option<KeyBackupRecord>>;

    /// Records a user's key backup unless one is recorded already, and
    /// answers the one recorded (the caller's, or the one that was first).
    async fn insert_key_backup(&self, backup: &KeyBackupRecord) -> Result<KeyBackupRecord>;
}

/// The durable job queue, and the appservice transactions whose events enqueue jobs.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Takes in an appservice transaction once: records its id with the
    /// digest of its body, enqueues the scopes its events touch, and records
    /// each new message for the webhook with its delivery task (a message
    /// recorded before, by its event id, is not recorded again), in one
    /// database transaction. Returns `false` (and changes nothing) for a
    /// replay: the id seen before with the same digest. The same id with
    /// another body (the homeserver's counter restarted) is new.
    async fn accept_transaction(
        &self,
        txn: &Transaction<'_>,
        scopes: &[Scope],
        messages: &[NewMessage],
        now: Millis,
    ) -> Result<bool>;

    /// Forgets the transactions received before `before` (a homeserver
    /// replays a transaction within minutes, not weeks), and the webhook
    /// deliveries made before it; how many transactions.
    async fn prune_transactions(&self, before: Millis) -> Result<u64>;

    /// Makes sure a job for `task` will run no later than `run_at`. There is
    /// at most one job per task: enqueueing a task that already has one
    /// moves it earlier if needed and bumps its generation, so a job claimed
    /// before the new desired state was written runs once more. A dead job is
    /// revived with fresh attempts.
    async fn enqueue(&self, task: Task, run_at: Millis, now: Millis) -> Result<()>;

    /// [`Store::enqueue`] for a periodic pass (anti-entropy, the retention
    /// sweeper), which comes back anyway: adds a job if the task has none
    /// and moves a waiting first attempt earlier, but never moves a job
    /// backing off after a failure earlier, never revives a dead one and
    /// leaves a running one alone.
    async fn enqueue_periodic(&self, task: Task, run_at: Millis, now: Millis) -> Result<()>;

    /// Claims the most overdue job that nobody holds, leasing it until
    /// `now + lease_ms`, and counts the attempt. Safe with several workers
    /// and several processes.
    async fn claim(&self, now: Millis, lease_ms: i64) -> Result<Option<Job>>;

    /// Extends a claimed job's lease; `false` if the lease was lost.
    async fn renew(&self, job: &Job, now: Millis, lease_ms: i64) -> Result<bool>;

    /// The job succeeded. If the task was enqueued again while it ran, the
    /// job stays, unclaimed, to run again; otherwise it is removed.
    async fn complete(&self, job: &Job, now: Millis) -> Result<()>;

    /// The job failed: it is retried after the backoff, or is dead once its
    /// attempts are used up (the error is kept either way).
    async fn fail(&self, job: &Job, error: &str, now: Millis, backoff: &Backoff) -> Result<FailOutcome>;

    /// Gives a claimed job back without counting the attempt (shutdown).
    async fn release(&self, job: &Job, now: Millis) -> Result<()>;

    /// The job of a task, if any, as it stands.
    async fn job_for(&self, task: Task) -> Result<Option<Job>>;

    /// Jobs that used up their attempts, oldest failure first, at most `limit`.
    async fn dead_jobs(&self, limit: i64) -> Result<Vec<Job>>;

    /// Revives a dead job by id for an operator, due now; `None` if no dead
    /// job has that id.
    async fn retry_dead_job(&self, id: i64, now: Millis) -> Result<Option<Job>>;

    /// When the next unclaimed pending job is due, if any.
    async fn next_run_at(&self) -> Result<Option<Millis>>;

    /// How many jobs are pending (including claimed) and dead.
    async fn queue_depth(&self) -> Result<QueueDepth>;
}

/// Everything the service keeps: each concern's trait, and the pool itself.
#[async_trait]
pub trait Store:
    UserStore
    + CommunityStore
    + RequestStore
    + LifecycleStore
    + RoomStore
    + AuditStore
    + SessionStore
    + WebhookStore
    + JobQueue
    + 'static
{
    /// Which backend this is (`sqlite` or `postgres`), for logs and metrics.
    fn backend(&self) -> &'static str;

    /// A cheap round trip, for readiness.
    async fn ping(&self) -> Result<()>;

    /// Closes the pool, waiting for connections in use to be returned.
    async fn close(&self);
}
