#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! Sign-in with the platform's identity provider: `/v1/sessions` exchanges a
//! valid token for a Matrix session, and nothing else gets one.
//!
//! Over 500 lines on purpose: every test here shares the test identity
//! provider and the session helpers, and reads as one story of signing in.

mod common;

use std::time::Duration;

use base64::Engine;
use common::{Db, TestApp, assert_error, read};
use futures_util::StreamExt;
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
async fn made_up_key_ids_against_a_failing_provider_cause_few_fetches_and_hold_up_no_valid_sign_in() {
    let idp = TestIdentityProvider::start().await;
    let app = spawn(&idp).await;
    let user = Uuid::new_v4();
    assert_eq!(exchange(&app, &idp.token_for(user)).await.0, StatusCode::OK, "the keys are cached");
    // Past the refresh interval, so the made-up ids do reach the failing
    // provider (within it they are refused without a fetch at all).
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    let fetched_before = idp.jwks_fetches();
    idp.fail(true);
    // 200 sign-ins with key ids nobody published, 20 at a time, while the
    // provider answers 500; and meanwhile a valid sign-in, which must not
    // wait on them.
    let forged: Vec<String> = (0..200)
        .map(|i| idp.sign_naming("rsa-1", &format!("made-up-{i}-{}", Uuid::new_v4()), &idp.claims(user)))
        .collect();
    let flood = futures_util::stream::iter(forged.iter().map(|token| exchange(&app, token)))
        .buffer_unordered(20)
        .collect::<Vec<_>>();
    let valid = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let (status, body) = exchange(&app, &idp.token_for(user)).await;
        (status, body, started.elapsed())
    };
    let (answers, (status, body, took)) = tokio::join!(flood, valid);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(took < Duration::from_secs(1), "a valid sign-in took {took:?} during the flood");
    for answer in &answers {
        assert!(
            [StatusCode::UNAUTHORIZED, StatusCode::SERVICE_UNAVAILABLE].contains(&answer.0),
            "a made-up key id: {answer:?}"
        );
    }
    let fetches = idp.jwks_fetches() - fetched_before;
    assert!((1..=3).contains(&fetches), "{fetches} fetches for 200 made-up key ids");
    // The provider mends: after its backoff, a rotation is picked up again.
    idp.fail(false);
    idp.publish(&["rsa-1", "rsa-2"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = exchange(&app, &idp.sign("rsa-2", &idp.claims(user))).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the new key was never fetched once the provider mended");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
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

async fn sign_in(app: &TestApp, token: &str, device_id: Option<&str>) -> (StatusCode, Value) {
    let mut request = app.raw(Method::POST, "/v1/sessions").bearer_auth(token);
    if let Some(device_id) = device_id {
        request = request.json(&json!({ "device_id": device_id }));
    }
    read(request.send().await.unwrap()).await
}

fn device_of(session: &Value) -> String {
    session["device_id"].as_str().unwrap().to_owned()
}

/// The user's devices as the homeserver lists them to the user.
async fn devices(app: &TestApp, user: Uuid, token: &str) -> Vec<String> {
    let me = UserClient::with_token(&app.hs, &app.hs.matrix_id(user), token);
    let listed = me.get("/_matrix/client/v3/devices").await.unwrap();
    let mut ids: Vec<String> =
        listed["devices"].as_array().unwrap().iter().map(|d| d["device_id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_browser_keeps_its_device_across_sign_ins() {
    let idp = TestIdentityProvider::start().await;
    let app = spawn(&idp).await;
    let user = Uuid::new_v4();
    let (status, first) = sign_in(&app, &idp.token_for(user), None).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let device = device_of(&first);
    let listed = app.call(Method::GET, &format!("/v1/users/{user}/sessions"), None).await.1;
    let used_at = listed["sessions"][0]["last_used_at"].as_str().unwrap().to_owned();
    assert_eq!(listed["sessions"][0]["created_at"].as_str().unwrap(), used_at, "made and used at once");

    tokio::time::sleep(Duration::from_millis(20)).await;
    for _ in 0..3 {
        let (status, again) = sign_in(&app, &idp.token_for(user), Some(&device)).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(device_of(&again), device, "the same device, so its keys and history stay");
        let token = again["access_token"].as_str().unwrap();
        let me = UserClient::with_token(&app.hs, &app.hs.matrix_id(user), token);
        assert_eq!(me.whoami().await.unwrap(), app.hs.matrix_id(user));
        assert_eq!(devices(&app, user, token).await, vec![device.clone()], "no new device on the homeserver");
        assert_eq!(again["key_backup"], first["key_backup"], "one backup for the user");
    }
    let listed = app.call(Method::GET, &format!("/v1/users/{user}/sessions"), None).await.1;
    let sessions = listed["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{listed}");
    assert!(sessions[0]["last_used_at"].as_str().unwrap() > used_at.as_str(), "the reuse is recorded: {listed}");
    app.stop().await;
}

#[tokio::test]
async fn the_eleventh_device_ends_the_least_recently_used() {
    let idp = TestIdentityProvider::start().await;
    let app = spawn(&idp).await;
    let user = Uuid::new_v4();
    let mut made = Vec::new();
    let mut last_token = String::new();
    for _ in 0..10 {
        let (status, session) = sign_in(&app, &idp.token_for(user), None).await;
        assert_eq!(status, StatusCode::OK, "{session}");
        made.push(device_of(&session));
        last_token = session["access_token"].as_str().unwrap().to_owned();
    }
    assert_eq!(devices(&app, user, &last_token).await.len(), 10);
    // The first browser comes back: the second is now the least recently used.
    let (status, _) = sign_in(&app, &idp.token_for(user), Some(&made[0])).await;
    assert_eq!(status, StatusCode::OK);
    let (status, eleventh) = sign_in(&app, &idp.token_for(user), None).await;
    assert_eq!(status, StatusCode::OK);
    let token = eleventh["access_token"].as_str().unwrap().to_owned();
    let now = devices(&app, user, &token).await;
    assert_eq!(now.len(), 10, "{now:?}");
    assert!(!now.contains(&made[1]), "the least recently used went: {now:?}");
    assert!(now.contains(&made[0]) && now.contains(&device_of(&eleventh)));
    let listed = app.call(Method::GET, &format!("/v1/users/{user}/sessions"), None).await.1;
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 10);
    let audit = app.call(Method::GET, "/v1/audit?limit=50", None).await.1;
    let ended: Vec<&Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "session_ended" && e["user_id"] == app.hs.matrix_id(user))
        .collect();
    assert_eq!(ended.len(), 1, "{audit}");
    assert!(ended[0]["detail"].as_str().unwrap().contains(&made[1]));

    // Twelfth: still ten.
    let (_, twelfth) = sign_in(&app, &idp.token_for(user), None).await;
    assert_eq!(devices(&app, user, twelfth["access_token"].as_str().unwrap()).await.len(), 10);
    assert_error(&sign_in(&app, &idp.token_for(user), Some(&made[1])).await, StatusCode::NOT_FOUND, "unknown_device");
    app.stop().await;
}

#[tokio::test]
async fn a_device_that_is_not_the_users_gets_nothing() {
    let idp = TestIdentityProvider::start().await;
    let app = spawn(&idp).await;
    let (alice, bob, newcomer) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (_, alices) = sign_in(&app, &idp.token_for(alice), None).await;
    let (_, bobs) = sign_in(&app, &idp.token_for(bob), None).await;
    let bobs_device = device_of(&bobs);

    assert_error(
        &sign_in(&app, &idp.token_for(alice), Some(&bobs_device)).await,
        StatusCode::NOT_FOUND,
        "unknown_device",
    );
    assert_error(
        &sign_in(&app, &idp.token_for(alice), Some("NOSUCHDEVICE")).await,
        StatusCode::NOT_FOUND,
        "unknown_device",
    );
    let fresh = sign_in(&app, &idp.token_for(newcomer), Some(&bobs_device)).await;
    assert_error(&fresh, StatusCode::NOT_FOUND, "unknown_device");
    assert_eq!(
        app.call(Method::GET, &format!("/v1/users/{newcomer}"), None).await.0,
        StatusCode::NOT_FOUND,
        "an unknown device provisions nobody"
    );

    // Deleted on the homeserver behind the service's back (an operator, or
    // another client of the user's): unknown too, and forgotten.
    let (_, second) = sign_in(&app, &idp.token_for(alice), None).await;
    let alice_id = ruma::UserId::parse(app.hs.matrix_id(alice)).unwrap();
    app.state.homeserver.delete_device(&alice_id, &device_of(&second)).await.unwrap();
    assert_error(
        &sign_in(&app, &idp.token_for(alice), Some(&device_of(&second))).await,
        StatusCode::NOT_FOUND,
        "unknown_device",
    );
    // Ended through the API.
    app.call(Method::DELETE, &format!("/v1/users/{bob}/sessions"), None).await;
    assert_error(
        &sign_in(&app, &idp.token_for(bob), Some(&bobs_device)).await,
        StatusCode::NOT_FOUND,
        "unknown_device",
    );

    let malformed: [(&str, &str); 5] = [
        ("not JSON", "invalid_json"),
        ("{\"device_id\": 5}", "invalid_json"),
        ("{\"device\": \"X\"}", "invalid_json"),
        ("{\"device_id\": \"a/b\"}", "bad_request"),
        ("{\"device_id\": \"\"}", "bad_request"),
    ];
    for (body, code) in malformed {
        let answer = read(
            app.raw(Method::POST, "/v1/sessions")
                .bearer_auth(idp.token_for(alice))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(&answer, StatusCode::BAD_REQUEST, code);
    }
    let listed = app.call(Method::GET, &format!("/v1/users/{alice}/sessions"), None).await.1;
    let devices: Vec<&str> =
        listed["sessions"].as_array().unwrap().iter().map(|s| s["device_id"].as_str().unwrap()).collect();
    assert_eq!(devices, vec![device_of(&alices).as_str()], "nothing made by the refused calls: {listed}");
    app.stop().await;
}

#[tokio::test]
async fn the_session_hands_over_the_users_key_backup() {
    let idp = TestIdentityProvider::start().await;
    let app = spawn(&idp).await;
    let user = Uuid::new_v4();
    let (status, session) = sign_in(&app, &idp.token_for(user), None).await;
    assert_eq!(status, StatusCode::OK);
    let backup = &session["key_backup"];
    let version = backup["version"].as_str().unwrap();
    let private_key = backup["private_key"].as_str().unwrap();
    assert_eq!(private_key.len(), 43, "32 bytes in unpadded base64");
    // The homeserver's latest backup of the user is this one, for that key.
    let me = UserClient::with_token(&app.hs, &app.hs.matrix_id(user), session["access_token"].as_str().unwrap());
    let latest = me.get("/_matrix/client/v3/room_keys/version").await.unwrap();
    assert_eq!(latest["version"], version);
    assert_eq!(latest["algorithm"], "m.megolm_backup.v1.curve25519-aes-sha2");
    assert_eq!(latest["auth_data"]["public_key"], matrix_sync_testkit::backup_public_key(private_key).unwrap());
    // The store keeps it sealed, never in the clear.
    let stored = app.state.engine.store.key_backup(user).await.unwrap().unwrap();
    assert!(!stored.sealed_private_key.contains(private_key));
    // Ending the sessions leaves the backup.
    app.call(Method::DELETE, &format!("/v1/users/{user}/sessions"), None).await;
    let (_, later) = sign_in(&app, &idp.token_for(user), None).await;
    assert_eq!(later["key_backup"], session["key_backup"]);
    app.stop().await;
}

#[tokio::test]
async fn with_key_backup_off_sessions_carry_no_key_and_no_backup_is_made() {
    let idp = TestIdentityProvider::start().await;
    let mut settings = idp.settings();
    settings.push(("MATRIX_SYNC_KEY_BACKUP", "off".into()));
    let overrides: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(Db::Sqlite, &overrides).await;
    let user = Uuid::new_v4();
    let (status, session) = sign_in(&app, &idp.token_for(user), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(session.get("key_backup").is_none(), "{session}");
    let me = UserClient::with_token(&app.hs, &app.hs.matrix_id(user), session["access_token"].as_str().unwrap());
    let none = me.get("/_matrix/client/v3/room_keys/version").await.unwrap_err();
    assert_eq!(none.errcode, "M_NOT_FOUND");
    assert!(app.state.engine.store.key_backup(user).await.unwrap().is_none());
    app.stop().await;
}

#[tokio::test]
async fn a_first_sign_in_after_the_acceptance_reads_the_bots_message_from_the_backup() {
    let idp = TestIdentityProvider::start().await;
    let mut settings = idp.settings();
    settings.push(("MATRIX_SYNC_APP_URL", "https://communities.example.org".into()));
    let overrides: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(Db::Sqlite, &overrides).await;
    let (community, owner, requester) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    common::ok(&app, Method::PUT, &format!("/v1/communities/{community}?wait=30"), Some(json!({ "name": "Tools" })))
        .await;
    for user in [owner, requester] {
        let path = format!("/v1/communities/{community}/members/{user}?wait=30");
        common::ok(&app, Method::PUT, &path, Some(json!({ "trust_score": 5 }))).await;
    }
    let request = Uuid::new_v4();
    let accept = json!({ "community_id": community, "requester_id": requester, "owner_id": owner, "title": "Ladder" });
    let accepted =
        common::ok(&app, Method::POST, &format!("/v1/requests/{request}/accept?wait=30"), Some(accept)).await;
    assert_eq!(accepted["status"], "synced", "{accepted}");
    let room = accepted["matrix_room_id"].as_str().unwrap();

    // Both sign in only now: neither had a device when the bot spoke.
    for user in [requester, owner] {
        let (status, session) = sign_in(&app, &idp.token_for(user), None).await;
        assert_eq!(status, StatusCode::OK);
        let me = UserClient::with_token(&app.hs, &app.hs.matrix_id(user), session["access_token"].as_str().unwrap());
        let messages = me
            .get(&format!(
                "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=50",
                matrix_sync_testkit::encode_segment(room)
            ))
            .await
            .unwrap();
        let encrypted: Vec<&Value> = messages["chunk"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "m.room.encrypted" && e["sender"] == app.hs.get("MATRIX_BOT_USER_ID"))
            .collect();
        assert_eq!(encrypted.len(), 1, "the bot's one message: {messages}");
        let content = &encrypted[0]["content"];
        let session_id = content["session_id"].as_str().unwrap();
        let backup = &session["key_backup"];
        let key_data = me
            .get(&format!(
                "/_matrix/client/v3/room_keys/keys/{}/{}?version={}",
                matrix_sync_testkit::encode_segment(room),
                matrix_sync_testkit::encode_segment(session_id),
                backup["version"].as_str().unwrap()
            ))
            .await
            .unwrap();
        let private_key = backup["private_key"].as_str().unwrap();
        let session_key = matrix_sync_testkit::open_backed_up_key(private_key, &key_data).unwrap();
        let event = matrix_sync_testkit::decrypt_with_session_key(&session_key, content).unwrap();
        let body = event["content"]["body"].as_str().unwrap();
        assert!(
            body.contains(&format!("https://communities.example.org/requests/{request}")) && body.contains("Ladder"),
            "{body}"
        );
    }
    app.stop().await;
}
