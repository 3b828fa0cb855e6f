use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use matrix_sync_core::power::{CommunityRole, CouncilRole, council_level};
use matrix_sync_core::rooms::RoomRole;
use matrix_sync_core::{Scope, UserRef};
use matrix_sync_engine::commands::{self, CouncilWrite, ProfileInput};
use matrix_sync_store::CouncilRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::communities::{community_lifecycle, required_name};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, platform_id, user_ref};
use crate::state::AppState;
use crate::status::{Lifecycle, ResourceStatus, http_status, resource_status, scope_status, wait_for_sync, wait_param};

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PutCouncil {
    pub community_id: Option<String>,
    pub name: Option<String>,
}

/// A council's status: its community's reconcile covers its rooms (its own
/// job, its hard delete), and the community's archive covers the council's.
async fn council_status(state: &AppState, council: &CouncilRecord) -> Result<ResourceStatus, ApiError> {
    let community = state.engine.store.community(council.community_id).await?;
    let community = community.as_ref().map(community_lifecycle).unwrap_or_default();
    let lifecycle = Lifecycle {
        archived: council.deleted_at.is_some() || community.archived,
        deleted_at: council.deleted_at.or(community.deleted_at),
        hard_delete_at: council.hard_delete_at.or(community.hard_delete_at),
        purged: council.purged_at.is_some() || community.purged,
    };
    // Its hard delete runs as a job of its own; its rooms otherwise with
    // its community's.
    let own = Scope::Council(council.id);
    let job = match state.engine.store.job_for(own.into()).await? {
        Some(_) => own,
        None => Scope::Community(council.community_id),
    };
    Ok(resource_status(state, job, own, (RoomRole::Space, RoomRole::Discussion), lifecycle).await?)
}

async fn known_council(state: &AppState, id: Uuid) -> Result<CouncilRecord, ApiError> {
    state.engine.store.council(id).await?.ok_or_else(|| ApiError::NotFound(format!("council {id} is not known")))
}

/// Creates or updates a council: a Space nested in its community's Space,
/// with an encrypted, invite-only discussion room.
#[utoipa::path(
    put,
    path = "/v1/councils/{council}",
    params(("council" = uuid::Uuid, Path, description = "The council's UUID"), ("wait" = Option<u64>, Query, maximum = 30, description = "Seconds to wait for `synced` (at most 30)")),
    request_body = PutCouncil,
    responses(
        (status = 200, body = ResourceStatus), (status = 202, body = ResourceStatus),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The council belongs to another community, or it or its community is archived"), (status = 410, body = ErrorBody, description = "Deleted for good"),
        (status = 422, body = ErrorBody, description = "The community is not known"),
    ),
    security(("api_token" = [])),
    tag = "councils"
)]
pub async fn put_council(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    JsonBody(body): JsonBody<PutCouncil>,
) -> Result<(StatusCode, Json<ResourceStatus>), ApiError> {
    let id = platform_id(&id)?;
    let wait = wait_param(&query)?;
    let community_id = body.community_id.ok_or_else(|| ApiError::BadRequest("community_id is required".into()))?;
    let write = CouncilWrite { community_id: platform_id(&community_id)?, name: required_name(body.name)? };
    let stored = commands::put_council(&state.engine, id, &write).await?;
    let community_id = stored.community_id;
    wait_for_sync(&state, Scope::Community(community_id), wait).await?;
    let status = council_status(&state, &stored).await?;
    Ok((http_status(status.status), Json(status)))
}

/// The council's status.
#[utoipa::path(
    get,
    path = "/v1/councils/{council}",
    params(("council" = uuid::Uuid, Path, description = "The council's UUID")),
    responses((status = 200, body = ResourceStatus), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_token" = [])),
    tag = "councils"
)]
pub async fn get_council(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ResourceStatus>, ApiError> {
    let council = known_council(&state, platform_id(&id)?).await?;
    Ok(Json(council_status(&state, &council).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PutCouncilMember {
    /// `member` (the default), `moderator` or `admin`; kept when absent on update.
    #[schema(value_type = Option<String>)]
    pub role: Option<CouncilRole>,
    /// As in a community member write: the member's name, kept when absent.
    pub display_name: Option<String>,
    /// As in a community member write: the member's picture, kept when absent.
    pub avatar_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CouncilMemberStatus {
    /// The platform user's UUID, or a remote user's Matrix id.
    pub user_id: String,
    pub matrix_user_id: String,
    pub trust_score: i64,
    /// The council role.
    pub role: String,
    /// The level in the council's rooms: the higher of trust's and the role's.
    pub power_level: i64,
    /// The status of the council.
    pub status: &'static str,
}

async fn council_member_answer(
    state: &AppState,
    council: &CouncilRecord,
    user: &UserRef,
    role: CouncilRole,
) -> Result<(StatusCode, Json<CouncilMemberStatus>), ApiError> {
    let community = state
        .engine
        .store
        .community(council.community_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("community {} is not known", council.community_id)))?;
    let levels = &community.trust_levels;
    let member = state.engine.store.member(council.community_id, user.key()).await?;
    let (trust, community_role) = member.as_ref().map_or((0, CommunityRole::Member), |m| (m.trust_score, m.role));
    let (status, _) = scope_status(state, Scope::Community(council.community_id)).await?;
    let answer = CouncilMemberStatus {
        user_id: user.api_id(),
        matrix_user_id: state.homeserver.ids().matrix_id(user).to_string(),
        trust_score: trust,
        role: role.as_str().to_owned(),
        power_level: council_level(levels, u64::try_from(trust).unwrap_or(0), community_role, role),
        status,
    };
    Ok((http_status(status), Json(answer)))
}

/// Joins a community member to the council's Space and discussion room.
#[utoipa::path(
    put,
    path = "/v1/councils/{council}/members/{user}",
    params(
        ("council" = uuid::Uuid, Path, description = "The council's UUID"),
        ("user" = String, Path, description = "A platform user's UUID, or the full Matrix id of a user on another homeserver"),
        ("wait" = Option<u64>, Query, maximum = 30, description = "Seconds to wait for `synced` (at most 30)"),
    ),
    request_body = PutCouncilMember,
    responses(
        (status = 200, body = CouncilMemberStatus), (status = 202, body = CouncilMemberStatus),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The community (or council) is archived: restore it first"), (status = 410, body = ErrorBody, description = "Deleted for good"),
        (status = 422, body = ErrorBody, description = "Not a member of the council's community"),
    ),
    security(("api_token" = [])),
    tag = "councils"
)]
pub async fn put_council_member(
    State(state): State<AppState>,
    Path((council, user)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    JsonBody(body): JsonBody<PutCouncilMember>,
) -> Result<(StatusCode, Json<CouncilMemberStatus>), ApiError> {
    let council = platform_id(&council)?;
    let user = user_ref(state.homeserver.ids(), &user)?;
    let wait = wait_param(&query)?;
    let profile = ProfileInput { display_name: body.display_name.as_deref(), avatar_url: body.avatar_url.as_deref() };
    commands::check_member_profile(&user, profile)?;
    let (council, role) = commands::put_council_member(&state.engine, council, &user, body.role).await?;
    commands::put_member_profile(&state.engine, &user, profile).await?;
    wait_for_sync(&state, Scope::Community(council.community_id), wait).await?;
    council_member_answer(&state, &council, &user, role).await
}

/// Removes the user from the council's Space and discussion room.
#[utoipa::path(
    delete,
    path = "/v1/councils/{council}/members/{user}",
    params(
        ("council" = uuid::Uuid, Path, description = "The council's UUID"),
        ("user" = String, Path, description = "A platform user's UUID, or the full Matrix id of a user on another homeserver"),
        ("wait" = Option<u64>, Query, maximum = 30, description = "Seconds to wait for `synced` (at most 30)"),
    ),
    responses(
        (status = 200, body = CouncilMemberStatus), (status = 202, body = CouncilMemberStatus),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The community (or council) is archived: restore it first"), (status = 410, body = ErrorBody, description = "Deleted for good"),
    ),
    security(("api_token" = [])),
    tag = "councils"
)]
pub async fn delete_council_member(
    State(state): State<AppState>,
    Path((council, user)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<(StatusCode, Json<CouncilMemberStatus>), ApiError> {
    let council = platform_id(&council)?;
    let user = user_ref(state.homeserver.ids(), &user)?;
    let wait = wait_param(&query)?;
    let (council, role) = commands::remove_council_member(&state.engine, council, &user).await?;
    wait_for_sync(&state, Scope::Community(council.community_id), wait).await?;
    council_member_answer(&state, &council, &user, role).await
}

/// Soft delete: the council's Space and discussion room are archived; the
/// hard delete follows after `MATRIX_SYNC_RETENTION`.
#[utoipa::path(
    delete,
    path = "/v1/councils/{council}",
    params(("council" = uuid::Uuid, Path, description = "The council's UUID"), ("wait" = Option<u64>, Query, maximum = 30, description = "Seconds to wait (at most 30)")),
    responses(
        (status = 200, body = ResourceStatus), (status = 202, body = ResourceStatus),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The community (or council) is archived: restore it first"), (status = 410, body = ErrorBody, description = "Deleted for good"),
    ),
    security(("api_token" = [])),
    tag = "councils"
)]
pub async fn delete_council(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<(StatusCode, Json<ResourceStatus>), ApiError> {
    let id = platform_id(&id)?;
    let wait = wait_param(&query)?;
    let council = commands::delete_council(&state.engine, id).await?;
    wait_for_sync(&state, Scope::Community(council.community_id), wait).await?;
    let status = council_status(&state, &known_council(&state, council.id).await?).await?;
    Ok((http_status(status.status), Json(status)))
}

/// Undoes a council's soft delete before its hard delete.
#[utoipa::path(
    post,
    path = "/v1/councils/{council}/restore",
    params(("council" = uuid::Uuid, Path, description = "The council's UUID"), ("wait" = Option<u64>, Query, maximum = 30, description = "Seconds to wait (at most 30)")),
    responses(
        (status = 200, body = ResourceStatus), (status = 202, body = ResourceStatus),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Not deleted (`not_deleted`), or its hard delete is due or under way (`purging`)"),
        (status = 410, body = ErrorBody, description = "Already deleted for good"),
    ),
    security(("api_token" = [])),
    tag = "councils"
)]
pub async fn restore_council(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<(StatusCode, Json<ResourceStatus>), ApiError> {
    let id = platform_id(&id)?;
    let wait = wait_param(&query)?;
    let council = commands::restore_council(&state.engine, id).await?;
    wait_for_sync(&state, Scope::Community(council.community_id), wait).await?;
    let status = council_status(&state, &known_council(&state, council.id).await?).await?;
    Ok((http_status(status.status), Json(status)))
}
