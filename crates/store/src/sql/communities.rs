//! `CommunityStore` for both backends: communities, their members and councils: the desired state the API records, each write with its job.

/// Implements [`CommunityStore`](crate::CommunityStore) for a backend (see `sql_store_impl!`).
macro_rules! communities_sql {
    ($store:ty, $row:ty, $backend:literal, claim_lock = $lock:literal, data_modifying_with = $data_modifying_with:literal) => {
        #[async_trait::async_trait]
        impl $crate::CommunityStore for $store {
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
                    $crate::sql::community_columns!()
                ))
                .bind(c.id)
                .bind(&c.name)
                .bind(c.matrix_enabled)
                .bind(c.general_encrypted)
                .bind($crate::sql::trust_levels_json(&c.trust_levels)?)
                .bind(now)
                .bind(c.deleted_at)
                .bind(c.hard_delete_at)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query($crate::sql::ENQUEUE)
                    .bind(matrix_sync_core::Scope::Community(c.id).to_string())
                    .bind(now)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                $crate::sql::record::<$crate::CommunityRecord, _>(&row)
            }

            async fn community(&self, id: uuid::Uuid) -> $crate::Result<Option<$crate::CommunityRecord>> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql::community_columns!(),
                    " FROM communities WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map($crate::sql::record::<$crate::CommunityRecord, _>).transpose()
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
                    let row = sqlx::query($crate::sql::PUT_MEMBER_AND_ENQUEUE)
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
                let row = sqlx::query($crate::sql::ENQUEUE_DEBOUNCED)
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
                let row = sqlx::query($crate::sql::ENQUEUE_DEBOUNCED)
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
                sqlx::query($crate::sql::ENQUEUE)
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
                row.as_ref().map($crate::sql::record::<$crate::MemberRecord, _>).transpose()
            }

            async fn members(&self, community: uuid::Uuid) -> $crate::Result<Vec<$crate::MemberRecord>> {
                let rows = sqlx::query(
                    "SELECT user_id, trust_score, role FROM community_members
                     WHERE community_id = $1 ORDER BY user_id",
                )
                .bind(community)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map($crate::sql::record::<$crate::MemberRecord, _>).collect()
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
                     RETURNING ", $crate::sql::council_columns!()
                ))
                .bind(c.id)
                .bind(c.community_id)
                .bind(&c.name)
                .bind(now)
                .bind(c.deleted_at)
                .bind(c.hard_delete_at)
                .fetch_one(&mut *tx)
                .await?;
                let stored = $crate::sql::record::<$crate::CouncilRecord, _>(&row)?;
                sqlx::query($crate::sql::ENQUEUE)
                    .bind(matrix_sync_core::Scope::Community(stored.community_id).to_string())
                    .bind(now)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(stored)
            }

            async fn council(&self, id: uuid::Uuid) -> $crate::Result<Option<$crate::CouncilRecord>> {
                let row = sqlx::query(concat!("SELECT ", $crate::sql::council_columns!(), " FROM councils WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map($crate::sql::record::<$crate::CouncilRecord, _>).transpose()
            }

            async fn councils_of(&self, community: uuid::Uuid) -> $crate::Result<Vec<$crate::CouncilRecord>> {
                let rows = sqlx::query(concat!(
                    "SELECT ", $crate::sql::council_columns!(), " FROM councils WHERE community_id = $1 ORDER BY id"
                ))
                .bind(community)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map($crate::sql::record::<$crate::CouncilRecord, _>).collect()
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
                sqlx::query($crate::sql::ENQUEUE)
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
                sqlx::query($crate::sql::ENQUEUE)
                    .bind(matrix_sync_core::Scope::Community(council.community_id).to_string())
                    .bind(now)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn council_members(&self, council: uuid::Uuid) -> $crate::Result<Vec<$crate::CouncilMemberRecord>> {
                let rows = sqlx::query("SELECT user_id, role FROM council_members WHERE council_id = $1 ORDER BY user_id")
                    .bind(council)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::sql::record::<$crate::CouncilMemberRecord, _>).collect()
            }
        }
    };
}

pub(crate) use communities_sql;
