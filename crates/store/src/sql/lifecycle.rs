//! `LifecycleStore` for both backends: soft deletes, restores and hard deletes of communities and councils.

/// Implements [`LifecycleStore`](crate::LifecycleStore) for a backend (see `sql_store_impl!`).
macro_rules! lifecycle_sql {
    ($store:ty, $row:ty, $backend:literal, claim_lock = $lock:literal, data_modifying_with = $data_modifying_with:literal) => {
        #[async_trait::async_trait]
        impl $crate::LifecycleStore for $store {
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
                            $crate::sql::deletion_may_change!()
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
                            $crate::sql::deletion_may_change!(),
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
                    sqlx::query($crate::sql::ENQUEUE)
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
                            $crate::sql::purge_may_begin!()
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
                            $crate::sql::purge_may_begin!()
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
        }
    };
}

pub(crate) use lifecycle_sql;
