#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! The appservice API the homeserver calls, authenticated by the hs_token.

mod common;

use common::{TestApp, read};
use matrix_sync_store::Transaction;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn hs_token_is_required() {
    let app = TestApp::spawn().await;
    let path = "/_matrix/app/v1/transactions/t1";
    let body = json!({"events": []});
    let (status, v) = read(app.raw(Method::PUT, path).json(&body).send().await.unwrap()).await;
    assert_eq!((status, v["errcode"].as_str()), (StatusCode::UNAUTHORIZED, Some("M_UNAUTHORIZED")));
    let (status, v) = read(app.raw(Method::PUT, path).bearer_auth("wrong").json(&body).send().await.unwrap()).await;
    assert_eq!((status, v["errcode"].as_str()), (StatusCode::FORBIDDEN, Some("M_FORBIDDEN")));
    let (status, v) =
        read(app.raw(Method::PUT, &format!("{path}?access_token=wrong")).json(&body).send().await.unwrap()).await;
    assert_eq!((status, v["errcode"].as_str()), (StatusCode::FORBIDDEN, Some("M_FORBIDDEN")));
    let api_token_is_not_hs_token =
        read(app.raw(Method::PUT, path).bearer_auth(app.api_token()).json(&body).send().await.unwrap()).await;
    assert_eq!(api_token_is_not_hs_token.0, StatusCode::FORBIDDEN);
    // The legacy query parameter is still accepted with the right token.
    let hs_token = app.hs.get("MATRIX_AS_HS_TOKEN").to_owned();
    let (status, _) =
        read(app.raw(Method::PUT, &format!("{path}?access_token={hs_token}")).json(&body).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

/// The service's digest of a transaction body (SHA-256, hex).
fn digest(body: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn transactions_are_taken_once_even_across_restarts() {
    let app = TestApp::spawn().await;
    let hs_token = app.hs.get("MATRIX_AS_HS_TOKEN").to_owned();
    let txn = format!("txn-{}", Uuid::new_v4());
    let path = format!("/_matrix/app/v1/transactions/{txn}");
    let body = json!({"events": [{"type": "m.room.message", "room_id": "!r:localhost", "sender": "@x:localhost", "content": {}}]});
    for _ in 0..2 {
        let (status, v) =
            read(app.raw(Method::PUT, &path).bearer_auth(&hs_token).json(&body).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    let app = app.restart().await;
    let (status, _) = read(app.raw(Method::PUT, &path).bearer_auth(&hs_token).json(&body).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "a replay is acknowledged");
    let sent = serde_json::to_vec(&body).unwrap();
    let recorded = Transaction { txn_id: &txn, digest: &digest(&sent), event_count: 1 };
    assert!(
        !app.state.engine.store.accept_transaction(&recorded, &[], &[], 0).await.unwrap(),
        "recorded durably, once"
    );

    // The homeserver's database restored: its counter reuses the id for
    // new events, which are taken in, not dropped as a replay.
    let later = json!({"events": [{"type": "m.room.message", "room_id": "!r:localhost", "sender": "@y:localhost", "content": {}}]});
    let (status, _) = read(app.raw(Method::PUT, &path).bearer_auth(&hs_token).json(&later).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let sent = serde_json::to_vec(&later).unwrap();
    let recorded = Transaction { txn_id: &txn, digest: &digest(&sent), event_count: 1 };
    assert!(
        !app.state.engine.store.accept_transaction(&recorded, &[], &[], 0).await.unwrap(),
        "the new events were taken in"
    );

    for malformed in ["not json", "[]", "{\"no_events\": true}", "{\"events\": 5}"] {
        let (status, v) = read(
            app.raw(Method::PUT, "/_matrix/app/v1/transactions/bad")
                .bearer_auth(&hs_token)
                .body(malformed)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status, v["errcode"].as_str()), (StatusCode::BAD_REQUEST, Some("M_BAD_JSON")), "{malformed}");
    }
    let unseen = Transaction { txn_id: "bad", digest: &digest(b"not json"), event_count: 0 };
    assert!(
        app.state.engine.store.accept_transaction(&unseen, &[], &[], 0).await.unwrap(),
        "a malformed transaction is not recorded"
    );
    app.stop().await;
}

#[tokio::test]
async fn user_and_room_queries() {
    let app = TestApp::spawn().await;
    let hs_token = app.hs.get("MATRIX_AS_HS_TOKEN").to_owned();
    let user = Uuid::new_v4();
    let query = |id: String| {
        let path = format!("/_matrix/app/v1/users/{}", matrix_sync_testkit::encode_segment(&id));
        app.raw(Method::GET, &path).bearer_auth(&hs_token).send()
    };
    assert_eq!(query(app.hs.matrix_id(user)).await.unwrap().status(), StatusCode::NOT_FOUND);
    let (status, _) = app.call(Method::PUT, &format!("/v1/users/{user}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(query(app.hs.matrix_id(user)).await.unwrap().status(), StatusCode::OK);
    assert_eq!(query(format!("@{user}:elsewhere.org")).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(query("garbage".into()).await.unwrap().status(), StatusCode::NOT_FOUND);

    let room = app
        .raw(Method::GET, "/_matrix/app/v1/rooms/%23_matrix_sync_x%3Alocalhost")
        .bearer_auth(&hs_token)
        .send()
        .await
        .unwrap();
    assert_eq!(room.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

/// The homeserver really reaches the service with the registration as
/// printed: Synapse's appservice ping calls our `/ping` with the hs_token.
/// This test binds the listen address written into the registration.
#[tokio::test]
async fn the_homeserver_reaches_the_service_through_the_registration() {
    let app = TestApp::spawn_receiving_pushes(&[]).await;
    let hs = app.hs.clone();
    // Synapse cancels a ping when another one (every service pings at
    // start-up, and other tests start services) overlaps it: try a few times.
    let mut answers = Vec::new();
    for attempt in 0..5 {
        let response = reqwest::Client::new()
            .post(format!("{}/_matrix/client/v1/appservice/matrix-sync/ping", hs.url()))
            .bearer_auth(hs.as_token())
            .json(&json!({ "transaction_id": format!("ping-{attempt}") }))
            .send()
            .await
            .unwrap();
        let (status, v) = read(response).await;
        if status == StatusCode::OK {
            assert!(v["duration_ms"].is_number(), "{v}");
            app.stop().await;
            return;
        }
        answers.push(v);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    panic!("the homeserver never reached the service: {answers:?}");
}
