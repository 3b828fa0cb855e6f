use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use chrono::{DateTime, TimeZone, Utc};
use matrix_sync_store::{NewAuditEntry, SessionRecord};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, provisionable_user};
use crate::state::AppState;
use matrix_sync_engine::clock::now_millis;
use matrix_sync_engine::commands::{self, ProfileInput};
use matrix_sync_engine::provision::provision_user;

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatSession {
    pub matrix_user_id: String,
    pub access_token: String,
    pub device_id: String,
    pub homeserver_url: String,
    /// The user's key backup, to read earlier encrypted messages on this
    /// device and keep the keys it receives; absent when
    /// `MATRIX_SYNC_KEY_BACKUP=off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_backup: Option<KeyBackupAccess>,
}

#[derive(Serialize, ToSchema)]
pub struct KeyBackupAccess {
    /// The backup's version on the homeserver.
    pub version: String,
    /// The backup's Curve25519 private key, unpadded base64. For the
    /// signed-in user's own device only: never store it server-side.
    pub private_key: String,
}

impl std::fmt::Debug for KeyBackupAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyBackupAccess").field("version", &self.version).finish_non_exhaustive()
    }
}

/// `POST /v1/sessions` body, all optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// A device an earlier session of this user made (still theirs): the
    /// session is made on it again, so it keeps its keys and history.
    pub device_id: Option<String>,
    /// The user's name, used only while the platform has given none (then
    /// also the identity provider's `name` claim is): no member is shown by
    /// their id.
    pub display_name: Option<String>,
    /// The user's picture, an `mxc://` URI (already on the homeserver; the
    /// service never fetches a URL a browser names), used only while the
    /// platform has given none.
    pub avatar_url: Option<String>,
}

/// The longest device id taken (Synapse makes ten letters).
const MAX_DEVICE_ID_LEN: usize = 255;

fn valid_device_id(device_id: &str) -> Result<&str, ApiError> {
    let ok = !device_id.is_empty()
        && device_id.len() <= MAX_DEVICE_ID_LEN
        && device_id.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
    if ok {
        Ok(device_id)
    } else {
        Err(ApiError::BadRequest(format!(
            "device_id must be 1 to {MAX_DEVICE_ID_LEN} visible ASCII characters without '/'"
        )))
    }
}

/// Exchanges the identity provider's access token for a Matrix session of
/// the same user (provisioned if needed): on the device named in the body
/// when it is one of the user's session devices, else on a new device (the
/// least recently used goes beyond `MATRIX_SYNC_MAX_DEVICES`).
#[utoipa::path(
    post,
    path = "/v1/sessions",
    request_body(content = Option<SessionRequest>, description = "Optional: `{\"device_id\"}` of an earlier session on this browser"),
    responses(
        (status = 200, body = ChatSession),
        (status = 400, body = ErrorBody, description = "A malformed body (`invalid_json`) or device id (`bad_request`)"),
        (status = 401, body = ErrorBody, description = "No token, or one that is not valid (the code says why)"),
        (status = 404, body = ErrorBody, description = "`unknown_device`: the device is not one of this user's chat sessions (any more); or sessions are not configured (`not_found`)"),
        (status = 503, body = ErrorBody, description = "The identity provider or the homeserver is unavailable"),
    ),
    security(("identity_provider_token" = [])),
    tag = "sessions"
)]
pub async fn create_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SessionRequest>,
) -> Result<Json<ChatSession>, ApiError> {
    let verifier =
        state.verifier.as_ref().ok_or_else(|| ApiError::NotFound("chat sign-in is not configured".into()))?;
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(ApiError::Unauthorized)?;
    let device_id = body.device_id.as_deref().map(valid_device_id).transpose()?;
    let verified = verifier.verify(token).await.map_err(|e| match e {
        crate::oidc::TokenError::Jwks(_) => ApiError::IdentityProviderUnavailable(e.to_string()),
        other => ApiError::InvalidToken { code: other.code(), message: other.to_string() },
    })?;
    let user = verified.user;
    let matrix_user = state.homeserver.ids().user(user);
    // Checked before anything is made: an unknown device creates nothing.
    if let Some(device_id) = device_id {
        let unknown = || ApiError::UnknownDevice(format!("{device_id} is not one of this user's chat devices"));
        if !state.engine.store.touch_session(user, device_id, now_millis()).await? {
            return Err(unknown());
        }
        if !state.homeserver.device_exists(&matrix_user, device_id).await? {
            // Deleted on the homeserver (by the user's own client, or an
            // operator): logging in on its id would make a new device
            // under an old name, which other clients refuse.
            state.engine.store.forget_session(user, device_id).await?;
            return Err(unknown());
        }
    }
    let given = ProfileInput { display_name: body.display_name.as_deref(), avatar_url: body.avatar_url.as_deref() };
    let name = commands::profile_from_sign_in(&state.engine, user, given, verified.name.as_deref()).await?;
    let mapping = provision_user(&state.engine, user, name.as_deref()).await?;
    let session = state.homeserver.login(&matrix_user, device_id, "platform chat").await?;
    if device_id.is_none() {
        state.engine.store.record_session(user, &session.device_id, now_millis()).await?;
        end_least_recently_used(&state, user, &session.device_id).await?;
    }
    let key_backup = state
        .engine
        .key_backups
        .open_for(state.engine.store.as_ref(), &state.homeserver, user)
        .await?
        .map(|b| KeyBackupAccess { version: b.version, private_key: b.private_key.expose_secret().to_owned() });
    tracing::info!(user_id = %user, device_id = session.device_id, reused = device_id.is_some(), "chat session created");
    Ok(Json(ChatSession {
        matrix_user_id: mapping.matrix_user_id,
        access_token: session.access_token.expose_secret().to_owned(),
        device_id: session.device_id,
        homeserver_url: state.config.matrix.public_homeserver_url.as_str().trim_end_matches('/').to_owned(),
        key_backup,
    }))
}

/// Beyond `MATRIX_SYNC_MAX_DEVICES`, the least recently used chat devices
/// (never the one just made) are deleted and audited as `session_ended`.
/// A deletion the homeserver refuses now is left for the next sign-in.
async fn end_least_recently_used(state: &AppState, user: Uuid, keep: &str) -> Result<(), ApiError> {
    let max = state.config.chat.max_devices;
    let mut sessions = state.engine.store.sessions(user).await?;
    if sessions.len() <= max {
        return Ok(());
    }
    sessions.sort_by_key(|s| (s.last_used_at, s.created_at));
    let excess = sessions.len() - max;
    let matrix_user = state.homeserver.ids().user(user);
    for session in sessions.iter().filter(|s| s.device_id != keep).take(excess) {
        if let Err(e) = state.homeserver.delete_device(&matrix_user, &session.device_id).await {
            tracing::warn!(user_id = %user, device_id = session.device_id, error = %e, "cannot end a chat device yet");
            continue;
        }
        state.engine.store.forget_session(user, &session.device_id).await?;
        let detail = format!("device {}: the least recently used of more than {max} chat devices", session.device_id);
        audit_session_ended(state, &matrix_user, detail).await?;
    }
    Ok(())
}

async fn audit_session_ended(state: &AppState, matrix_user: &ruma::UserId, detail: String) -> Result<(), ApiError> {
    let entry = NewAuditEntry {
        at: now_millis(),
        action: "session_ended".into(),
        user_id: Some(matrix_user.to_string()),
        cause: Some("lifecycle".into()),
        detail: Some(detail),
        ..NewAuditEntry::default()
    };
    matrix_sync_engine::audit::record(state.engine.store.as_ref(), &[entry]).await?;
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub device_id: String,
    pub created_at: DateTime<Utc>,
    /// The last sign-in on this device.
    pub last_used_at: DateTime<Utc>,
}

fn millis_to_time(at: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(at).single().unwrap_or_default()
}

impl From<SessionRecord> for SessionInfo {
    fn from(s: SessionRecord) -> Self {
        Self {
            device_id: s.device_id,
            created_at: millis_to_time(s.created_at),
            last_used_at: millis_to_time(s.last_used_at),
        }
    }
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
    let sessions = state.engine.store.sessions(user).await?.into_iter().map(SessionInfo::from).collect();
    Ok(Json(SessionList { sessions }))
}

/// Ends every chat session of the user (their devices are deleted, so the
/// tokens stop working): for logging out of the platform. Their key backup
/// stays, so a later sign-in reads their history again.
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
    for session in state.engine.store.sessions(user).await? {
        state.homeserver.delete_device(&matrix_user, &session.device_id).await?;
        state.engine.store.forget_session(user, &session.device_id).await?;
        let detail = format!("device {}: the platform ended the user's chat sessions", session.device_id);
        audit_session_ended(&state, &matrix_user, detail).await?;
        ended.push(SessionInfo::from(session));
    }
    tracing::info!(user_id = %user, ended = ended.len(), "chat sessions ended");
    Ok(Json(SessionList { sessions: ended }))
}
