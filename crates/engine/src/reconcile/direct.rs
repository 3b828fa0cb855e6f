//! Reconciling a direct chat: one encrypted room per pair of users, both
//! joined, marked as direct for both (`is_direct`, `m.direct`).

use matrix_sync_core::Scope;
use matrix_sync_core::desired::direct_room;
use matrix_sync_core::direct::with_direct_room;
use matrix_sync_store::DirectRecord;
use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};
use uuid::Uuid;

use super::ReconcileError;
use super::converge::converge;
use crate::Engine;
use crate::audit::AuditScope;

pub async fn reconcile(engine: &Engine, pair: Uuid) -> Result<(), ReconcileError> {
    match engine.store.direct(pair).await? {
        Some(direct) => ensure_direct_chat(engine, &direct, AuditScope::default()).await.map(drop),
        None => Ok(()),
    }
}

fn user_id(raw: &str) -> Result<OwnedUserId, ReconcileError> {
    UserId::parse(raw).map_err(|e| ReconcileError::Invalid(format!("user id `{raw}`: {e}")))
}

/// Brings the pair's direct chat to the desired state and returns its id.
#[tracing::instrument(skip(engine, direct, audit_scope), fields(pair = %direct.pair_id))]
pub async fn ensure_direct_chat(
    engine: &Engine,
    direct: &DirectRecord,
    audit_scope: AuditScope,
) -> Result<OwnedRoomId, ReconcileError> {
    let (a, b) = (user_id(&direct.user_a)?, user_id(&direct.user_b)?);
    let ids = engine.homeserver.ids();
    for user in [&a, &b] {
        if let Some(platform_user) = ids.platform_user(user)
            && engine.store.user_mapping(platform_user).await?.is_none()
        {
            crate::provision::provision_user(engine, platform_user, None).await?;
        }
    }
    let desired = direct_room(&a, &b);
    converge(engine, Scope::Direct(direct.pair_id), &desired, |_| audit_scope).await?;
    let room_id = engine
        .store
        .rooms_of(Scope::Direct(direct.pair_id))
        .await?
        .into_iter()
        .find_map(|r| RoomId::parse(&r.room_id).ok())
        .ok_or_else(|| ReconcileError::Invalid("the direct chat was not recorded".into()))?;

    for (user, other) in [(&a, &b), (&b, &a)] {
        if ids.platform_user(user).is_none() {
            continue; // only our own users' account data is ours to write
        }
        mark_direct(engine, user, other, &room_id).await?;
    }
    Ok(room_id)
}

/// Writes of `m.direct` that found their entry gone again before giving up
/// (the job is then retried with backoff, and anti-entropy comes back).
const MARK_ATTEMPTS: u32 = 4;

/// Lists `room` under `other` in `user`'s `m.direct`. Account data has no
/// compare-and-swap, so the read-change-write is made safe in two ways: in
/// this process one write per user at a time (two DMs of one user at once
/// would otherwise each drop the other's entry), and against writers
/// elsewhere (the user's own client, another process) the map is read back
/// after the write and written again, merged, if the entry went missing.
/// Anti-entropy reconciles every DM, so an entry lost to a later write is
/// put back on the next pass.
async fn mark_direct(engine: &Engine, user: &UserId, other: &UserId, room: &RoomId) -> Result<(), ReconcileError> {
    let _one_writer = engine.account_data_locks.lock(user.as_str()).await;
    for attempt in 0..=MARK_ATTEMPTS {
        let current = engine.homeserver.account_data(user, "m.direct").await?;
        let Some(updated) = with_direct_room(current.as_ref(), other.as_str(), room.as_str()) else {
            return Ok(()); // listed (already, or by the write before)
        };
        if attempt == MARK_ATTEMPTS {
            break;
        }
        if attempt > 0 {
            tracing::info!(%user, attempt, "m.direct changed under our write; merging again");
        }
        engine.homeserver.set_account_data(user, "m.direct", updated).await?;
        // Another writer's read may have come before our write: give its
        // write the time to land, then look again.
        tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt + 1))).await;
    }
    Err(ReconcileError::Contended(format!("m.direct of {user}")))
}
