use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, TimeZone, Utc};
use matrix_sync_store::{AuditEntry, AuditFilter};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{limit_param, platform_id};
use crate::state::AppState;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryOut {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `room_created`, `room_archived`, `room_restored`, `room_deleted`,
    /// `member_joined`, `member_removed`, `power_level_changed`, `drift_reverted`
    pub action: String,
    pub community_id: Option<Uuid>,
    pub council_id: Option<Uuid>,
    pub room_id: Option<String>,
    pub user_id: Option<String>,
    pub old_level: Option<i64>,
    pub new_level: Option<i64>,
    /// `trust`, `role`, `drift`, `lifecycle`, `config`
    pub cause: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryOut>,
}

impl From<AuditEntry> for AuditEntryOut {
    fn from(e: AuditEntry) -> Self {
        let e_ = e.entry;
        Self {
            id: e.id,
            at: Utc.timestamp_millis_opt(e_.at).single().unwrap_or_default(),
            action: e_.action,
            community_id: e_.community_id,
            council_id: e_.council_id,
            room_id: e_.room_id,
            user_id: e_.user_id,
            old_level: e_.old_level,
            new_level: e_.new_level,
            cause: e_.cause,
            detail: e_.detail,
        }
    }
}

/// Audit entries, newest first.
#[utoipa::path(
    get,
    path = "/v1/audit",
    params(
        ("community_id" = Option<uuid::Uuid>, Query, description = "Only this community's entries"),
        ("since" = Option<String>, Query, description = "Only entries at or after this RFC 3339 time"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "At most this many (default 100, at most 1000)"),
    ),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_token" = [])),
    tag = "audit"
)]
pub async fn get_audit(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<AuditPage>, ApiError> {
    let community_id = query.get("community_id").map(|c| platform_id(c)).transpose()?;
    let since = query
        .get("since")
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp_millis())
                .map_err(|_| ApiError::BadRequest(format!("since `{s}` is not an RFC 3339 time")))
        })
        .transpose()?;
    let limit = limit_param(query.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)?;
    let entries = state.engine.store.audit(AuditFilter { community_id, since, limit }).await?;
    Ok(Json(AuditPage { entries: entries.into_iter().map(Into::into).collect() }))
}
