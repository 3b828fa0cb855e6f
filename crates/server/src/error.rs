//! The HTTP API's one error type. Every failure a client can see has a stable
//! machine-readable `code`; internal causes are logged, never returned.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use matrix_sync_engine::commands::CommandError;
use matrix_sync_engine::rules::Refusal;
use matrix_sync_matrix::HomeserverError;
use matrix_sync_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::error_code::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("`{0}` is not a UUID")]
    InvalidId(String),
    #[error("{0}")]
    InvalidUser(String),
    #[error("the request body is not valid JSON for this call: {0}")]
    InvalidJson(String),
    #[error("the request body is larger than this call accepts")]
    PayloadTooLarge,
    #[error("the request's headers are larger than {0} bytes in all")]
    HeadersTooLarge(usize),
    #[error("the request was not read and answered within {0:?}")]
    RequestTimeout(std::time::Duration),
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("{message}")]
    InvalidToken { code: ErrorCode, message: String },
    #[error("the identity provider is unavailable: {0}")]
    IdentityProviderUnavailable(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    UnknownDevice(String),
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    #[error("{message}")]
    Unprocessable { code: ErrorCode, message: String },
    #[error("{message}")]
    Gone { code: ErrorCode, message: String },
    #[error("the homeserver is unavailable; try again later")]
    HomeserverUnavailable(#[source] HomeserverError),
    #[error("the homeserver refused the request")]
    HomeserverRefused(#[source] HomeserverError),
    #[error("the database is unavailable; try again later")]
    DatabaseUnavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(String),
}

/// `{"error": {"code": "...", "message": "..."}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable.
    pub code: ErrorCode,
    /// For people; may change.
    pub message: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidId(_) | ApiError::InvalidUser(_) | ApiError::InvalidJson(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unauthorized | ApiError::InvalidToken { .. } => StatusCode::UNAUTHORIZED,
            ApiError::IdentityProviderUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotFound(_) | ApiError::UnknownDevice(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Gone { .. } => StatusCode::GONE,
            ApiError::HomeserverUnavailable(_) | ApiError::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::HomeserverRefused(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            // One stable code for every malformed identifier; the message
            // says what a user may be.
            ApiError::InvalidId(_) | ApiError::InvalidUser(_) => ErrorCode::InvalidId,
            ApiError::InvalidJson(_) => ErrorCode::InvalidJson,
            ApiError::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            ApiError::HeadersTooLarge(_) => ErrorCode::HeadersTooLarge,
            ApiError::RequestTimeout(_) => ErrorCode::RequestTimeout,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::InvalidToken { code, .. } => *code,
            ApiError::IdentityProviderUnavailable(_) => ErrorCode::IdentityProviderUnavailable,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::UnknownDevice(_) => ErrorCode::UnknownDevice,
            ApiError::Conflict { code, .. } | ApiError::Unprocessable { code, .. } | ApiError::Gone { code, .. } => {
                *code
            }
            ApiError::HomeserverUnavailable(_) => ErrorCode::HomeserverUnavailable,
            ApiError::HomeserverRefused(_) => ErrorCode::HomeserverRefused,
            ApiError::DatabaseUnavailable(_) => ErrorCode::DatabaseUnavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<HomeserverError> for ApiError {
    fn from(e: HomeserverError) -> Self {
        if e.is_transient() { ApiError::HomeserverUnavailable(e) } else { ApiError::HomeserverRefused(e) }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() { ApiError::DatabaseUnavailable(e) } else { ApiError::Internal(e.to_string()) }
    }
}

impl From<matrix_sync_engine::key_backup::KeyBackupError> for ApiError {
    fn from(e: matrix_sync_engine::key_backup::KeyBackupError) -> Self {
        use matrix_sync_engine::key_backup::KeyBackupError;
        match e {
            KeyBackupError::Homeserver(e) => e.into(),
            KeyBackupError::Store(e) => e.into(),
            other => ApiError::Internal(format!("key backup: {other}")),
        }
    }
}

impl From<matrix_sync_engine::provision::ProvisionError> for ApiError {
    fn from(e: matrix_sync_engine::provision::ProvisionError) -> Self {
        use matrix_sync_engine::provision::ProvisionError;
        match e {
            ProvisionError::Homeserver(e) => e.into(),
            ProvisionError::Store(e) => e.into(),
        }
    }
}

/// The stable code of a rule's refusal.
pub fn refusal_code(refusal: &Refusal) -> ErrorCode {
    match refusal {
        Refusal::InvalidName
        | Refusal::InvalidTitle
        | Refusal::InvalidDisplayName
        | Refusal::InvalidAvatarUrl
        | Refusal::SignInAvatarNotMxc => ErrorCode::BadRequest,
        Refusal::SameUser(_) => ErrorCode::SameUser,
        Refusal::RemoteProfile(_) => ErrorCode::RemoteUser,
        Refusal::RequestConflict(_) => ErrorCode::RequestConflict,
        Refusal::NotDeleted { .. } => ErrorCode::NotDeleted,
        Refusal::Purging { .. } => ErrorCode::Purging,
        Refusal::Purged { .. } => ErrorCode::AlreadyDeleted,
        Refusal::NegativeTrustScore(_) => ErrorCode::NegativeTrustScore,
        Refusal::UnencryptedCouncils => ErrorCode::EncryptionRequired,
        Refusal::EncryptionCannotBeDisabled => ErrorCode::EncryptionCannotBeDisabled,
        Refusal::InvalidTrustLevels(_) => ErrorCode::InvalidTrustLevels,
        Refusal::Archived { .. } => ErrorCode::Archived,
        Refusal::AlreadyDeleted { .. } => ErrorCode::AlreadyDeleted,
        Refusal::CouncilInAnotherCommunity { .. } => ErrorCode::CouncilInAnotherCommunity,
        Refusal::UnknownCommunity(_) => ErrorCode::UnknownCommunity,
        Refusal::NotACommunityMember { .. } => ErrorCode::NotACommunityMember,
        Refusal::PowerLevelsFull { .. } => ErrorCode::PowerLevelsFull,
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        let code = refusal_code(&refusal);
        let message = refusal.to_string();
        match refusal {
            Refusal::InvalidName
            | Refusal::InvalidTitle
            | Refusal::InvalidDisplayName
            | Refusal::InvalidAvatarUrl
            | Refusal::SignInAvatarNotMxc => ApiError::BadRequest(message),
            Refusal::NegativeTrustScore(_)
            | Refusal::SameUser(_)
            | Refusal::RemoteProfile(_)
            | Refusal::UnencryptedCouncils
            | Refusal::InvalidTrustLevels(_)
            | Refusal::UnknownCommunity(_)
            | Refusal::NotACommunityMember { .. }
            | Refusal::PowerLevelsFull { .. } => ApiError::Unprocessable { code, message },
            Refusal::EncryptionCannotBeDisabled
            | Refusal::Archived { .. }
            | Refusal::CouncilInAnotherCommunity { .. }
            | Refusal::RequestConflict(_)
            | Refusal::NotDeleted { .. }
            | Refusal::Purging { .. } => ApiError::Conflict { code, message },
            Refusal::AlreadyDeleted { .. } | Refusal::Purged { .. } => ApiError::Gone { code, message },
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Refused(refusal) => refusal.into(),
            CommandError::NotFound(what) => ApiError::NotFound(what),
            CommandError::Store(e) => e.into(),
            CommandError::Homeserver(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            let cause = std::error::Error::source(&self).map(ToString::to_string);
            match &self {
                ApiError::Internal(detail) => {
                    tracing::error!(code = self.code().as_str(), detail, "request failed")
                }
                _ => tracing::warn!(code = self.code().as_str(), cause, "request failed"),
            }
        }
        let body = ErrorBody { error: ErrorDetail { code: self.code(), message: self.to_string() } };
        (status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn refusals_answer_with_their_own_status_and_code() {
        let id = Uuid::nil();
        let gone: ApiError = Refusal::AlreadyDeleted { kind: "council", id }.into();
        assert!(matches!(gone, ApiError::Gone { code: ErrorCode::AlreadyDeleted, .. }));
        let archived: ApiError = Refusal::Archived { kind: "community", id }.into();
        assert!(matches!(archived, ApiError::Conflict { code: ErrorCode::Archived, .. }));
        let full: ApiError = Refusal::PowerLevelsFull { capacity: 1, total: 2 }.into();
        assert!(matches!(full, ApiError::Unprocessable { code: ErrorCode::PowerLevelsFull, .. }));
        let remote: ApiError = Refusal::RemoteProfile("@a:elsewhere.example".into()).into();
        assert!(matches!(remote, ApiError::Unprocessable { code: ErrorCode::RemoteUser, .. }));
        for bad in [Refusal::InvalidAvatarUrl, Refusal::SignInAvatarNotMxc] {
            assert_eq!(ApiError::from(bad).code(), ErrorCode::BadRequest);
        }
        let unknown: ApiError = CommandError::NotFound("community x is not known".into()).into();
        assert_eq!(unknown.code(), ErrorCode::NotFound);
    }
}
