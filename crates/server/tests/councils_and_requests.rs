#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! Councils (UC-2) and request coordination (UC-1) on a real homeserver:
//! encrypted rooms and DMs, as their members' own clients see them.

mod common;

use std::time::Duration;

use common::{TestApp, assert_error, login, ok};
use matrix_sync_testkit::EncryptedUser;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

const APP_URL: &str = "https://communities.example.org";

async fn spawn() -> TestApp {
    TestApp::spawn_with(common::Db::Sqlite, &[("MATRIX_SYNC_APP_URL", APP_URL)]).await
}

async fn community_with_members(app: &TestApp, members: &[(Uuid, i64)]) -> Uuid {
    common::community_with(app, json!({ "name": "Neighbours" }), members).await.0
}

#[tokio::test]
async fn a_council_is_an_encrypted_nested_space_only_its_members_can_enter() {
    let app = spawn().await;
    let (chair, mediator, member, outsider) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let c = community_with_members(&app, &[(chair, 0), (mediator, 0), (member, 20), (outsider, 40)]).await;
    let community = ok(&app, Method::GET, &format!("/v1/communities/{c}"), None).await;
    let community_space = community["matrix_space_id"].as_str().unwrap().to_owned();

    let k = Uuid::new_v4();
    let council = ok(
        &app,
        Method::PUT,
        &format!("/v1/councils/{k}?wait=30"),
        Some(json!({ "community_id": c, "name": "Dispute Resolution" })),
    )
    .await;
    for (user, role) in [(chair, "admin"), (mediator, "moderator"), (member, "member")] {
        let body =
            ok(&app, Method::PUT, &format!("/v1/councils/{k}/members/{user}?wait=30"), Some(json!({ "role": role })))
                .await;
        assert_eq!(body["status"], "synced");
    }
    assert_eq!(council["status"], "synced");
    let council = ok(&app, Method::GET, &format!("/v1/councils/{k}"), None).await;
    let space = council["matrix_space_id"].as_str().unwrap().to_owned();
    let room = council["matrix_room_id"].as_str().unwrap().to_owned();

    let me = login(&app, member).await;
    let joined = me.joined_rooms().await.unwrap();
    assert!(joined.contains(&space) && joined.contains(&room), "{joined:?}");
    assert_eq!(me.state(&space, "m.room.create", "").await.unwrap()["type"], "m.space");
    assert_eq!(me.state(&room, "m.room.encryption", "").await.unwrap()["algorithm"], "m.megolm.v1.aes-sha2");
    assert_eq!(me.state(&room, "m.room.join_rules", "").await.unwrap()["join_rule"], "invite");
    assert!(me.state(&room, "m.space.parent", &space).await.is_ok());
    assert!(me.state(&space, "m.space.child", &room).await.is_ok());
    assert!(me.state(&space, "m.space.parent", &community_space).await.is_ok());
    assert!(me.state(&community_space, "m.space.child", &space).await.is_ok(), "nested in the community's Space");

    // Levels: the higher of trust's and the council role's.
    let pl = me.state(&room, "m.room.power_levels", "").await.unwrap();
    assert_eq!(pl["users"][app.hs.matrix_id(chair)], 100);
    assert_eq!(pl["users"][app.hs.matrix_id(mediator)], 50);
    assert_eq!(pl["users"][app.hs.matrix_id(member)], 25, "trust 20 beats the member role's 0");
    assert!(pl["users"].get(app.hs.matrix_id(outsider)).is_none());

    // A community member outside the council can neither join nor read.
    let out = login(&app, outsider).await;
    let refused = out
        .request(
            Method::POST,
            &format!("/_matrix/client/v3/join/{}", matrix_sync_testkit::encode_segment(&room)),
            Some(json!({})),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    let unreadable = out
        .get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b", matrix_sync_testkit::encode_segment(&room)))
        .await
        .unwrap_err();
    assert_eq!(unreadable.status, StatusCode::FORBIDDEN);

    // Trust changes in the community reach the council's rooms.
    ok(&app, Method::PUT, &format!("/v1/communities/{c}/members/{member}?wait=30"), Some(json!({ "trust_score": 35 })))
        .await;
    let pl = me.state(&room, "m.room.power_levels", "").await.unwrap();
    assert_eq!(pl["users"][app.hs.matrix_id(member)], 50);

    // Leaving the council, then the community, empties the rooms of them.
    ok(&app, Method::DELETE, &format!("/v1/councils/{k}/members/{mediator}?wait=30"), None).await;
    let mediator_c = login(&app, mediator).await;
    assert!(!mediator_c.joined_rooms().await.unwrap().contains(&room));
    ok(&app, Method::DELETE, &format!("/v1/communities/{c}/members/{member}?wait=30"), None).await;
    let joined = me.joined_rooms().await.unwrap();
    assert!(!joined.contains(&room) && !joined.contains(&space) && !joined.contains(&community_space), "{joined:?}");
    app.stop().await;
}

#[tokio::test]
async fn council_policy_errors() {
    let app = spawn().await;
    let (inside, stranger) = (Uuid::new_v4(), Uuid::new_v4());
    let c = community_with_members(&app, &[(inside, 0)]).await;
    let k = Uuid::new_v4();
    let path = format!("/v1/councils/{k}");
    assert_error(
        &app.call(Method::PUT, &path, Some(json!({ "community_id": Uuid::new_v4(), "name": "X" }))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_community",
    );
    assert_error(
        &app.call(Method::PUT, &path, Some(json!({ "name": "X" }))).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert_error(&app.call(Method::GET, &path, None).await, StatusCode::NOT_FOUND, "not_found");
    ok(&app, Method::PUT, &format!("{path}?wait=30"), Some(json!({ "community_id": c, "name": "X" }))).await;
    let other = community_with_members(&app, &[]).await;
    assert_error(
        &app.call(Method::PUT, &path, Some(json!({ "community_id": other, "name": "X" }))).await,
        StatusCode::CONFLICT,
        "council_in_another_community",
    );
    let not_member = app.call(Method::PUT, &format!("{path}/members/{stranger}"), Some(json!({}))).await;
    assert_error(&not_member, StatusCode::UNPROCESSABLE_ENTITY, "not_a_community_member");
    let bad_role = app.call(Method::PUT, &format!("{path}/members/{inside}"), Some(json!({ "role": "chief" }))).await;
    assert_error(&bad_role, StatusCode::BAD_REQUEST, "invalid_json");
    assert_error(
        &app.call(Method::DELETE, &format!("{path}/members/{inside}"), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    app.stop().await;
}

/// UC-1: the requester's own device decrypts the bot's message and finds
/// the link; a second request of the same pair reuses the DM; after a
/// restart the bot (same device) still reaches them.
#[tokio::test]
async fn accepted_requests_share_one_encrypted_dm_and_the_bot_message_decrypts() {
    let mut app = spawn().await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let c = community_with_members(&app, &[(alice, 10), (bob, 10)]).await;
    // Both have a device with keys before the bot speaks.
    let alice_device = EncryptedUser::login(&app.hs, &app.hs.matrix_id(alice)).await;
    let bob_device = EncryptedUser::login(&app.hs, &app.hs.matrix_id(bob)).await;

    let r1 = Uuid::new_v4();
    let accept = json!({ "community_id": c, "requester_id": bob, "owner_id": alice, "title": "Oak table" });
    let first = ok(&app, Method::POST, &format!("/v1/requests/{r1}/accept?wait=30"), Some(accept.clone())).await;
    assert_eq!(first["status"], "synced");
    let dm = first["matrix_room_id"].as_str().unwrap().to_owned();
    assert_eq!(ok(&app, Method::GET, &format!("/v1/requests/{r1}"), None).await["matrix_room_id"], dm.as_str());

    let link = format!("{APP_URL}/requests/{r1}");
    let seen = bob_device
        .wait_for_message(&dm, &link, Duration::from_secs(30))
        .await
        .expect("the requester reads the message");
    assert!(seen.decrypted, "the message was end-to-end encrypted: {seen:?}");
    assert_eq!(seen.msgtype, "m.notice");
    assert_eq!(seen.sender, app.hs.get("MATRIX_BOT_USER_ID"));
    assert!(seen.body.starts_with("Request accepted! Coordinate delivery for: Oak table"), "{}", seen.body);
    let owner_seen =
        alice_device.wait_for_message(&dm, &link, Duration::from_secs(30)).await.expect("the owner reads it too");
    assert!(owner_seen.decrypted);

    // The DM is encrypted, invite-only, a direct chat for both.
    let bob_plain = login(&app, bob).await;
    assert_eq!(bob_plain.state(&dm, "m.room.encryption", "").await.unwrap()["algorithm"], "m.megolm.v1.aes-sha2");
    for (user, other) in [(alice, bob), (bob, alice)] {
        let client = login(&app, user).await;
        let path = format!(
            "/_matrix/client/v3/user/{}/account_data/m.direct",
            matrix_sync_testkit::encode_segment(&client.user_id)
        );
        let direct = client.get(&path).await.unwrap();
        assert_eq!(direct[app.hs.matrix_id(other)], json!([dm]), "m.direct of {user}");
    }
    // Accepting the same request again sends nothing new.
    ok(&app, Method::POST, &format!("/v1/requests/{r1}/accept?wait=30"), Some(accept)).await;

    // A second request of the same pair (roles swapped) reuses the DM, after a restart.
    let bot_device = app.state.engine.bot.get().and_then(|b| b.device_id());
    assert!(bot_device.is_some());
    app = app.restart().await;
    let r2 = Uuid::new_v4();
    let second = json!({ "community_id": c, "requester_id": alice, "owner_id": bob, "title": "Ladder" });
    let answer = ok(&app, Method::POST, &format!("/v1/requests/{r2}/accept?wait=30"), Some(second)).await;
    assert_eq!(answer["matrix_room_id"], dm.as_str(), "one DM per pair");
    let link2 = format!("{APP_URL}/requests/{r2}");
    let seen = bob_device.wait_for_message(&dm, &link2, Duration::from_secs(30)).await.expect("read after the restart");
    assert!(seen.decrypted);
    assert_eq!(app.state.engine.bot.get().and_then(|b| b.device_id()), bot_device, "no new bot device per start");
    let notices = bob_device.messages(&dm).await.into_iter().filter(|m| m.msgtype == "m.notice").count();
    assert_eq!(notices, 2, "one message per accepted request");

    // POST /v1/dms answers with the same room.
    let direct = ok(&app, Method::POST, "/v1/dms", Some(json!({ "user_a": alice, "user_b": bob }))).await;
    assert_eq!(direct["room_id"], dm.as_str());
    app.stop().await;
}

#[tokio::test]
async fn request_and_dm_errors() {
    let app = spawn().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let r = Uuid::new_v4();
    let path = format!("/v1/requests/{r}/accept");
    let same = json!({ "community_id": Uuid::new_v4(), "requester_id": a, "owner_id": a });
    assert_error(&app.call(Method::POST, &path, Some(same)).await, StatusCode::UNPROCESSABLE_ENTITY, "same_user");
    let missing = json!({ "community_id": Uuid::new_v4(), "requester_id": a });
    assert_error(&app.call(Method::POST, &path, Some(missing)).await, StatusCode::BAD_REQUEST, "bad_request");
    let bad = json!({ "community_id": "x", "requester_id": a, "owner_id": b });
    assert_error(&app.call(Method::POST, &path, Some(bad)).await, StatusCode::BAD_REQUEST, "invalid_id");
    assert_error(&app.call(Method::GET, &format!("/v1/requests/{r}"), None).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &app.call(Method::POST, "/v1/dms", Some(json!({ "user_a": a, "user_b": a }))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "same_user",
    );

    let c = Uuid::new_v4();
    let first = json!({ "community_id": c, "requester_id": a, "owner_id": b });
    let (status, _) = app.call(Method::POST, &path, Some(first)).await;
    assert!(status.is_success());
    let other = json!({ "community_id": c, "requester_id": a, "owner_id": Uuid::new_v4() });
    assert_error(&app.call(Method::POST, &path, Some(other)).await, StatusCode::CONFLICT, "request_conflict");
    app.stop().await;
}

/// `MATRIX_SYNC_APP_URL` empty (as `deploy/.env.example` allows): the
/// request's message comes without a link, and still exactly once.
#[tokio::test]
async fn without_an_app_url_the_message_comes_without_a_link() {
    let app = TestApp::spawn_with(common::Db::Sqlite, &[("MATRIX_SYNC_APP_URL", "")]).await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let c = community_with_members(&app, &[(alice, 0), (bob, 0)]).await;
    let bob_device = EncryptedUser::login(&app.hs, &app.hs.matrix_id(bob)).await;
    let r = Uuid::new_v4();
    let accept = json!({ "community_id": c, "requester_id": bob, "owner_id": alice, "title": "Bread maker" });
    let answer = ok(&app, Method::POST, &format!("/v1/requests/{r}/accept?wait=30"), Some(accept.clone())).await;
    assert_eq!(answer["status"], "synced", "{answer}");
    let dm = answer["matrix_room_id"].as_str().unwrap().to_owned();
    let seen = bob_device
        .wait_for_message(&dm, "Bread maker", Duration::from_secs(30))
        .await
        .expect("the requester reads the message");
    assert!(seen.decrypted);
    assert_eq!(seen.body, "Request accepted! Coordinate delivery for: Bread maker");
    ok(&app, Method::POST, &format!("/v1/requests/{r}/accept?wait=30"), Some(accept)).await;
    let notices = bob_device.messages(&dm).await.into_iter().filter(|m| m.msgtype == "m.notice").count();
    assert_eq!(notices, 1, "once");
    app.stop().await;
}

/// `m.direct` of a user, as their own client reads it.
async fn m_direct(client: &matrix_sync_testkit::UserClient, user: &str) -> serde_json::Value {
    let path = format!("/_matrix/client/v3/user/{}/account_data/m.direct", matrix_sync_testkit::encode_segment(user));
    client.get(&path).await.unwrap_or_default()
}

/// Whether `m.direct` lists each partner's DM.
fn lists_all(m_direct: &serde_json::Value, dms: &[(String, String)]) -> bool {
    dms.iter().all(|(partner, room)| {
        m_direct[partner].as_array().is_some_and(|rooms| rooms.iter().any(|r| r.as_str() == Some(room.as_str())))
    })
}

#[tokio::test]
async fn dms_made_at_once_all_reach_m_direct_and_anti_entropy_puts_back_what_a_client_dropped() {
    let app = TestApp::spawn_with(common::Db::Sqlite, &[("MATRIX_SYNC_ANTI_ENTROPY", "3s")]).await;
    let alice = Uuid::new_v4();
    let partners: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
    // Six DMs of Alice's at once: each job reads, changes and writes her
    // m.direct, and none may drop another's entry.
    let made = futures_util::future::join_all(
        partners
            .iter()
            .map(|partner| ok(&app, Method::POST, "/v1/dms", Some(json!({ "user_a": alice, "user_b": partner })))),
    )
    .await;
    let dms: Vec<(String, String)> = partners
        .iter()
        .zip(&made)
        .map(|(partner, dm)| (app.hs.matrix_id(*partner), dm["room_id"].as_str().unwrap().to_owned()))
        .collect();
    let alice_id = app.hs.matrix_id(alice);
    let client = login(&app, alice).await;
    let listed = m_direct(&client, &alice_id).await;
    assert!(lists_all(&listed, &dms), "every DM is in Alice's m.direct: {listed}");
    // Alice's own client replaces her m.direct with a map that lacks them
    // (it read before the service wrote, say); anti-entropy puts them back.
    let path =
        format!("/_matrix/client/v3/user/{}/account_data/m.direct", matrix_sync_testkit::encode_segment(&alice_id));
    let own = json!({ "@friend:elsewhere.org": ["!hers:elsewhere.org"] });
    client.request(Method::PUT, &path, Some(own)).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let listed = m_direct(&client, &alice_id).await;
        if lists_all(&listed, &dms) {
            assert_eq!(listed["@friend:elsewhere.org"], json!(["!hers:elsewhere.org"]), "her own entry is kept");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "anti-entropy never repaired m.direct: {listed}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    app.stop().await;
}
