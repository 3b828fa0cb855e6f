//! The hard delete at the end of retention. The scope first moves into the
//! purging state (from then on a restore is refused; a restore that came
//! first leaves nothing to do); then every room of the scope is purged (with
//! an admin token) or abandoned (without), its record removed, and the
//! scope marked purged. Each room is audited by the eraser that removed its
//! record, and a room already gone counts as done, so a crash or a failure
//! midway resumes where it stopped, and two erasers audit each room once.

use matrix_sync_core::Scope;
use matrix_sync_core::rooms::{RoomKey, RoomRole};
use ruma::RoomId;
use uuid::Uuid;

use super::ReconcileError;
use crate::Engine;
use crate::audit::{self, AuditScope};
use crate::clock::now_millis;

/// A community with all its councils, if its hard delete is due (or
/// begun); `false` if a restore came first.
pub async fn erase_community(engine: &Engine, id: Uuid) -> Result<bool, ReconcileError> {
    if !engine.store.begin_purge(Scope::Community(id), now_millis()).await? {
        return Ok(false);
    }
    for council in engine.store.councils_of(id).await? {
        if council.purged_at.is_none() {
            let scope = AuditScope { community_id: Some(id), council_id: Some(council.id) };
            erase_rooms(engine, Scope::Council(council.id), scope).await?;
        }
    }
    erase_rooms(engine, Scope::Community(id), AuditScope { community_id: Some(id), council_id: None }).await?;
    Ok(true)
}

/// One council, if its hard delete is due (or begun); `false` if a restore
/// came first.
pub async fn erase_council(engine: &Engine, id: Uuid, community: Uuid) -> Result<bool, ReconcileError> {
    if !engine.store.begin_purge(Scope::Council(id), now_millis()).await? {
        return Ok(false);
    }
    erase_rooms(engine, Scope::Council(id), AuditScope { community_id: Some(community), council_id: Some(id) }).await?;
    Ok(true)
}

/// Children before parents: rooms, then Spaces.
fn erase_order(role: RoomRole) -> u8 {
    match role {
        RoomRole::Space => 1,
        _ => 0,
    }
}

/// The rooms of a scope already purging, then the scope marked purged.
async fn erase_rooms(engine: &Engine, scope: Scope, audit_scope: AuditScope) -> Result<(), ReconcileError> {
    let mut rooms = engine.store.rooms_of(scope).await?;
    rooms.sort_by_key(|r| erase_order(r.role));
    let server = engine.homeserver.ids().server_name().to_string();
    for room in rooms {
        let room_id = RoomId::parse(&room.room_id).map_err(|e| ReconcileError::Invalid(e.to_string()))?;
        let detail = match &engine.settings.admin_token {
            Some(token) => {
                engine.homeserver.purge_room(token, &room_id).await?;
                "purged from the homeserver"
            }
            None => {
                let alias = RoomKey::new(scope, room.role).alias(&server);
                engine.homeserver.abandon_room(&room_id, &alias).await?;
                "abandoned: members removed, alias released (no admin token to purge it)"
            }
        };
        if engine.store.forget_room(room.room_id.as_str()).await? {
            let entry = audit::room_deleted(&room.room_id, audit_scope, detail, now_millis());
            audit::record(engine.store.as_ref(), &[entry]).await?;
            tracing::info!(room_id = %room.room_id, scope = %scope, detail, "room deleted");
        }
    }
    if engine.store.mark_purged(scope, now_millis()).await? {
        tracing::info!(scope = %scope, "hard delete done");
    }
    Ok(())
}
