use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use matrix_sync_core::UserRef;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, provisionable_user, user_ref};
use crate::state::AppState;
use matrix_sync_engine::commands::{self, ProfileInput};
use matrix_sync_engine::purpose::RoomPurpose;
use matrix_sync_store::UserMapping;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProvisionUser {
    /// Shown to other Matrix users; left as it is when absent.
    pub display_name: Option<String>,
    /// The user's picture: an `http(s)` URL the service fetches (an image
    /// of at most 5 MB) and uploads to the homeserver once, in the
    /// background, or an `mxc://` URI; left as it is when absent.
    pub avatar_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserRecord {
    pub user_id: Uuid,
    /// `@{user_id}:{MATRIX_SERVER_NAME}`
    pub matrix_user_id: String,
    pub display_name: Option<String>,
    pub provisioned_at: DateTime<Utc>,
}

impl From<UserMapping> for UserRecord {
    fn from(m: UserMapping) -> Self {
        Self {
            user_id: m.user_id,
            matrix_user_id: m.matrix_user_id,
            display_name: m.display_name,
            provisioned_at: m.provisioned_at,
        }
    }
}

/// Provisions the user's Matrix account (idempotent).
#[utoipa::path(
    put,
    path = "/v1/users/{user}",
    params(("user" = uuid::Uuid, Path, description = "The platform user's UUID (their Matrix id is taken too)")),
    request_body(content = ProvisionUser, description = "Optional; an empty body is fine"),
    responses(
        (status = 200, body = UserRecord),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "A user of another homeserver (`remote_user`): never provisioned here"),
        (status = 502, body = ErrorBody, description = "The homeserver refused"),
        (status = 503, body = ErrorBody, description = "The homeserver or database is unavailable"),
    ),
    security(("api_token" = [])),
    tag = "users"
)]
pub async fn put_user(
    State(state): State<AppState>,
    Path(user): Path<String>,
    JsonBody(body): JsonBody<ProvisionUser>,
) -> Result<Json<UserRecord>, ApiError> {
    let user = provisionable_user(state.homeserver.ids(), &user)?;
    let profile = ProfileInput { display_name: body.display_name.as_deref(), avatar_url: body.avatar_url.as_deref() };
    let mapping = commands::put_user(&state.engine, user, profile).await?;
    Ok(Json(mapping.into()))
}

/// The user's Matrix mapping.
#[utoipa::path(
    get,
    path = "/v1/users/{user}",
    params(("user" = uuid::Uuid, Path, description = "The platform user's UUID (their Matrix id is taken too)")),
    responses(
        (status = 200, body = UserRecord),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("api_token" = [])),
    tag = "users"
)]
pub async fn get_user(State(state): State<AppState>, Path(user): Path<String>) -> Result<Json<UserRecord>, ApiError> {
    // A user of another homeserver has no mapping here: never provisioned.
    let user = match user_ref(state.homeserver.ids(), &user)? {
        UserRef::Platform(user) => user,
        UserRef::Remote(user) => {
            return Err(ApiError::NotFound(format!("{user} is a user of another homeserver, never provisioned here")));
        }
    };
    let mapping = state
        .engine
        .store
        .user_mapping(user)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {user} has not been provisioned")))?;
    Ok(Json(mapping.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCounts {
    pub user_id: Uuid,
    /// The sum over every room.
    pub total: u64,
    /// Every room the user has joined, the service's and others.
    pub rooms: Vec<UnreadRoomOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadRoomOut {
    pub room_id: String,
    /// `general`, `council`, `dm` or `space` for the service's rooms;
    /// `null` for a room someone else made.
    pub kind: Option<&'static str>,
    /// The community, council or (latest) request the room serves.
    pub scope_id: Option<Uuid>,
    /// Messages since the user's read receipt (the homeserver's
    /// notification count: by default every message notifies).
    pub unread: u64,
    /// Of those, the ones that mention the user.
    pub highlights: u64,
}

/// What the user has not read, per room, as the homeserver counts it (for
/// a badge on the platform's own "Messages" link, or a reminder e-mail).
#[utoipa::path(
    get,
    path = "/v1/users/{user}/unread",
    params(("user" = uuid::Uuid, Path, description = "The platform user's UUID (their Matrix id is taken too)")),
    responses(
        (status = 200, body = UnreadCounts),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "The user has not been provisioned"),
        (status = 422, body = ErrorBody, description = "A user of another homeserver (`remote_user`)"),
        (status = 503, body = ErrorBody, description = "The homeserver or database is unavailable"),
    ),
    security(("api_token" = [])),
    tag = "users"
)]
pub async fn get_unread(
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> Result<Json<UnreadCounts>, ApiError> {
    let user = provisionable_user(state.homeserver.ids(), &user)?;
    if state.engine.store.user_mapping(user).await?.is_none() {
        return Err(ApiError::NotFound(format!("user {user} has not been provisioned")));
    }
    let counts = state.homeserver.unread_counts(&state.homeserver.ids().user(user)).await?;
    let room_ids: Vec<String> = counts.iter().map(|c| c.room_id.to_string()).collect();
    let known = state.engine.store.known_rooms(&room_ids).await?;
    let mut rooms = Vec::with_capacity(counts.len());
    for count in counts {
        let record = known.iter().find(|r| r.room_id == count.room_id.as_str());
        let purpose = match record {
            Some(record) => Some(RoomPurpose::of(&state.engine, record).await?),
            None => None,
        };
        rooms.push(UnreadRoomOut {
            room_id: count.room_id.to_string(),
            kind: purpose.map(|p| p.kind),
            scope_id: purpose.and_then(|p| p.scope_id),
            unread: count.notifications,
            highlights: count.highlights,
        });
    }
    Ok(Json(UnreadCounts { user_id: user, total: rooms.iter().map(|r| r.unread).sum(), rooms }))
}
