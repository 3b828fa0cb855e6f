//! `SessionStore` for both backends: members' chat sessions (devices) and key backups.

/// Implements [`SessionStore`](crate::SessionStore) for a backend (see `sql_store_impl!`).
macro_rules! sessions_sql {
    ($store:ty, $row:ty, $backend:literal, claim_lock = $lock:literal, data_modifying_with = $data_modifying_with:literal) => {
        #[async_trait::async_trait]
        impl $crate::SessionStore for $store {
            async fn record_session(
                &self,
                user: uuid::Uuid,
                device_id: &str,
                now: $crate::Millis,
            ) -> $crate::Result<()> {
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

            async fn touch_session(
                &self,
                user: uuid::Uuid,
                device_id: &str,
                now: $crate::Millis,
            ) -> $crate::Result<bool> {
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
        }
    };
}

pub(crate) use sessions_sql;
