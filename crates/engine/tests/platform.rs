//! What the engine fetches from the platform and tells it, against the
//! in-memory homeserver and a small HTTP server standing in for the
//! platform: users' names and pictures (fetched and uploaded once), and
//! notices of new messages to its webhook (signed, retried, never twice).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use matrix_sync_core::power::CommunityRole;
use matrix_sync_core::rooms::{RoomKey, RoomRole};
use matrix_sync_core::{Scope, Task};
use matrix_sync_engine::commands::{self, CommandError, ProfileInput};
use matrix_sync_engine::rules::Refusal;
use matrix_sync_engine::webhook::{WebhookSettings, signature};
use matrix_sync_store::Transaction;
use serde_json::{Value, json};
use uuid::Uuid;

mod common;
use common::{World, ids, settings};

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d,
    0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// What the platform stand-in saw, and how its webhook answers.
#[derive(Default)]
struct Platform {
    picture_fetches: usize,
    /// Bodies and headers of the webhook's requests.
    notices: Vec<(HeaderMap, Bytes)>,
    /// The webhook answers 500 to this many requests first.
    failures_left: usize,
}

type Shared = Arc<Mutex<Platform>>;

/// The platform stand-in on a free port: `/alice.png`, `/text` (not a
/// picture), `/webhook`.
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
        .route("/text", get(|| async { ([(header::CONTENT_TYPE, "text/html")], "<html></html>") }))
        .route(
            "/webhook",
            post(|State(p): State<Shared>, headers: HeaderMap, body: Bytes| async move {
                let mut p = p.lock().unwrap();
                p.notices.push((headers, body));
                if p.failures_left > 0 {
                    p.failures_left -= 1;
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                StatusCode::NO_CONTENT
            }),
        )
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, shared)
}

#[tokio::test]
async fn a_profile_follows_the_platform_and_its_picture_is_uploaded_once() {
    let (base, platform) = platform().await;
    let w = World::new().await;
    let user = Uuid::new_v4();
    let matrix_user = ids().user(user);
    let picture = format!("{base}/alice.png");
    let profile = ProfileInput { display_name: Some("Alice Martin"), avatar_url: Some(&picture) };

    commands::put_profile(&w.engine, user, profile).await.unwrap();
    assert!(w.run_until_done(&w.engine, Task::Profile(user), Duration::from_secs(10)).await);
    let (name, avatar) = w.homeserver.profile(&matrix_user);
    assert_eq!(name.as_deref(), Some("Alice Martin"));
    let mxc = avatar.expect("the picture is set");
    assert_eq!(w.homeserver.media(&mxc), Some(("image/png".to_owned(), PNG.len())), "uploaded as fetched");
    assert!(w.homeserver.has_account(&matrix_user), "the account was made on the way");

    // The same write again changes nothing: no task, no fetch.
    commands::put_profile(&w.engine, user, profile).await.unwrap();
    assert!(w.store.job_for(Task::Profile(user)).await.unwrap().is_none(), "nothing to do");
    // A new name: the picture is not fetched or uploaded again.
    let uploads = w.homeserver.calls("upload_media");
    commands::put_profile(&w.engine, user, ProfileInput { display_name: Some("Alice M."), avatar_url: None })
        .await
        .unwrap();
    assert!(w.run_until_done(&w.engine, Task::Profile(user), Duration::from_secs(10)).await);
    assert_eq!(w.homeserver.profile(&matrix_user), (Some("Alice M.".to_owned()), Some(mxc.clone())));
    assert_eq!(platform.lock().unwrap().picture_fetches, 1, "fetched once");
    assert_eq!(w.homeserver.calls("upload_media"), uploads, "uploaded once");

    // A URL that is not a picture: the task ends (no retries), the name stays.
    let text = format!("{base}/text");
    commands::put_profile(&w.engine, user, ProfileInput { display_name: None, avatar_url: Some(&text) }).await.unwrap();
    assert!(w.run_until_done(&w.engine, Task::Profile(user), Duration::from_secs(10)).await);
    assert_eq!(w.homeserver.profile(&matrix_user).0.as_deref(), Some("Alice M."));
    let recorded = w.store.profile(user).await.unwrap().unwrap();
    assert_eq!((recorded.avatar_source.as_deref(), recorded.avatar_mxc), (Some(text.as_str()), None));

    // An `mxc://` picture is used as it is.
    let given = "mxc://example.org/given";
    commands::put_profile(&w.engine, user, ProfileInput { display_name: None, avatar_url: Some(given) }).await.unwrap();
    assert!(w.run_until_done(&w.engine, Task::Profile(user), Duration::from_secs(10)).await);
    assert_eq!(w.homeserver.profile(&matrix_user).1.as_deref(), Some(given));

    for bad in ["ftp://example.org/a.png", "not a url", "https://"] {
        let refused =
            commands::put_profile(&w.engine, user, ProfileInput { display_name: None, avatar_url: Some(bad) }).await;
        assert!(matches!(refused, Err(CommandError::Refused(Refusal::InvalidAvatarUrl))), "{bad}: {refused:?}");
    }
}

#[tokio::test]
async fn a_sign_in_fills_in_only_what_the_platform_has_not_given() {
    let w = World::new().await;
    let (named, unnamed) = (Uuid::new_v4(), Uuid::new_v4());
    let none = ProfileInput::default();
    commands::put_user(&w.engine, named, ProfileInput { display_name: Some("Bob Chen"), avatar_url: None })
        .await
        .unwrap();
    let kept = commands::profile_from_sign_in(&w.engine, named, none, Some("bob")).await.unwrap();
    assert_eq!(kept, None, "the platform's name wins over the identity provider's");
    let page = ProfileInput { display_name: Some("Bobby"), avatar_url: Some("mxc://example.org/bob") };
    let kept = commands::profile_from_sign_in(&w.engine, named, page, None).await.unwrap();
    assert_eq!(kept, None, "and over the page's");
    assert_eq!(w.store.profile(named).await.unwrap().unwrap().display_name.as_deref(), Some("Bob Chen"));
    let bob = w.store.profile(named).await.unwrap().unwrap();
    assert_eq!(
        bob.avatar_url.as_deref(),
        Some("mxc://example.org/bob"),
        "a picture the platform did not give is filled in"
    );

    let filled = commands::profile_from_sign_in(&w.engine, unnamed, none, Some("Carol")).await.unwrap();
    assert_eq!(filled.as_deref(), Some("Carol"));
    assert_eq!(w.store.profile(unnamed).await.unwrap().unwrap().display_name.as_deref(), Some("Carol"));
    let unusable = commands::profile_from_sign_in(&w.engine, Uuid::new_v4(), none, Some("\u{7}")).await.unwrap();
    assert_eq!(unusable, None, "an unusable name from the identity provider is no name, and no refusal");
    let fetched = ProfileInput { display_name: None, avatar_url: Some("http://10.0.0.1/inside.png") };
    let refused = commands::profile_from_sign_in(&w.engine, Uuid::new_v4(), fetched, None).await;
    assert!(matches!(refused, Err(CommandError::Refused(Refusal::SignInAvatarNotMxc))), "{refused:?}");
    let bad = ProfileInput { display_name: Some("\u{7}"), avatar_url: None };
    let refused = commands::profile_from_sign_in(&w.engine, Uuid::new_v4(), bad, None).await;
    assert!(matches!(refused, Err(CommandError::Refused(Refusal::InvalidDisplayName))), "{refused:?}");
}

/// A message event in a room, as the homeserver pushes it.
fn message(event_id: &str, room_id: &str, sender: &str) -> Value {
    json!({
        "event_id": event_id, "room_id": room_id, "sender": sender, "type": "m.room.encrypted",
        "origin_server_ts": 1_700_000_000_000_i64, "content": { "algorithm": "m.megolm.v1.aes-sha2" },
    })
}

#[tokio::test]
async fn each_new_message_reaches_the_webhook_once_signed_and_without_its_content() {
    let (base, platform) = platform().await;
    platform.lock().unwrap().failures_left = 2;
    let secret = "a-webhook-secret-of-at-least-32-characters";
    let webhook = WebhookSettings { url: format!("{base}/webhook").parse().unwrap(), secret: secret.into() };
    let w = World::with(matrix_sync_engine::EngineSettings { webhook: Some(webhook), ..settings() }).await;
    let (alice, bob, carol) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let community = w
        .community(&[
            (alice, 10, CommunityRole::Member),
            (bob, 0, CommunityRole::Member),
            (carol, 0, CommunityRole::Member),
        ])
        .await;
    assert!(w.run_until_done(&w.engine, Scope::Community(community), Duration::from_secs(10)).await);
    let general = w.homeserver.room(&RoomKey::new(Scope::Community(community), RoomRole::General)).unwrap().room_id;
    let sender = ids().user(alice);

    let events = [
        message("$m1", general.as_str(), sender.as_str()),
        // Not the service's room, and a state event: no notices.
        message("$elsewhere", "!other:example.org", sender.as_str()),
        json!({"event_id": "$state", "room_id": general.as_str(), "sender": sender.as_str(), "type": "m.room.topic", "state_key": "", "content": {}}),
    ];
    let txn = Transaction { txn_id: "1", digest: "d1", event_count: events.len() };
    assert!(matrix_sync_engine::push::take_transaction(&w.engine, &txn, &events).await.unwrap());
    // The same message in a later transaction (a homeserver that restarted):
    // recorded once.
    let again = Transaction { txn_id: "2", digest: "d2", event_count: 1 };
    assert!(matrix_sync_engine::push::take_transaction(&w.engine, &again, &events[..1]).await.unwrap());

    // Delivered after two failures (retried with backoff).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let cancel = tokio_util::sync::CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    w.engine.spawn_background(&cancel, &mut tasks);
    while platform.lock().unwrap().notices.len() < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Time for a wrong fourth to arrive, if one would.
    tokio::time::sleep(Duration::from_millis(300)).await;
    cancel.cancel();
    while tasks.join_next().await.is_some() {}

    let notices = std::mem::take(&mut platform.lock().unwrap().notices);
    assert_eq!(notices.len(), 3, "two failed attempts and one delivery, of one message");
    let (headers, body) = notices.last().unwrap();
    assert_eq!(headers["x-matrix-sync-signature"].to_str().unwrap(), signature(&secret.into(), body));
    assert_eq!(headers["x-matrix-sync-event"].to_str().unwrap(), "$m1");
    let notice: Value = serde_json::from_slice(body).unwrap();
    let mut recipients = vec![bob.to_string(), carol.to_string()];
    recipients.sort();
    assert_eq!(
        notice,
        json!({
            "event_id": "$m1", "room_id": general.as_str(), "kind": "general", "scope_id": community,
            "sender": alice, "sender_matrix_id": sender.as_str(), "recipients": recipients,
            "origin_server_ts": 1_700_000_000_000_i64,
        }),
    );
    assert!(!String::from_utf8_lossy(body).contains("megolm"), "never the content");
}
