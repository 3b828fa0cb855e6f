use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use chrono::{DateTime, TimeZone, Utc};
use secrecy::ExposeSecret;
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::now_millis;
use crate::error::{ApiError, ErrorBody};
use crate::extract::provisionable_user;
use crate::provision::provision_user;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatSession {
    pub matrix_user_id: String,
    pub access_token: String,
    pub device_id: String,
    pub homeserver_url: String,
}

/// Exchanges the identity provider's access token for a Matrix session of
/// the same user (provisioned if needed), on a new device of its own.
#[utoipa::path(
    post,
    path = "/v1/sessions",
    responses(
        (status = 200, body = ChatSession),
        (status = 401, body = ErrorBody, description = "No token, or one that is not valid (the code says why)"),
        (status = 404, body = ErrorBody, description = "Sessions are not configured (no MATRIX_SYNC_OIDC_* settings)"),
        (status = 503, body = ErrorBody, description = "The identity provider or the homeserver is unavailable"),
    ),
    security(("identity_provider_token" = [])),
    tag = "sessions"
)]
pub async fn create_session(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<ChatSession>, ApiError> {
    let verifier =
        state.verifier.as_ref().ok_or_else(|| ApiError::NotFound("chat sign-in is not configured".into()))?;
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(ApiError::Unauthorized)?;
    let user = verifier.verify(token).await.map_err(|e| match e {
        crate::oidc::TokenError::Jwks(_) => ApiError::IdentityProviderUnavailable(e.to_string()),
        other => ApiError::InvalidToken { code: other.code(), message: other.to_string() },
    })?;
    let mapping = provision_user(&state, user, None).await?;
    let matrix_user = state.homeserver.ids().user(user);
    let session = state.homeserver.login(&matrix_user, None, "platform chat").await?;
    state.store.record_session(user, &session.device_id, now_millis()).await?;
    tracing::info!(user_id = %user, device_id = session.device_id, "chat session created");
    Ok(Json(ChatSession {
        matrix_user_id: mapping.matrix_user_id,
        access_token: session.access_token.expose_secret().to_owned(),
        device_id: session.device_id,
        homeserver_url: state.config.matrix.public_homeserver_url.as_str().trim_end_matches('/').to_owned(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub device_id: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
}

/// The chat sessions created for the user through `/v1/sessions`.
#[utoipa::path(
    get,
    path = "/v1/users/{user}/sessions",
    params(("user" = uuid::Uuid, Path, description = "The platform user's UUID (their Matrix id is taken too)")),
    responses((status = 200, body = SessionList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody, description = "A user of another homeserver (`remote_user`)")),
    security(("api_token" = [])),
    tag = "sessions"
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> Result<Json<SessionList>, ApiError> {
    let user = provisionable_user(state.homeserver.ids(), &user)?;
    let sessions = state
        .store
        .sessions(user)
        .await?
        .into_iter()
        .map(|(device_id, at)| SessionInfo {
            device_id,
            created_at: Utc.timestamp_millis_opt(at).single().unwrap_or_default(),
        })
        .collect();
    Ok(Json(SessionList { sessions }))
}

/// Ends every chat session of the user (their devices are deleted, so the
/// tokens stop working): for logging out of the platform.
#[utoipa::path(
    delete,
    path = "/v1/users/{user}/sessions",
    params(("user" = uuid::Uuid, Path, description = "The platform user's UUID (their Matrix id is taken too)")),
    responses((status = 200, body = SessionList, description = "The sessions that were ended"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody, description = "A user of another homeserver (`remote_user`)")),
    security(("api_token" = [])),
    tag = "sessions"
)]
pub async fn revoke_sessions(
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> Result<Json<SessionList>, ApiError> {
    let user = provisionable_user(state.homeserver.ids(), &user)?;
    let matrix_user = state.homeserver.ids().user(user);
    let mut ended = Vec::new();
    for (device_id, at) in state.store.sessions(user).await? {
        state.homeserver.delete_device(&matrix_user, &device_id).await?;
        state.store.forget_session(user, &device_id).await?;
        ended.push(SessionInfo { device_id, created_at: Utc.timestamp_millis_opt(at).single().unwrap_or_default() });
    }
    tracing::info!(user_id = %user, ended = ended.len(), "chat sessions ended");
    Ok(Json(SessionList { sessions: ended }))
}
