//! Applying a plan: actions in order, each created room recorded and each
//! action audited as soon as it is done, so a crash in between loses nothing.

use std::collections::BTreeMap;

use matrix_sync_core::observed::ObservedScope;
use matrix_sync_core::plan::{Action, RoomRef};
use matrix_sync_core::rooms::RoomKey;
use matrix_sync_matrix::Applier;
use matrix_sync_store::RoomRecord;

use super::ReconcileError;
use crate::audit::{self, AuditScope};
use crate::clock::now_millis;
use crate::state::AppState;

pub async fn apply_plan(
    state: &AppState,
    actions: &[Action],
    observed: &ObservedScope,
    audit_scope: impl Fn(&RoomKey) -> AuditScope,
) -> Result<(), ReconcileError> {
    let mut keys: BTreeMap<String, RoomKey> =
        observed.rooms.iter().map(|(key, room)| (room.room_id.to_string(), *key)).collect();
    let mut applier = Applier::new(&state.homeserver);
    for action in actions {
        state.metrics.count_action(action.name());
        let created = applier.apply(action).await?;
        let (room_id, key) = match (created, action) {
            (Some(room_id), Action::CreateRoom { key, .. }) => {
                let record =
                    RoomRecord { room_id: room_id.to_string(), scope: key.scope, role: key.role.as_str().to_owned() };
                state.store.record_room(&record, now_millis()).await?;
                keys.insert(room_id.to_string(), *key);
                (room_id.to_string(), Some(*key))
            }
            _ => match action.room() {
                Some(RoomRef::New(key)) => (applier.room_id(&RoomRef::New(*key))?.to_string(), Some(*key)),
                Some(RoomRef::Existing(id)) => (id.to_string(), keys.get(id.as_str()).copied()),
                None => (String::new(), None),
            },
        };
        let scope = key.map(|k| audit_scope(&k)).unwrap_or_default();
        let entries = audit::entries_for(action, &room_id, scope, now_millis());
        audit::record(state.store.as_ref(), &entries).await?;
    }
    Ok(())
}
