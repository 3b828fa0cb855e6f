//! Reconciling a community: its Space and General room, members and levels.

use matrix_sync_core::Scope;
use matrix_sync_core::desired::{Community, CommunityConfig, CommunityMember, community_rooms};
use matrix_sync_core::plan::{Action, plan};
use matrix_sync_core::power::{CommunityRole, TrustLevels};
use matrix_sync_matrix::Applier;
use matrix_sync_store::{CommunityRecord, MemberRecord, RoomRecord};
use uuid::Uuid;

use super::ReconcileError;
use super::observe::observe;
use crate::audit::{self, AuditScope};
use crate::clock::now_millis;
use crate::state::AppState;

/// The core model of a stored community.
pub fn community_model(record: &CommunityRecord) -> Result<Community, ReconcileError> {
    let trust_levels: TrustLevels = serde_json::from_str(&record.trust_levels)
        .map_err(|e| ReconcileError::Invalid(format!("trust_levels of community {}: {e}", record.id)))?;
    Ok(Community {
        id: record.id,
        name: record.name.clone(),
        config: CommunityConfig {
            matrix_enabled: record.matrix_enabled,
            general_encrypted: record.general_encrypted,
            council_encrypted: true,
        },
        trust_levels,
    })
}

pub fn member_model(state: &AppState, m: &MemberRecord) -> CommunityMember {
    CommunityMember {
        user: state.homeserver.ids().user(m.user_id),
        trust: u64::try_from(m.trust_score).unwrap_or(0),
        role: CommunityRole::parse(&m.role).unwrap_or(CommunityRole::Member),
    }
}

#[tracing::instrument(skip(state), fields(community_id = %id))]
pub async fn reconcile(state: &AppState, id: Uuid) -> Result<(), ReconcileError> {
    let store = &state.store;
    let Some(record) = store.community(id).await? else {
        return Ok(());
    };
    let community = community_model(&record)?;
    for user in store.unprovisioned_members(id).await? {
        crate::provision::provision_user(state, user, None).await?;
    }
    let members: Vec<CommunityMember> = store.members(id).await?.iter().map(|m| member_model(state, m)).collect();
    let desired = community_rooms(&community, &members);
    let scope = Scope::Community(id);
    let observed = observe(state, scope, &desired).await?;
    let actions = plan(&desired, &observed, state.homeserver.ids());
    if actions.is_empty() {
        tracing::debug!("in sync");
        return Ok(());
    }
    tracing::info!(actions = actions.len(), "applying plan");
    apply_plan(state, scope, &actions, AuditScope { community_id: Some(id), council_id: None }).await
}

/// Applies actions in order; each created room is recorded and each action
/// audited as soon as it is done, so a crash in between loses nothing.
pub async fn apply_plan(
    state: &AppState,
    scope: Scope,
    actions: &[Action],
    audit_scope: AuditScope,
) -> Result<(), ReconcileError> {
    let mut applier = Applier::new(&state.homeserver);
    for action in actions {
        state.metrics.count_action(action.name());
        let created = applier.apply(action).await?;
        let room_id = match (&created, action, action.room()) {
            (Some(room_id), Action::CreateRoom { key, .. }, _) => {
                let record = RoomRecord { room_id: room_id.to_string(), scope, role: key.role.as_str().to_owned() };
                state.store.record_room(&record, now_millis()).await?;
                room_id.to_string()
            }
            (_, _, Some(room)) => applier.room_id(room)?.to_string(),
            (_, _, None) => String::new(),
        };
        let entries = audit::entries_for(action, &room_id, audit_scope, now_millis());
        audit::record(state.store.as_ref(), &entries).await?;
    }
    Ok(())
}
