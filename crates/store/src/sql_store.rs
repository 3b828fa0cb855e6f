//! The SQL both backends share. SQLite and PostgreSQL agree on almost all of
//! it (`$n` parameters, `ON CONFLICT … DO UPDATE`, `RETURNING`), but sqlx's
//! types differ per database, so the one implementation is written once here
//! as a macro and instantiated for each backend with the few statements that
//! differ (how a job is claimed).

/// A community's trust table as stored (JSON, checked as
/// [`TrustLevels::new`](matrix_sync_core::power::TrustLevels::new) checks it).
pub(crate) fn trust_levels(raw: &str) -> crate::Result<matrix_sync_core::power::TrustLevels> {
    serde_json::from_str(raw).map_err(|e| crate::StoreError::Corrupt(format!("trust_levels `{raw}`: {e}")))
}

pub(crate) fn trust_levels_json(levels: &matrix_sync_core::power::TrustLevels) -> crate::Result<String> {
    serde_json::to_string(levels).map_err(|e| crate::StoreError::Corrupt(format!("trust_levels: {e}")))
}

/// A room's role as stored; anything else is a corrupt row.
pub(crate) fn room_role(raw: &str) -> crate::Result<matrix_sync_core::rooms::RoomRole> {
    matrix_sync_core::rooms::RoomRole::parse(raw)
        .ok_or_else(|| crate::StoreError::Corrupt(format!("room role `{raw}`")))
}

/// A community member's role as stored; anything else is a corrupt row.
pub(crate) fn community_role(raw: &str) -> crate::Result<matrix_sync_core::power::CommunityRole> {
    matrix_sync_core::power::CommunityRole::parse(raw)
        .ok_or_else(|| crate::StoreError::Corrupt(format!("community member role `{raw}`")))
}

/// A council member's role as stored; anything else is a corrupt row.
pub(crate) fn council_role(raw: &str) -> crate::Result<matrix_sync_core::power::CouncilRole> {
    matrix_sync_core::power::CouncilRole::parse(raw)
        .ok_or_else(|| crate::StoreError::Corrupt(format!("council member role `{raw}`")))
}

/// Columns of `jobs` that `job_from_row` reads (a macro so that statements
/// using it stay string literals, which sqlx requires).
macro_rules! job_columns {
    () => {
        "id, scope, generation, attempts, lease_token, run_at, state, last_error"
    };
}
pub(crate) use job_columns;

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
            $crate::sql_store::job_columns!()
        )
    };
}
pub(crate) use claim_sql;

pub(crate) fn validate_job_scope(scope: &str) -> crate::Result<matrix_sync_core::Scope> {
    scope.parse().map_err(|e: matrix_sync_core::ScopeParseError| crate::StoreError::Corrupt(e.to_string()))
}

/// The `Store` implementation for one backend. What differs between the
/// backends is named at the instantiation: the claim's row lock, and whether
/// a statement may write in its `WITH` (one round trip for a member write).
macro_rules! sql_store_impl {
    ($store:ty, $row:ty, $backend:literal, claim_lock = $lock:literal, data_modifying_with = $data_modifying_with:literal) => {
        impl $store {
            fn job_from_row(row: &$row) -> $crate::Result<$crate::Job> {
                use sqlx::Row;
                let scope: String = row.try_get("scope")?;
                let state: String = row.try_get("state")?;
                Ok($crate::Job {
                    id: row.try_get("id")?,
                    scope: $crate::sql_store::validate_job_scope(&scope)?,
                    generation: row.try_get("generation")?,
                    attempts: row.try_get("attempts")?,
                    lease_token: row.try_get("lease_token")?,
                    run_at: row.try_get("run_at")?,
                    dead: state == "dead",
                    last_error: row.try_get("last_error")?,
                })
            }

            fn community_from_row(row: &$row) -> $crate::Result<$crate::CommunityRecord> {
                use sqlx::Row;
                Ok($crate::CommunityRecord {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    matrix_enabled: row.try_get("matrix_enabled")?,
                    general_encrypted: row.try_get("general_encrypted")?,
                    trust_levels: $crate::sql_store::trust_levels(&row.try_get::<String, _>("trust_levels")?)?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                    deleted_at: row.try_get("deleted_at")?,
                    hard_delete_at: row.try_get("hard_delete_at")?,
                    purging_at: row.try_get("purging_at")?,
                    purged_at: row.try_get("purged_at")?,
                })
            }

            fn member_from_row(row: &$row) -> $crate::Result<$crate::MemberRecord> {
                use sqlx::Row;
                Ok($crate::MemberRecord {
                    user_id: row.try_get("user_id")?,
                    trust_score: row.try_get("trust_score")?,
                    role: $crate::sql_store::community_role(&row.try_get::<String, _>("role")?)?,
                })
            }

            fn room_from_row(row: &$row) -> $crate::Result<$crate::RoomRecord> {
                use sqlx::Row;
                let scope: String = row.try_get("scope")?;
                Ok($crate::RoomRecord {
                    room_id: row.try_get("room_id")?,
                    scope: $crate::sql_store::validate_job_scope(&scope)?,
                    role: $crate::sql_store::room_role(&row.try_get::<String, _>("role")?)?,
                })
            }

            fn council_from_row(row: &$row) -> $crate::Result<$crate::CouncilRecord> {
                use sqlx::Row;
                Ok($crate::CouncilRecord {
                    id: row.try_get("id")?,
                    community_id: row.try_get("community_id")?,
                    name: row.try_get("name")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                    deleted_at: row.try_get("deleted_at")?,
                    hard_delete_at: row.try_get("hard_delete_at")?,
                    purging_at: row.try_get("purging_at")?,
                    purged_at: row.try_get("purged_at")?,
                })
            }

            fn request_from_row(row: &$row) -> $crate::Result<$crate::RequestRecord> {
                use sqlx::Row;
                Ok($crate::RequestRecord {
                    id: row.try_get("id")?,
                    community_id: row.try_get("community_id")?,
                    requester: row.try_get("requester")?,
                    owner: row.try_get("owner")?,
                    title: row.try_get("title")?,
                    pair_id: row.try_get("pair_id")?,
                    accepted_at: row.try_get("accepted_at")?,
                    message_event_id: row.try_get("message_event_id")?,
                    message_sent_at: row.try_get("message_sent_at")?,
                })
            }

            fn mapping_from_row(row: &$row) -> $crate::Result<$crate::UserMapping> {
                use sqlx::Row;
                Ok($crate::UserMapping {
                    id: row.try_get("id")?,
                    user_id: row.try_get("user_id")?,
                    matrix_user_id: row.try_get("matrix_user_id")?,
                    display_name: row.try_get("display_name")?,
                    provisioned_at: row.try_get("provisioned_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
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

            async fn upsert_user_mapping(&self, m: &$crate::NewUserMapping) -> $crate::Result<$crate::UserMapping> {
                let row = sqlx::query(
                    "INSERT INTO matrix_user_mappings
                         (id, user_id, matrix_user_id, display_name, provisioned_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (user_id) DO UPDATE SET
                         display_name = COALESCE(excluded.display_name,
                                                 matrix_user_mappings.display_name)
                     RETURNING id, user_id, matrix_user_id, display_name, provisioned_at,
                               last_seen_at",
                )
                .bind(uuid::Uuid::new_v4())
                .bind(m.user_id)
                .bind(&m.matrix_user_id)
                .bind(&m.display_name)
                .bind(m.provisioned_at)
                .fetch_one(&self.pool)
                .await?;
                Self::mapping_from_row(&row)
            }

            async fn user_mapping(&self, user_id: uuid::Uuid) -> $crate::Result<Option<$crate::UserMapping>> {
                let row = sqlx::query(
                    "SELECT id, user_id, matrix_user_id, display_name, provisioned_at,
                            last_seen_at
                     FROM matrix_user_mappings WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(Self::mapping_from_row).transpose()
            }

            async fn put_community(
                &self,
                c: &$crate::CommunityRecord,
                now: $crate::Millis,
            ) -> $crate::Result<$crate::CommunityRecord> {
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query(concat!(
                    "INSERT INTO communities (id, name, matrix_enabled, general_encrypted, trust_levels,
                         created_at, updated_at, deleted_at, hard_delete_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)
                     ON CONFLICT (id) DO UPDATE SET
                         name = excluded.name, matrix_enabled = excluded.matrix_enabled,
                         general_encrypted = excluded.general_encrypted,
                         trust_levels = excluded.trust_levels, updated_at = excluded.updated_at
                     RETURNING ",
                    $crate::sql_store::community_columns!()
                ))
                .bind(c.id)
                .bind(&c.name)
                .bind(c.matrix_enabled)
                .bind(c.general_encrypted)
                .bind($crate::sql_store::trust_levels_json(&c.trust_levels)?)
                .bind(now)
                .bind(c.deleted_at)
                .bind(c.hard_delete_at)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query($crate::sql_store::ENQUEUE)
                    .bind(matrix_sync_core::Scope::Community(c.id).to_string())
                    .bind(now)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Self::community_from_row(&row)
            }

            async fn community(&self, id: uuid::Uuid) -> $crate::Result<Option<$crate::CommunityRecord>> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql_store::community_columns!(),
                    " FROM communities WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(Self::community_from_row).transpose()
            }

            async fn community_ids(&self) -> $crate::Result<Vec<uuid::Uuid>> {
                use sqlx::Row;
                let rows = sqlx::query("SELECT id FROM communities ORDER BY id").fetch_all(&self.pool).await?;
                rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
            }

            async fn put_member(
                &self,
                community: uuid::Uuid,
                m: &$crate::MemberRecord,
                debounce: $crate::Debounce,
                now: $crate::Millis,
            ) -> $crate::Result<Option<String>> {
                use sqlx::Row;
                let scope = matrix_sync_core::Scope::Community(community).to_string();
                let run_at = now.saturating_add(debounce.quiet_ms);
                // The most frequent write: one round trip where the backend
                // has data-modifying `WITH` (PostgreSQL, a network hop per
                // statement); SQLite (in process) takes a transaction.
                if $data_modifying_with {
                    let row = sqlx::query($crate::sql_store::PUT_MEMBER_AND_ENQUEUE)
                        .bind(scope)
                        .bind(run_at)
                        .bind(now)
                        .bind(debounce.max_wait_ms)
                        .bind(community)
                        .bind(m.user_id)
                        .bind(m.trust_score)
                        .bind(m.role.as_str())
                        .fetch_one(&self.pool)
                        .await?;
                    return Ok(row.try_get("last_error")?);
                }
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO community_members (community_id, user_id, trust_score, role, updated_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (community_id, user_id) DO UPDATE SET
                         trust_score = excluded.trust_score, role = excluded.role,
                         updated_at = excluded.updated_at",
                )
                .bind(community)
                .bind(m.user_id)
                .bind(m.trust_score)
                .bind(m.role.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let row = sqlx::query($crate::sql_store::ENQUEUE_DEBOUNCED)
                    .bind(scope)
                    .bind(run_at)
                    .bind(now)
                    .bind(debounce.max_wait_ms)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(row.try_get("last_error")?)
            }

            async fn put_elevated_member(
                &self,
                community: uuid::Uuid,
                m: &$crate::MemberRecord,
                min_trust: i64,
                fits: &(dyn for<'e> Fn(&'e $crate::Elevated) -> bool + Send + Sync),
                debounce: $crate::Debounce,
                now: $crate::Millis,
            ) -> $crate::Result<std::result::Result<Option<String>, $crate::Elevated>> {
                use sqlx::Row;
                let mut tx = self.pool.begin().await?;
                // A write first: PostgreSQL locks the community's row until
                // the commit, SQLite takes its one writer lock; either way a
                // concurrent promotion waits here and counts this one.
                sqlx::query("UPDATE communities SET updated_at = updated_at WHERE id = $1")
                    .bind(community)
                    .execute(&mut *tx)
                    .await?;
                let count: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM community_members
                     WHERE community_id = $1 AND user_id <> $2
                       AND (role = 'admin' OR trust_score >= $3)",
                )
                .bind(community)
                .bind(m.user_id)
                .bind(min_trust)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
                let remote = sqlx::query(
                    "SELECT r.matrix_user_id FROM community_members m
                     JOIN remote_members r ON r.community_id = m.community_id AND r.user_id = m.user_id
                     WHERE m.community_id = $1 AND m.user_id <> $2
                       AND (m.role = 'admin' OR m.trust_score >= $3)
                     ORDER BY r.matrix_user_id",
                )
                .bind(community)
                .bind(m.user_id)
                .bind(min_trust)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get("matrix_user_id"))
                .collect::<Result<Vec<String>, _>>()?;
                let elevated = $crate::Elevated { count, remote };
                if !fits(&elevated) {
                    tx.rollback().await?;
                    return Ok(Err(elevated));
                }
                sqlx::query(
                    "INSERT INTO community_members (community_id, user_id, trust_score, role, updated_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (community_id, user_id) DO UPDATE SET
                         trust_score = excluded.trust_score, role = excluded.role,
                         updated_at = excluded.updated_at",
                )
                .bind(community)
                .bind(m.user_id)
                .bind(m.trust_score)
                .bind(m.role.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let row = sqlx::query($crate::sql_store::ENQUEUE_DEBOUNCED)
                    .bind(matrix_sync_core::Scope::Community(community).to_string())
                    .bind(now.saturating_add(debounce.quiet_ms))
                    .bind(now)
                    .bind(debounce.max_wait_ms)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Ok(row.try_get("last_error")?))
            }

            async fn remove_member(
                &self,
                community: uuid::Uuid,
                user: uuid::Uuid,
                now: $crate::Millis,
            ) -> $crate::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let removed = sqlx::query("DELETE FROM community_members WHERE community_id = $1 AND user_id = $2")
                    .bind(community)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if removed == 0 {
                    return Ok(false);
                }
                sqlx::query(
                    "DELETE FROM council_members WHERE user_id = $1
                       AND council_id IN (SELECT id FROM councils WHERE community_id = $2)",
                )
                .bind(user)
                .bind(community)
                .execute(&mut *tx)
                .await?;
                sqlx::query($crate::sql_store::ENQUEUE)
                    .bind(matrix_sync_core::Scope::Community(community).to_string())
                    .bind(now)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn member(
                &self,
                community: uuid::Uuid,
                user: uuid::Uuid,
            ) -> $crate::Result<Option<$crate::MemberRecord>> {
                let row = sqlx::query(
                    "SELECT user_id, trust_score, role FROM community_members
                     WHERE community_id = $1 AND user_id = $2",
                )
                .bind(community)
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(Self::member_from_row).transpose()
            }

            async fn members(&self, community: uuid::Uuid) -> $crate::Result<Vec<$crate::MemberRecord>> {
                let rows = sqlx::query(
                    "SELECT user_id, trust_score, role FROM community_members
                     WHERE community_id = $1 ORDER BY user_id",
                )
                .bind(community)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::member_from_row).collect()
            }

            async fn count_elevated_members(
                &self,
                community: uuid::Uuid,
                min_trust: i64,
                except: uuid::Uuid,
            ) -> $crate::Result<i64> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT COUNT(*) AS n FROM community_members
                     WHERE community_id = $1 AND user_id <> $2
                       AND (role = 'admin' OR trust_score >= $3)",
                )
                .bind(community)
                .bind(except)
                .bind(min_trust)
                .fetch_one(&self.pool)
                .await?;
                Ok(row.try_get("n")?)
            }

            async fn put_council(
                &self,
                c: &$crate::CouncilRecord,
                now: $crate::Millis,
            ) -> $crate::Result<$crate::CouncilRecord> {
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query(concat!(
                    "INSERT INTO councils (id, community_id, name, created_at, updated_at, deleted_at, hard_delete_at)
                     VALUES ($1, $2, $3, $4, $4, $5, $6)
                     ON CONFLICT (id) DO UPDATE SET
                         name = excluded.name, updated_at = excluded.updated_at
                     RETURNING ", $crate::sql_store::council_columns!()
                ))
                .bind(c.id)
                .bind(c.community_id)
                .bind(&c.name)
                .bind(now)
                .bind(c.deleted_at)
                .bind(c.hard_delete_at)
                .fetch_one(&mut *tx)
                .await?;
                let stored = Self::council_from_row(&row)?;
                sqlx::query($crate::sql_store::ENQUEUE)
                    .bind(matrix_sync_core::Scope::Community(stored.community_id).to_string())
                    .bind(now)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(stored)
            }

            async fn council(&self, id: uuid::Uuid) -> $crate::Result<Option<$crate::CouncilRecord>> {
                let row = sqlx::query(concat!("SELECT ", $crate::sql_store::council_columns!(), " FROM councils WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(Self::council_from_row).transpose()
            }

            async fn councils_of(&self, community: uuid::Uuid) -> $crate::Result<Vec<$crate::CouncilRecord>> {
                let rows = sqlx::query(concat!(
                    "SELECT ", $crate::sql_store::council_columns!(), " FROM councils WHERE community_id = $1 ORDER BY id"
                ))
                .bind(community)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::council_from_row).collect()
            }

            async fn put_council_member(
                &self,
                council: &$crate::CouncilRecord,
                m: &$crate::CouncilMemberRecord,
                now: $crate::Millis,
            ) -> $crate::Result<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO council_members (council_id, user_id, role, updated_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (council_id, user_id) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at",
                )
                .bind(council.id)
                .bind(m.user_id)
                .bind(m.role.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query($crate::sql_store::ENQUEUE)
                    .bind(matrix_sync_core::Scope::Community(council.community_id).to_string())
                    .bind(now)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn remove_council_member(
                &self,
                council: &$crate::CouncilRecord,
                user: uuid::Uuid,
                now: $crate::Millis,
            ) -> $crate::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let removed = sqlx::query("DELETE FROM council_members WHERE council_id = $1 AND user_id = $2")
                    .bind(council.id)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if removed == 0 {
                    return Ok(false);
                }
                sqlx::query($crate::sql_store::ENQUEUE)
                    .bind(matrix_sync_core::Scope::Community(council.community_id).to_string())
                    .bind(now)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn council_members(&self, council: uuid::Uuid) -> $crate::Result<Vec<$crate::CouncilMemberRecord>> {
                use sqlx::Row;
                let rows = sqlx::query("SELECT user_id, role FROM council_members WHERE council_id = $1 ORDER BY user_id")
                    .bind(council)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::CouncilMemberRecord {
                            user_id: r.try_get("user_id")?,
                            role: $crate::sql_store::council_role(&r.try_get::<String, _>("role")?)?,
                        })
                    })
                    .collect()
            }

            async fn put_direct(&self, d: &$crate::DirectRecord, now: $crate::Millis) -> $crate::Result<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO direct_chats (pair_id, user_a, user_b, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (pair_id) DO NOTHING",
                )
                .bind(d.pair_id)
                .bind(&d.user_a)
                .bind(&d.user_b)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query($crate::sql_store::ENQUEUE)
                    .bind(matrix_sync_core::Scope::Direct(d.pair_id).to_string())
                    .bind(now)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn direct(&self, pair_id: uuid::Uuid) -> $crate::Result<Option<$crate::DirectRecord>> {
                use sqlx::Row;
                let row = sqlx::query("SELECT pair_id, user_a, user_b FROM direct_chats WHERE pair_id = $1")
                    .bind(pair_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    Ok($crate::DirectRecord { pair_id: r.try_get("pair_id")?, user_a: r.try_get("user_a")?, user_b: r.try_get("user_b")? })
                })
                .transpose()
            }

            async fn direct_pair_ids(&self) -> $crate::Result<Vec<uuid::Uuid>> {
                use sqlx::Row;
                let rows = sqlx::query("SELECT pair_id FROM direct_chats ORDER BY pair_id").fetch_all(&self.pool).await?;
                rows.iter().map(|r| Ok(r.try_get("pair_id")?)).collect()
            }

            async fn accept_request(
                &self,
                r: &$crate::RequestRecord,
                d: &$crate::DirectRecord,
                now: $crate::Millis,
            ) -> $crate::Result<$crate::RequestRecord> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO direct_chats (pair_id, user_a, user_b, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (pair_id) DO NOTHING",
                )
                .bind(d.pair_id)
                .bind(&d.user_a)
                .bind(&d.user_b)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO accepted_requests (id, community_id, requester, owner, title, pair_id, accepted_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(r.id)
                .bind(r.community_id)
                .bind(&r.requester)
                .bind(&r.owner)
                .bind(&r.title)
                .bind(r.pair_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let row = sqlx::query(concat!("SELECT ", $crate::sql_store::request_columns!(), " FROM accepted_requests WHERE id = $1"))
                    .bind(r.id)
                    .fetch_one(&mut *tx)
                    .await?;
                let stored = Self::request_from_row(&row)?;
                if stored.message_sent_at.is_none() {
                    sqlx::query($crate::sql_store::ENQUEUE)
                        .bind(matrix_sync_core::Scope::Request(r.id).to_string())
                        .bind(now)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(stored)
            }

            async fn request(&self, id: uuid::Uuid) -> $crate::Result<Option<$crate::RequestRecord>> {
                let row = sqlx::query(concat!("SELECT ", $crate::sql_store::request_columns!(), " FROM accepted_requests WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(Self::request_from_row).transpose()
            }

            async fn mark_request_message_sent(&self, id: uuid::Uuid, event_id: &str, now: $crate::Millis) -> $crate::Result<()> {
                sqlx::query("UPDATE accepted_requests SET message_event_id = $1, message_sent_at = $2 WHERE id = $3")
                    .bind(event_id)
                    .bind(now)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn swap_message_device(&self, id: uuid::Uuid, device: &str) -> $crate::Result<Option<String>> {
                use sqlx::Row;
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query("SELECT message_device FROM accepted_requests WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let before: Option<String> = match row {
                    Some(row) => row.try_get("message_device")?,
                    None => None,
                };
                sqlx::query("UPDATE accepted_requests SET message_device = $1 WHERE id = $2")
                    .bind(device)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(before)
            }

            async fn set_deletion(
                &self,
                scope: matrix_sync_core::Scope,
                deleted_at: Option<$crate::Millis>,
                hard_delete_at: Option<$crate::Millis>,
                now: $crate::Millis,
            ) -> $crate::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let (updated, community) = match scope {
                    matrix_sync_core::Scope::Community(id) => {
                        let n = sqlx::query(concat!(
                            "UPDATE communities SET deleted_at = $1, hard_delete_at = $2, updated_at = $3
                             WHERE id = $4 AND ",
                            $crate::sql_store::deletion_may_change!()
                        ))
                        .bind(deleted_at)
                        .bind(hard_delete_at)
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        (n, Some(id))
                    }
                    matrix_sync_core::Scope::Council(id) => {
                        use sqlx::Row;
                        let row = sqlx::query(concat!(
                            "UPDATE councils SET deleted_at = $1, hard_delete_at = $2, updated_at = $3
                             WHERE id = $4 AND ",
                            $crate::sql_store::deletion_may_change!(),
                            " RETURNING community_id"
                        ))
                        .bind(deleted_at)
                        .bind(hard_delete_at)
                        .bind(now)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        match row {
                            Some(row) => (1, Some(row.try_get::<uuid::Uuid, _>("community_id")?)),
                            None => (0, None),
                        }
                    }
                    other => return Err($crate::StoreError::Corrupt(format!("{other} cannot be deleted"))),
                };
                if let Some(community) = community.filter(|_| updated > 0) {
                    sqlx::query($crate::sql_store::ENQUEUE)
                        .bind(matrix_sync_core::Scope::Community(community).to_string())
                        .bind(now)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(updated > 0)
            }

            async fn begin_purge(&self, scope: matrix_sync_core::Scope, now: $crate::Millis) -> $crate::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let purging = match scope {
                    matrix_sync_core::Scope::Community(id) => {
                        let n = sqlx::query(concat!(
                            "UPDATE communities SET purging_at = COALESCE(purging_at, $1) WHERE id = $2 AND ",
                            $crate::sql_store::purge_may_begin!()
                        ))
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if n > 0 {
                            // Its councils go with it: none may be restored now.
                            sqlx::query(
                                "UPDATE councils SET purging_at = COALESCE(purging_at, $1)
                                 WHERE community_id = $2 AND purged_at IS NULL",
                            )
                            .bind(now)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        }
                        n > 0
                    }
                    matrix_sync_core::Scope::Council(id) => {
                        let n = sqlx::query(concat!(
                            "UPDATE councils SET purging_at = COALESCE(purging_at, $1) WHERE id = $2 AND ",
                            $crate::sql_store::purge_may_begin!()
                        ))
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        n > 0
                    }
                    other => return Err($crate::StoreError::Corrupt(format!("{other} cannot be purged"))),
                };
                tx.commit().await?;
                Ok(purging)
            }

            async fn mark_purged(&self, scope: matrix_sync_core::Scope, now: $crate::Millis) -> $crate::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let statement = match scope {
                    matrix_sync_core::Scope::Community(_) => {
                        "UPDATE communities SET purged_at = $1
                         WHERE id = $2 AND purging_at IS NOT NULL AND purged_at IS NULL"
                    }
                    matrix_sync_core::Scope::Council(_) => {
                        "UPDATE councils SET purged_at = $1
                         WHERE id = $2 AND purging_at IS NOT NULL AND purged_at IS NULL"
                    }
                    other => return Err($crate::StoreError::Corrupt(format!("{other} cannot be purged"))),
                };
                let marked = sqlx::query(statement).bind(now).bind(scope.id()).execute(&mut *tx).await?.rows_affected();
                if marked > 0 {
                    sqlx::query("DELETE FROM matrix_rooms WHERE scope = $1")
                        .bind(scope.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(marked > 0)
            }

            async fn forget_room(&self, room_id: &str) -> $crate::Result<bool> {
                let n = sqlx::query("DELETE FROM matrix_rooms WHERE room_id = $1")
                    .bind(room_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }

            async fn due_hard_deletes(&self, now: $crate::Millis) -> $crate::Result<Vec<matrix_sync_core::Scope>> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT 'community' AS kind, id FROM communities
                     WHERE purged_at IS NULL
                       AND (purging_at IS NOT NULL OR (hard_delete_at IS NOT NULL AND hard_delete_at <= $1))
                     UNION ALL
                     SELECT 'council' AS kind, k.id FROM councils k JOIN communities c ON c.id = k.community_id
                     WHERE k.purged_at IS NULL
                       AND (k.purging_at IS NOT NULL OR (k.hard_delete_at IS NOT NULL AND k.hard_delete_at <= $1))
                       AND c.purging_at IS NULL AND (c.hard_delete_at IS NULL OR c.hard_delete_at > $1)",
                )
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        let kind: String = r.try_get("kind")?;
                        let id: uuid::Uuid = r.try_get("id")?;
                        Ok(if kind == "community" {
                            matrix_sync_core::Scope::Community(id)
                        } else {
                            matrix_sync_core::Scope::Council(id)
                        })
                    })
                    .collect()
            }

            async fn scope_version(&self, scope: matrix_sync_core::Scope) -> $crate::Result<i64> {
                let row = sqlx::query("SELECT version FROM scope_versions WHERE scope = $1")
                    .bind(scope.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                use sqlx::Row;
                Ok(match row {
                    Some(row) => row.try_get("version")?,
                    None => 0,
                })
            }

            async fn bump_scope_version(&self, scope: matrix_sync_core::Scope) -> $crate::Result<i64> {
                let row = sqlx::query(
                    "INSERT INTO scope_versions (scope, version) VALUES ($1, 1)
                     ON CONFLICT (scope) DO UPDATE SET version = scope_versions.version + 1
                     RETURNING version",
                )
                .bind(scope.to_string())
                .fetch_one(&self.pool)
                .await?;
                use sqlx::Row;
                Ok(row.try_get("version")?)
            }

            async fn record_room_intent(
                &self,
                scope: matrix_sync_core::Scope,
                role: matrix_sync_core::rooms::RoomRole,
                now: $crate::Millis,
            ) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO room_intents (scope, role, started_at) VALUES ($1, $2, $3)
                     ON CONFLICT (scope, role) DO NOTHING",
                )
                .bind(scope.to_string())
                .bind(role.as_str())
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn has_room_intent(
                &self,
                scope: matrix_sync_core::Scope,
                role: matrix_sync_core::rooms::RoomRole,
            ) -> $crate::Result<bool> {
                let row = sqlx::query("SELECT 1 AS one FROM room_intents WHERE scope = $1 AND role = $2")
                    .bind(scope.to_string())
                    .bind(role.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.is_some())
            }

            async fn record_room(&self, room: &$crate::RoomRecord, now: $crate::Millis) -> $crate::Result<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM room_intents WHERE scope = $1 AND role = $2")
                    .bind(room.scope.to_string())
                    .bind(room.role.as_str())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM matrix_rooms WHERE scope = $1 AND role = $2 AND room_id <> $3")
                    .bind(room.scope.to_string())
                    .bind(room.role.as_str())
                    .bind(&room.room_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO matrix_rooms (room_id, scope, role, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (room_id) DO UPDATE SET scope = excluded.scope, role = excluded.role",
                )
                .bind(&room.room_id)
                .bind(room.scope.to_string())
                .bind(room.role.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn rooms_of(&self, scope: matrix_sync_core::Scope) -> $crate::Result<Vec<$crate::RoomRecord>> {
                let rows = sqlx::query("SELECT room_id, scope, role FROM matrix_rooms WHERE scope = $1 ORDER BY role")
                    .bind(scope.to_string())
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(Self::room_from_row).collect()
            }

            async fn room_scopes(
                &self,
                room_ids: &[String],
            ) -> $crate::Result<Vec<(String, matrix_sync_core::Scope)>> {
                let mut scopes = Vec::new();
                for room_id in room_ids {
                    let row = sqlx::query("SELECT room_id, scope, role FROM matrix_rooms WHERE room_id = $1")
                        .bind(room_id)
                        .fetch_optional(&self.pool)
                        .await?;
                    if let Some(row) = row {
                        scopes.push((room_id.clone(), Self::room_from_row(&row)?.scope));
                    }
                }
                Ok(scopes)
            }

            async fn append_audit(&self, entries: &[$crate::NewAuditEntry]) -> $crate::Result<()> {
                let mut tx = self.pool.begin().await?;
                for e in entries {
                    sqlx::query(
                        "INSERT INTO audit_log (at, action, community_id, council_id, room_id, user_id,
                             old_level, new_level, cause, detail)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(e.at)
                    .bind(&e.action)
                    .bind(e.community_id)
                    .bind(e.council_id)
                    .bind(&e.room_id)
                    .bind(&e.user_id)
                    .bind(e.old_level)
                    .bind(e.new_level)
                    .bind(&e.cause)
                    .bind(&e.detail)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn audit(&self, f: $crate::AuditFilter) -> $crate::Result<Vec<$crate::AuditEntry>> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT id, at, action, community_id, council_id, room_id, user_id, old_level,
                            new_level, cause, detail
                     FROM audit_log
                     WHERE ($1 IS NULL OR community_id = $1) AND ($2 IS NULL OR at >= $2)
                     ORDER BY id DESC LIMIT $3",
                )
                .bind(f.community_id)
                .bind(f.since)
                .bind(f.limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::AuditEntry {
                            id: r.try_get("id")?,
                            entry: $crate::NewAuditEntry {
                                at: r.try_get("at")?,
                                action: r.try_get("action")?,
                                community_id: r.try_get("community_id")?,
                                council_id: r.try_get("council_id")?,
                                room_id: r.try_get("room_id")?,
                                user_id: r.try_get("user_id")?,
                                old_level: r.try_get("old_level")?,
                                new_level: r.try_get("new_level")?,
                                cause: r.try_get("cause")?,
                                detail: r.try_get("detail")?,
                            },
                        })
                    })
                    .collect()
            }

            async fn next_run_at(&self) -> $crate::Result<Option<$crate::Millis>> {
                use sqlx::Row;
                let row =
                    sqlx::query("SELECT MIN(run_at) AS next FROM jobs WHERE state = 'pending' AND lease_token IS NULL")
                        .fetch_one(&self.pool)
                        .await?;
                Ok(row.try_get("next")?)
            }

            async fn unprovisioned_members(&self, community: uuid::Uuid) -> $crate::Result<Vec<uuid::Uuid>> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT m.user_id FROM community_members m
                     WHERE m.community_id = $1
                       AND NOT EXISTS (SELECT 1 FROM matrix_user_mappings u WHERE u.user_id = m.user_id)
                       AND NOT EXISTS (SELECT 1 FROM remote_members r
                                       WHERE r.community_id = m.community_id AND r.user_id = m.user_id)
                     ORDER BY m.user_id",
                )
                .bind(community)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|r| Ok(r.try_get("user_id")?)).collect()
            }

            async fn put_remote_member(
                &self,
                community: uuid::Uuid,
                user: uuid::Uuid,
                matrix_user_id: &str,
                now: $crate::Millis,
            ) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO remote_members (community_id, user_id, matrix_user_id, created_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (community_id, user_id) DO NOTHING",
                )
                .bind(community)
                .bind(user)
                .bind(matrix_user_id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn elevated_remote_members(
                &self,
                community: uuid::Uuid,
                min_trust: i64,
                except: uuid::Uuid,
            ) -> $crate::Result<Vec<String>> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT r.matrix_user_id FROM community_members m
                     JOIN remote_members r ON r.community_id = m.community_id AND r.user_id = m.user_id
                     WHERE m.community_id = $1 AND m.user_id <> $2
                       AND (m.role = 'admin' OR m.trust_score >= $3)
                     ORDER BY r.matrix_user_id",
                )
                .bind(community)
                .bind(except)
                .bind(min_trust)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|r| Ok(r.try_get("matrix_user_id")?)).collect()
            }

            async fn remote_members(&self, community: uuid::Uuid) -> $crate::Result<Vec<(uuid::Uuid, String)>> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT user_id, matrix_user_id FROM remote_members WHERE community_id = $1 ORDER BY user_id",
                )
                .bind(community)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|r| Ok((r.try_get("user_id")?, r.try_get("matrix_user_id")?))).collect()
            }

            async fn record_session(&self, user: uuid::Uuid, device_id: &str, now: $crate::Millis) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO chat_sessions (user_id, device_id, created_at, last_used_at) VALUES ($1, $2, $3, $3)
                     ON CONFLICT (user_id, device_id) DO UPDATE SET last_used_at = excluded.last_used_at",
                )
                .bind(user)
                .bind(device_id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn touch_session(&self, user: uuid::Uuid, device_id: &str, now: $crate::Millis) -> $crate::Result<bool> {
                let n = sqlx::query("UPDATE chat_sessions SET last_used_at = $3 WHERE user_id = $1 AND device_id = $2")
                    .bind(user)
                    .bind(device_id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n == 1)
            }

            async fn sessions(&self, user: uuid::Uuid) -> $crate::Result<Vec<$crate::SessionRecord>> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT device_id, created_at, last_used_at FROM chat_sessions WHERE user_id = $1
                     ORDER BY created_at, device_id",
                )
                .bind(user)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::SessionRecord {
                            device_id: r.try_get("device_id")?,
                            created_at: r.try_get("created_at")?,
                            last_used_at: r.try_get("last_used_at")?,
                        })
                    })
                    .collect()
            }

            async fn forget_session(&self, user: uuid::Uuid, device_id: &str) -> $crate::Result<bool> {
                let n = sqlx::query("DELETE FROM chat_sessions WHERE user_id = $1 AND device_id = $2")
                    .bind(user)
                    .bind(device_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n == 1)
            }

            async fn key_backup(&self, user: uuid::Uuid) -> $crate::Result<Option<$crate::KeyBackupRecord>> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT user_id, version, public_key, sealed_private_key, created_at FROM key_backups
                     WHERE user_id = $1",
                )
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok($crate::KeyBackupRecord {
                        user_id: r.try_get("user_id")?,
                        version: r.try_get("version")?,
                        public_key: r.try_get("public_key")?,
                        sealed_private_key: r.try_get("sealed_private_key")?,
                        created_at: r.try_get("created_at")?,
                    })
                })
                .transpose()
            }

            async fn insert_key_backup(&self, b: &$crate::KeyBackupRecord) -> $crate::Result<$crate::KeyBackupRecord> {
                sqlx::query(
                    "INSERT INTO key_backups (user_id, version, public_key, sealed_private_key, created_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO NOTHING",
                )
                .bind(b.user_id)
                .bind(&b.version)
                .bind(&b.public_key)
                .bind(&b.sealed_private_key)
                .bind(b.created_at)
                .execute(&self.pool)
                .await?;
                self.key_backup(b.user_id)
                    .await?
                    .ok_or_else(|| $crate::StoreError::Corrupt("a key backup recorded a moment ago is gone".into()))
            }

            async fn accept_transaction(
                &self,
                txn: &$crate::Transaction<'_>,
                scopes: &[matrix_sync_core::Scope],
                now: $crate::Millis,
            ) -> $crate::Result<bool> {
                let mut tx = self.pool.begin().await?;
                // A row without a digest predates digests: its id alone decides.
                let inserted = sqlx::query(
                    "INSERT INTO appservice_transactions (txn_id, digest, received_at, event_count)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (txn_id) DO UPDATE SET
                         digest = excluded.digest, received_at = excluded.received_at,
                         event_count = excluded.event_count
                     WHERE appservice_transactions.digest IS NOT NULL
                       AND appservice_transactions.digest <> excluded.digest",
                )
                .bind(txn.txn_id)
                .bind(txn.digest)
                .bind(now)
                .bind(i64::try_from(txn.event_count).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    return Ok(false);
                }
                for scope in scopes {
                    sqlx::query($crate::sql_store::ENQUEUE)
                        .bind(scope.to_string())
                        .bind(now)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn enqueue(
                &self,
                scope: matrix_sync_core::Scope,
                run_at: $crate::Millis,
                now: $crate::Millis,
            ) -> $crate::Result<()> {
                sqlx::query($crate::sql_store::ENQUEUE)
                    .bind(scope.to_string())
                    .bind(run_at)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn prune_transactions(&self, before: $crate::Millis) -> $crate::Result<u64> {
                let n = sqlx::query("DELETE FROM appservice_transactions WHERE received_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n)
            }

            async fn enqueue_periodic(
                &self,
                scope: matrix_sync_core::Scope,
                run_at: $crate::Millis,
                now: $crate::Millis,
            ) -> $crate::Result<()> {
                sqlx::query($crate::sql_store::ENQUEUE_PERIODIC)
                    .bind(scope.to_string())
                    .bind(run_at)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn claim(&self, now: $crate::Millis, lease_ms: i64) -> $crate::Result<Option<$crate::Job>> {
                let token = uuid::Uuid::new_v4().to_string();
                let row = sqlx::query($crate::sql_store::claim_sql!($lock))
                    .bind(&token)
                    .bind(now)
                    .bind(lease_ms)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(Self::job_from_row).transpose()
            }

            async fn renew(&self, job: &$crate::Job, now: $crate::Millis, lease_ms: i64) -> $crate::Result<bool> {
                let n = sqlx::query(
                    "UPDATE jobs SET lease_until = $1 + $2, updated_at = $1
                     WHERE id = $3 AND lease_token = $4",
                )
                .bind(now)
                .bind(lease_ms)
                .bind(job.id)
                .bind(&job.lease_token)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
            }

            async fn complete(&self, job: &$crate::Job, now: $crate::Millis) -> $crate::Result<()> {
                let mut tx = self.pool.begin().await?;
                let deleted = sqlx::query("DELETE FROM jobs WHERE id = $1 AND generation = $2 AND lease_token = $3")
                    .bind(job.id)
                    .bind(job.generation)
                    .bind(&job.lease_token)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if deleted == 0 {
                    // Enqueued again while it ran: keep it for one more run,
                    // pending from now (a debounced write's wait counts from here).
                    sqlx::query(
                        "UPDATE jobs SET lease_token = NULL, lease_until = NULL, attempts = 0,
                             last_error = NULL, updated_at = $1, created_at = $1
                         WHERE id = $2 AND lease_token = $3",
                    )
                    .bind(now)
                    .bind(job.id)
                    .bind(&job.lease_token)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn fail(
                &self,
                job: &$crate::Job,
                error: &str,
                now: $crate::Millis,
                backoff: &matrix_sync_core::Backoff,
            ) -> $crate::Result<$crate::FailOutcome> {
                let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
                let delay = backoff.jittered_delay(attempts, job.id.unsigned_abs());
                let retry_at = now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
                let exhausted = backoff.is_exhausted(attempts);
                // A newer generation (enqueued while this attempt ran) is new
                // desired state: try it now rather than after the backoff.
                let row = sqlx::query(
                    "UPDATE jobs SET
                         lease_token = NULL, lease_until = NULL, last_error = $1, updated_at = $2,
                         state = CASE WHEN generation = $3 AND $4 THEN 'dead' ELSE 'pending' END,
                         run_at = CASE WHEN generation = $3 THEN $5 ELSE $2 END
                     WHERE id = $6 AND lease_token = $7
                     RETURNING state, run_at",
                )
                .bind(error)
                .bind(now)
                .bind(job.generation)
                .bind(exhausted)
                .bind(retry_at)
                .bind(job.id)
                .bind(&job.lease_token)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else {
                    return Ok($crate::FailOutcome::LeaseLost);
                };
                use sqlx::Row;
                let state: String = row.try_get("state")?;
                Ok(if state == "dead" {
                    $crate::FailOutcome::Dead
                } else {
                    $crate::FailOutcome::RetryAt(row.try_get("run_at")?)
                })
            }

            async fn release(&self, job: &$crate::Job, now: $crate::Millis) -> $crate::Result<()> {
                sqlx::query(
                    "UPDATE jobs SET lease_token = NULL, lease_until = NULL,
                         attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,
                         updated_at = $1
                     WHERE id = $2 AND lease_token = $3",
                )
                .bind(now)
                .bind(job.id)
                .bind(&job.lease_token)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn job_for_scope(&self, scope: matrix_sync_core::Scope) -> $crate::Result<Option<$crate::Job>> {
                let row =
                    sqlx::query(concat!("SELECT ", $crate::sql_store::job_columns!(), " FROM jobs WHERE scope = $1"))
                        .bind(scope.to_string())
                        .fetch_optional(&self.pool)
                        .await?;
                row.as_ref().map(Self::job_from_row).transpose()
            }

            async fn dead_jobs(&self, limit: i64) -> $crate::Result<Vec<$crate::Job>> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql_store::job_columns!(),
                    " FROM jobs WHERE state = 'dead' ORDER BY updated_at, id LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(Self::job_from_row).collect()
            }

            async fn retry_dead_job(&self, id: i64, now: $crate::Millis) -> $crate::Result<Option<$crate::Job>> {
                let row = sqlx::query(concat!(
                    "UPDATE jobs SET state = 'pending', attempts = 0, run_at = $1, updated_at = $1
                     WHERE id = $2 AND state = 'dead' RETURNING ",
                    $crate::sql_store::job_columns!()
                ))
                .bind(now)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(Self::job_from_row).transpose()
            }

            async fn queue_depth(&self) -> $crate::Result<$crate::QueueDepth> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT COUNT(*) FILTER (WHERE state = 'pending') AS pending,
                            COUNT(*) FILTER (WHERE state = 'dead') AS dead
                     FROM jobs",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok($crate::QueueDepth { pending: row.try_get("pending")?, dead: row.try_get("dead")? })
            }
        }
    };
}

pub(crate) use sql_store_impl;
