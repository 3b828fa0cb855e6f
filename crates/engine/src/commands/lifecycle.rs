//! Soft delete and restore of communities and councils.

use matrix_sync_core::Scope;
use matrix_sync_store::{CommunityRecord, CouncilRecord};
use uuid::Uuid;

use super::CommandError;
use crate::Engine;
use crate::clock::now_millis;
use crate::rules::{self, Refusal};

/// A community or council as far as deleting it is concerned.
struct Deletable {
    kind: &'static str,
    scope: Scope,
    deleted_at: Option<i64>,
    hard_delete_at: Option<i64>,
    purging_at: Option<i64>,
    purged_at: Option<i64>,
}

impl Deletable {
    fn community(record: &CommunityRecord) -> Self {
        Self {
            kind: "community",
            scope: Scope::Community(record.id),
            deleted_at: record.deleted_at,
            hard_delete_at: record.hard_delete_at,
            purging_at: record.purging_at,
            purged_at: record.purged_at,
        }
    }

    fn council(record: &CouncilRecord) -> Self {
        Self {
            kind: "council",
            scope: Scope::Council(record.id),
            deleted_at: record.deleted_at,
            hard_delete_at: record.hard_delete_at,
            purging_at: record.purging_at,
            purged_at: record.purged_at,
        }
    }
}

/// Archives a community (its councils' rooms too) now and schedules its
/// hard delete after the retention; a second delete changes nothing.
pub async fn delete_community(engine: &Engine, id: Uuid) -> Result<(), CommandError> {
    let record = super::stored_community(engine, id).await?;
    soft_delete(engine, &Deletable::community(&record)).await
}

/// Undoes a community's soft delete before its hard delete.
pub async fn restore_community(engine: &Engine, id: Uuid) -> Result<(), CommandError> {
    let record = super::stored_community(engine, id).await?;
    restore(engine, &Deletable::community(&record)).await
}

/// Archives a council now and schedules its hard delete; its community
/// must be live (a delete under an archived one waits for its restore).
pub async fn delete_council(engine: &Engine, id: Uuid) -> Result<CouncilRecord, CommandError> {
    let council = council_under_live_community(engine, id).await?;
    soft_delete(engine, &Deletable::council(&council)).await?;
    Ok(council)
}

/// Undoes a council's soft delete before its hard delete; its community
/// must be live.
pub async fn restore_council(engine: &Engine, id: Uuid) -> Result<CouncilRecord, CommandError> {
    let council = council_under_live_community(engine, id).await?;
    restore(engine, &Deletable::council(&council)).await?;
    Ok(council)
}

async fn council_under_live_community(engine: &Engine, id: Uuid) -> Result<CouncilRecord, CommandError> {
    let council =
        engine.store.council(id).await?.ok_or_else(|| CommandError::NotFound(format!("council {id} is not known")))?;
    if let Some(c) = engine.store.community(council.community_id).await? {
        rules::live("community", c.id, c.purged_at, c.deleted_at)?;
    }
    Ok(council)
}

async fn soft_delete(engine: &Engine, d: &Deletable) -> Result<(), CommandError> {
    if d.deleted_at.is_some() || d.purging_at.is_some() || d.purged_at.is_some() {
        return Ok(());
    }
    let now = now_millis();
    let retention = i64::try_from(engine.settings.retention.as_millis()).unwrap_or(i64::MAX);
    engine.store.set_deletion(d.scope, Some(now), Some(now.saturating_add(retention)), now).await?;
    engine.wakeup.notify_waiters();
    Ok(())
}

/// Refused when it is not deleted, once its hard delete is due or under
/// way, and once it is done. The store's update decides a race with the
/// start of a purge: whichever is first, the other is refused.
async fn restore(engine: &Engine, d: &Deletable) -> Result<(), CommandError> {
    let (kind, id) = (d.kind, d.scope.id());
    if d.purged_at.is_some() {
        return Err(Refusal::Purged { kind, id }.into());
    }
    if d.deleted_at.is_none() {
        return Err(Refusal::NotDeleted { kind, id }.into());
    }
    let now = now_millis();
    if d.purging_at.is_some() || d.hard_delete_at.is_some_and(|at| at <= now) {
        return Err(Refusal::Purging { kind, id }.into());
    }
    if !engine.store.set_deletion(d.scope, None, None, now).await? {
        // A purge began (or ended) meanwhile.
        let purged = match d.scope {
            Scope::Community(id) => engine.store.community(id).await?.is_none_or(|c| c.purged_at.is_some()),
            _ => engine.store.council(id).await?.is_none_or(|c| c.purged_at.is_some()),
        };
        return Err(if purged { Refusal::Purged { kind, id } } else { Refusal::Purging { kind, id } }.into());
    }
    engine.wakeup.notify_waiters();
    Ok(())
}
