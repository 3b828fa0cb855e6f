//! A local test identity provider: fixed RSA and EC keys (`keys/`, for tests
//! and the demo only), a JWKS endpoint on loopback whose published keys a
//! test can change (key rotation), and tokens minted for test users.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use uuid::Uuid;

/// `(kid, algorithm, private key PEM, public JWK)`
const KEYS: [(&str, Algorithm, &str, &str); 3] = [
    ("rsa-1", Algorithm::RS256, include_str!("../keys/rsa-1.pem"), include_str!("../keys/rsa-1.jwk.json")),
    ("rsa-2", Algorithm::RS256, include_str!("../keys/rsa-2.pem"), include_str!("../keys/rsa-2.jwk.json")),
    ("ec-1", Algorithm::ES256, include_str!("../keys/ec-1.pem"), include_str!("../keys/ec-1.jwk.json")),
];

pub const AUDIENCE: &str = "platform";

pub struct TestIdentityProvider {
    pub issuer: String,
    pub jwks_url: String,
    published: Arc<Mutex<Vec<&'static str>>>,
    /// While set, the JWKS endpoint answers 500.
    failing: Arc<std::sync::atomic::AtomicBool>,
    /// How often the JWKS endpoint was asked (answered or not).
    fetches: Arc<std::sync::atomic::AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

pub fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

impl TestIdentityProvider {
    /// Serves the JWKS with `rsa-1` and `ec-1` published, on a free port.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await
    }

    /// The same on a given address; `GET /token?sub=<uuid>` also mints a
    /// token there (the demo's stand-in for a login page).
    pub async fn start_on(addr: &str) -> Self {
        use std::sync::atomic::Ordering;
        let published = Arc::new(Mutex::new(vec!["rsa-1", "ec-1"]));
        let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (keys, fail, count) = (published.clone(), failing.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/realms/platform/protocol/openid-connect/certs",
            get(move || {
                let keys = keys.lock().unwrap().clone();
                count.fetch_add(1, Ordering::SeqCst);
                let failing = fail.load(Ordering::SeqCst);
                async move {
                    if failing {
                        return Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
                    }
                    let jwks: Vec<Value> = KEYS
                        .iter()
                        .filter(|(kid, ..)| keys.contains(kid))
                        .map(|(_, _, _, jwk)| serde_json::from_str(jwk).unwrap())
                        .collect();
                    Ok(Json(json!({ "keys": jwks })))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = format!("{base}/realms/platform");
        let minting_issuer = issuer.clone();
        let app = app.route(
            "/token",
            get(move |axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>| {
                let issuer = minting_issuer.clone();
                async move {
                    let Some(user) = q.get("sub").and_then(|s| Uuid::try_parse(s).ok()) else {
                        return Err(axum::http::StatusCode::BAD_REQUEST);
                    };
                    // Long-lived, so a demo page can be opened later on.
                    let mut claims = claims(&issuer, user);
                    claims["exp"] = json!(now_secs() + 12 * 3600);
                    Ok(sign("rsa-1", &claims))
                }
            }),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            issuer,
            jwks_url: format!("{base}/realms/platform/protocol/openid-connect/certs"),
            published,
            failing,
            fetches,
            server,
        }
    }

    /// The service's settings for this provider.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MATRIX_SYNC_OIDC_ISSUER", self.issuer.clone()),
            ("MATRIX_SYNC_OIDC_AUDIENCE", AUDIENCE.to_owned()),
            ("MATRIX_SYNC_OIDC_JWKS_URL", self.jwks_url.clone()),
        ]
    }

    /// Rotates keys: from now on the JWKS lists exactly these key ids.
    pub fn publish(&self, kids: &[&'static str]) {
        *self.published.lock().unwrap() = kids.to_vec();
    }

    /// From now on the JWKS endpoint answers 500 (`true`) or its keys again.
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, std::sync::atomic::Ordering::SeqCst);
    }

    /// How often the JWKS was asked for so far.
    pub fn jwks_fetches(&self) -> usize {
        self.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A token signed with key `kid` whose header names `header_kid`
    /// instead (a key id the provider never published).
    pub fn sign_naming(&self, kid: &str, header_kid: &str, claims: &Value) -> String {
        sign_as(kid, header_kid, claims)
    }

    /// Standard claims for a user, valid for five minutes.
    pub fn claims(&self, user: Uuid) -> Value {
        claims(&self.issuer, user)
    }

    /// A token signed with key `kid` carrying `claims`.
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        sign(kid, claims)
    }

    /// A valid token for a user.
    pub fn token_for(&self, user: Uuid) -> String {
        self.sign("rsa-1", &self.claims(user))
    }
}

fn claims(issuer: &str, user: Uuid) -> Value {
    let now = now_secs();
    json!({ "iss": issuer, "aud": AUDIENCE, "sub": user.to_string(), "iat": now, "nbf": now, "exp": now + 300,
            "preferred_username": "test-user" })
}

fn sign(kid: &str, claims: &Value) -> String {
    sign_as(kid, kid, claims)
}

fn sign_as(kid: &str, header_kid: &str, claims: &Value) -> String {
    let (_, alg, pem, _) = KEYS.iter().find(|(k, ..)| *k == kid).expect("a test key");
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()),
        _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
    }
    .expect("test key PEM");
    let mut header = Header::new(*alg);
    header.kid = Some(header_kid.to_owned());
    encode(&header, claims, &key).expect("signing")
}

impl Drop for TestIdentityProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}
