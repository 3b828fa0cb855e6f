//! `RoomStore` for both backends: the rooms the service made, their creation intents, and the version of each scope's rooms that keeps caches honest.

/// Implements [`RoomStore`](crate::RoomStore) for a backend (see `sql_store_impl!`).
macro_rules! rooms_sql {
    ($store:ty, $row:ty, $backend:literal, claim_lock = $lock:literal, data_modifying_with = $data_modifying_with:literal) => {
        #[async_trait::async_trait]
        impl $crate::RoomStore for $store {
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
                rows.iter().map($crate::sql::record::<$crate::RoomRecord, _>).collect()
            }

            async fn known_rooms(&self, room_ids: &[String]) -> $crate::Result<Vec<$crate::RoomRecord>> {
                let mut rooms = Vec::new();
                for room_id in room_ids {
                    let row = sqlx::query("SELECT room_id, scope, role FROM matrix_rooms WHERE room_id = $1")
                        .bind(room_id)
                        .fetch_optional(&self.pool)
                        .await?;
                    if let Some(row) = row {
                        rooms.push($crate::sql::record::<$crate::RoomRecord, _>(&row)?);
                    }
                }
                Ok(rooms)
            }

            async fn forget_room(&self, room_id: &str) -> $crate::Result<bool> {
                let n = sqlx::query("DELETE FROM matrix_rooms WHERE room_id = $1")
                    .bind(room_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n > 0)
            }
        }
    };
}

pub(crate) use rooms_sql;
