use reqwest::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum HomeserverError {
    /// No answer: connection refused or reset, DNS, TLS.
    #[error("the homeserver could not be reached ({endpoint}): {source}")]
    Unreachable {
        endpoint: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// No answer within the request timeout.
    #[error("the homeserver did not answer in time ({endpoint})")]
    Timeout { endpoint: &'static str },
    /// Still rate-limited after the allowed number of waits.
    #[error("the homeserver kept rate-limiting ({endpoint}); retry after {retry_after_ms} ms")]
    RateLimited { endpoint: &'static str, retry_after_ms: u64 },
    /// The homeserver answered with a Matrix error.
    #[error("the homeserver refused ({endpoint}): {status} {errcode}: {message}")]
    Refused { endpoint: &'static str, status: StatusCode, errcode: String, message: String },
    /// The answer was not what the Matrix specification says.
    #[error("unexpected answer from the homeserver ({endpoint}): {detail}")]
    Protocol { endpoint: &'static str, detail: String },
}

impl HomeserverError {
    /// Whether trying again later may succeed (the homeserver is down, slow,
    /// overloaded or rate-limiting), as opposed to a refusal that will repeat.
    pub fn is_transient(&self) -> bool {
        match self {
            HomeserverError::Unreachable { .. }
            | HomeserverError::Timeout { .. }
            | HomeserverError::RateLimited { .. } => true,
            HomeserverError::Refused { status, .. } => status.is_server_error(),
            HomeserverError::Protocol { .. } => false,
        }
    }

    /// The Matrix error code, if the homeserver gave one.
    pub fn errcode(&self) -> Option<&str> {
        match self {
            HomeserverError::Refused { errcode, .. } => Some(errcode),
            _ => None,
        }
    }

    /// A short label for metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            HomeserverError::Unreachable { .. } => "unreachable",
            HomeserverError::Timeout { .. } => "timeout",
            HomeserverError::RateLimited { .. } => "rate_limited",
            HomeserverError::Refused { status, .. } if status.is_server_error() => "server_error",
            HomeserverError::Refused { .. } => "refused",
            HomeserverError::Protocol { .. } => "protocol_error",
        }
    }
}
