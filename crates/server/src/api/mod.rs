//! The HTTP surface: `/v1/*` for the platform's backend, operations
//! endpoints, the OpenAPI document, and the appservice API.

pub mod audit;
pub mod communities;
pub mod councils;
pub mod health;
pub mod jobs;
pub mod requests;
pub mod sessions;
pub mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::require_api_token;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{MAX_BODY_BYTES, limit_headers};
use crate::metrics::track_http;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "matrix-sync", description = "Matrix chat for a community platform: the service's HTTP API."),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody, crate::error_code::ErrorCode))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme("api_token", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
            components.add_security_scheme(
                "identity_provider_token",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// The `/v1` routes (not yet behind the token check) and the operations
/// routes, with the OpenAPI document generated from their handlers.
fn documented_routes() -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (v1, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(users::put_user, users::get_user))
        .routes(routes!(users::get_unread))
        .routes(routes!(communities::put_community, communities::get_community, communities::delete_community))
        .routes(routes!(communities::restore_community))
        .routes(routes!(communities::put_member, communities::delete_member))
        .routes(routes!(councils::put_council, councils::get_council, councils::delete_council))
        .routes(routes!(councils::restore_council))
        .routes(routes!(councils::put_council_member, councils::delete_council_member))
        .routes(routes!(requests::accept_request))
        .routes(routes!(requests::get_request))
        .routes(routes!(requests::create_direct))
        .routes(routes!(audit::get_audit))
        .routes(routes!(jobs::dead_jobs))
        .routes(routes!(jobs::retry_job))
        .routes(routes!(sessions::list_sessions, sessions::revoke_sessions))
        .split_for_parts();
    let (ops, ops_doc) = OpenApiRouter::new()
        .routes(routes!(sessions::create_session))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .split_for_parts();
    doc.merge(ops_doc);
    (v1, ops, doc)
}

/// The OpenAPI document of the HTTP API.
pub fn openapi_json() -> String {
    documented_routes().2.to_pretty_json().unwrap_or_default()
}

/// A request (its body included, however slowly it is sent) is read and
/// answered within the request timeout, or answered `408 request_timeout`.
async fn limit_request_time(
    axum::extract::State(limit): axum::extract::State<std::time::Duration>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout(limit).into_response(),
    }
}

pub fn router(state: AppState) -> Router {
    let (v1, ops, doc) = documented_routes();
    let v1 = v1.layer(from_fn_with_state(state.clone(), require_api_token));
    let doc = Arc::new(doc.to_pretty_json().unwrap_or_default());
    let openapi = get(move || {
        let doc = doc.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], doc.as_str().to_owned()) }
    });
    let mut router = Router::new();
    if let Some(dir) = &state.config.api.demo_dir {
        // The demo page and the chat embed's bundle (its `.wasm` is served
        // as `application/wasm`, which the browser requires).
        router = router.nest_service("/demo", ServeDir::new(dir).append_index_html_on_directories(true));
    }
    router
        .merge(v1)
        .merge(ops)
        .route("/openapi.json", openapi)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .nest("/_matrix/app/v1", crate::appservice::router(state.clone()))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                axum::Json(ErrorBody {
                    error: crate::error::ErrorDetail {
                        code: crate::error::ErrorCode::MethodNotAllowed,
                        message: "method not allowed here".into(),
                    },
                }),
            )
                .into_response()
        })
        .layer(axum::middleware::from_fn(limit_headers))
        .layer(from_fn_with_state(state.config.api.http.request_timeout, limit_request_time))
        .layer(from_fn_with_state(state.metrics.clone(), track_http))
        .layer(
            // Spans name the method and path only: a query string may carry
            // a token (older homeservers send `access_token=`).
            TraceLayer::new_for_http().make_span_with(
                |req: &Request| tracing::info_span!("http", method = %req.method(), path = %req.uri().path()),
            ),
        )
        .with_state(state)
}
