//! Observing a scope's rooms: by the ids the store recorded, or, for a room
//! the store does not know (a creation interrupted before it was recorded),
//! by its deterministic alias; their state from the cache when it is
//! current, else from the homeserver.

use std::collections::BTreeMap;
use std::time::Instant;

use matrix_sync_core::Scope;
use matrix_sync_core::desired::DesiredScope;
use matrix_sync_core::observed::ObservedScope;
use matrix_sync_core::rooms::RoomKey;
use matrix_sync_store::RoomRecord;
use ruma::RoomId;

use super::ReconcileError;
use crate::Engine;
use crate::clock::now_millis;

/// A scope's rooms as observed, and when each was read from the homeserver.
pub struct Observation {
    pub rooms: ObservedScope,
    pub read_at: BTreeMap<RoomKey, Instant>,
}

/// Observes the rooms at `version` of their scope: from the cache when it
/// holds them at that version, else read from the homeserver (and cached).
pub async fn observe(engine: &Engine, desired: &DesiredScope, version: i64) -> Result<Observation, ReconcileError> {
    let hs = &engine.homeserver;
    let mut known: BTreeMap<Scope, Vec<RoomRecord>> = BTreeMap::new();
    let mut observed = Observation { rooms: ObservedScope::default(), read_at: BTreeMap::new() };
    for room in &desired.rooms {
        let scope = room.key.scope;
        if let std::collections::btree_map::Entry::Vacant(entry) = known.entry(scope) {
            entry.insert(engine.store.rooms_of(scope).await?);
        }
        let recorded = known.get(&scope).and_then(|rooms| rooms.iter().find(|r| r.role == room.key.role));
        let room_id = match recorded {
            Some(r) => Some(RoomId::parse(&r.room_id).map_err(|e| ReconcileError::Invalid(e.to_string()))?),
            // Never started: it cannot exist, and needs no look-up.
            None if !engine.store.has_room_intent(scope, room.key.role).await? => None,
            // A creation was started and never recorded (interrupted): the
            // room may exist, under its alias.
            None => {
                let found = hs.resolve_alias(&room.key.alias(hs.ids().server_name().as_str())).await?;
                if let Some(room_id) = &found {
                    tracing::info!(room_id = %room_id, role = room.key.role.as_str(), "found a room by its alias; recording it");
                    let record = RoomRecord { room_id: room_id.to_string(), scope, role: room.key.role };
                    engine.store.record_room(&record, now_millis()).await?;
                }
                found
            }
        };
        let Some(room_id) = room_id else {
            continue;
        };
        let (have, read_at) = match engine.room_cache.get(&room_id, version) {
            Some(cached) => cached,
            None => {
                let read_at = Instant::now();
                let have = hs.room_state(&room_id).await?;
                engine.room_cache.put(have.clone(), version, read_at);
                (have, read_at)
            }
        };
        observed.rooms.rooms.insert(room.key, have);
        observed.read_at.insert(room.key, read_at);
    }
    Ok(observed)
}
