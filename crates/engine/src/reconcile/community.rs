//! Reconciling a community: its Space and General room, members and levels.

use std::collections::HashMap;

use futures_util::future::join_all;
use matrix_sync_core::desired::{Community, CommunityConfig, CommunityMember, Council, community_rooms};
use matrix_sync_core::rooms::RoomKey;
use matrix_sync_core::{MatrixIds, Scope};
use matrix_sync_store::{CommunityRecord, MemberRecord};
use ruma::{OwnedUserId, UserId};
use uuid::Uuid;

use super::ReconcileError;
use super::converge::converge;
use super::erase::erase_community;
use crate::Engine;
use crate::audit::AuditScope;
use crate::clock::now_millis;
use crate::provision::provision_user;

/// The core model of a stored community.
pub fn community_model(record: &CommunityRecord) -> Result<Community, ReconcileError> {
    let trust_levels = record.trust_levels.clone();
    Ok(Community {
        id: record.id,
        name: record.name.clone(),
        config: CommunityConfig {
            matrix_enabled: record.matrix_enabled,
            general_encrypted: record.general_encrypted,
            council_encrypted: true,
        },
        trust_levels,
        deleted: record.deleted_at.is_some(),
    })
}

/// Matrix ids of users by their store key: remote users' as the community
/// named them (the record precedes their member rows and outlives them, so
/// every remote key read before has one), everyone else's derived from
/// their platform UUID.
pub struct MemberIds<'a> {
    ids: &'a MatrixIds,
    remote: HashMap<Uuid, OwnedUserId>,
}

impl MemberIds<'_> {
    pub fn of(&self, user: Uuid) -> OwnedUserId {
        self.remote.get(&user).cloned().unwrap_or_else(|| self.ids.user(user))
    }
}

/// The Matrix ids of a community's members, read after them.
pub async fn member_ids(engine: &Engine, community: Uuid) -> Result<MemberIds<'_>, ReconcileError> {
    let mut remote = HashMap::new();
    for (key, raw) in engine.store.remote_members(community).await? {
        let user = UserId::parse(&raw).map_err(|e| ReconcileError::Invalid(format!("remote user `{raw}`: {e}")))?;
        remote.insert(key, user);
    }
    Ok(MemberIds { ids: engine.homeserver.ids(), remote })
}

pub fn member_model(ids: &MemberIds<'_>, m: &MemberRecord) -> CommunityMember {
    CommunityMember { user: ids.of(m.user_id), trust: u64::try_from(m.trust_score).unwrap_or(0), role: m.role }
}

#[tracing::instrument(skip(engine), fields(community_id = %id))]
pub async fn reconcile(engine: &Engine, id: Uuid) -> Result<(), ReconcileError> {
    let store = &engine.store;
    let Some(record) = store.community(id).await? else {
        return Ok(());
    };
    if record.purged_at.is_some() {
        return Ok(());
    }
    let now = now_millis();
    let due = |purging_at: Option<i64>, hard_delete_at: Option<i64>| {
        purging_at.is_some() || hard_delete_at.is_some_and(|at| at <= now)
    };
    if due(record.purging_at, record.hard_delete_at) && erase_community(engine, id).await? {
        return Ok(());
    }
    let community = community_model(&record)?;
    // The members first, then who of them lacks an account: a member added
    // in between is provisioned needlessly early, never planned unprovisioned.
    let records = store.members(id).await?;
    // Registrations are independent: all at once (the client bounds how
    // many are in flight).
    let unprovisioned = store.unprovisioned_members(id).await?;
    let provisioned = join_all(unprovisioned.into_iter().map(|user| provision_user(engine, user, None))).await;
    provisioned.into_iter().collect::<Result<Vec<_>, _>>()?;
    let ids = member_ids(engine, id).await?;
    let members: Vec<CommunityMember> = records.iter().map(|m| member_model(&ids, m)).collect();
    let mut councils = Vec::new();
    for council in store.councils_of(id).await? {
        if council.purged_at.is_some() {
            continue;
        }
        if due(council.purging_at, council.hard_delete_at) {
            // Erased by a job of its own, so that a failing purge (the admin
            // API down) neither stops nor backs off the community's work.
            // Its rooms are left alone here meanwhile.
            store.enqueue_periodic(Scope::Council(council.id).into(), now, now).await?;
            continue;
        }
        let council_members = store.council_members(council.id).await?;
        councils.push(Council {
            id: council.id,
            deleted: council.deleted_at.is_some(),
            name: council.name,
            members: council_members.iter().map(|m| (ids.of(m.user_id), m.role)).collect(),
        });
    }
    let mut desired = community_rooms(&community, &members, &councils);
    desired.managed_remote = ids.remote.values().cloned().collect();
    let audit_scope = |key: &RoomKey| AuditScope {
        community_id: Some(id),
        council_id: match key.scope {
            Scope::Council(council) => Some(council),
            _ => None,
        },
    };
    converge(engine, Scope::Community(id), &desired, audit_scope).await
}
