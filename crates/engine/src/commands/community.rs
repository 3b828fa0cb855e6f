//! Communities and their members.

use matrix_sync_core::UserRef;
use matrix_sync_core::power::{CommunityRole, TrustLevel, TrustLevels, community_level, power_levels_capacity};
use matrix_sync_store::{CommunityRecord, Debounce, Elevated, MemberRecord};
use uuid::Uuid;

use super::CommandError;
use crate::Engine;
use crate::clock::now_millis;
use crate::rules::{self, Refusal};

/// A community's settings as a write states them; `None` keeps what is
/// recorded (or the default for a new community).
#[derive(Debug, Clone, Default)]
pub struct CommunityWrite {
    /// The name, checked and trimmed by `rules::name`.
    pub name: String,
    /// `matrixEnabled`: `false` keeps the rooms, read-only.
    pub matrix_enabled: Option<bool>,
    /// `matrixGeneralChatEncrypted`: once `true`, it stays.
    pub general_encrypted: Option<bool>,
    /// Council rooms are always encrypted: only `true` or `None` passes.
    pub council_encrypted: Option<bool>,
    /// The trust → power-level table, checked by `rules::trust_levels`.
    pub trust_levels: Option<Vec<TrustLevel>>,
}

/// A member as recorded by [`put_member`], with the community's table.
#[derive(Debug, Clone)]
pub struct MemberWritten {
    /// The member as recorded.
    pub member: MemberRecord,
    /// The community's trust table, for the member's level.
    pub levels: TrustLevels,
    /// The community job's last error, if its previous attempt failed.
    pub last_error: Option<String>,
}

/// The recorded community, or `NotFound`.
pub async fn stored_community(engine: &Engine, id: Uuid) -> Result<CommunityRecord, CommandError> {
    engine.store.community(id).await?.ok_or_else(|| CommandError::NotFound(format!("community {id} is not known")))
}

/// The record a community write would store, checked against the rules and
/// against what is recorded; nothing is written.
pub async fn check_community(
    engine: &Engine,
    id: Uuid,
    write: &CommunityWrite,
) -> Result<CommunityRecord, CommandError> {
    let name = rules::name(&write.name)?;
    rules::council_encryption(write.council_encrypted)?;
    let existing = engine.store.community(id).await?;
    if let Some(existing) = &existing {
        rules::live("community", id, existing.purged_at, existing.deleted_at)?;
    }
    let was_encrypted = existing.as_ref().is_some_and(|c| c.general_encrypted);
    let general_encrypted = rules::general_encryption(was_encrypted, write.general_encrypted)?;
    let trust_levels = match &write.trust_levels {
        Some(levels) => rules::trust_levels(levels.clone())?,
        None => existing.as_ref().map(|c| c.trust_levels.clone()).unwrap_or_default(),
    };
    if existing.is_some() {
        check_capacity(engine, id, &trust_levels).await?;
    }
    let matrix_enabled = write.matrix_enabled.or(existing.as_ref().map(|c| c.matrix_enabled)).unwrap_or(true);
    Ok(CommunityRecord::desired(id, name, matrix_enabled, general_encrypted, trust_levels))
}

/// Creates or updates a community's desired state (its Space and General
/// room) and enqueues its reconcile.
pub async fn put_community(engine: &Engine, id: Uuid, write: &CommunityWrite) -> Result<CommunityRecord, CommandError> {
    let record = check_community(engine, id, write).await?;
    let stored = engine.store.put_community(&record, now_millis()).await?;
    engine.wakeup.notify_waiters();
    Ok(stored)
}

/// Adds or updates a member: the level their trust (or role) earns, in the
/// Space and the General room. A member who newly rises above level 0 is
/// counted against the power levels' capacity in the same transaction that
/// records them. The role is kept when `role` is `None` (a new member's is
/// `member`). The reconcile waits `debounce`, so a burst becomes one.
pub async fn put_member(
    engine: &Engine,
    community: Uuid,
    user: &UserRef,
    trust_score: i64,
    role: Option<CommunityRole>,
    debounce: Debounce,
) -> Result<MemberWritten, CommandError> {
    let trust_score = rules::trust_score(trust_score)?;
    let key = user.key();
    // Independent reads, at once.
    let (record, existing) = tokio::try_join!(stored_community(engine, community), async {
        Ok(engine.store.member(community, key).await?)
    })?;
    rules::live("community", community, record.purged_at, record.deleted_at)?;
    let levels = record.trust_levels;
    let role = role.or_else(|| existing.as_ref().map(|m| m.role)).unwrap_or(CommunityRole::Member);
    let level_of = |trust: i64, role| community_level(&levels, u64::try_from(trust).unwrap_or(0), role);
    let member = MemberRecord { user_id: key, trust_score, role };
    let now = now_millis();
    if let UserRef::Remote(matrix_id) = user {
        // Before the member row: a member row without it would read as a
        // platform user to provision.
        engine.store.put_remote_member(community, key, matrix_id.as_str(), now).await?;
    }
    // Only a member who newly rises above level 0 can overfill the rooms'
    // power levels (the common trust update needs no count); the count and
    // the write are one transaction.
    let was_elevated = existing.as_ref().is_some_and(|m| level_of(m.trust_score, m.role) > 0);
    let last_error = if level_of(trust_score, role) > 0 && !was_elevated {
        let server = engine.homeserver.ids().server_name().as_str();
        let fits = |elevated: &Elevated| rules::power_levels_fit(server, places_taken(server, elevated, Some(user)));
        let min_trust = min_elevated_trust(&levels);
        match engine
            .store
            .put_elevated_member(community, &member, min_trust, &|e| fits(e).is_ok(), debounce, now)
            .await?
        {
            Ok(last_error) => last_error,
            Err(elevated) => {
                // The store found it does not fit; `fits` says by how much.
                let refusal = fits(&elevated).err().unwrap_or_else(|| Refusal::PowerLevelsFull {
                    capacity: power_levels_capacity(server),
                    total: places_taken(server, &elevated, Some(user)),
                });
                return Err(power_levels_full(engine, refusal));
            }
        }
    } else {
        engine.store.put_member(community, &member, debounce, now).await?
    };
    engine.wakeup.announce(now + debounce.quiet_ms);
    Ok(MemberWritten { member, levels, last_error })
}

/// Removes a member from the community (and its councils): they leave
/// every room of it. Returns what was recorded of them.
pub async fn remove_member(
    engine: &Engine,
    community: Uuid,
    user: &UserRef,
) -> Result<(MemberRecord, TrustLevels), CommandError> {
    let record = stored_community(engine, community).await?;
    rules::live("community", community, record.purged_at, record.deleted_at)?;
    let member = engine.store.member(community, user.key()).await?.ok_or_else(|| {
        CommandError::NotFound(format!("user {} is not a member of community {community}", user.api_id()))
    })?;
    engine.store.remove_member(community, user.key(), now_millis()).await?;
    engine.wakeup.notify_waiters();
    Ok((member, record.trust_levels))
}

/// The lowest trust that earns a level above the default, if any does.
fn min_elevated_trust(levels: &TrustLevels) -> i64 {
    levels
        .levels()
        .iter()
        .find(|l| l.power_level > 0)
        .map_or(i64::MAX, |l| i64::try_from(l.min_trust).unwrap_or(i64::MAX))
}

/// How many of a power-levels event's places the elevated members take,
/// with `adds` among them (`rules::power_level_places`).
fn places_taken(server: &str, elevated: &Elevated, adds: Option<&UserRef>) -> usize {
    let local = usize::try_from(elevated.count).unwrap_or(usize::MAX).saturating_sub(elevated.remote.len());
    let added_local = usize::from(matches!(adds, Some(UserRef::Platform(_))));
    let added_remote = match adds {
        Some(UserRef::Remote(user)) => Some(user.as_str()),
        _ => None,
    };
    let remote = elevated.remote.iter().map(String::as_str).chain(added_remote);
    rules::power_level_places(server, local.saturating_add(added_local), remote)
}

/// The capacity rule's refusal, counted in the metrics.
fn power_levels_full(engine: &Engine, refusal: Refusal) -> CommandError {
    engine.metrics.count_power_levels_full();
    refusal.into()
}

/// Refuses a new trust table that would list more users in a room's power
/// levels than one event can hold.
async fn check_capacity(engine: &Engine, community: Uuid, levels: &TrustLevels) -> Result<(), CommandError> {
    let server = engine.homeserver.ids().server_name().as_str();
    let min_trust = min_elevated_trust(levels);
    let (count, remote) = tokio::try_join!(
        engine.store.count_elevated_members(community, min_trust, Uuid::nil()),
        engine.store.elevated_remote_members(community, min_trust, Uuid::nil()),
    )?;
    rules::power_levels_fit(server, places_taken(server, &Elevated { count, remote }, None))
        .map_err(|refusal| power_levels_full(engine, refusal))
}
