use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use matrix_sync_core::power::{CommunityRole, TrustLevel, TrustLevels, community_level, power_levels_capacity};
use matrix_sync_core::rooms::RoomRole;
use matrix_sync_core::{Scope, UserRef};
use matrix_sync_store::{CommunityRecord, Elevated, MemberRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::lifecycle::{Deletable, restore, soft_delete};
use crate::clock::now_millis;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, platform_id, user_ref};
use crate::rules;
use crate::state::AppState;
use crate::status::{
    Lifecycle, ResourceStatus, http_status, resource_status, scope_status, settle, wait_for_sync, wait_param,
};

/// The community settings of the specification (`communities.config`); all
/// optional on update.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CommunityConfigPatch {
    #[serde(rename = "matrixEnabled")]
    pub matrix_enabled: Option<bool>,
    /// Whether the General room is encrypted; cannot be turned off again.
    #[serde(rename = "matrixGeneralChatEncrypted")]
    pub general_encrypted: Option<bool>,
    /// Council rooms are always encrypted: `false` is refused.
    #[serde(rename = "matrixCouncilChatsEncrypted")]
    pub council_encrypted: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PutCommunity {
    pub name: Option<String>,
    pub config: Option<CommunityConfigPatch>,
    /// Replaces the default trust → power-level table: ascending `min_trust`
    /// from 0, levels below 100.
    #[schema(value_type = Option<Vec<Object>>)]
    pub trust_levels: Option<Vec<TrustLevel>>,
}

/// A required name, checked (`rules::name`).
pub fn required_name(name: Option<String>) -> Result<String, ApiError> {
    let name = name.ok_or_else(|| ApiError::BadRequest("name is required".into()))?;
    Ok(rules::name(&name)?)
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
fn power_levels_full(state: &AppState, refusal: rules::Refusal) -> ApiError {
    state.metrics.power_levels_full.inc();
    refusal.into()
}

/// Refuses a new trust table that would list more users in a room's power
/// levels than one event can hold.
async fn check_capacity(state: &AppState, community: Uuid, levels: &TrustLevels) -> Result<(), ApiError> {
    let server = state.homeserver.ids().server_name().as_str();
    let min_trust = min_elevated_trust(levels);
    let (count, remote) = tokio::try_join!(
        state.store.count_elevated_members(community, min_trust, Uuid::nil()),
        state.store.elevated_remote_members(community, min_trust, Uuid::nil()),
    )?;
    rules::power_levels_fit(server, places_taken(server, &Elevated { count, remote }, None))
        .map_err(|refusal| power_levels_full(state, refusal))
}

pub fn community_lifecycle(record: &CommunityRecord) -> Lifecycle {
    Lifecycle {
        archived: record.deleted_at.is_some() || !record.matrix_enabled,
        deleted_at: record.deleted_at,
        hard_delete_at: record.hard_delete_at,
        purged: record.purged_at.is_some(),
    }
}

async fn community_status(state: &AppState, record: &CommunityRecord) -> Result<ResourceStatus, ApiError> {
    let scope = Scope::Community(record.id);
    Ok(resource_status(state, scope, scope, (RoomRole::Space, RoomRole::General), community_lifecycle(record)).await?)
}

async fn stored_community(state: &AppState, id: Uuid) -> Result<CommunityRecord, ApiError> {
    state.store.community(id).await?.ok_or_else(|| ApiError::NotFound(format!("community {id} is not known")))
}

/// Creates or updates the community's Space and General room.
#[utoipa::path(
    put,
    path = "/v1/communities/{community}",
    params(("community" = uuid::Uuid, Path, description = "The community's UUID"), ("wait" = Option<u64>, Query, maximum = 30, description = "Seconds to wait for `synced` (at most 30)")),
    request_body = PutCommunity,
    responses(
        (status = 200, body = ResourceStatus, description = "Synced"),
        (status = 202, body = ResourceStatus, description = "Recorded; the homeserver is being brought there"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Encryption cannot be turned off"),
        (status = 422, body = ErrorBody, description = "Unencrypted councils, an invalid trust table, or too many elevated members"),
    ),
    security(("api_token" = [])),
    tag = "communities"
)]
pub async fn put_community(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    JsonBody(body): JsonBody<PutCommunity>,
) -> Result<(StatusCode, Json<ResourceStatus>), ApiError> {
    let id = platform_id(&id)?;
    let wait = wait_param(&query)?;
    let name = required_name(body.name)?;
    let config = body.config.unwrap_or_default();
    rules::council_encryption(config.council_encrypted)?;
    let existing = state.store.community(id).await?;
    if let Some(existing) = &existing {
        rules::live("community", id, existing.purged_at, existing.deleted_at)?;
    }
    let was_encrypted = existing.as_ref().is_some_and(|c| c.general_encrypted);
    let general_encrypted = rules::general_encryption(was_encrypted, config.general_encrypted)?;
    let trust_levels = match body.trust_levels {
        Some(levels) => rules::trust_levels(levels)?,
        None => match &existing {
            Some(c) => c.trust_levels.clone(),
            None => TrustLevels::default(),
        },
    };
    if existing.is_some() {
        check_capacity(&state, id, &trust_levels).await?;
    }
    let record = CommunityRecord {
        id,
        name,
        matrix_enabled: config.matrix_enabled.or(existing.as_ref().map(|c| c.matrix_enabled)).unwrap_or(true),
        general_encrypted,
        trust_levels: trust_levels.clone(),
        created_at: 0,
        updated_at: 0,
        // Set by the store; an update keeps them (and only a live one gets here).
        deleted_at: None,
        hard_delete_at: None,
        purging_at: None,
        purged_at: None,
    };
    let stored = state.store.put_community(&record, now_millis()).await?;
    settle(&state, Scope::Community(id), wait).await?;
    let status = community_status(&state, &stored).await?;
    Ok((http_status(status.status), Json(status)))
}

/// The community's status.
#[utoipa::path(
    get,
    path = "/v1/communities/{community}",
    params(("community" = uuid::Uuid, Path, description = "The community's UUID")),
    responses((status = 200, body = ResourceStatus), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_token" = [])),
    tag = "communities"
)]
pub async fn get_community(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ResourceStatus>, ApiError> {
    let record = stored_community(&state, platform_id(&id)?).await?;
    Ok(Json(community_status(&state, &record).await?))
}

/// Soft delete: every room of the community (its councils' too) is
/// archived; the hard delete follows after `MATRIX_SYNC_RETENTION`.
#[utoipa::path(
    delete,
    path = "/v1/communities/{community}",
    params(("community" = uuid::Uuid, Path, description = "The community's UUID"), ("wait" = Option<u64>, Query, maximum = 30, description = "Seconds to wait for `archived` (at most 30)")),
    responses(
        (status = 200, body = ResourceStatus, description = "Archived (or already deleted)"),
        (status = 202, body = ResourceStatus, description = "Being archived"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("api_token" = [])),
    tag = "communities"
)]
pub async fn delete_community(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<(StatusCode, Json<ResourceStatus>), ApiError> {
    let id = platform_id(&id)?;
    let wait = wait_param(&query)?;
    soft_delete(&state, &Deletable::community(&stored_community(&state, id).await?), wait).await?;
    let status = community_status(&state, &stored_community(&state, id).await?).await?;
    Ok((http_status(status.status), Json(status)))
}

/// Undoes a soft delete before the hard delete: the rooms come back as they
/// were (levels, join rules, membership).
#[utoipa::path(
    post,
    path = "/v1/communities/{community}/restore",
    params(("community" = uuid::Uuid, Path, description = "The community's UUID"), ("wait" = Option<u64>, Query, maximum = 30, description = "Seconds to wait for `synced` (at most 30)")),
    responses(
        (status = 200, body = ResourceStatus), (status = 202, body = ResourceStatus),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Not deleted (`not_deleted`), or its hard delete is due or under way (`purging`)"),
        (status = 410, body = ErrorBody, description = "Already deleted for good"),
    ),
    security(("api_token" = [])),
    tag = "communities"
)]
pub async fn restore_community(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<(StatusCode, Json<ResourceStatus>), ApiError> {
    let id = platform_id(&id)?;
    let wait = wait_param(&query)?;
    restore(&state, &Deletable::community(&stored_community(&state, id).await?), wait).await?;
    let status = community_status(&state, &stored_community(&state, id).await?).await?;
    Ok((http_status(status.status), Json(status)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PutMember {
    /// The member's trust score, 0 or more (a negative one is a `422
    /// negative_trust_score`).
    #[schema(minimum = 0)]
    pub trust_score: Option<i64>,
    /// `member` (the default) or `admin`; kept as it is when absent on update.
    #[schema(value_type = Option<String>)]
    pub role: Option<CommunityRole>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberStatus {
    /// The platform user's UUID, or a remote user's Matrix id.
    pub user_id: String,
    pub matrix_user_id: String,
    pub trust_score: i64,
    pub role: String,
    /// The level this member holds in the community's rooms.
    pub power_level: i64,
    /// The status of the community the member belongs to.
    pub status: &'static str,
}

async fn member_answer(
    state: &AppState,
    community: Uuid,
    user: &UserRef,
    member: &MemberRecord,
    levels: &TrustLevels,
) -> Result<(StatusCode, Json<MemberStatus>), ApiError> {
    let (status, _) = scope_status(state, Scope::Community(community)).await?;
    Ok((http_status(status), Json(member_status(state, user, member, levels, status))))
}

fn member_status(
    state: &AppState,
    user: &UserRef,
    member: &MemberRecord,
    levels: &TrustLevels,
    status: &'static str,
) -> MemberStatus {
    let role = member.role;
    MemberStatus {
        user_id: user.api_id(),
        matrix_user_id: state.homeserver.ids().matrix_id(user).to_string(),
        trust_score: member.trust_score,
        role: member.role.as_str().to_owned(),
        power_level: community_level(levels, u64::try_from(member.trust_score).unwrap_or(0), role),
        status,
    }
}

async fn known_community(state: &AppState, id: Uuid) -> Result<(CommunityRecord, TrustLevels), ApiError> {
    let record =
        state.store.community(id).await?.ok_or_else(|| ApiError::NotFound(format!("community {id} is not known")))?;
    let levels = record.trust_levels.clone();
    Ok((record, levels))
}

/// Adds or updates a member: provisioned, joined to the Space and the
/// General room, with the level their trust earns.
#[utoipa::path(
    put,
    path = "/v1/communities/{community}/members/{user}",
    params(
        ("community" = uuid::Uuid, Path, description = "The community's UUID"),
        ("user" = String, Path, description = "A platform user's UUID, or the full Matrix id of a user on another homeserver"),
        ("wait" = Option<u64>, Query, maximum = 30, description = "Seconds to wait for the community to be `synced` (at most 30)"),
    ),
    request_body = PutMember,
    responses(
        (status = 200, body = MemberStatus), (status = 202, body = MemberStatus),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The community (or council) is archived: restore it first"), (status = 410, body = ErrorBody, description = "Deleted for good"),
        (status = 422, body = ErrorBody, description = "The room's power levels would be too large (`power_levels_full`), or a negative trust score (`negative_trust_score`)"),
    ),
    security(("api_token" = [])),
    tag = "communities"
)]
pub async fn put_member(
    State(state): State<AppState>,
    Path((community, user)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    JsonBody(body): JsonBody<PutMember>,
) -> Result<(StatusCode, Json<MemberStatus>), ApiError> {
    let community = platform_id(&community)?;
    let user = user_ref(state.homeserver.ids(), &user)?;
    let key = user.key();
    let wait = wait_param(&query)?;
    let trust_score = body.trust_score.ok_or_else(|| ApiError::BadRequest("trust_score is required".into()))?;
    let trust_score = rules::trust_score(trust_score)?;
    // Independent reads, at once.
    let ((record, levels), existing) =
        tokio::try_join!(known_community(&state, community), async { Ok(state.store.member(community, key).await?) })?;
    rules::live("community", community, record.purged_at, record.deleted_at)?;
    let role = body.role.or_else(|| existing.as_ref().map(|m| m.role)).unwrap_or(CommunityRole::Member);
    let level_of = |trust: i64, role| community_level(&levels, u64::try_from(trust).unwrap_or(0), role);
    let level = level_of(trust_score, role);
    let member = MemberRecord { user_id: key, trust_score, role };
    let now = now_millis();
    if let UserRef::Remote(matrix_id) = &user {
        // Before the member row: a member row without it would read as a
        // platform user to provision.
        state.store.put_remote_member(community, key, matrix_id.as_str(), now).await?;
    }
    let debounce = state.config.reconcile.debounce();
    // Only a member who newly rises above level 0 can overfill the rooms'
    // power levels (the common trust update needs no count); the count and
    // the write are one transaction.
    let was_elevated = existing.as_ref().is_some_and(|m| level_of(m.trust_score, m.role) > 0);
    let last_error = if level > 0 && !was_elevated {
        let server = state.homeserver.ids().server_name().as_str();
        let fits = |elevated: &Elevated| rules::power_levels_fit(server, places_taken(server, elevated, Some(&user)));
        let min_trust = min_elevated_trust(&levels);
        match state
            .store
            .put_elevated_member(community, &member, min_trust, &|e| fits(e).is_ok(), debounce, now)
            .await?
        {
            Ok(last_error) => last_error,
            Err(elevated) => {
                // The store found it does not fit; `fits` says by how much.
                let refusal = fits(&elevated).err().unwrap_or_else(|| rules::Refusal::PowerLevelsFull {
                    capacity: power_levels_capacity(server),
                    total: places_taken(server, &elevated, Some(&user)),
                });
                return Err(power_levels_full(&state, refusal));
            }
        }
    } else {
        state.store.put_member(community, &member, debounce, now).await?
    };
    state.wakeup.announce(now + debounce.quiet_ms);
    if wait.is_some() {
        wait_for_sync(&state, Scope::Community(community), wait).await?;
        return member_answer(&state, community, &user, &member, &levels).await;
    }
    // Just enqueued: pending, or still failing from before.
    let status = if last_error.is_some() { "error" } else { "pending" };
    Ok((http_status(status), Json(member_status(&state, &user, &member, &levels, status))))
}

/// Removes the member from every room of the community.
#[utoipa::path(
    delete,
    path = "/v1/communities/{community}/members/{user}",
    params(
        ("community" = uuid::Uuid, Path, description = "The community's UUID"),
        ("user" = String, Path, description = "A platform user's UUID, or the full Matrix id of a user on another homeserver"),
        ("wait" = Option<u64>, Query, maximum = 30, description = "Seconds to wait for the community to be `synced` (at most 30)"),
    ),
    responses(
        (status = 200, body = MemberStatus), (status = 202, body = MemberStatus),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The community (or council) is archived: restore it first"), (status = 410, body = ErrorBody, description = "Deleted for good"),
    ),
    security(("api_token" = [])),
    tag = "communities"
)]
pub async fn delete_member(
    State(state): State<AppState>,
    Path((community, user)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<(StatusCode, Json<MemberStatus>), ApiError> {
    let community = platform_id(&community)?;
    let user = user_ref(state.homeserver.ids(), &user)?;
    let wait = wait_param(&query)?;
    let (record, levels) = known_community(&state, community).await?;
    rules::live("community", community, record.purged_at, record.deleted_at)?;
    let member = state.store.member(community, user.key()).await?.ok_or_else(|| {
        ApiError::NotFound(format!("user {} is not a member of community {community}", user.api_id()))
    })?;
    state.store.remove_member(community, user.key(), now_millis()).await?;
    settle(&state, Scope::Community(community), wait).await?;
    member_answer(&state, community, &user, &member, &levels).await
}
