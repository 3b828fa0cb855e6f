use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use matrix_sync_core::power::{CommunityRole, TrustLevel, TrustLevels, community_level};
use matrix_sync_core::rooms::RoomRole;
use matrix_sync_core::{Scope, UserRef};
use matrix_sync_engine::commands::{self, CommunityWrite, MemberWritten, ProfileInput};
use matrix_sync_store::{CommunityRecord, MemberRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, platform_id, user_ref};
use crate::state::AppState;
use crate::status::{Lifecycle, ResourceStatus, http_status, resource_status, scope_status, wait_for_sync, wait_param};

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

/// A required name (the command checks it: `rules::name`).
pub fn required_name(name: Option<String>) -> Result<String, ApiError> {
    name.ok_or_else(|| ApiError::BadRequest("name is required".into()))
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
    Ok(commands::stored_community(&state.engine, id).await?)
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
    let config = body.config.unwrap_or_default();
    let write = CommunityWrite {
        name: required_name(body.name)?,
        matrix_enabled: config.matrix_enabled,
        general_encrypted: config.general_encrypted,
        council_encrypted: config.council_encrypted,
        trust_levels: body.trust_levels,
    };
    let stored = commands::put_community(&state.engine, id, &write).await?;
    wait_for_sync(&state, Scope::Community(id), wait).await?;
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
    commands::delete_community(&state.engine, id).await?;
    wait_for_sync(&state, Scope::Community(id), wait).await?;
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
    commands::restore_community(&state.engine, id).await?;
    wait_for_sync(&state, Scope::Community(id), wait).await?;
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
    /// The member's name as members see it (as in `PUT /v1/users/{user}`);
    /// kept when absent.
    pub display_name: Option<String>,
    /// The member's picture: an `http(s)` URL the service fetches and
    /// uploads once, or an `mxc://` URI; kept when absent.
    pub avatar_url: Option<String>,
}

impl PutMember {
    pub fn profile(&self) -> ProfileInput<'_> {
        ProfileInput { display_name: self.display_name.as_deref(), avatar_url: self.avatar_url.as_deref() }
    }
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
    let wait = wait_param(&query)?;
    let trust_score = body.trust_score.ok_or_else(|| ApiError::BadRequest("trust_score is required".into()))?;
    let debounce = state.config.reconcile.debounce();
    commands::check_member_profile(&user, body.profile())?;
    let MemberWritten { member, levels, last_error } =
        commands::put_member(&state.engine, community, &user, trust_score, body.role, debounce).await?;
    commands::put_member_profile(&state.engine, &user, body.profile()).await?;
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
    let (member, levels) = commands::remove_member(&state.engine, community, &user).await?;
    wait_for_sync(&state, Scope::Community(community), wait).await?;
    member_answer(&state, community, &user, &member, &levels).await
}
