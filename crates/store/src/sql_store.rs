//! The SQL both backends share. SQLite and PostgreSQL agree on almost all of
//! it (`$n` parameters, `ON CONFLICT … DO UPDATE`, `RETURNING`), but sqlx's
//! types differ per database, so the one implementation is written once here
//! as a macro and instantiated for each backend with the few statements that
//! differ (how a job is claimed).

/// Columns of `jobs` that `job_from_row` reads (a macro so that statements
/// using it stay string literals, which sqlx requires).
macro_rules! job_columns {
    () => {
        "id, scope, generation, attempts, lease_token, run_at, state, last_error"
    };
}
pub(crate) use job_columns;

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
    scope
        .parse()
        .map_err(|e: matrix_sync_core::ScopeParseError| crate::StoreError::Corrupt(e.to_string()))
}

macro_rules! sql_store_impl {
    ($store:ty, $row:ty, $backend:literal, claim_lock = $lock:literal) => {
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

            async fn upsert_user_mapping(
                &self,
                m: &$crate::NewUserMapping,
            ) -> $crate::Result<$crate::UserMapping> {
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

            async fn user_mapping(
                &self,
                user_id: uuid::Uuid,
            ) -> $crate::Result<Option<$crate::UserMapping>> {
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

            async fn accept_transaction(
                &self,
                txn_id: &str,
                event_count: usize,
                scopes: &[matrix_sync_core::Scope],
                now: $crate::Millis,
            ) -> $crate::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let inserted = sqlx::query(
                    "INSERT INTO appservice_transactions (txn_id, received_at, event_count)
                     VALUES ($1, $2, $3) ON CONFLICT (txn_id) DO NOTHING",
                )
                .bind(txn_id)
                .bind(now)
                .bind(i64::try_from(event_count).unwrap_or(i64::MAX))
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

            async fn claim(
                &self,
                now: $crate::Millis,
                lease_ms: i64,
            ) -> $crate::Result<Option<$crate::Job>> {
                let token = uuid::Uuid::new_v4().to_string();
                let row = sqlx::query($crate::sql_store::claim_sql!($lock))
                    .bind(&token)
                    .bind(now)
                    .bind(lease_ms)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(Self::job_from_row).transpose()
            }

            async fn renew(
                &self,
                job: &$crate::Job,
                now: $crate::Millis,
                lease_ms: i64,
            ) -> $crate::Result<bool> {
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
                let deleted = sqlx::query(
                    "DELETE FROM jobs WHERE id = $1 AND generation = $2 AND lease_token = $3",
                )
                .bind(job.id)
                .bind(job.generation)
                .bind(&job.lease_token)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if deleted == 0 {
                    // Enqueued again while it ran: keep it for one more run.
                    sqlx::query(
                        "UPDATE jobs SET lease_token = NULL, lease_until = NULL, attempts = 0,
                             last_error = NULL, updated_at = $1
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
                let retry_at = now
                    .saturating_add(i64::try_from(backoff.delay(attempts).as_millis()).unwrap_or(i64::MAX));
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

            async fn job_for_scope(
                &self,
                scope: matrix_sync_core::Scope,
            ) -> $crate::Result<Option<$crate::Job>> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql_store::job_columns!(),
                    " FROM jobs WHERE scope = $1"
                ))
                .bind(scope.to_string())
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(Self::job_from_row).transpose()
            }

            async fn retry_dead_job(&self, id: i64, now: $crate::Millis) -> $crate::Result<bool> {
                let n = sqlx::query(
                    "UPDATE jobs SET state = 'pending', attempts = 0, run_at = $1, updated_at = $1
                     WHERE id = $2 AND state = 'dead'",
                )
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(n == 1)
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
                Ok($crate::QueueDepth {
                    pending: row.try_get("pending")?,
                    dead: row.try_get("dead")?,
                })
            }
        }
    };
}

pub(crate) use sql_store_impl;
