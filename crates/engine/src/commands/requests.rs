//! Accepted requests and direct chats.

use matrix_sync_core::desired::{ordered_pair, pair_id};
use matrix_sync_store::{DirectRecord, RequestRecord};
use ruma::OwnedUserId;
use uuid::Uuid;

use super::CommandError;
use crate::Engine;
use crate::clock::now_millis;
use crate::rules::{self, Refusal};

/// An accepted request as the platform states it.
#[derive(Debug, Clone)]
pub struct RequestWrite {
    /// The community it was made in.
    pub community_id: Uuid,
    /// Who asked.
    pub requester: OwnedUserId,
    /// Who owns the resource.
    pub owner: OwnedUserId,
    /// Its title, for the bot's message (trimmed; empty is none).
    pub title: Option<String>,
}

/// The pair's direct chat, with its two users in a stable order.
fn direct_of(a: &OwnedUserId, b: &OwnedUserId) -> DirectRecord {
    let (user_a, user_b) = ordered_pair(a, b);
    DirectRecord { pair_id: pair_id(a, b), user_a: user_a.to_string(), user_b: user_b.to_string() }
}

/// Records an accepted request with its pair's direct chat and enqueues it:
/// the chat is made (or found), and the bot's message is sent once.
/// Accepting again changes nothing; accepting it for other users is refused.
pub async fn accept_request(engine: &Engine, id: Uuid, write: &RequestWrite) -> Result<RequestRecord, CommandError> {
    let title = rules::title(write.title.as_deref())?;
    if write.requester == write.owner {
        return Err(Refusal::SameUser("the requester and the owner are the same user").into());
    }
    let direct = direct_of(&write.requester, &write.owner);
    let record = RequestRecord {
        id,
        community_id: write.community_id,
        requester: write.requester.to_string(),
        owner: write.owner.to_string(),
        title,
        pair_id: direct.pair_id,
        accepted_at: 0,
        message_event_id: None,
        message_sent_at: None,
    };
    let stored = engine.store.accept_request(&record, &direct, now_millis()).await?;
    if stored.requester != record.requester || stored.owner != record.owner {
        return Err(Refusal::RequestConflict(id).into());
    }
    engine.wakeup.notify_waiters();
    Ok(stored)
}

/// Records that two users share an encrypted direct chat and enqueues it.
pub async fn put_direct(engine: &Engine, a: &OwnedUserId, b: &OwnedUserId) -> Result<DirectRecord, CommandError> {
    if a == b {
        return Err(Refusal::SameUser("a direct chat needs two different users").into());
    }
    let direct = direct_of(a, b);
    engine.store.put_direct(&direct, now_millis()).await?;
    engine.wakeup.notify_waiters();
    Ok(direct)
}
