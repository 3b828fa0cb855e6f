//! Message notices for the platform's webhook (`MATRIX_SYNC_WEBHOOK_URL`):
//! for each new message in a room of the service's, one `POST` saying where
//! it was written, by whom and for whom, never what (it is encrypted). A
//! notice is recorded with the appservice transaction that brought the
//! message (`push.rs`) and delivered by its own task (`Task::Webhook`), so a
//! webhook that is down delays notices and loses none. The body is signed
//! with `MATRIX_SYNC_WEBHOOK_SECRET`: `X-Matrix-Sync-Signature:
//! sha256=<hex HMAC-SHA256 of the body>`. A process killed between the
//! webhook's answer and recording it sends that notice again: the event id
//! (in the body and in `X-Matrix-Sync-Event`) is the idempotency key.

use hmac::{Hmac, Mac};
use matrix_sync_core::Scope;
use matrix_sync_store::WebhookDelivery;
use ruma::UserId;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use url::Url;
use uuid::Uuid;

use crate::Engine;
use crate::clock::now_millis;
use crate::purpose::RoomPurpose;
use crate::reconcile::ReconcileError;

/// Where notices go and what signs them.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// The platform's endpoint.
    pub url: Url,
    /// The HMAC key.
    pub secret: SecretString,
}

/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "X-Matrix-Sync-Signature";
/// The header carrying the event id (the idempotency key).
pub const EVENT_HEADER: &str = "X-Matrix-Sync-Event";

/// Event types that are messages (a notice is sent for each).
pub const MESSAGE_TYPES: [&str; 3] = ["m.room.message", "m.room.encrypted", "m.sticker"];

/// The body of a notice.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Notice {
    /// The message's event id.
    pub event_id: String,
    /// Its room.
    pub room_id: String,
    /// `general`, `council`, `dm` (or `space`, where members rarely write).
    pub kind: &'static str,
    /// The community (general), council (council) or latest request (dm)
    /// the room serves; `None` for a DM no request made.
    pub scope_id: Option<Uuid>,
    /// The platform user who wrote it; `None` for the service's bot or a
    /// user of another homeserver.
    pub sender: Option<Uuid>,
    /// Who wrote it, as a Matrix id.
    pub sender_matrix_id: String,
    /// The platform users the room is for, the sender left out.
    pub recipients: Vec<Uuid>,
    /// When it was sent (ms).
    pub origin_server_ts: i64,
}

/// `sha256=<hex HMAC-SHA256 of body>` under `secret`.
pub fn signature(secret: &SecretString, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Delivers one notice (a `Task::Webhook`); an answer other than 2xx is an
/// error, and the task is retried with backoff.
pub async fn deliver(engine: &Engine, id: Uuid) -> Result<(), ReconcileError> {
    let Some(settings) = &engine.settings.webhook else {
        // Recorded while a webhook was configured; it is not any more.
        return Ok(());
    };
    let Some(delivery) = engine.store.delivery(id).await? else {
        return Ok(()); // pruned
    };
    if delivery.delivered_at.is_some() {
        return Ok(());
    }
    let Some(notice) = notice(engine, &delivery).await? else {
        return Ok(()); // the room is not the service's any more
    };
    let body = serde_json::to_vec(&notice).map_err(|e| ReconcileError::Invalid(e.to_string()))?;
    let response = engine
        .outbound
        .post(settings.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature(&settings.secret, &body))
        .header(EVENT_HEADER, &delivery.event_id)
        .body(body)
        .send()
        .await
        .map_err(|e| ReconcileError::Webhook(e.without_url().to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(ReconcileError::Webhook(format!("the webhook answered HTTP {status}")));
    }
    engine.store.mark_delivered(id, now_millis()).await?;
    tracing::debug!(event_id = delivery.event_id, "webhook notice delivered");
    Ok(())
}

/// The notice for a recorded message: the room's kind and scope, and the
/// platform users it is for.
pub async fn notice(engine: &Engine, delivery: &WebhookDelivery) -> Result<Option<Notice>, ReconcileError> {
    let Some(room) = engine.store.known_rooms(std::slice::from_ref(&delivery.room_id)).await?.pop() else {
        return Ok(None);
    };
    let purpose = RoomPurpose::of(engine, &room).await?;
    let ids = engine.homeserver.ids();
    let sender = UserId::parse(delivery.sender.as_str()).ok().and_then(|u| ids.platform_user(&u));
    let mut recipients = match room.scope {
        Scope::Community(community) => {
            let members = engine.store.members(community).await?.into_iter().map(|m| m.user_id);
            local_only(engine, community, members).await?
        }
        Scope::Council(council) => {
            let Some(record) = engine.store.council(council).await? else {
                return Ok(None);
            };
            let members = engine.store.council_members(council).await?.into_iter().map(|m| m.user_id);
            local_only(engine, record.community_id, members).await?
        }
        Scope::Direct(pair) => match engine.store.direct(pair).await? {
            Some(direct) => [direct.user_a, direct.user_b]
                .iter()
                .filter_map(|u| UserId::parse(u.as_str()).ok())
                .filter_map(|u| ids.platform_user(&u))
                .collect(),
            None => return Ok(None),
        },
        Scope::Request(_) => Vec::new(),
    };
    recipients.retain(|u| Some(*u) != sender);
    recipients.sort();
    recipients.dedup();
    Ok(Some(Notice {
        event_id: delivery.event_id.clone(),
        room_id: delivery.room_id.clone(),
        kind: purpose.kind,
        scope_id: purpose.scope_id,
        sender,
        sender_matrix_id: delivery.sender.clone(),
        recipients,
        origin_server_ts: delivery.origin_server_ts,
    }))
}

/// The member keys that are platform users: the community's users of
/// other homeservers have no platform id to notify.
async fn local_only(
    engine: &Engine,
    community: Uuid,
    members: impl Iterator<Item = Uuid>,
) -> Result<Vec<Uuid>, ReconcileError> {
    let remote: Vec<Uuid> = engine.store.remote_members(community).await?.into_iter().map(|(key, _)| key).collect();
    Ok(members.filter(|u| !remote.contains(u)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        let secret = SecretString::from("Jefe");
        assert_eq!(
            signature(&secret, b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
