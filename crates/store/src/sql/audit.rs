//! `AuditStore` for both backends: the audit trail.

/// Implements [`AuditStore`](crate::AuditStore) for a backend (see `sql_store_impl!`).
macro_rules! audit_sql {
    ($store:ty, $row:ty, $backend:literal, claim_lock = $lock:literal, data_modifying_with = $data_modifying_with:literal) => {
        #[async_trait::async_trait]
        impl $crate::AuditStore for $store {
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
        }
    };
}

pub(crate) use audit_sql;
