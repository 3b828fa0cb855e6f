//! The local test identity provider as a process, for the demo: serves the
//! JWKS and mints tokens (`GET /token?sub=<uuid>`) on the address given.
//! Never point a real deployment at it.

use matrix_sync_testkit::TestIdentityProvider;

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let idp = TestIdentityProvider::start_on(&addr).await;
    println!("MATRIX_SYNC_OIDC_ISSUER={}", idp.issuer);
    println!("MATRIX_SYNC_OIDC_JWKS_URL={}", idp.jwks_url);
    let _ = tokio::signal::ctrl_c().await;
}
