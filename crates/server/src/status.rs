//! The status of a resource as the API reports it, derived from the job
//! queue and the rooms recorded for its scope, and `?wait=N`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use matrix_sync_core::Scope;
use matrix_sync_core::rooms::RoomRole;
use matrix_sync_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// The longest `?wait=N` honoured, in seconds.
pub const MAX_WAIT_SECS: u64 = 30;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourceStatus {
    pub id: Uuid,
    /// `pending`, `synced`, `error`, `archived` or `deleted`
    pub status: &'static str,
    pub matrix_space_id: Option<String>,
    /// The General room, the council discussion room, or the coordination DM.
    pub matrix_room_id: Option<String>,
    pub last_error: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub hard_delete_at: Option<DateTime<Utc>>,
}

/// `synced` once no reconcile is outstanding for the scope; `error` while
/// the outstanding one keeps failing (it is still retried); else `pending`.
pub async fn scope_status(state: &AppState, scope: Scope) -> Result<(&'static str, Option<String>), StoreError> {
    Ok(match state.engine.store.job_for(scope.into()).await? {
        None => ("synced", None),
        Some(job) if job.last_error.is_some() => ("error", job.last_error),
        Some(_) => ("pending", None),
    })
}

/// Where a community or council is in its lifecycle.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lifecycle {
    /// Archived: soft-deleted, or its community's chat turned off.
    pub archived: bool,
    pub deleted_at: Option<i64>,
    pub hard_delete_at: Option<i64>,
    pub purged: bool,
}

fn time(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(|ms| Utc.timestamp_millis_opt(ms).single())
}

/// The status of a resource whose reconcile runs as `job_scope` and whose
/// rooms are recorded under `rooms_scope`.
pub async fn resource_status(
    state: &AppState,
    job_scope: Scope,
    rooms_scope: Scope,
    (space_role, room_role): (RoomRole, RoomRole),
    lifecycle: Lifecycle,
) -> Result<ResourceStatus, StoreError> {
    let (job_status, last_error) = scope_status(state, job_scope).await?;
    let status = match job_status {
        _ if lifecycle.purged => "deleted",
        "synced" if lifecycle.archived => "archived",
        other => other,
    };
    let rooms = state.engine.store.rooms_of(rooms_scope).await?;
    let room = |role: RoomRole| rooms.iter().find(|r| r.role == role).map(|r| r.room_id.clone());
    Ok(ResourceStatus {
        id: rooms_scope.id(),
        status,
        matrix_space_id: room(space_role),
        matrix_room_id: room(room_role),
        last_error,
        deleted_at: time(lifecycle.deleted_at),
        hard_delete_at: time(lifecycle.hard_delete_at),
    })
}

/// Reads `?wait=N` (seconds, at most 30).
pub fn wait_param(query: &HashMap<String, String>) -> Result<Option<Duration>, ApiError> {
    let Some(raw) = query.get("wait") else { return Ok(None) };
    match raw.parse::<u64>() {
        Ok(n) if n <= MAX_WAIT_SECS => Ok(Some(Duration::from_secs(n))),
        _ => Err(ApiError::BadRequest(format!("wait must be a whole number of seconds from 0 to {MAX_WAIT_SECS}"))),
    }
}

/// Returns once the scope has no outstanding reconcile, or `wait` has passed.
pub async fn wait_for_sync(state: &AppState, scope: Scope, wait: Option<Duration>) -> Result<(), StoreError> {
    let Some(wait) = wait else { return Ok(()) };
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if state.engine.store.job_for(scope.into()).await?.is_none() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// `200` once the homeserver matches (`synced`, `archived`, `deleted`),
/// `202` while it is still being brought there.
pub fn http_status(status: &str) -> axum::http::StatusCode {
    match status {
        "pending" | "error" => axum::http::StatusCode::ACCEPTED,
        _ => axum::http::StatusCode::OK,
    }
}
