//! The hard delete at the end of retention: every room of the scope is
//! purged (with an admin token) or abandoned (without), its record removed,
//! and the scope marked purged. Each room is audited as it goes, and a room
//! already gone counts as done, so a crash midway resumes where it stopped.

use matrix_sync_core::Scope;
use matrix_sync_core::rooms::{RoomKey, RoomRole};
use ruma::RoomId;
use uuid::Uuid;

use super::ReconcileError;
use crate::audit::{self, AuditScope};
use crate::clock::now_millis;
use crate::state::AppState;

/// A community with all its councils.
pub async fn erase_community(state: &AppState, id: Uuid) -> Result<(), ReconcileError> {
    for council in state.store.councils_of(id).await? {
        if council.purged_at.is_none() {
            let scope = AuditScope { community_id: Some(id), council_id: Some(council.id) };
            erase_scope(state, Scope::Council(council.id), scope).await?;
        }
    }
    erase_scope(state, Scope::Community(id), AuditScope { community_id: Some(id), council_id: None }).await
}

/// Children before parents: rooms, then Spaces.
fn erase_order(role: &str) -> u8 {
    match RoomRole::parse(role) {
        Some(RoomRole::Space) => 1,
        _ => 0,
    }
}

pub async fn erase_scope(state: &AppState, scope: Scope, audit_scope: AuditScope) -> Result<(), ReconcileError> {
    let mut rooms = state.store.rooms_of(scope).await?;
    rooms.sort_by_key(|r| erase_order(&r.role));
    let server = state.homeserver.ids().server_name().to_string();
    for room in rooms {
        let room_id = RoomId::parse(&room.room_id).map_err(|e| ReconcileError::Invalid(e.to_string()))?;
        let detail = match &state.config.matrix.admin_token {
            Some(token) => {
                state.homeserver.purge_room(token, &room_id).await?;
                "purged from the homeserver"
            }
            None => {
                let role = RoomRole::parse(&room.role).ok_or_else(|| ReconcileError::Invalid(room.role.clone()))?;
                let alias = RoomKey::new(scope, role).alias(&server);
                state.homeserver.abandon_room(&room_id, &alias).await?;
                "abandoned: members removed, alias released (no admin token to purge it)"
            }
        };
        state.store.forget_room(room.room_id.as_str()).await?;
        audit::record(state.store.as_ref(), &[audit::room_deleted(&room.room_id, audit_scope, detail, now_millis())])
            .await?;
        tracing::info!(room_id = %room.room_id, scope = %scope, detail, "room deleted");
    }
    state.store.mark_purged(scope, now_millis()).await?;
    Ok(())
}
