//! Verifying the platform's identity-provider tokens (Keycloak or any OIDC
//! provider) for `/v1/sessions`: RS256 or ES256 only, signed by a key from
//! the issuer's JWKS (fetched, cached, refreshed when an unknown key id
//! appears, one fetch at a time and rate-limited with backoff), with the right issuer and audience, inside its validity window
//! give or take a small leeway. The user is the token's `sub`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::config::OidcConfig;

/// Clock difference tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 60;
/// An unknown key id refreshes the key set at most this often, so forged
/// tokens cannot make the service hammer the identity provider.
const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm is not accepted (RS256 or ES256 only)")]
    Algorithm,
    #[error("the token was not signed by a key of the identity provider")]
    UnknownKey,
    #[error("the token's signature is not valid")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    Issuer,
    #[error("the token is meant for another audience")]
    Audience,
    #[error("the token's subject is not a platform user id")]
    Subject,
    #[error("the identity provider's keys cannot be fetched: {0}")]
    Jwks(String),
}

impl TokenError {
    pub fn code(&self) -> crate::error_code::ErrorCode {
        use crate::error_code::ErrorCode;
        match self {
            TokenError::Malformed => ErrorCode::TokenMalformed,
            TokenError::Algorithm => ErrorCode::TokenAlgorithm,
            TokenError::UnknownKey => ErrorCode::TokenUnknownKey,
            TokenError::Signature => ErrorCode::TokenSignature,
            TokenError::Expired => ErrorCode::TokenExpired,
            TokenError::NotYetValid => ErrorCode::TokenNotYetValid,
            TokenError::Issuer => ErrorCode::TokenIssuer,
            TokenError::Audience => ErrorCode::TokenAudience,
            TokenError::Subject => ErrorCode::TokenSubject,
            TokenError::Jwks(_) => ErrorCode::IdentityProviderUnavailable,
        }
    }
}

/// The `alg` a token's header declares, if the header is readable JSON.
fn declared_algorithm(token: &str) -> Option<String> {
    use base64::Engine;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header.trim_end_matches('=')).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("alg")?.as_str().map(str::to_owned)
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    /// The person's full name (OpenID Connect's standard claim; Keycloak
    /// puts it in access tokens with its default `profile` scope).
    name: Option<String>,
    preferred_username: Option<String>,
}

/// Who a verified token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedUser {
    /// The platform user (`sub`).
    pub user: Uuid,
    /// Their name as the identity provider gives it (`name`, else
    /// `preferred_username`), if it does.
    pub name: Option<String>,
}

/// The provider's keys by key id, as last fetched.
type KeySet = HashMap<String, (Algorithm, DecodingKey)>;

/// When the key set may next be fetched: after a success at most every
/// [`REFRESH_AT_MOST_EVERY`], after failures ever more rarely (doubling, up
/// to [`REFRESH_BACKOFF_CAP`]), so that neither forged key ids nor a failing
/// provider make the service fetch in a loop.
#[derive(Debug, Default, Clone, Copy)]
struct RefreshState {
    last_attempt: Option<Instant>,
    /// Failed fetches since the last success.
    failures: u32,
}

/// The longest wait between fetches while the provider keeps failing.
const REFRESH_BACKOFF_CAP: Duration = Duration::from_secs(300);

impl RefreshState {
    fn wait(&self) -> Duration {
        let doublings = self.failures.saturating_sub(1).min(16);
        (REFRESH_AT_MOST_EVERY * 2u32.pow(doublings)).min(REFRESH_BACKOFF_CAP)
    }

    fn may_fetch(&self, now: Instant) -> bool {
        self.last_attempt.is_none_or(|at| now.duration_since(at) >= self.wait())
    }
}

pub struct TokenVerifier {
    config: OidcConfig,
    http: reqwest::Client,
    /// Read by every sign-in without waiting on a refresh in progress.
    keys: std::sync::RwLock<Arc<KeySet>>,
    /// Held by the one refresh at a time (others wait for its outcome).
    refresh: Mutex<RefreshState>,
}

impl TokenVerifier {
    pub fn new(config: OidcConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        Ok(Self {
            config,
            http,
            keys: std::sync::RwLock::new(Arc::default()),
            refresh: Mutex::new(RefreshState::default()),
        })
    }

    /// The platform user a valid token speaks for.
    pub async fn verify(&self, token: &str) -> Result<VerifiedUser, TokenError> {
        let header = decode_header(token).map_err(|_| {
            // An algorithm the JWT library does not even know (`none`) is
            // still an algorithm we refuse, and is reported as such.
            if declared_algorithm(token).is_some() { TokenError::Algorithm } else { TokenError::Malformed }
        })?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(TokenError::Algorithm);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let (alg, key) = self.key(&kid).await?;
        if alg != header.alg {
            return Err(TokenError::Algorithm);
        }
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = decode::<Claims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidIssuer => TokenError::Issuer,
                ErrorKind::InvalidAudience => TokenError::Audience,
                ErrorKind::InvalidSignature => TokenError::Signature,
                ErrorKind::InvalidAlgorithm => TokenError::Algorithm,
                _ => TokenError::Malformed,
            }
        })?;
        let user = Uuid::try_parse(&claims.claims.sub).map_err(|_| TokenError::Subject)?;
        let name = claims.claims.name.or(claims.claims.preferred_username);
        Ok(VerifiedUser { user, name })
    }

    fn cached(&self, kid: &str) -> Option<(Algorithm, DecodingKey)> {
        let keys = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        keys.get(kid).cloned()
    }

    /// The key with this id: from the cache, else from one refresh of the
    /// key set if one is due (a known key never waits on a refresh).
    async fn key(&self, kid: &str) -> Result<(Algorithm, DecodingKey), TokenError> {
        if let Some(found) = self.cached(kid) {
            return Ok(found);
        }
        let mut refresh = self.refresh.lock().await;
        // A refresh that finished while this one waited may have the key.
        if let Some(found) = self.cached(kid) {
            return Ok(found);
        }
        let now = Instant::now();
        if !refresh.may_fetch(now) {
            return Err(if refresh.failures > 0 {
                TokenError::Jwks(format!("the last fetch failed; the next is due within {:?}", refresh.wait()))
            } else {
                TokenError::UnknownKey
            });
        }
        refresh.last_attempt = Some(now);
        match self.fetch().await {
            Ok(fetched) => {
                refresh.failures = 0;
                tracing::info!(keys = fetched.len(), "fetched the identity provider's keys");
                let found = fetched.get(kid).cloned();
                *self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(fetched);
                found.ok_or(TokenError::UnknownKey)
            }
            Err(e) => {
                refresh.failures = refresh.failures.saturating_add(1);
                tracing::warn!(error = %e, failures = refresh.failures, retry_in_s = refresh.wait().as_secs(), "cannot fetch the identity provider's keys");
                Err(e)
            }
        }
    }

    async fn fetch(&self) -> Result<KeySet, TokenError> {
        let response = self
            .http
            .get(self.config.jwks_url.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| TokenError::Jwks(e.to_string()))?;
        let set: JwkSet = response.json().await.map_err(|e| TokenError::Jwks(e.to_string()))?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let alg = match &jwk.algorithm {
                    AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
                    _ => return None,
                };
                Some((kid, (alg, DecodingKey::from_jwk(jwk).ok()?)))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetches_back_off_while_the_provider_fails_and_not_after_a_success() {
        let at = |failures| RefreshState { last_attempt: None, failures }.wait();
        assert_eq!(at(0), REFRESH_AT_MOST_EVERY);
        assert_eq!(at(1), REFRESH_AT_MOST_EVERY);
        assert_eq!(at(2), REFRESH_AT_MOST_EVERY * 2);
        assert_eq!(at(4), REFRESH_AT_MOST_EVERY * 8);
        assert_eq!(at(30), REFRESH_BACKOFF_CAP);
        assert_eq!(at(u32::MAX), REFRESH_BACKOFF_CAP);
        let now = Instant::now();
        let state = RefreshState { last_attempt: Some(now), failures: 3 };
        assert!(!state.may_fetch(now + REFRESH_AT_MOST_EVERY * 3));
        assert!(state.may_fetch(now + REFRESH_AT_MOST_EVERY * 4));
        assert!(RefreshState::default().may_fetch(now), "the first fetch is never held back");
    }
}
