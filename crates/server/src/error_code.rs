//! Every error code a client of the HTTP API can see, in one closed list:
//! the `code` of `{"error": {"code", "message"}}`. Each is stable (clients
//! branch on it), listed in the OpenAPI document as an enum, and documented
//! in the README's table of codes; tests keep all three in agreement.

use std::borrow::Cow;

/// Declares the codes once: the enum, its wire names and the full list.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident => $code:literal,)+) => {
        /// A stable, machine-readable error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl ErrorCode {
            /// Every code, in the order declared.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code as it is sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }
        }
    };
}

error_codes! {
    /// The request is malformed in a way no other code names (e.g. a name
    /// out of bounds, an unknown query parameter value).
    BadRequest => "bad_request",
    /// An identifier is not a UUID, or a user is neither a platform UUID nor
    /// a Matrix user id.
    InvalidId => "invalid_id",
    /// The body is not valid JSON for this call.
    InvalidJson => "invalid_json",
    /// The body is larger than the call accepts (64 KiB).
    PayloadTooLarge => "payload_too_large",
    /// The request's headers are too large.
    HeadersTooLarge => "headers_too_large",
    /// The request was not read and answered within the request timeout.
    RequestTimeout => "request_timeout",
    /// Missing or wrong bearer token.
    Unauthorized => "unauthorized",
    /// The identity provider's token is not a well-formed JWT.
    TokenMalformed => "token_malformed",
    /// The token's algorithm is not RS256 or ES256.
    TokenAlgorithm => "token_algorithm",
    /// The token was not signed by a key the identity provider publishes.
    TokenUnknownKey => "token_unknown_key",
    /// The token's signature is not valid.
    TokenSignature => "token_signature",
    /// The token has expired.
    TokenExpired => "token_expired",
    /// The token is not valid yet.
    TokenNotYetValid => "token_not_yet_valid",
    /// The token was issued by another issuer.
    TokenIssuer => "token_issuer",
    /// The token is meant for another audience.
    TokenAudience => "token_audience",
    /// The token's subject is not a platform user id.
    TokenSubject => "token_subject",
    /// The identity provider's keys cannot be fetched now.
    IdentityProviderUnavailable => "identity_provider_unavailable",
    /// No such resource.
    NotFound => "not_found",
    /// The device named is not one of the user's chat devices.
    UnknownDevice => "unknown_device",
    /// The method is not allowed on this path.
    MethodNotAllowed => "method_not_allowed",
    /// A user of another homeserver where only this server's users are taken.
    RemoteUser => "remote_user",
    /// A direct chat or request needs two different users.
    SameUser => "same_user",
    /// The request was accepted before with other parties.
    RequestConflict => "request_conflict",
    /// The council's community is not known.
    UnknownCommunity => "unknown_community",
    /// A council member must be a member of the council's community.
    NotACommunityMember => "not_a_community_member",
    /// The change would put more users in a room's power levels than one
    /// event holds.
    PowerLevelsFull => "power_levels_full",
    /// A trust score below zero.
    NegativeTrustScore => "negative_trust_score",
    /// Council rooms are always encrypted.
    EncryptionRequired => "encryption_required",
    /// Encryption of a room cannot be turned off once on.
    EncryptionCannotBeDisabled => "encryption_cannot_be_disabled",
    /// The trust levels are not a valid table.
    InvalidTrustLevels => "invalid_trust_levels",
    /// The community or council is archived: restore it first.
    Archived => "archived",
    /// The community or council was deleted for good.
    AlreadyDeleted => "already_deleted",
    /// The retention has ended and the hard delete has begun.
    Purging => "purging",
    /// A restore of something that is not deleted.
    NotDeleted => "not_deleted",
    /// The council belongs to another community.
    CouncilInAnotherCommunity => "council_in_another_community",
    /// The homeserver cannot be reached now; try again later.
    HomeserverUnavailable => "homeserver_unavailable",
    /// The homeserver refused the request.
    HomeserverRefused => "homeserver_refused",
    /// The database cannot be reached now; try again later.
    DatabaseUnavailable => "database_unavailable",
    /// An internal error (logged with its cause).
    Internal => "internal",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("A stable, machine-readable error code."))
            .enum_values(Some(Self::ALL.iter().map(|code| code.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s} is not snake_case");
        }
    }

    /// The README's table of codes lists every code, and nothing else.
    #[test]
    fn every_code_is_documented_in_the_readme() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap_or_default();
        let start = readme.find("<!-- error codes -->").unwrap_or(0);
        let end = readme.find("<!-- /error codes -->").unwrap_or(0);
        assert!(start > 0 && end > start, "the README has a table of error codes between its markers");
        let table = &readme[start..end];
        let documented: std::collections::BTreeSet<&str> =
            table.lines().filter_map(|line| line.strip_prefix("| `")?.split('`').next()).collect();
        let codes: std::collections::BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(documented, codes, "the README's table and ErrorCode differ");
    }

    /// Every code is answered somewhere: each variant is named in the
    /// service's source outside this file.
    #[test]
    fn every_code_is_used() {
        fn sources(dir: &std::path::Path, out: &mut String) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("error_code.rs") {
                    out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
                }
            }
        }
        let mut code = String::new();
        sources(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")), &mut code);
        for variant in ErrorCode::ALL {
            let named = format!("ErrorCode::{variant:?}");
            let bounded = code
                .match_indices(&named)
                .any(|(i, _)| !code[i + named.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'));
            assert!(bounded, "{named} is never used");
        }
    }
}
