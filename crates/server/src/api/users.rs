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
use matrix_sync_engine::commands;
use matrix_sync_store::UserMapping;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProvisionUser {
    /// Shown to other Matrix users; left as it is when absent.
    pub display_name: Option<String>,
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
    let mapping = commands::put_user(&state.engine, user, body.display_name.as_deref()).await?;
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
