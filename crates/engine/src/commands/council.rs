//! Councils and their members.

use matrix_sync_core::UserRef;
use matrix_sync_core::power::CouncilRole;
use matrix_sync_store::{CouncilMemberRecord, CouncilRecord};
use uuid::Uuid;

use super::CommandError;
use crate::Engine;
use crate::clock::now_millis;
use crate::rules::{self, Refusal};

/// A council as a write states it.
#[derive(Debug, Clone)]
pub struct CouncilWrite {
    /// The community the council belongs to (for good: it cannot move).
    pub community_id: Uuid,
    /// The name, checked and trimmed by `rules::name`.
    pub name: String,
}

/// The record a council write would store, checked against the rules and
/// against the recorded council (not its community, which an import may
/// write just before); nothing is written.
pub async fn check_council(engine: &Engine, id: Uuid, write: &CouncilWrite) -> Result<CouncilRecord, CommandError> {
    let name = rules::name(&write.name)?;
    if let Some(existing) = engine.store.council(id).await? {
        rules::live("council", id, existing.purged_at, existing.deleted_at)?;
        rules::council_in(id, existing.community_id, write.community_id)?;
    }
    Ok(CouncilRecord::desired(id, write.community_id, name))
}

/// Creates or updates a council (a Space nested in its community's, with
/// an encrypted discussion room) and enqueues its community's reconcile.
pub async fn put_council(engine: &Engine, id: Uuid, write: &CouncilWrite) -> Result<CouncilRecord, CommandError> {
    // The name first: a malformed write is told so before anything is read.
    rules::name(&write.name)?;
    let community_id = write.community_id;
    let community = engine.store.community(community_id).await?.ok_or(Refusal::UnknownCommunity(community_id))?;
    rules::live("community", community_id, community.purged_at, community.deleted_at)?;
    let record = check_council(engine, id, write).await?;
    let stored = engine.store.put_council(&record, now_millis()).await?;
    engine.wakeup.notify_waiters();
    Ok(stored)
}

/// A council a write may change, or act under: it and its community are live.
pub async fn live_council(engine: &Engine, id: Uuid) -> Result<CouncilRecord, CommandError> {
    let council =
        engine.store.council(id).await?.ok_or_else(|| CommandError::NotFound(format!("council {id} is not known")))?;
    if let Some(c) = engine.store.community(council.community_id).await? {
        rules::live("community", c.id, c.purged_at, c.deleted_at)?;
    }
    rules::live("council", id, council.purged_at, council.deleted_at)?;
    Ok(council)
}

/// Adds a member of the council's community to the council, or changes
/// their role (kept when `role` is `None`; a new one's is `member`).
pub async fn put_council_member(
    engine: &Engine,
    council: Uuid,
    user: &UserRef,
    role: Option<CouncilRole>,
) -> Result<(CouncilRecord, CouncilRole), CommandError> {
    let council = live_council(engine, council).await?;
    if engine.store.member(council.community_id, user.key()).await?.is_none() {
        return Err(Refusal::NotACommunityMember { user: user.api_id(), community: council.community_id }.into());
    }
    let existing = engine.store.council_members(council.id).await?.into_iter().find(|m| m.user_id == user.key());
    let role = role.or_else(|| existing.as_ref().map(|m| m.role)).unwrap_or(CouncilRole::Member);
    let record = CouncilMemberRecord { user_id: user.key(), role };
    engine.store.put_council_member(&council, &record, now_millis()).await?;
    engine.wakeup.notify_waiters();
    Ok((council, role))
}

/// Removes the user from the council's Space and discussion room; returns
/// the role they had.
pub async fn remove_council_member(
    engine: &Engine,
    council: Uuid,
    user: &UserRef,
) -> Result<(CouncilRecord, CouncilRole), CommandError> {
    let council = live_council(engine, council).await?;
    let existing =
        engine.store.council_members(council.id).await?.into_iter().find(|m| m.user_id == user.key()).ok_or_else(
            || CommandError::NotFound(format!("user {} is not a member of council {}", user.api_id(), council.id)),
        )?;
    engine.store.remove_council_member(&council, user.key(), now_millis()).await?;
    engine.wakeup.notify_waiters();
    Ok((council, existing.role))
}
