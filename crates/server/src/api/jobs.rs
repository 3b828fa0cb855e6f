//! Jobs that used up their attempts, for an operator: which ones, why, and
//! a retry once the cause is mended. A dead job blocks nothing but its own
//! scope; new desired state for the scope revives it as well.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use matrix_sync_store::Job;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::extract::limit_param;
use crate::state::AppState;
use matrix_sync_engine::clock::now_millis;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct JobOut {
    pub id: i64,
    /// `community`, `council`, `request`, `direct` (a reconcile), `profile`
    /// (a user's name and picture) or `webhook` (a message notice)
    pub kind: &'static str,
    /// The platform id of what the job is for (a webhook notice's own id).
    pub resource_id: Uuid,
    /// `dead` (listed) or `pending` (after a retry)
    pub state: &'static str,
    pub attempts: i32,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadJobs {
    pub jobs: Vec<JobOut>,
}

impl From<Job> for JobOut {
    fn from(job: Job) -> Self {
        Self {
            id: job.id,
            kind: job.task.kind(),
            resource_id: job.task.id(),
            state: if job.dead { "dead" } else { "pending" },
            attempts: job.attempts,
            last_error: job.last_error,
        }
    }
}

/// The jobs that used up their attempts, oldest first. Each stays dead
/// (its error also in its resource's status, counted by
/// `matrix_sync_jobs_dead`) until it is retried or its resource changes.
#[utoipa::path(
    get,
    path = "/v1/jobs/dead",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "At most this many (default 100, at most 1000)")),
    responses((status = 200, body = DeadJobs), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_token" = [])),
    tag = "operations"
)]
pub async fn dead_jobs(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<DeadJobs>, ApiError> {
    let limit = limit_param(query.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)?;
    let jobs = state.engine.store.dead_jobs(limit).await?;
    Ok(Json(DeadJobs { jobs: jobs.into_iter().map(Into::into).collect() }))
}

/// Runs a dead job again, with its attempts counted afresh.
#[utoipa::path(
    post,
    path = "/v1/jobs/{job}/retry",
    params(("job" = i64, Path, minimum = 1, description = "The job's id, from `GET /v1/jobs/dead`")),
    responses(
        (status = 202, body = JobOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No dead job has this id"),
    ),
    security(("api_token" = [])),
    tag = "operations"
)]
pub async fn retry_job(
    State(state): State<AppState>,
    Path(job): Path<String>,
) -> Result<(StatusCode, Json<JobOut>), ApiError> {
    let id = job
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::BadRequest("a job id is a whole number above 0".into()))?;
    let job = state
        .engine
        .store
        .retry_dead_job(id, now_millis())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no dead job has id {id}")))?;
    state.engine.wakeup.notify_waiters();
    tracing::info!(target: "matrix_sync::audit", job = id, task = %job.task, "dead job retried by an operator");
    Ok((StatusCode::ACCEPTED, Json(job.into())))
}
