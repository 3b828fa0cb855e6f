//! Request extractors that turn bad input into the API's JSON errors (axum's
//! own rejections answer in plain text).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;

/// The largest JSON body any `/v1` call accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A platform id from a path: a hyphenated UUID (any case), anything else 400.
pub fn platform_id(raw: &str) -> Result<Uuid, ApiError> {
    if raw.len() != 36 {
        return Err(ApiError::InvalidId(truncate(raw)));
    }
    Uuid::try_parse(raw).map_err(|_| ApiError::InvalidId(truncate(raw)))
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
