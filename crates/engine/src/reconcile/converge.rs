//! Observe, plan, apply: until nothing is left to do (one round, or another
//! when a room turned out to exist already), keeping what the plan did in
//! the room cache.

use matrix_sync_core::Scope;
use matrix_sync_core::desired::DesiredScope;
use matrix_sync_core::plan::{Action, plan};
use matrix_sync_core::rooms::RoomKey;
use matrix_sync_core::simulate::try_apply;

use super::ReconcileError;
use super::apply::apply_plan;
use super::observe::{Observation, observe};
use crate::Engine;
use crate::audit::AuditScope;

/// `scope` is the one whose version covers the desired rooms (a community
/// with its councils, or a direct chat).
pub async fn converge(
    engine: &Engine,
    scope: Scope,
    desired: &DesiredScope,
    audit_scope: impl Fn(&RoomKey) -> AuditScope + Copy,
) -> Result<(), ReconcileError> {
    for _ in 0..3 {
        let version = engine.store.scope_version(scope).await?;
        let observation = observe(engine, desired, version).await?;
        let actions = plan(desired, &observation.rooms, engine.homeserver.ids());
        if actions.is_empty() {
            tracing::debug!("in sync");
            return Ok(());
        }
        tracing::info!(actions = actions.len(), "applying plan");
        let applied = apply_plan(engine, &actions, &observation.rooms, audit_scope).await;
        // Done in full or in part, the rooms changed: every process's view
        // of them is older now.
        let bumped = engine.store.bump_scope_version(scope).await?;
        let adopted = applied?;
        if !adopted && bumped == version + 1 {
            remember(engine, &observation, &actions, bumped);
        }
        if !adopted {
            return Ok(());
        }
    }
    Err(ReconcileError::Invalid("rooms keep turning out to exist already; trying again later".into()))
}

/// Caches the state the plan left the rooms in, as the homeserver model
/// says, for rooms that existed before it (the model cannot know a new
/// room's id; it is read the next time).
fn remember(engine: &Engine, observation: &Observation, actions: &[Action], version: i64) {
    if actions.iter().any(|a| matches!(a, Action::CreateRoom { .. })) {
        return;
    }
    let manager = engine.homeserver.ids().manager().to_owned();
    let Some(after) = try_apply(&observation.rooms, actions, &manager) else {
        return;
    };
    for (key, room) in after.rooms {
        if let Some(read_at) = observation.read_at.get(&key) {
            engine.room_cache.put(room, version, *read_at);
        }
    }
}
