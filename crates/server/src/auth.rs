//! Bearer-token checks: the platform's backend on `/v1/*`, the homeserver on
//! the appservice API. Tokens are compared in constant time.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

pub fn constant_time_eq(given: &str, expected: &SecretString) -> bool {
    given.as_bytes().ct_eq(expected.expose_secret().as_bytes()).into()
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `/v1/*`: `Authorization: Bearer $MATRIX_SYNC_API_TOKEN`, else 401.
pub async fn require_api_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match bearer(req.headers()) {
        Some(token) if constant_time_eq(token, &state.config.api.api_token) => next.run(req).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}

/// The appservice API: the homeserver presents the `hs_token`, as a bearer
/// token (current spec) or an `access_token` query parameter (older servers).
/// Missing: 401 `M_UNAUTHORIZED`; wrong: 403 `M_FORBIDDEN`.
pub async fn require_hs_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let from_query = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "access_token").map(|(_, v)| v.into_owned())
    });
    let given = bearer(req.headers()).map(str::to_owned).or(from_query);
    match given {
        None => matrix_error(StatusCode::UNAUTHORIZED, "M_UNAUTHORIZED", "missing hs_token"),
        Some(token) if constant_time_eq(&token, &state.config.matrix.hs_token) => next.run(req).await,
        Some(_) => matrix_error(StatusCode::FORBIDDEN, "M_FORBIDDEN", "wrong hs_token"),
    }
}

/// An error in the Matrix specification's shape, for the appservice API.
pub fn matrix_error(status: StatusCode, errcode: &str, error: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "errcode": errcode, "error": error }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_tokens() {
        let secret = SecretString::from("s3cret");
        assert!(constant_time_eq("s3cret", &secret));
        assert!(!constant_time_eq("s3cre", &secret));
        assert!(!constant_time_eq("s3cret!", &secret));
        assert!(!constant_time_eq("", &secret));
    }

    #[test]
    fn reads_bearer_tokens_case_insensitively() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
