//! Applying a plan: layer after layer (independent actions at once). When
//! a layer is done, the rooms it created are recorded and what it did is
//! audited in one write. A room made by a layer a crash cut short is found
//! again by its creation intent; the audit of that layer's other actions is
//! what such a crash can lose.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use matrix_sync_core::MatrixIds;
use matrix_sync_core::observed::ObservedScope;
use matrix_sync_core::plan::{Action, RoomRef};
use matrix_sync_core::rooms::RoomKey;
use matrix_sync_core::schedule::layers;
use matrix_sync_store::{NewAuditEntry, RoomRecord};

use super::ReconcileError;
use crate::Engine;
use crate::audit::{self, AuditScope};
use crate::clock::now_millis;
use crate::homeserver::PlanRooms;

/// Applies a plan. Returns `true` when it stopped early because a room it
/// meant to create already existed (an interrupted earlier creation): the
/// rest of the plan assumed a new room, so the caller plans again.
pub async fn apply_plan(
    engine: &Engine,
    actions: &[Action],
    observed: &ObservedScope,
    audit_scope: impl Fn(&RoomKey) -> AuditScope,
) -> Result<bool, ReconcileError> {
    let mut keys: BTreeMap<String, RoomKey> =
        observed.rooms.iter().map(|(key, room)| (room.room_id.to_string(), *key)).collect();
    let rooms = PlanRooms::default();
    // A failure nothing later depends on (a remote user's invitation, their
    // server unreachable) does not hold up the rest of the plan; the
    // reconcile still fails with it at the end, to be retried.
    let mut independent_failure = None;
    for layer in layers(actions) {
        for i in &layer {
            if let Action::CreateRoom { key, .. } = &actions[*i] {
                // Before asking: a crash after the homeserver made the room
                // but before we record it leaves this intent, so the next
                // observe looks the room up by its alias instead of making a
                // second one.
                engine.store.record_room_intent(key.scope, key.role, now_millis()).await?;
            }
        }
        // A layer's actions go at once (the client bounds how many are in
        // flight); each one done is recorded even if another failed.
        let results = join_all(layer.iter().map(|i| {
            engine.metrics.count_action(actions[*i].name());
            engine.homeserver.apply(&actions[*i], &rooms)
        }))
        .await;
        let mut first_error = None;
        let mut adopted = false;
        let mut entries = Vec::new();
        for (i, result) in layer.iter().zip(results) {
            let action = &actions[*i];
            match result {
                Ok(created) => {
                    if let (Some(created), Action::CreateRoom { key, .. }) = (created, action) {
                        rooms.insert(*key, created.room_id.clone());
                        let record =
                            RoomRecord { room_id: created.room_id.to_string(), scope: key.scope, role: key.role };
                        engine.store.record_room(&record, now_millis()).await?;
                        keys.insert(created.room_id.to_string(), *key);
                        if created.adopted {
                            tracing::info!(room_id = %created.room_id, role = key.role.as_str(), "the room existed already; planning again");
                            adopted = true;
                        }
                    }
                    entries.extend(audit_entries(&rooms, &keys, &audit_scope, engine.homeserver.ids(), action)?);
                }
                Err(e) if action.holds_up_later_actions(engine.homeserver.ids()) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    tracing::warn!(action = action.name(), error = %e, "failed; nothing depends on it, the rest goes on");
                    independent_failure.get_or_insert(e);
                }
            }
        }
        // What the layer did, in one write.
        audit::record(engine.store.as_ref(), &entries).await?;
        if let Some(e) = first_error {
            return Err(e.into());
        }
        if adopted {
            return Ok(true);
        }
    }
    match independent_failure {
        Some(e) => Err(e.into()),
        None => Ok(false),
    }
}

/// The audit entries of an action the homeserver has carried out.
fn audit_entries(
    rooms: &PlanRooms,
    keys: &BTreeMap<String, RoomKey>,
    audit_scope: &impl Fn(&RoomKey) -> AuditScope,
    ids: &MatrixIds,
    action: &Action,
) -> Result<Vec<NewAuditEntry>, ReconcileError> {
    let room = match action {
        Action::CreateRoom { key, .. } => Some(RoomRef::New(*key)),
        _ => action.room().cloned(),
    };
    let (room_id, key) = match room {
        Some(RoomRef::New(key)) => (rooms.room_id(&RoomRef::New(key))?.to_string(), Some(key)),
        Some(RoomRef::Existing(id)) => (id.to_string(), keys.get(id.as_str()).copied()),
        None => (String::new(), None),
    };
    let scope = key.map(|k| audit_scope(&k)).unwrap_or_default();
    Ok(audit::entries_for(action, &room_id, scope, ids, now_millis()))
}
