//! Soft delete and restore, shared by communities and councils.

use std::time::Duration;

use matrix_sync_core::Scope;
use matrix_sync_store::{CommunityRecord, CouncilRecord};

use crate::error::ApiError;
use crate::state::AppState;
use crate::status::settle;
use matrix_sync_engine::clock::now_millis;

/// A community or council as far as deleting it is concerned.
pub struct Deletable {
    pub kind: &'static str,
    /// `Community(id)` or `Council(id)`.
    pub scope: Scope,
    /// The scope whose job reconciles its rooms (the community's).
    pub job: Scope,
    pub deleted_at: Option<i64>,
    pub hard_delete_at: Option<i64>,
    pub purging_at: Option<i64>,
    pub purged_at: Option<i64>,
}

impl Deletable {
    pub fn community(record: &CommunityRecord) -> Self {
        let scope = Scope::Community(record.id);
        Self {
            kind: "community",
            scope,
            job: scope,
            deleted_at: record.deleted_at,
            hard_delete_at: record.hard_delete_at,
            purging_at: record.purging_at,
            purged_at: record.purged_at,
        }
    }

    pub fn council(record: &CouncilRecord) -> Self {
        Self {
            kind: "council",
            scope: Scope::Council(record.id),
            job: Scope::Community(record.community_id),
            deleted_at: record.deleted_at,
            hard_delete_at: record.hard_delete_at,
            purging_at: record.purging_at,
            purged_at: record.purged_at,
        }
    }
}

/// Archives it now and schedules the hard delete after the retention; a
/// second delete changes nothing.
pub async fn soft_delete(state: &AppState, d: &Deletable, wait: Option<Duration>) -> Result<(), ApiError> {
    if d.deleted_at.is_some() || d.purging_at.is_some() || d.purged_at.is_some() {
        return Ok(());
    }
    let now = now_millis();
    let retention = i64::try_from(state.config.lifecycle.retention.as_millis()).unwrap_or(i64::MAX);
    state.store.set_deletion(d.scope, Some(now), Some(now.saturating_add(retention)), now).await?;
    settle(state, d.job, wait).await?;
    Ok(())
}

/// Undoes a soft delete before the hard delete: `409 not_deleted` if it is
/// not deleted, `409 purging` once its hard delete is due or under way, and
/// `410 already_deleted` once it is done. The store's update decides a race
/// with the start of a purge: whichever is first, the other is refused.
pub async fn restore(state: &AppState, d: &Deletable, wait: Option<Duration>) -> Result<(), ApiError> {
    let gone = || ApiError::Gone {
        code: crate::error::ErrorCode::AlreadyDeleted,
        message: format!("{} {} was deleted for good after its retention; it cannot be restored", d.kind, d.scope.id()),
    };
    let purging = || ApiError::Conflict {
        code: crate::error::ErrorCode::Purging,
        message: format!(
            "{} {} is being deleted for good (its retention ended); it cannot be restored",
            d.kind,
            d.scope.id()
        ),
    };
    if d.purged_at.is_some() {
        return Err(gone());
    }
    if d.deleted_at.is_none() {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::NotDeleted,
            message: format!("{} {} is not deleted", d.kind, d.scope.id()),
        });
    }
    let now = now_millis();
    if d.purging_at.is_some() || d.hard_delete_at.is_some_and(|at| at <= now) {
        return Err(purging());
    }
    if !state.store.set_deletion(d.scope, None, None, now).await? {
        // A purge began (or ended) meanwhile.
        let purged = match d.scope {
            Scope::Community(id) => state.store.community(id).await?.is_none_or(|c| c.purged_at.is_some()),
            _ => state.store.council(d.scope.id()).await?.is_none_or(|c| c.purged_at.is_some()),
        };
        return Err(if purged { gone() } else { purging() });
    }
    settle(state, d.job, wait).await?;
    Ok(())
}
