//! Request extractors that turn bad input into the API's JSON errors (axum's
//! own rejections answer in plain text).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use matrix_sync_core::{IdError, MatrixIds, UserRef};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;

/// The largest JSON body any `/v1` call accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The most header bytes (names and values) any request may carry: far
/// above what a client or the homeserver sends (a bearer token, a JWT).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Refuses requests whose headers add up to more than `MAX_HEADER_BYTES`
/// (the HTTP server itself refuses far larger ones before they are read).
pub async fn limit_headers(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let size: usize = req.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if size > MAX_HEADER_BYTES {
        return axum::response::IntoResponse::into_response(ApiError::HeadersTooLarge(MAX_HEADER_BYTES));
    }
    next.run(req).await
}

/// A platform id from a path: a hyphenated UUID (any case), anything else 400.
pub fn platform_id(raw: &str) -> Result<Uuid, ApiError> {
    if raw.len() != 36 {
        return Err(ApiError::InvalidId(truncate(raw)));
    }
    Uuid::try_parse(raw).map_err(|_| ApiError::InvalidId(truncate(raw)))
}

/// A user, wherever the API takes one: a platform user's UUID, or a full
/// Matrix id (of a platform user, or of a user on another homeserver).
/// Anything else is a 400, a Matrix id on this server that is not a
/// platform user's too (the service manages no one else here).
pub fn user_ref(ids: &MatrixIds, raw: &str) -> Result<UserRef, ApiError> {
    ids.parse_user(raw).map_err(|e: IdError| ApiError::InvalidUser(e.to_string()))
}

/// A user the service provisions or signs in: a platform user only; a user
/// of another homeserver is a 422 (invited to rooms, never provisioned).
pub fn provisionable_user(ids: &MatrixIds, raw: &str) -> Result<Uuid, ApiError> {
    match user_ref(ids, raw)? {
        UserRef::Platform(id) => Ok(id),
        UserRef::Remote(user) => Err(ApiError::Unprocessable {
            code: crate::error::ErrorCode::RemoteUser,
            message: format!(
                "{user} is a user of another homeserver: such users are invited to rooms, never provisioned or signed in here"
            ),
        }),
    }
}

/// `?limit=N`: `default` when absent, else a whole number from 1 to `max`.
pub fn limit_param(raw: Option<&String>, default: i64, max: i64) -> Result<i64, ApiError> {
    match raw {
        None => Ok(default),
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::BadRequest(format!("limit must be from 1 to {max}"))),
        },
    }
}

fn truncate(raw: &str) -> String {
    raw.chars().take(64).collect()
}

/// A JSON body; an empty body reads as `T::default()` so that calls whose
/// fields are all optional can be sent without one.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(rejection.body_text())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        serde_json::from_slice(&bytes).map(Self).map_err(|e| ApiError::InvalidJson(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyphenated_uuids_are_ids() {
        let id = "550e8400-e29b-41d4-a716-446655440000";
        assert_eq!(platform_id(id).unwrap().to_string(), id);
        assert_eq!(platform_id(&id.to_uppercase()).unwrap().to_string(), id);
        for bad in [
            "",
            "nope",
            "550e8400e29b41d4a716446655440000",
            "{550e8400-e29b-41d4-a716-446655440000}",
            "550e8400-e29b-41d4-a716-44665544000g",
        ] {
            assert!(matches!(platform_id(bad), Err(ApiError::InvalidId(_))), "{bad}");
        }
    }
}
