use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use matrix_sync_core::Scope;
use matrix_sync_engine::commands::{self, RequestWrite};
use matrix_sync_store::RequestRecord;
use ruma::OwnedUserId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, platform_id, user_ref};
use crate::state::AppState;
use crate::status::{MAX_WAIT_SECS, ResourceStatus, http_status, scope_status, wait_for_sync, wait_param};

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AcceptRequest {
    pub community_id: Option<String>,
    pub requester_id: Option<String>,
    pub owner_id: Option<String>,
    /// Shown in the bot's message.
    pub title: Option<String>,
}

fn required_id(value: Option<String>, field: &str) -> Result<Uuid, ApiError> {
    platform_id(&required(value, field)?)
}

fn required(value: Option<String>, field: &str) -> Result<String, ApiError> {
    value.ok_or_else(|| ApiError::BadRequest(format!("{field} is required")))
}

/// A user field of a body: a platform user's UUID or a full Matrix id.
fn required_user(state: &AppState, value: Option<String>, field: &str) -> Result<OwnedUserId, ApiError> {
    let user = user_ref(state.homeserver.ids(), &required(value, field)?).map_err(|e| match e {
        ApiError::InvalidUser(message) => ApiError::InvalidUser(format!("{field}: {message}")),
        other => other,
    })?;
    Ok(state.homeserver.ids().matrix_id(&user))
}

async fn direct_room_id(state: &AppState, pair: Uuid) -> Result<Option<String>, ApiError> {
    Ok(state.engine.store.rooms_of(Scope::Direct(pair)).await?.into_iter().next().map(|r| r.room_id))
}

async fn request_status(state: &AppState, request: &RequestRecord) -> Result<ResourceStatus, ApiError> {
    let (status, last_error) = scope_status(state, Scope::Request(request.id)).await?;
    Ok(ResourceStatus {
        id: request.id,
        status,
        matrix_space_id: None,
        matrix_room_id: direct_room_id(state, request.pair_id).await?,
        last_error,
        deleted_at: None,
        hard_delete_at: None,
    })
}

/// Gets or creates the encrypted DM of the requester and the owner, sends
/// the bot's encrypted context message with the request's link, and records
/// the room on the request. Accepting again changes nothing.
#[utoipa::path(
    post,
    path = "/v1/requests/{request}/accept",
    params(("request" = uuid::Uuid, Path, description = "The request's UUID"), ("wait" = Option<u64>, Query, maximum = 30, description = "Seconds to wait for `synced` (at most 30)")),
    request_body = AcceptRequest,
    responses(
        (status = 200, body = ResourceStatus), (status = 202, body = ResourceStatus),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The request was accepted before for other users"),
        (status = 422, body = ErrorBody, description = "Requester and owner are the same"),
    ),
    security(("api_token" = [])),
    tag = "requests"
)]
pub async fn accept_request(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    JsonBody(body): JsonBody<AcceptRequest>,
) -> Result<(StatusCode, Json<ResourceStatus>), ApiError> {
    let id = platform_id(&id)?;
    let wait = wait_param(&query)?;
    let community_id = required_id(body.community_id, "community_id")?;
    let requester = required_user(&state, body.requester_id, "requester_id")?;
    let owner = required_user(&state, body.owner_id, "owner_id")?;
    let write = RequestWrite { community_id, requester, owner, title: body.title };
    let stored = commands::accept_request(&state.engine, id, &write).await?;
    wait_for_sync(&state, Scope::Request(id), wait).await?;
    let status = request_status(&state, &stored).await?;
    Ok((http_status(status.status), Json(status)))
}

/// The request's status; `matrix_room_id` is its coordination DM.
#[utoipa::path(
    get,
    path = "/v1/requests/{request}",
    params(("request" = uuid::Uuid, Path, description = "The request's UUID")),
    responses((status = 200, body = ResourceStatus), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_token" = [])),
    tag = "requests"
)]
pub async fn get_request(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ResourceStatus>, ApiError> {
    let id = platform_id(&id)?;
    let request = state
        .engine
        .store
        .request(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("request {id} is not known")))?;
    Ok(Json(request_status(&state, &request).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateDirect {
    pub user_a: Option<String>,
    pub user_b: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectStatus {
    /// The DM's room id once it exists.
    pub room_id: Option<String>,
    pub status: &'static str,
    pub last_error: Option<String>,
}

/// Gets or creates the encrypted DM of two users. Waits for it (30 s unless
/// `?wait` says otherwise); `202` with no room id if it is not there yet.
#[utoipa::path(
    post,
    path = "/v1/dms",
    params(("wait" = Option<u64>, Query, maximum = 30, description = "Seconds to wait for the room (default and at most 30)")),
    request_body = CreateDirect,
    responses(
        (status = 200, body = DirectStatus), (status = 202, body = DirectStatus),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "The two users are the same"),
    ),
    security(("api_token" = [])),
    tag = "requests"
)]
pub async fn create_direct(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    JsonBody(body): JsonBody<CreateDirect>,
) -> Result<(StatusCode, Json<DirectStatus>), ApiError> {
    let wait = wait_param(&query)?.unwrap_or(Duration::from_secs(MAX_WAIT_SECS));
    let a = required_user(&state, body.user_a, "user_a")?;
    let b = required_user(&state, body.user_b, "user_b")?;
    let direct = commands::put_direct(&state.engine, &a, &b).await?;
    let scope = Scope::Direct(direct.pair_id);
    wait_for_sync(&state, scope, Some(wait)).await?;
    let (status, last_error) = scope_status(&state, scope).await?;
    let room_id = direct_room_id(&state, direct.pair_id).await?;
    Ok((http_status(status), Json(DirectStatus { room_id, status, last_error })))
}
