//! `WebhookStore` for both backends: message notices for the platform's
//! webhook (recorded by `JobQueue::accept_transaction`).

/// Implements [`WebhookStore`](crate::WebhookStore) for a backend (see `sql_store_impl!`).
macro_rules! webhooks_sql {
    ($store:ty, $row:ty) => {
        #[async_trait::async_trait]
        impl $crate::WebhookStore for $store {
            async fn delivery(&self, id: uuid::Uuid) -> $crate::Result<Option<$crate::WebhookDelivery>> {
                let row = sqlx::query(
                    "SELECT id, event_id, room_id, sender, origin_server_ts, delivered_at
                     FROM webhook_deliveries WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map($crate::sql::record::<$crate::WebhookDelivery, _>).transpose()
            }

            async fn mark_delivered(&self, id: uuid::Uuid, now: $crate::Millis) -> $crate::Result<()> {
                sqlx::query("UPDATE webhook_deliveries SET delivered_at = $2 WHERE id = $1 AND delivered_at IS NULL")
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use webhooks_sql;
