#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! UC-5, federation: users of another homeserver take part. Two Synapses on
//! loopback federate over TLS (`dev/synapse.sh` with `SYNAPSE_FEDERATION=1`,
//! a test CA both trust); the service runs on the first, and users of the
//! second are named by their full Matrix ids: invited, never provisioned,
//! with the same power rules.

mod common;

use std::time::Duration;

use common::{Db, TestApp, assert_error, eventually, ok};
use matrix_sync_testkit::{EncryptedUser, LocalHomeserver, UserClient};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

const APP_URL: &str = "https://app.example.org";

async fn spawn() -> TestApp {
    TestApp::spawn_receiving_pushes_on(
        LocalHomeserver::for_federation(),
        Db::Sqlite,
        &[("MATRIX_SYNC_APP_URL", APP_URL), ("MATRIX_SYNC_COALESCE", "50ms")],
    )
    .await
}

/// A user of the other homeserver, registered there as its own platform
/// would, with a plain client.
async fn remote_user() -> UserClient {
    UserClient::register(&LocalHomeserver::for_federation_peer(), &Uuid::new_v4().to_string()).await.unwrap()
}

/// Waits until the remote user has an invitation to `room_id`, then joins
/// it (over federation: their server asks the inviting one).
async fn accept_invite(user: &UserClient, room_id: &str) {
    eventually(&format!("{} is invited to {room_id}", user.user_id), Duration::from_secs(30), || async {
        let sync = user.get("/_matrix/client/v3/sync?timeout=0").await.unwrap_or(Value::Null);
        sync["rooms"]["invite"].get(room_id).is_some() || sync["rooms"]["join"].get(room_id).is_some()
    })
    .await;
    let path = format!("/_matrix/client/v3/join/{}", matrix_sync_testkit::encode_segment(room_id));
    user.request(Method::POST, &path, Some(json!({}))).await.unwrap();
}

fn membership(state: &[Value], user: &str) -> Option<String> {
    state
        .iter()
        .find(|e| e["type"] == "m.room.member" && e["state_key"] == user)
        .and_then(|e| e["content"]["membership"].as_str().map(str::to_owned))
}

/// UC-5 step 3 and 4: a user of this instance and a user of another one
/// share the request's encrypted DM; each reads the other's messages and
/// both read the bot's.
#[tokio::test]
async fn a_local_and_a_remote_user_read_each_others_encrypted_messages() {
    let app = spawn().await;
    let peer = LocalHomeserver::for_federation_peer();
    let alice = Uuid::new_v4();
    let bob = remote_user().await;
    ok(&app, Method::PUT, &format!("/v1/users/{alice}"), None).await;
    // Both have a device with keys before anyone speaks.
    let alice_device = EncryptedUser::login(&app.hs, &app.hs.matrix_id(alice)).await;
    let bob_device = EncryptedUser::login(&peer, &bob.user_id).await;

    let community = Uuid::new_v4();
    app.api().success(Method::PUT, &format!("/v1/communities/{community}"), Some(json!({ "name": "Tools" }))).await;
    let request = Uuid::new_v4();
    let accept = json!({ "community_id": community, "requester_id": bob.user_id, "owner_id": alice, "title": "Drill" });
    let answer = ok(&app, Method::POST, &format!("/v1/requests/{request}/accept?wait=30"), Some(accept)).await;
    assert_eq!(answer["status"], "synced", "{answer}");
    let dm = answer["matrix_room_id"].as_str().unwrap().to_owned();

    // The remote user was invited, not joined for them; they accept.
    let state = UserClient::login(&app.hs, &app.hs.matrix_id(alice)).await.unwrap().all_state(&dm).await.unwrap();
    assert_eq!(membership(&state, &bob.user_id).as_deref(), Some("invite"));
    assert_eq!(membership(&state, &app.hs.matrix_id(alice)).as_deref(), Some("join"));
    accept_invite(&bob, &dm).await;

    let link = format!("{APP_URL}/requests/{request}");
    let seen = bob_device.wait_for_message(&dm, &link, Duration::from_secs(30)).await.expect("bob reads the bot");
    assert!(seen.decrypted, "{seen:?}");
    let seen = alice_device.wait_for_message(&dm, &link, Duration::from_secs(30)).await.expect("alice reads the bot");
    assert!(seen.decrypted, "{seen:?}");

    bob_device.send_text(&dm, "Hello from the other instance").await;
    let seen = alice_device
        .wait_for_message(&dm, "Hello from the other instance", Duration::from_secs(30))
        .await
        .expect("alice reads bob");
    assert!(seen.decrypted && seen.sender == bob.user_id, "{seen:?}");
    alice_device.send_text(&dm, "Hello back").await;
    let seen = bob_device.wait_for_message(&dm, "Hello back", Duration::from_secs(30)).await.expect("bob reads alice");
    assert!(seen.decrypted && seen.sender == app.hs.matrix_id(alice), "{seen:?}");

    // The same pair through POST /v1/dms, named either way, is the same room.
    let direct = json!({ "user_a": bob.user_id, "user_b": app.hs.matrix_id(alice) });
    assert_eq!(ok(&app, Method::POST, "/v1/dms", Some(direct)).await["room_id"], dm.as_str());
    app.stop().await;
}

/// A remote member of a community is invited to its Space and General
/// room, joins them from their own server, holds the level their trust
/// earns as anyone else would, and is removed when the platform says so.
#[tokio::test]
async fn a_remote_member_joins_the_general_room_with_the_level_their_trust_earns() {
    let app = spawn().await;
    let carol = remote_user().await;
    let local = Uuid::new_v4();
    let community = Uuid::new_v4();
    app.api().success(Method::PUT, &format!("/v1/communities/{community}"), Some(json!({ "name": "Federated" }))).await;
    app.api()
        .success(
            Method::PUT,
            &format!("/v1/communities/{community}/members/{local}"),
            Some(json!({ "trust_score": 0 })),
        )
        .await;
    let member_path = format!("/v1/communities/{community}/members/{}", carol.user_id);
    let answer = ok(&app, Method::PUT, &format!("{member_path}?wait=30"), Some(json!({ "trust_score": 40 }))).await;
    assert_eq!(answer["user_id"], carol.user_id.as_str());
    assert_eq!(answer["matrix_user_id"], carol.user_id.as_str());
    assert_eq!(answer["power_level"], 50);
    assert_eq!(answer["status"], "synced", "{answer}");

    // Audited like anyone's arrival: in the Space and the General room.
    let audit = ok(&app, Method::GET, &format!("/v1/audit?community_id={community}&limit=200"), None).await;
    let arrivals = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "member_joined" && e["user_id"] == carol.user_id.as_str())
        .count();
    assert_eq!(arrivals, 2, "{audit}");
    let status = ok(&app, Method::GET, &format!("/v1/communities/{community}"), None).await;
    let (space, general) =
        (status["matrix_space_id"].as_str().unwrap().to_owned(), status["matrix_room_id"].as_str().unwrap().to_owned());
    // Never provisioned here: no account of hers on this homeserver.
    assert_error(
        &app.call(Method::GET, &format!("/v1/users/{}", carol.user_id), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    accept_invite(&carol, &space).await;
    accept_invite(&carol, &general).await;
    let local_client = UserClient::login(&app.hs, &app.hs.matrix_id(local)).await.unwrap();
    for room in [&space, &general] {
        // Both servers agree: she is in, at level 50.
        let levels = carol.state(room, "m.room.power_levels", "").await.unwrap();
        assert_eq!(levels["users"][&carol.user_id], 50, "{levels}");
        eventually("the room's own server sees her joined", Duration::from_secs(30), || async {
            let state = local_client.all_state(room).await.unwrap_or_default();
            membership(&state, &carol.user_id).as_deref() == Some("join")
        })
        .await;
    }
    // She reads and writes in the General room like anyone else.
    let path =
        format!("/_matrix/client/v3/rooms/{}/send/m.room.message/t1", matrix_sync_testkit::encode_segment(&general));
    carol.request(Method::PUT, &path, Some(json!({ "msgtype": "m.text", "body": "hi all" }))).await.unwrap();

    // Her trust falls: her level follows on both servers.
    ok(&app, Method::PUT, &format!("{member_path}?wait=30"), Some(json!({ "trust_score": 20 }))).await;
    eventually("her level is 25 as her server sees it", Duration::from_secs(30), || async {
        carol.state(&general, "m.room.power_levels", "").await.is_ok_and(|l| l["users"][&carol.user_id] == 25)
    })
    .await;

    // Removed by the platform: out of both rooms.
    ok(&app, Method::DELETE, &format!("{member_path}?wait=30"), None).await;
    for room in [&space, &general] {
        let state = local_client.all_state(room).await.unwrap();
        assert_eq!(membership(&state, &carol.user_id).as_deref(), Some("leave"), "{room}");
    }
    app.stop().await;
}

/// A remote member whose homeserver cannot be reached holds up nobody
/// else: the community's rooms are made and its local members join; its
/// status says what failed, and once that member is removed it is synced.
#[tokio::test]
async fn an_unreachable_remote_homeserver_holds_up_no_one_else() {
    let app = spawn().await;
    let community = Uuid::new_v4();
    let ghost = "@ghost:localhost:1"; // nothing listens there
    let local = Uuid::new_v4();
    app.api().success(Method::PUT, &format!("/v1/communities/{community}"), Some(json!({ "name": "Reachable" }))).await;
    let member =
        |user: &str| format!("/v1/communities/{community}/members/{}", matrix_sync_testkit::encode_segment(user));
    app.api().success(Method::PUT, &member(ghost), Some(json!({ "trust_score": 40 }))).await;
    app.api().success(Method::PUT, &member(&local.to_string()), Some(json!({ "trust_score": 0 }))).await;
    let status_path = format!("/v1/communities/{community}");
    eventually("the failed invitation shows in the status", Duration::from_secs(90), || async {
        let status = app.call(Method::GET, &status_path, None).await.1;
        status["status"] == "error" && status["last_error"].as_str().is_some_and(|e| e.contains("invite"))
    })
    .await;
    let status = app.call(Method::GET, &status_path, None).await.1;
    let general = status["matrix_room_id"].as_str().expect("the General room was made").to_owned();
    let local_client = UserClient::login(&app.hs, &app.hs.matrix_id(local)).await.unwrap();
    eventually("the local member is in", Duration::from_secs(30), || async {
        local_client.joined_rooms().await.unwrap_or_default().contains(&general)
    })
    .await;
    let levels = local_client.state(&general, "m.room.power_levels", "").await.unwrap();
    assert_eq!(levels["users"][ghost], 50, "levels are set whatever their server does: {levels}");

    ok(&app, Method::DELETE, &format!("{}?wait=30", member(ghost)), None).await;
    assert_eq!(app.call(Method::GET, &status_path, None).await.1["status"], "synced");
    app.stop().await;
}

/// Where the API takes a user it takes a full Matrix id; what cannot be
/// done for a remote user is refused with a clear code.
#[tokio::test]
async fn remote_users_are_named_by_matrix_id_and_never_provisioned() {
    let app = spawn().await;
    let remote = "@dave:elsewhere.example";
    let local_other = format!("@alice:{}", app.hs.server_name());
    assert_error(
        &app.call(Method::PUT, &format!("/v1/users/{remote}"), None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "remote_user",
    );
    assert_error(
        &app.call(Method::GET, &format!("/v1/users/{remote}/sessions"), None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "remote_user",
    );
    let community = Uuid::new_v4();
    app.api().success(Method::PUT, &format!("/v1/communities/{community}"), Some(json!({ "name": "C" }))).await;
    let put = |user: &str| format!("/v1/communities/{community}/members/{}", matrix_sync_testkit::encode_segment(user));
    let trust = Some(json!({ "trust_score": 1 }));
    assert_error(
        &app.call(Method::PUT, &put(&local_other), trust.clone()).await,
        StatusCode::BAD_REQUEST,
        "invalid_id",
    );
    assert_error(&app.call(Method::PUT, &put("@nobody"), trust.clone()).await, StatusCode::BAD_REQUEST, "invalid_id");
    assert_error(&app.call(Method::PUT, &put("bob"), trust.clone()).await, StatusCode::BAD_REQUEST, "invalid_id");
    // A platform user may be named by their Matrix id too: the same member.
    let platform = Uuid::new_v4();
    app.api().success(Method::PUT, &put(&platform.to_string()), trust.clone()).await;
    let by_matrix_id =
        app.api().success(Method::PUT, &put(&app.hs.matrix_id(platform)), Some(json!({ "trust_score": 7 }))).await;
    assert_eq!(by_matrix_id["user_id"], platform.to_string());
    assert_eq!(by_matrix_id["power_level"], 10);
    let dm = json!({ "user_a": remote, "user_b": "not a user" });
    assert_error(&app.call(Method::POST, "/v1/dms", Some(dm)).await, StatusCode::BAD_REQUEST, "invalid_id");
    app.stop().await;
}
