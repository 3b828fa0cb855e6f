//! Soft delete and restore, shared by communities and councils.

use std::time::Duration;

use matrix_sync_core::Scope;
use uuid::Uuid;

use crate::clock::now_millis;
use crate::error::ApiError;
use crate::state::AppState;
use crate::status::settle;

/// A community or council as far as deleting it is concerned.
pub struct Deletable {
    pub kind: &'static str,
    /// `Community(id)` or `Council(id)`.
    pub scope: Scope,
    /// The scope whose job reconciles its rooms (the community's).
    pub job: Scope,
    pub deleted_at: Option<i64>,
    pub purged_at: Option<i64>,
}

/// Archives it now and schedules the hard delete after the retention; a
/// second delete changes nothing.
pub async fn soft_delete(state: &AppState, d: &Deletable, wait: Option<Duration>) -> Result<(), ApiError> {
    if d.deleted_at.is_some() || d.purged_at.is_some() {
        return Ok(());
    }
    let now = now_millis();
    let retention = i64::try_from(state.config.lifecycle.retention.as_millis()).unwrap_or(i64::MAX);
    state.store.set_deletion(d.scope, Some(now), Some(now.saturating_add(retention)), now).await?;
    settle(state, d.job, wait).await?;
    Ok(())
}

/// Undoes a soft delete before the hard delete: `409` if it is not deleted,
/// `410` once it is gone for good.
pub async fn restore(state: &AppState, d: &Deletable, wait: Option<Duration>) -> Result<(), ApiError> {
    let gone = || ApiError::Gone {
        code: "already_deleted",
        message: format!("{} {} was deleted for good after its retention; it cannot be restored", d.kind, d.scope.id()),
    };
    if d.purged_at.is_some() {
        return Err(gone());
    }
    if d.deleted_at.is_none() {
        return Err(ApiError::Conflict {
            code: "not_deleted",
            message: format!("{} {} is not deleted", d.kind, d.scope.id()),
        });
    }
    if !state.store.set_deletion(d.scope, None, None, now_millis()).await? {
        return Err(gone()); // hard-deleted meanwhile
    }
    settle(state, d.job, wait).await?;
    Ok(())
}

/// Writes to a deleted resource are refused: `410` once it is hard-deleted,
/// `409` while it is archived (restore it first).
pub fn refuse_unless_live(
    purged_at: Option<i64>,
    deleted_at: Option<i64>,
    kind: &str,
    id: Uuid,
) -> Result<(), ApiError> {
    if purged_at.is_some() {
        return Err(ApiError::Gone { code: "already_deleted", message: format!("{kind} {id} was deleted for good") });
    }
    if deleted_at.is_some() {
        return Err(ApiError::Conflict {
            code: "archived",
            message: format!("{kind} {id} is archived; restore it first"),
        });
    }
    Ok(())
}
