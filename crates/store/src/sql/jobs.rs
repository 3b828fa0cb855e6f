//! `JobQueue` for both backends: the durable job queue, and the appservice transactions whose events enqueue jobs.

/// Implements [`JobQueue`](crate::JobQueue) for a backend (see `sql_store_impl!`).
macro_rules! jobs_sql {
    ($store:ty, $row:ty, $backend:literal, claim_lock = $lock:literal, data_modifying_with = $data_modifying_with:literal) => {
        #[async_trait::async_trait]
        impl $crate::JobQueue for $store {
            async fn accept_transaction(
                &self,
                txn: &$crate::Transaction<'_>,
                scopes: &[matrix_sync_core::Scope],
                messages: &[$crate::NewMessage],
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
                    sqlx::query($crate::sql::ENQUEUE)
                        .bind(scope.to_string())
                        .bind(now)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                for message in messages {
                    // The event id decides: a message seen before (in another
                    // transaction) is neither recorded nor delivered again.
                    let id = uuid::Uuid::new_v4();
                    let added = sqlx::query(
                        "INSERT INTO webhook_deliveries (id, event_id, room_id, sender, origin_server_ts, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (event_id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(&message.event_id)
                    .bind(&message.room_id)
                    .bind(&message.sender)
                    .bind(message.origin_server_ts)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if added == 1 {
                        sqlx::query($crate::sql::ENQUEUE)
                            .bind(matrix_sync_core::Task::Webhook(id).to_string())
                            .bind(now)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn prune_transactions(&self, before: $crate::Millis) -> $crate::Result<u64> {
                let n = sqlx::query("DELETE FROM appservice_transactions WHERE received_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                // Delivered or not: a delivery still undelivered then has a
                // dead task, which an operator sees among the dead jobs.
                sqlx::query("DELETE FROM webhook_deliveries WHERE created_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(n)
            }

            async fn enqueue(
                &self,
                task: matrix_sync_core::Task,
                run_at: $crate::Millis,
                now: $crate::Millis,
            ) -> $crate::Result<()> {
                sqlx::query($crate::sql::ENQUEUE)
                    .bind(task.to_string())
                    .bind(run_at)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn enqueue_periodic(
                &self,
                task: matrix_sync_core::Task,
                run_at: $crate::Millis,
                now: $crate::Millis,
            ) -> $crate::Result<()> {
                sqlx::query($crate::sql::ENQUEUE_PERIODIC)
                    .bind(task.to_string())
                    .bind(run_at)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn claim(&self, now: $crate::Millis, lease_ms: i64) -> $crate::Result<Option<$crate::Job>> {
                let token = uuid::Uuid::new_v4().to_string();
                let row = sqlx::query($crate::sql::claim_sql!($lock))
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

            async fn job_for(&self, task: matrix_sync_core::Task) -> $crate::Result<Option<$crate::Job>> {
                let row = sqlx::query(concat!("SELECT ", $crate::sql::job_columns!(), " FROM jobs WHERE scope = $1"))
                    .bind(task.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(Self::job_from_row).transpose()
            }

            async fn dead_jobs(&self, limit: i64) -> $crate::Result<Vec<$crate::Job>> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql::job_columns!(),
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
                    $crate::sql::job_columns!()
                ))
                .bind(now)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(Self::job_from_row).transpose()
            }

            async fn next_run_at(&self) -> $crate::Result<Option<$crate::Millis>> {
                use sqlx::Row;
                let row =
                    sqlx::query("SELECT MIN(run_at) AS next FROM jobs WHERE state = 'pending' AND lease_token IS NULL")
                        .fetch_one(&self.pool)
                        .await?;
                Ok(row.try_get("next")?)
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

pub(crate) use jobs_sql;
