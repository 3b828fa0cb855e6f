use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// How long readiness waits for each dependency.
const READY_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`
    pub status: &'static str,
    /// `ok`; what is wrong when asked with the API token, else `unavailable`
    pub database: String,
    /// `ok`; what is wrong when asked with the API token, else `unavailable`
    pub homeserver: String,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)), tag = "operations")]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// How long a readiness check's outcome is reused: probes every second from
/// several orchestrators then cost the homeserver one request per interval.
const READY_CACHE: Duration = Duration::from_secs(3);

/// The last readiness check, shared by every caller; one check at a time.
#[derive(Default)]
pub struct ReadinessCache {
    last: tokio::sync::Mutex<Option<(Instant, Checked)>>,
}

#[derive(Clone)]
struct Checked {
    database: Result<(), String>,
    homeserver: Result<(), String>,
}

impl ReadinessCache {
    async fn check(&self, state: &AppState) -> Checked {
        // Held while checking: callers meanwhile wait for this check.
        let mut last = self.last.lock().await;
        if let Some((at, checked)) = last.as_ref()
            && at.elapsed() < READY_CACHE
        {
            return checked.clone();
        }
        let database = async {
            match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer in time".to_owned()),
            }
        };
        let homeserver = async {
            match tokio::time::timeout(READY_TIMEOUT, state.homeserver.whoami(None)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer in time".to_owned()),
            }
        };
        let (database, homeserver) = tokio::join!(database, homeserver);
        let checked = Checked { database, homeserver };
        *last = Some((Instant::now(), checked.clone()));
        checked
    }
}

/// Readiness: the database and the homeserver are reachable (and the
/// homeserver accepts the appservice token). Checked at most every few
/// seconds. What is wrong (which may name internal hosts) is told only to a
/// caller with the API token; others read `unavailable`.
#[utoipa::path(
    get,
    path = "/readyz",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)),
    tag = "operations"
)]
pub async fn readyz(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let checked = state.readiness.check(&state).await;
    let trusted = crate::auth::bearer(&headers)
        .is_some_and(|token| crate::auth::constant_time_eq(token, &state.config.api.api_token));
    let say = |outcome: &Result<(), String>| match outcome {
        Ok(()) => "ok".to_owned(),
        Err(detail) if trusted => detail.clone(),
        Err(_) => "unavailable".to_owned(),
    };
    let ready = checked.database.is_ok() && checked.homeserver.is_ok();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" },
        database: say(&checked.database),
        homeserver: say(&checked.homeserver),
    };
    (status, Json(body)).into_response()
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, body = String, content_type = "application/openmetrics-text")), tag = "operations")]
pub async fn metrics(State(state): State<AppState>) -> Response {
    match state.metrics.render(state.store.as_ref()).await {
        Ok(text) => ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
