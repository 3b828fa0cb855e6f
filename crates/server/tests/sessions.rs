#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! Sign-in with the platform's identity provider: `/v1/sessions` exchanges a
//! valid token for a Matrix session, and nothing else gets one.

mod common;

use std::time::Duration;

use base64::Engine;
use common::{Db, TestApp, assert_error, read};
use matrix_sync_testkit::{TestIdentityProvider, UserClient, now_secs};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

async fn spawn(idp: &TestIdentityProvider) -> TestApp {
    let settings = idp.settings();
    let overrides: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_with(Db::Sqlite, &overrides).await
}

async fn exchange(app: &TestApp, token: &str) -> (StatusCode, Value) {
    read(app.raw(Method::POST, "/v1/sessions").bearer_auth(token).send().await.unwrap()).await
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn a_valid_token_becomes_a_matrix_session_of_the_same_user() {
    let idp = TestIdentityProvider::start().await;
    let app = spawn(&idp).await;
    let user = Uuid::new_v4();
    for kid in ["rsa-1", "ec-1"] {
        let (status, session) = exchange(&app, &idp.sign(kid, &idp.claims(user))).await;
        assert_eq!(status, StatusCode::OK, "{kid}: {session}");
        assert_eq!(session["matrix_user_id"], app.hs.matrix_id(user));
        assert_eq!(session["homeserver_url"], app.hs.url());
        let me = UserClient::with_token(&app.hs, &app.hs.matrix_id(user), session["access_token"].as_str().unwrap());
        assert_eq!(me.whoami().await.unwrap(), app.hs.matrix_id(user), "the session works on the homeserver");
    }
    let (status, _) = app.call(Method::GET, &format!("/v1/users/{user}"), None).await;
    assert_eq!(status, StatusCode::OK, "the user was provisioned");
    app.stop().await;
}

#[tokio::test]
async fn every_bad_token_is_refused_with_its_reason() {
    let idp = TestIdentityProvider::start().await;
    let app = spawn(&idp).await;
    let user = Uuid::new_v4();
    let now = now_secs();
    let with = |patch: Value| {
        let mut claims = idp.claims(user);
        for (k, v) in patch.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    let good = idp.token_for(user);
    let parts: Vec<&str> = good.split('.').collect();
    let none = format!("{}.{}.", b64(&json!({ "alg": "none", "typ": "JWT", "kid": "rsa-1" })), parts[1]);
    // HS256 signed with the public key as the secret: the classic confusion attack.
    let public_jwk = include_str!("../../testkit/keys/rsa-1.jwk.json");
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some("rsa-1".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &idp.claims(user),
        &jsonwebtoken::EncodingKey::from_secret(public_jwk.as_bytes()),
    )
    .unwrap();
    let mut forged = good.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", none, "token_algorithm"),
        ("HS256", hs256, "token_algorithm"),
        ("bad signature", forged, "token_signature"),
        ("expired", idp.sign("rsa-1", &with(json!({ "exp": now - 120 }))), "token_expired"),
        ("not yet valid", idp.sign("rsa-1", &with(json!({ "nbf": now + 300 }))), "token_not_yet_valid"),
        ("other issuer", idp.sign("rsa-1", &with(json!({ "iss": "https://evil.example/realms/x" }))), "token_issuer"),
        ("other audience", idp.sign("rsa-1", &with(json!({ "aud": "another-app" }))), "token_audience"),
        ("unknown key", idp.sign("rsa-2", &idp.claims(user)), "token_unknown_key"),
        ("subject not a UUID", idp.sign("rsa-1", &with(json!({ "sub": "alice" }))), "token_subject"),
        (
            "no expiry",
            idp.sign("rsa-1", &json!({ "iss": idp.issuer, "aud": "platform", "sub": user.to_string() })),
            "token_malformed",
        ),
        ("garbage", "not-a-jwt".into(), "token_malformed"),
    ];
    for (what, token, code) in cases {
        let answer = exchange(&app, &token).await;
        assert_error(&answer, StatusCode::UNAUTHORIZED, code);
        assert!(answer.1.get("access_token").is_none(), "{what}: never a session");
    }
    let none = read(app.raw(Method::POST, "/v1/sessions").send().await.unwrap()).await;
    assert_error(&none, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, _) = app.call(Method::GET, &format!("/v1/users/{user}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nobody was provisioned by a refused token");
    app.stop().await;
}

#[tokio::test]
async fn clock_leeway_is_small() {
    let idp = TestIdentityProvider::start().await;
    let app = spawn(&idp).await;
    let user = Uuid::new_v4();
    let now = now_secs();
    let mut claims = idp.claims(user);
    claims["exp"] = json!(now - 30);
    assert_eq!(
        exchange(&app, &idp.sign("rsa-1", &claims)).await.0,
        StatusCode::OK,
        "expired 30 s ago is within the leeway"
    );
    let mut claims = idp.claims(user);
    claims["nbf"] = json!(now + 30);
    assert_eq!(
        exchange(&app, &idp.sign("rsa-1", &claims)).await.0,
        StatusCode::OK,
        "valid in 30 s is within the leeway"
    );
    let mut claims = idp.claims(user);
    claims["exp"] = json!(now - 90);
    assert_error(&exchange(&app, &idp.sign("rsa-1", &claims)).await, StatusCode::UNAUTHORIZED, "token_expired");
    app.stop().await;
}

#[tokio::test]
async fn a_rotated_key_is_picked_up() {
    let idp = TestIdentityProvider::start().await;
    let app = spawn(&idp).await;
    let user = Uuid::new_v4();
    assert_eq!(exchange(&app, &idp.token_for(user)).await.0, StatusCode::OK);
    // The provider rotates to a new key; the old one is withdrawn.
    idp.publish(&["rsa-2"]);
    tokio::time::sleep(Duration::from_millis(5_500)).await; // key set refreshes at most every 5 s
    let (status, body) = exchange(&app, &idp.sign("rsa-2", &idp.claims(user))).await;
    assert_eq!(status, StatusCode::OK, "the new key id was fetched: {body}");
    // The withdrawn key went with that refresh.
    assert_error(&exchange(&app, &idp.token_for(user)).await, StatusCode::UNAUTHORIZED, "token_unknown_key");
    app.stop().await;
}

#[tokio::test]
async fn sessions_can_be_listed_and_ended() {
    let idp = TestIdentityProvider::start().await;
    let app = spawn(&idp).await;
    let user = Uuid::new_v4();
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let (status, session) = exchange(&app, &idp.token_for(user)).await;
        assert_eq!(status, StatusCode::OK);
        tokens.push(session["access_token"].as_str().unwrap().to_owned());
    }
    let list = app.call(Method::GET, &format!("/v1/users/{user}/sessions"), None).await.1;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 2, "{list}");
    let ended = app.call(Method::DELETE, &format!("/v1/users/{user}/sessions"), None).await.1;
    assert_eq!(ended["sessions"].as_array().unwrap().len(), 2);
    for token in tokens {
        let me = UserClient::with_token(&app.hs, &app.hs.matrix_id(user), &token);
        let refused = me.whoami().await.unwrap_err();
        assert_eq!(refused.errcode, "M_UNKNOWN_TOKEN", "logging out of the platform ends chat sessions");
    }
    assert!(
        app.call(Method::GET, &format!("/v1/users/{user}/sessions"), None).await.1["sessions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let unauthenticated = read(app.raw(Method::GET, &format!("/v1/users/{user}/sessions")).send().await.unwrap()).await;
    assert_error(&unauthenticated, StatusCode::UNAUTHORIZED, "unauthorized");
    app.stop().await;
}

#[tokio::test]
async fn without_an_identity_provider_there_are_no_sessions() {
    let app = TestApp::spawn().await;
    assert_error(&exchange(&app, "whatever").await, StatusCode::NOT_FOUND, "not_found");
    app.stop().await;
}
