#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! Provisioning platform users on the real homeserver, checked as the user.

mod common;

use common::{Db, TestApp, assert_error};
use matrix_sync_testkit::UserClient;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

async fn provisions_a_user_the_homeserver_knows(db: Db) {
    let app = TestApp::spawn_with(db, &[]).await;
    let user = Uuid::new_v4();
    let matrix_id = app.hs.matrix_id(user);

    let (status, body) =
        app.call(Method::PUT, &format!("/v1/users/{user}"), Some(json!({"display_name": "Alice"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_id"], user.to_string());
    assert_eq!(body["matrix_user_id"], matrix_id);
    assert!(body["provisioned_at"].is_string());

    // As the user, with a token of their own: the homeserver knows them.
    let alice = UserClient::login(&app.hs, &matrix_id).await.expect("the user exists on the homeserver");
    assert_eq!(alice.whoami().await.unwrap(), matrix_id);
    assert_eq!(alice.display_name(&matrix_id).await.unwrap().as_deref(), Some("Alice"));

    let (status, got) = app.call(Method::GET, &format!("/v1/users/{user}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, body);
    app.stop().await;
}

#[tokio::test]
async fn provisions_a_user_the_homeserver_knows_sqlite() {
    provisions_a_user_the_homeserver_knows(Db::Sqlite).await;
}

#[tokio::test]
async fn provisions_a_user_the_homeserver_knows_postgres() {
    provisions_a_user_the_homeserver_knows(Db::Postgres).await;
}

#[tokio::test]
async fn provisioning_is_idempotent() {
    let app = TestApp::spawn().await;
    let user = Uuid::new_v4();
    let path = format!("/v1/users/{user}");
    let (s1, first) = app.call(Method::PUT, &path, None).await;
    assert_eq!(s1, StatusCode::OK, "{first}");
    let (s2, second) = app.call(Method::PUT, &path, None).await;
    assert_eq!(s2, StatusCode::OK, "{second}");
    assert_eq!(first, second, "a repeat changes nothing");

    // A display name given later is applied, once.
    let (s3, third) = app.call(Method::PUT, &path, Some(json!({"display_name": "Bob"}))).await;
    assert_eq!(s3, StatusCode::OK);
    assert_eq!(third["provisioned_at"], first["provisioned_at"]);
    assert_eq!(third["display_name"], "Bob");
    let calls_before = app.state.metrics.homeserver.count("profile.displayname.set");
    let (s4, _) = app.call(Method::PUT, &path, Some(json!({"display_name": "Bob"}))).await;
    assert_eq!(s4, StatusCode::OK);
    assert_eq!(
        app.state.metrics.homeserver.count("profile.displayname.set"),
        calls_before,
        "an unchanged display name is not written again"
    );
    let bob = UserClient::login(&app.hs, &app.hs.matrix_id(user)).await.unwrap();
    assert_eq!(bob.display_name(&bob.user_id).await.unwrap().as_deref(), Some("Bob"));

    // The mapping survives a restart.
    let app = app.restart().await;
    let (status, got) = app.call(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["provisioned_at"], first["provisioned_at"]);
    app.stop().await;
}

#[tokio::test]
async fn the_bot_is_registered_at_start_up() {
    let app = TestApp::spawn().await;
    let bot = app.hs.get("MATRIX_BOT_USER_ID").to_owned();
    let mut bot_client = None;
    for _ in 0..50 {
        if let Ok(client) = UserClient::login(&app.hs, &bot).await {
            bot_client = Some(client);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let bot_client = bot_client.expect("the bot can log in: it was registered");
    assert_eq!(bot_client.whoami().await.unwrap(), bot);
    app.stop().await;
}

#[tokio::test]
async fn a_homeserver_that_is_down_gets_a_clear_error_and_nothing_is_written() {
    // Nothing listens on port 1.
    let app = TestApp::spawn_with(Db::Sqlite, &[("MATRIX_HOMESERVER_URL", "http://127.0.0.1:1")]).await;
    let user = Uuid::new_v4();

    let answer = app.call(Method::PUT, &format!("/v1/users/{user}"), None).await;
    assert_error(&answer, StatusCode::SERVICE_UNAVAILABLE, "homeserver_unavailable");
    let answer = app.call(Method::GET, &format!("/v1/users/{user}"), None).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.state.engine.store.user_mapping(user).await.unwrap(), None);

    // Unauthenticated callers learn that it is unavailable, not why (the
    // reason names internal addresses); the platform's token shows why.
    let (status, ready) = common::read(app.raw(Method::GET, "/readyz").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!((ready["database"].as_str(), ready["homeserver"].as_str()), (Some("ok"), Some("unavailable")));
    assert!(!ready.to_string().contains("127.0.0.1"), "{ready}");
    let (status, ready) =
        common::read(app.raw(Method::GET, "/readyz").bearer_auth(app.api_token()).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let detail = ready["homeserver"].as_str().unwrap();
    assert!(detail != "ok" && detail != "unavailable", "the reason, for the operator: {ready}");
    let (status, _) = common::read(app.raw(Method::GET, "/healthz").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "alive even when the homeserver is not");
    app.stop().await;
}

#[tokio::test]
async fn the_service_mints_sessions_for_its_users_and_reuses_devices() {
    let app = TestApp::spawn().await;
    let user = Uuid::new_v4();
    let (status, _) = app.call(Method::PUT, &format!("/v1/users/{user}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let hs = &app.state.homeserver;
    let matrix_id = hs.ids().user(user);

    let first = hs.login(&matrix_id, None, "matrix-sync test").await.unwrap();
    assert_eq!(first.user_id, matrix_id);
    assert_eq!(hs.whoami_with_token(&first.access_token).await.unwrap(), matrix_id);
    let again = hs.login(&matrix_id, Some(&first.device_id), "matrix-sync test").await.unwrap();
    assert_eq!(again.device_id, first.device_id, "the device is reused");

    // Masquerading: the appservice token acting as the user.
    assert_eq!(hs.whoami(Some(&matrix_id)).await.unwrap(), matrix_id);
    app.stop().await;
}
