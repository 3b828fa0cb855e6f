#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! Names, pictures and notices on the real homeserver, as members see
//! them: a member write's display name and picture are what another
//! member's client reads (the picture fetched from the platform and
//! uploaded once); a sign-in names a user the platform has not named; a
//! message in a room of the platform's reaches its webhook, signed and
//! without its content; and the unread counts are the homeserver's.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use common::{TestApp, assert_error, eventually, login, ok};
use matrix_sync_testkit::TestIdentityProvider;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d,
    0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// What the platform stand-in saw.
#[derive(Default)]
struct Platform {
    picture_fetches: usize,
    notices: Vec<(HeaderMap, Bytes)>,
}

type Shared = Arc<Mutex<Platform>>;

/// The platform stand-in: `/alice.png` and `/webhook`, on a free port.
async fn platform() -> (String, Shared) {
    let shared = Shared::default();
    let app = axum::Router::new()
        .route(
            "/alice.png",
            get(|State(p): State<Shared>| async move {
                p.lock().unwrap().picture_fetches += 1;
                ([(header::CONTENT_TYPE, "image/png")], PNG)
            }),
        )
        .route(
            "/webhook",
            post(|State(p): State<Shared>, headers: HeaderMap, body: Bytes| async move {
                p.lock().unwrap().notices.push((headers, body));
                StatusCode::NO_CONTENT
            }),
        )
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, shared)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_name_and_picture_are_what_other_members_see() {
    let (base, platform) = platform().await;
    let app = TestApp::spawn().await;
    let (community, alice, bob) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    ok(&app, Method::PUT, &format!("/v1/communities/{community}?wait=30"), Some(json!({ "name": "Makers" }))).await;
    let picture = format!("{base}/alice.png");
    let alice_write = json!({ "trust_score": 10, "display_name": "Alice Martin", "avatar_url": picture });
    ok(&app, Method::PUT, &format!("/v1/communities/{community}/members/{alice}?wait=30"), Some(alice_write.clone()))
        .await;
    ok(
        &app,
        Method::PUT,
        &format!("/v1/communities/{community}/members/{bob}?wait=30"),
        Some(json!({"trust_score": 0})),
    )
    .await;

    // Bob's own client reads Alice's profile and her membership in General.
    let bob_client = login(&app, bob).await;
    let alice_id = app.hs.matrix_id(alice);
    let profile_path = format!("/_matrix/client/v3/profile/{}", matrix_sync_testkit::encode_segment(&alice_id));
    eventually("Alice's name and picture reach the homeserver", Duration::from_secs(20), || async {
        let profile = bob_client.get(&profile_path).await.unwrap_or_default();
        profile["displayname"] == "Alice Martin"
            && profile["avatar_url"].as_str().is_some_and(|a| a.starts_with("mxc://"))
    })
    .await;
    let general = ok(&app, Method::GET, &format!("/v1/communities/{community}"), None).await["matrix_room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = bob_client.state(&general, "m.room.member", &alice_id).await.unwrap();
    assert_eq!(member["displayname"], "Alice Martin", "the name in the room, as clients show it: {member}");
    let mxc = member["avatar_url"].as_str().expect("the picture in the room").to_owned();
    // The picture is the platform's, served by the homeserver to members.
    let (server, media) = mxc.trim_start_matches("mxc://").split_once('/').unwrap();
    let download = reqwest::Client::new()
        .get(format!("{}/_matrix/client/v1/media/download/{server}/{media}", app.hs.get("MATRIX_HOMESERVER_URL")))
        .bearer_auth(&bob_client.access_token)
        .send()
        .await
        .unwrap();
    assert!(download.status().is_success(), "{}", download.status());
    assert_eq!(&download.bytes().await.unwrap()[..], PNG, "the platform's picture, as uploaded");

    // The same write again, and a change of name only: no new fetch or upload.
    ok(&app, Method::PUT, &format!("/v1/communities/{community}/members/{alice}?wait=30"), Some(alice_write)).await;
    let renamed = json!({ "trust_score": 10, "display_name": "Alice M." });
    ok(&app, Method::PUT, &format!("/v1/communities/{community}/members/{alice}?wait=30"), Some(renamed)).await;
    eventually("the new name is what Bob sees", Duration::from_secs(20), || async {
        bob_client.state(&general, "m.room.member", &alice_id).await.is_ok_and(|m| m["displayname"] == "Alice M.")
    })
    .await;
    let after = bob_client.state(&general, "m.room.member", &alice_id).await.unwrap();
    assert_eq!(after["avatar_url"], mxc.as_str(), "the same picture");
    assert_eq!(platform.lock().unwrap().picture_fetches, 1, "the picture was fetched once");

    // Bad input: refused, nothing written.
    let bad = json!({ "trust_score": 10, "avatar_url": "ftp://example.org/a.png" });
    let answer = app.call(Method::PUT, &format!("/v1/communities/{community}/members/{bob}"), Some(bad)).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "bad_request");
    let remote = json!({ "trust_score": 1, "display_name": "Someone" });
    let answer = app
        .call(Method::PUT, &format!("/v1/communities/{community}/members/@someone:elsewhere.example"), Some(remote))
        .await;
    assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "remote_user");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_names_a_user_the_platform_has_not_named() {
    let idp = TestIdentityProvider::start().await;
    let settings = idp.settings();
    let overrides: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(common::Db::Sqlite, &overrides).await;
    let (named, unnamed) = (Uuid::new_v4(), Uuid::new_v4());
    ok(&app, Method::PUT, &format!("/v1/users/{named}"), Some(json!({ "display_name": "Bob Chen" }))).await;
    for (user, body) in [(named, json!({})), (unnamed, json!({ "display_name": "Carol Diaz" }))] {
        let response =
            app.raw(Method::POST, "/v1/sessions").bearer_auth(idp.token_for(user)).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    }
    let carol = login(&app, unnamed).await;
    assert_eq!(carol.display_name(&app.hs.matrix_id(named)).await.unwrap().as_deref(), Some("Bob Chen"), "kept");
    assert_eq!(carol.display_name(&app.hs.matrix_id(unnamed)).await.unwrap().as_deref(), Some("Carol Diaz"));
    let bad = app
        .raw(Method::POST, "/v1/sessions")
        .bearer_auth(idp.token_for(Uuid::new_v4()))
        .json(&json!({ "display_name": " " }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
}

/// Sends a text message as the user; its event id.
async fn say(client: &matrix_sync_testkit::UserClient, room: &str, text: &str) -> String {
    let path = format!(
        "/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
        matrix_sync_testkit::encode_segment(room),
        Uuid::new_v4().simple()
    );
    let sent = client.request(Method::PUT, &path, Some(json!({ "msgtype": "m.text", "body": text }))).await.unwrap();
    sent["event_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_reaches_the_webhook_and_counts_as_unread() {
    let (base, platform) = platform().await;
    let secret = "a-webhook-secret-of-at-least-32-characters";
    let url = format!("{base}/webhook");
    let app =
        TestApp::spawn_receiving_pushes(&[("MATRIX_SYNC_WEBHOOK_URL", &url), ("MATRIX_SYNC_WEBHOOK_SECRET", secret)])
            .await;
    let (alice, bob, carol) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let members = [(alice, 10), (bob, 0), (carol, 0)];
    let (community, c) = common::community_with(&app, json!({ "name": "Makers" }), &members).await;
    let general = c["matrix_room_id"].as_str().unwrap().to_owned();

    let alice_client = login(&app, alice).await;
    let mut sent = Vec::new();
    for i in 1..=3 {
        sent.push(say(&alice_client, &general, &format!("Tools on Saturday? {i}")).await);
    }
    let last = sent.last().unwrap().clone();

    eventually("three notices at the webhook", Duration::from_secs(30), || async {
        platform.lock().unwrap().notices.len() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await; // a fourth would be a duplicate
    let notices = std::mem::take(&mut platform.lock().unwrap().notices);
    assert_eq!(notices.len(), 3, "one notice per message");
    let mut recipients = vec![bob.to_string(), carol.to_string()];
    recipients.sort();
    let mut notified = Vec::new();
    for (headers, body) in &notices {
        let signature = matrix_sync_engine::webhook::signature(&secret.into(), body);
        assert_eq!(headers["x-matrix-sync-signature"].to_str().unwrap(), signature);
        let notice: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(headers["x-matrix-sync-event"].to_str().unwrap(), notice["event_id"].as_str().unwrap());
        notified.push(notice["event_id"].as_str().unwrap().to_owned());
        assert_eq!(notice["room_id"], general.as_str());
        assert_eq!(notice["kind"], "general");
        assert_eq!(notice["scope_id"], community.to_string());
        assert_eq!(notice["sender"], alice.to_string());
        assert_eq!(notice["recipients"], json!(recipients));
        assert!(!String::from_utf8_lossy(body).contains("Tools"), "never the content: {notice}");
    }
    notified.sort();
    sent.sort();
    assert_eq!(notified, sent, "each message once (delivered in any order)");

    // Bob has three unread messages in General; Alice, who wrote them, none.
    let unread = ok(&app, Method::GET, &format!("/v1/users/{bob}/unread"), None).await;
    assert_eq!(unread["total"], 3, "{unread}");
    let room = unread["rooms"].as_array().unwrap().iter().find(|r| r["room_id"] == general.as_str()).unwrap();
    assert_eq!((room["kind"].as_str(), room["unread"].as_u64()), (Some("general"), Some(3)), "{unread}");
    assert_eq!(room["scope_id"], community.to_string());
    let alices = ok(&app, Method::GET, &format!("/v1/users/{alice}/unread"), None).await;
    assert_eq!(alices["total"], 0, "{alices}");
    // Bob reads them: his receipt on the last one.
    let bob_client = login(&app, bob).await;
    let receipt = format!(
        "/_matrix/client/v3/rooms/{}/receipt/m.read/{}",
        matrix_sync_testkit::encode_segment(&general),
        matrix_sync_testkit::encode_segment(&last)
    );
    bob_client.request(Method::POST, &receipt, Some(json!({}))).await.unwrap();
    eventually("Bob's count is 0 after his read receipt", Duration::from_secs(10), || async {
        ok(&app, Method::GET, &format!("/v1/users/{bob}/unread"), None).await["total"] == 0
    })
    .await;

    let unknown = app.call(Method::GET, &format!("/v1/users/{}/unread", Uuid::new_v4()), None).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
    app.stop().await;
}
