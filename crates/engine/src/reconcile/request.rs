//! Reconciling an accepted request: the pair's direct chat, then the bot's
//! end-to-end encrypted context message, sent once.

use matrix_sync_bot::{EarlierNotice, Notice, SentNotice};
use matrix_sync_core::UserRef;
use matrix_sync_store::RequestRecord;
use uuid::Uuid;

use super::ReconcileError;
use super::direct::ensure_direct_chat;
use crate::Engine;
use crate::audit::AuditScope;
use crate::clock::now_millis;

/// The bot's message: plain text and HTML, with the link to the request's
/// page when the platform's URL is configured (`MATRIX_SYNC_APP_URL`), the
/// title alone without it.
pub fn context_message(app_url: Option<&str>, request: &RequestRecord) -> (String, String) {
    const LEAD: &str = "Request accepted! Coordinate delivery for:";
    match app_url {
        Some(app_url) => {
            let link = format!("{}/requests/{}", app_url.trim_end_matches('/'), request.id);
            let title = request.title.as_deref().unwrap_or("View Request");
            (format!("{LEAD} {title} {link}"), format!("{LEAD} <a href=\"{link}\">{}</a>", escape_html(title)))
        }
        None => {
            let title = request.title.as_deref().unwrap_or("the request");
            (format!("{LEAD} {title}"), format!("{LEAD} {}", escape_html(title)))
        }
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[tracing::instrument(skip(engine), fields(request_id = %id))]
pub async fn reconcile(engine: &Engine, id: Uuid) -> Result<(), ReconcileError> {
    let store = &engine.store;
    let Some(request) = store.request(id).await? else { return Ok(()) };
    let direct = store
        .direct(request.pair_id)
        .await?
        .ok_or_else(|| ReconcileError::Invalid(format!("request {id} has no direct chat")))?;
    let scope = AuditScope { community_id: Some(request.community_id), council_id: None };
    let room_id = ensure_direct_chat(engine, &direct, scope).await?;
    if request.message_sent_at.is_some() {
        // A leave that failed after the message went out is done now.
        if let Some(bot) = engine.bot.get() {
            bot_leaves(engine, bot, &room_id).await?;
        }
        return Ok(());
    }
    let bot = engine.bot.get().ok_or(ReconcileError::BotNotReady)?;
    // The bot is in the room only while it speaks there: invited by the
    // room's administrator now, gone again once the message is out.
    engine.homeserver.invite(&room_id, engine.homeserver.ids().bot()).await?;
    send_context_message(engine, bot, &request, &room_id).await?;
    bot_leaves(engine, bot, &room_id).await
}

/// The bot leaves a room it visited (not one it administers: rooms made
/// before the manager took over).
async fn bot_leaves(engine: &Engine, bot: &matrix_sync_bot::Bot, room_id: &ruma::RoomId) -> Result<(), ReconcileError> {
    let ids = engine.homeserver.ids();
    if engine.homeserver.admin_of(room_id).await? != ids.bot() {
        bot.leave(room_id).await?;
    }
    Ok(())
}

/// Sends the request's message once, with its key in both users' backups.
async fn send_context_message(
    engine: &Engine,
    bot: &matrix_sync_bot::Bot,
    request: &RequestRecord,
    room_id: &ruma::RoomId,
) -> Result<(), ReconcileError> {
    let (store, id) = (&engine.store, request.id);
    let (plain, html) = context_message(engine.settings.app_url.as_ref().map(url::Url::as_str), request);
    let reference = id.to_string();
    let device = bot.device_id().unwrap_or_default();
    // A device set out to send it before, and did not record it sent: it
    // may have sent it and died (another process, whose bot is another
    // device), or sent it so long ago that its transaction id has expired.
    // Look before sending it twice.
    if store.swap_message_device(id, &device).await?.is_some() {
        let since = u64::try_from(request.accepted_at).unwrap_or(0);
        match bot.find_own_notice(room_id, &reference, since).await? {
            EarlierNotice::Found(sent) => {
                share_key_with_recipients(engine, bot, room_id, request, &sent).await?;
                store.mark_request_message_sent(id, &sent.event_id, now_millis()).await?;
                tracing::info!(room_id = %room_id, event_id = sent.event_id, "context message was sent before, by another process");
                return Ok(());
            }
            EarlierNotice::Unreadable => return Err(ReconcileError::MessageUnconfirmed),
            EarlierNotice::Absent => {}
        }
    }
    let txn_id = format!("request-{id}");
    let notice = Notice { plain: &plain, html: &html, reference: &reference, txn_id: &txn_id };
    let sent = bot.send_notice(room_id, &notice).await?;
    // Recorded as sent only once its key is in both backups: a retry after
    // a failure here finds the message and shares its key again.
    share_key_with_recipients(engine, bot, room_id, request, &sent).await?;
    store.mark_request_message_sent(id, &sent.event_id, now_millis()).await?;
    tracing::info!(room_id = %room_id, event_id = sent.event_id, "context message sent");
    Ok(())
}

/// Puts the message's room key into the key backups of the request's two
/// users who are on this homeserver, so a device either of them makes
/// later (the requester often first signs in after the acceptance) reads
/// it. Users of other homeservers keep their keys on their own server.
async fn share_key_with_recipients(
    engine: &Engine,
    bot: &matrix_sync_bot::Bot,
    room_id: &ruma::RoomId,
    request: &RequestRecord,
    sent: &SentNotice,
) -> Result<(), ReconcileError> {
    let Some(session_id) = &sent.session_id else { return Ok(()) };
    let ids = engine.homeserver.ids();
    let users: Vec<Uuid> = [&request.requester, &request.owner]
        .into_iter()
        .filter_map(|user| match ids.parse_user(user) {
            Ok(UserRef::Platform(user)) => Some(user),
            _ => None,
        })
        .collect();
    engine
        .key_backups
        .share_bot_room_key(engine.store.as_ref(), engine.homeserver.as_ref(), bot, room_id, session_id, &users)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_links_the_request_and_escapes_the_title() {
        let request = RequestRecord {
            id: Uuid::nil(),
            community_id: Uuid::nil(),
            requester: "@a:x".into(),
            owner: "@b:x".into(),
            title: Some("Table <oak>".into()),
            pair_id: Uuid::nil(),
            accepted_at: 0,
            message_event_id: None,
            message_sent_at: None,
        };
        let (plain, html) = context_message(Some("https://app.example.org/"), &request);
        let link = "https://app.example.org/requests/00000000-0000-0000-0000-000000000000";
        assert_eq!(plain, format!("Request accepted! Coordinate delivery for: Table <oak> {link}"));
        assert!(html.contains(&format!("<a href=\"{link}\">Table &lt;oak&gt;</a>")), "{html}");
        let (plain, html) = context_message(None, &request);
        assert_eq!(plain, "Request accepted! Coordinate delivery for: Table <oak>");
        assert_eq!(html, "Request accepted! Coordinate delivery for: Table &lt;oak&gt;");
    }
}
