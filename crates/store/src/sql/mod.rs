//! The SQL both backends share. SQLite and PostgreSQL agree on almost all of
//! it (`$n` parameters, `ON CONFLICT … DO UPDATE`, `RETURNING`), but sqlx's
//! types differ per database, so each concern's implementation is written
//! once, as a macro in a module of its own (`users`, `communities`, …), and
//! `sql_store_impl!` instantiates them all for a backend with the few
//! statements that differ (how a job is claimed, whether a `WITH` may write).
//! This module holds what they share: statements, column lists, reading a
//! row as its record.

pub(crate) mod audit;
pub(crate) mod communities;
pub(crate) mod jobs;
pub(crate) mod lifecycle;
pub(crate) mod requests;
pub(crate) mod rooms;
pub(crate) mod sessions;
pub(crate) mod users;
pub(crate) mod webhooks;

/// A row as its record (`sqlx::FromRow`); a column the record cannot hold
/// is [`StoreError::Corrupt`](crate::StoreError::Corrupt).
pub(crate) fn record<'r, T, R>(row: &'r R) -> crate::Result<T>
where
    T: sqlx::FromRow<'r, R>,
    R: sqlx::Row,
{
    Ok(T::from_row(row)?)
}

pub(crate) fn trust_levels_json(levels: &matrix_sync_core::power::TrustLevels) -> crate::Result<String> {
    serde_json::to_string(levels).map_err(|e| crate::StoreError::Corrupt(format!("trust_levels: {e}")))
}

/// Columns of `jobs` that `job_from_row` reads (a macro so that statements
/// using it stay string literals, which sqlx requires).
macro_rules! job_columns {
    () => {
        "id, scope, generation, attempts, lease_token, run_at, state, last_error"
    };
}
pub(crate) use job_columns;

macro_rules! profile_columns {
    () => {
        "user_id, display_name, avatar_url, avatar_source, avatar_mxc"
    };
}
pub(crate) use profile_columns;

macro_rules! community_columns {
    () => {
        "id, name, matrix_enabled, general_encrypted, trust_levels, created_at, updated_at, deleted_at, hard_delete_at, purging_at, purged_at"
    };
}
pub(crate) use community_columns;

macro_rules! council_columns {
    () => {
        "id, community_id, name, created_at, updated_at, deleted_at, hard_delete_at, purging_at, purged_at"
    };
}
pub(crate) use council_columns;

/// The condition on a community or council row under which `set_deletion`
/// may change it (`$1` the new `deleted_at`, `$3` now): a soft delete needs
/// one that is not purging or purged; a restore also needs its hard delete
/// not to be due, so that a restore and the start of a purge exclude each
/// other row by row, whichever comes first.
macro_rules! deletion_may_change {
    () => {
        "purged_at IS NULL AND purging_at IS NULL
         AND ($1 IS NOT NULL OR hard_delete_at IS NULL OR hard_delete_at > $3)"
    };
}
pub(crate) use deletion_may_change;

/// The condition under which a purge begins (`$1` now): due, or begun.
macro_rules! purge_may_begin {
    () => {
        "purged_at IS NULL
         AND (purging_at IS NOT NULL OR (hard_delete_at IS NOT NULL AND hard_delete_at <= $1))"
    };
}
pub(crate) use purge_may_begin;

macro_rules! request_columns {
    () => {
        "id, community_id, requester, owner, title, pair_id, accepted_at, message_event_id, message_sent_at"
    };
}
pub(crate) use request_columns;

pub(crate) const ENQUEUE: &str = "
INSERT INTO jobs (scope, state, generation, attempts, run_at, created_at, updated_at)
VALUES ($1, 'pending', 0, 0, $2, $3, $3)
ON CONFLICT (scope) DO UPDATE SET
    generation = jobs.generation + 1,
    run_at = CASE
        WHEN jobs.state = 'dead' OR excluded.run_at < jobs.run_at THEN excluded.run_at
        ELSE jobs.run_at END,
    attempts = CASE WHEN jobs.state = 'dead' THEN 0 ELSE jobs.attempts END,
    state = 'pending',
    updated_at = excluded.updated_at";

/// [`ENQUEUE`] for a periodic pass: only a job waiting for its first
/// attempt (pending, not held, no failure behind it) moves earlier; a
/// backing-off, dead or running one keeps its course.
pub(crate) const ENQUEUE_PERIODIC: &str = "
INSERT INTO jobs (scope, state, generation, attempts, run_at, created_at, updated_at)
VALUES ($1, 'pending', 0, 0, $2, $3, $3)
ON CONFLICT (scope) DO UPDATE SET run_at = excluded.run_at, updated_at = excluded.updated_at
WHERE jobs.state = 'pending' AND jobs.lease_token IS NULL AND jobs.attempts = 0 AND excluded.run_at < jobs.run_at";

/// [`ENQUEUE`] for a debounced write (`$2` = now + quiet, `$4` = max wait):
/// a pending job moves later to `$2`, but not past `created_at + $4`
/// (`created_at` is when the job became pending; `complete` resets it when
/// it keeps a job for one more run). A running job's next run waits for
/// quiet. A job waiting out a failure's backoff is moved earlier, as by
/// [`ENQUEUE`]: the new desired state may be what it needed.
macro_rules! enqueue_debounced {
    () => {
        "
INSERT INTO jobs (scope, state, generation, attempts, run_at, created_at, updated_at)
VALUES ($1, 'pending', 0, 0, $2, $3, $3)
ON CONFLICT (scope) DO UPDATE SET
    generation = jobs.generation + 1,
    run_at = CASE
        WHEN jobs.state = 'dead' OR jobs.lease_token IS NOT NULL THEN excluded.run_at
        WHEN jobs.attempts > 0 THEN
            CASE WHEN excluded.run_at < jobs.run_at THEN excluded.run_at ELSE jobs.run_at END
        WHEN excluded.run_at <= jobs.run_at THEN jobs.run_at
        WHEN excluded.run_at <= jobs.created_at + $4 THEN excluded.run_at
        WHEN jobs.run_at >= jobs.created_at + $4 THEN jobs.run_at
        ELSE jobs.created_at + $4 END,
    created_at = CASE WHEN jobs.state = 'dead' THEN excluded.created_at ELSE jobs.created_at END,
    attempts = CASE WHEN jobs.state = 'dead' THEN 0 ELSE jobs.attempts END,
    state = 'pending',
    updated_at = excluded.updated_at
RETURNING last_error"
    };
}
pub(crate) const ENQUEUE_DEBOUNCED: &str = enqueue_debounced!();

/// The member upsert and its debounced enqueue in one statement (`$1`–`$4`
/// as in [`ENQUEUE_DEBOUNCED`], the member in `$5`–`$8`), for a backend with
/// data-modifying `WITH` (PostgreSQL, which runs it whether or not the rest
/// reads it): one round trip instead of a transaction's four.
pub(crate) const PUT_MEMBER_AND_ENQUEUE: &str = concat!(
    "WITH member AS (
    INSERT INTO community_members (community_id, user_id, trust_score, role, updated_at)
    VALUES ($5, $6, $7, $8, $3)
    ON CONFLICT (community_id, user_id) DO UPDATE SET
        trust_score = excluded.trust_score, role = excluded.role, updated_at = excluded.updated_at
    RETURNING 1
)",
    enqueue_debounced!()
);

/// Claims one due job. `$lock` is what differs: PostgreSQL adds `FOR UPDATE
/// SKIP LOCKED` so concurrent claimers pass over each other's rows; SQLite
/// runs the whole statement under its single writer lock.
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE jobs SET lease_token = $1, lease_until = $2 + $3, attempts = attempts + 1,
                 updated_at = $2
             WHERE id = (
                 SELECT id FROM jobs
                 WHERE state = 'pending' AND run_at <= $2
                   AND (lease_until IS NULL OR lease_until < $2)
                 ORDER BY run_at, id
                 LIMIT 1 ",
            $lock,
            ") RETURNING ",
            $crate::sql::job_columns!()
        )
    };
}
pub(crate) use claim_sql;

pub(crate) fn validate_job_task(task: &str) -> crate::Result<matrix_sync_core::Task> {
    task.parse().map_err(|e: matrix_sync_core::TaskParseError| crate::StoreError::Corrupt(e.to_string()))
}

/// Every trait of the store for one backend: the row mappers, the pool's
/// own methods, and each concern's macro. What differs between the
/// backends is named at the instantiation: the claim's row lock, and whether
/// a statement may write in its `WITH` (one round trip for a member write).
macro_rules! sql_store_impl {
    ($store:ty, $row:ty, $backend:literal, claim_lock = $lock:literal, data_modifying_with = $data_modifying_with:literal) => {
        impl $store {
            /// A job by hand: its `state` column is read as whether it is dead.
            fn job_from_row(row: &$row) -> $crate::Result<$crate::Job> {
                use sqlx::Row;
                // The column keeps its first name: a task's text form is a scope's for a reconcile.
                let task: String = row.try_get("scope")?;
                let state: String = row.try_get("state")?;
                Ok($crate::Job {
                    id: row.try_get("id")?,
                    task: $crate::sql::validate_job_task(&task)?,
                    generation: row.try_get("generation")?,
                    attempts: row.try_get("attempts")?,
                    lease_token: row.try_get("lease_token")?,
                    run_at: row.try_get("run_at")?,
                    dead: state == "dead",
                    last_error: row.try_get("last_error")?,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> $crate::Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await;
            }
        }

        $crate::sql::users::users_sql!(
            $store,
            $row,
            $backend,
            claim_lock = $lock,
            data_modifying_with = $data_modifying_with
        );
        $crate::sql::communities::communities_sql!(
            $store,
            $row,
            $backend,
            claim_lock = $lock,
            data_modifying_with = $data_modifying_with
        );
        $crate::sql::requests::requests_sql!(
            $store,
            $row,
            $backend,
            claim_lock = $lock,
            data_modifying_with = $data_modifying_with
        );
        $crate::sql::lifecycle::lifecycle_sql!(
            $store,
            $row,
            $backend,
            claim_lock = $lock,
            data_modifying_with = $data_modifying_with
        );
        $crate::sql::rooms::rooms_sql!(
            $store,
            $row,
            $backend,
            claim_lock = $lock,
            data_modifying_with = $data_modifying_with
        );
        $crate::sql::audit::audit_sql!(
            $store,
            $row,
            $backend,
            claim_lock = $lock,
            data_modifying_with = $data_modifying_with
        );
        $crate::sql::sessions::sessions_sql!(
            $store,
            $row,
            $backend,
            claim_lock = $lock,
            data_modifying_with = $data_modifying_with
        );
        $crate::sql::webhooks::webhooks_sql!($store, $row);
        $crate::sql::jobs::jobs_sql!(
            $store,
            $row,
            $backend,
            claim_lock = $lock,
            data_modifying_with = $data_modifying_with
        );
    };
}

pub(crate) use sql_store_impl;
