//! `RequestStore` for both backends: direct chats and accepted requests.

/// Implements [`RequestStore`](crate::RequestStore) for a backend (see `sql_store_impl!`).
macro_rules! requests_sql {
    ($store:ty, $row:ty, $backend:literal, claim_lock = $lock:literal, data_modifying_with = $data_modifying_with:literal) => {
        #[async_trait::async_trait]
        impl $crate::RequestStore for $store {
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
                sqlx::query($crate::sql::ENQUEUE)
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
                    Ok($crate::DirectRecord {
                        pair_id: r.try_get("pair_id")?,
                        user_a: r.try_get("user_a")?,
                        user_b: r.try_get("user_b")?,
                    })
                })
                .transpose()
            }

            async fn direct_pair_ids(&self) -> $crate::Result<Vec<uuid::Uuid>> {
                use sqlx::Row;
                let rows =
                    sqlx::query("SELECT pair_id FROM direct_chats ORDER BY pair_id").fetch_all(&self.pool).await?;
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
                let row = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql::request_columns!(),
                    " FROM accepted_requests WHERE id = $1"
                ))
                .bind(r.id)
                .fetch_one(&mut *tx)
                .await?;
                let stored = $crate::sql::record::<$crate::RequestRecord, _>(&row)?;
                if stored.message_sent_at.is_none() {
                    sqlx::query($crate::sql::ENQUEUE)
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
                let row = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql::request_columns!(),
                    " FROM accepted_requests WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map($crate::sql::record::<$crate::RequestRecord, _>).transpose()
            }

            async fn requests_of_pair(&self, pair_id: uuid::Uuid) -> $crate::Result<Vec<$crate::RequestRecord>> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::sql::request_columns!(),
                    " FROM accepted_requests WHERE pair_id = $1 ORDER BY accepted_at DESC, id"
                ))
                .bind(pair_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map($crate::sql::record::<$crate::RequestRecord, _>).collect()
            }

            async fn mark_request_message_sent(
                &self,
                id: uuid::Uuid,
                event_id: &str,
                now: $crate::Millis,
            ) -> $crate::Result<()> {
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
        }
    };
}

pub(crate) use requests_sql;
