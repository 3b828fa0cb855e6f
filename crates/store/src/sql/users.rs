//! `UserStore` for both backends: platform users and their Matrix accounts, including users of other homeservers a community names.

/// Implements [`UserStore`](crate::UserStore) for a backend (see `sql_store_impl!`).
macro_rules! users_sql {
    ($store:ty, $row:ty, $backend:literal, claim_lock = $lock:literal, data_modifying_with = $data_modifying_with:literal) => {
        #[async_trait::async_trait]
        impl $crate::UserStore for $store {
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
                $crate::sql::record::<$crate::UserMapping, _>(&row)
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
                row.as_ref().map($crate::sql::record::<$crate::UserMapping, _>).transpose()
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

            async fn put_profile(
                &self,
                user: uuid::Uuid,
                write: &$crate::ProfileWrite,
                now: $crate::Millis,
            ) -> $crate::Result<$crate::UserProfile> {
                let mut tx = self.pool.begin().await?;
                let before = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql::profile_columns!(),
                    " FROM user_profiles WHERE user_id = $1"
                ))
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
                let before = before.as_ref().map($crate::sql::record::<$crate::UserProfile, _>).transpose()?;
                let row = sqlx::query(concat!(
                    "INSERT INTO user_profiles (user_id, display_name, avatar_url, updated_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (user_id) DO UPDATE SET
                         display_name = COALESCE(excluded.display_name, user_profiles.display_name),
                         avatar_url = COALESCE(excluded.avatar_url, user_profiles.avatar_url),
                         updated_at = excluded.updated_at
                     RETURNING ",
                    $crate::sql::profile_columns!()
                ))
                .bind(user)
                .bind(&write.display_name)
                .bind(&write.avatar_url)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let after = $crate::sql::record::<$crate::UserProfile, _>(&row)?;
                let changed = before
                    .as_ref()
                    .is_none_or(|b| b.display_name != after.display_name || b.avatar_url != after.avatar_url);
                if changed {
                    sqlx::query($crate::sql::ENQUEUE)
                        .bind(matrix_sync_core::Task::Profile(user).to_string())
                        .bind(now)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(after)
            }

            async fn profile(&self, user: uuid::Uuid) -> $crate::Result<Option<$crate::UserProfile>> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql::profile_columns!(),
                    " FROM user_profiles WHERE user_id = $1"
                ))
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map($crate::sql::record::<$crate::UserProfile, _>).transpose()
            }

            async fn record_avatar(
                &self,
                user: uuid::Uuid,
                source: &str,
                mxc: Option<&str>,
                now: $crate::Millis,
            ) -> $crate::Result<()> {
                sqlx::query(
                    "UPDATE user_profiles SET avatar_source = $2, avatar_mxc = $3, updated_at = $4 WHERE user_id = $1",
                )
                .bind(user)
                .bind(source)
                .bind(mxc)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use users_sql;
