use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

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
    let checked = state.readiness.check(state.engine.store.as_ref(), &state.homeserver).await;
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
    match state.metrics.render(state.engine.store.as_ref()).await {
        Ok(text) => ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
