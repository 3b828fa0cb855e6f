#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! Nobody ends above what their trust earns: what members try on the
//! homeserver itself, with their own tokens. (An admin raising someone by
//! hand is reverted: `communities.rs`; an outsider reading or joining a
//! council room: `councils_and_requests.rs`.)

mod common;

use std::time::Duration;

use common::{TestApp, eventually, login, ok};
use matrix_sync_testkit::UserClient;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

async fn member(app: &TestApp, community: Uuid, user: Uuid, trust: i64) {
    let path = format!("/v1/communities/{community}/members/{user}?wait=30");
    ok(app, Method::PUT, &path, Some(json!({ "trust_score": trust }))).await;
}

#[track_caller]
fn forbidden<T: std::fmt::Debug>(result: Result<T, matrix_sync_testkit::MatrixError>, what: &str) {
    let error = result.expect_err(what);
    assert_eq!(error.status, StatusCode::FORBIDDEN, "{what}: {error:?}");
}

async fn joined(client: &UserClient, room: &str) -> bool {
    client.joined_rooms().await.unwrap().iter().any(|r| r == room)
}

#[tokio::test]
async fn a_moderator_cannot_raise_anyone_or_open_the_rooms() {
    let app = TestApp::spawn().await;
    let (community, moderator, friend) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let c =
        ok(&app, Method::PUT, &format!("/v1/communities/{community}?wait=30"), Some(json!({ "name": "Guild" }))).await;
    member(&app, community, moderator, 45).await;
    member(&app, community, friend, 0).await;
    let (space, general) = (c["matrix_space_id"].as_str().unwrap(), c["matrix_room_id"].as_str().unwrap());
    let mod_c = login(&app, moderator).await;
    let (mod_id, friend_id) = (app.hs.matrix_id(moderator), app.hs.matrix_id(friend));
    for room in [space, general] {
        let levels = mod_c.state(room, "m.room.power_levels", "").await.unwrap();
        assert_eq!(levels["users"][&mod_id], 50, "a moderator, as trust 45 earns");
        for (who, to) in [(&mod_id, 100), (&mod_id, 51), (&friend_id, 50)] {
            let mut raised = levels.clone();
            raised["users"][who] = json!(to);
            forbidden(mod_c.put_state(room, "m.room.power_levels", "", raised).await, "raising by hand");
        }
        let mut lowered = levels.clone();
        lowered["state_default"] = json!(0);
        lowered["events"]["m.room.power_levels"] = json!(50);
        forbidden(mod_c.put_state(room, "m.room.power_levels", "", lowered).await, "lowering the bar");
        let public = json!({ "join_rule": "public" });
        forbidden(mod_c.put_state(room, "m.room.join_rules", "", public).await, "opening the room");
    }
    let child = json!({ "via": [app.hs.server_name()] });
    forbidden(
        mod_c.put_state(space, "m.space.child", "!elsewhere:localhost", child).await,
        "adding a room to the Space",
    );
    app.stop().await;
}

#[tokio::test]
async fn a_council_room_keeps_out_whoever_is_not_on_the_council() {
    let app = TestApp::spawn_receiving_pushes(&[]).await;
    let (community, council, inviter, outsider) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    ok(&app, Method::PUT, &format!("/v1/communities/{community}?wait=30"), Some(json!({ "name": "Guild" }))).await;
    member(&app, community, inviter, 20).await; // level 25: may invite
    member(&app, community, outsider, 45).await; // a moderator of the community, not of the council
    let path = format!("/v1/councils/{council}?wait=30");
    let k = ok(&app, Method::PUT, &path, Some(json!({ "community_id": community, "name": "Stewards" }))).await;
    ok(&app, Method::PUT, &format!("/v1/councils/{council}/members/{inviter}?wait=30"), Some(json!({}))).await;
    let room = k["matrix_room_id"].as_str().unwrap();
    let outsider_c = login(&app, outsider).await;

    // Uninvited: refused.
    forbidden(
        outsider_c.request(Method::POST, &format!("/_matrix/client/v3/join/{}", enc(room)), Some(json!({}))).await,
        "joining uninvited",
    );
    // Invited by a council member (level 25 may invite) and joined: the
    // service takes them out again, since the platform says they are not on
    // the council.
    let inviter_c = login(&app, inviter).await;
    inviter_c.moderate(room, "invite", &app.hs.matrix_id(outsider)).await.expect("a council member at 25 may invite");
    outsider_c
        .request(Method::POST, &format!("/_matrix/client/v3/join/{}", enc(room)), Some(json!({})))
        .await
        .expect("joins when invited");
    eventually("the uninvited-by-the-platform member is removed", Duration::from_secs(60), || async {
        !joined(&outsider_c, room).await
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn nobody_joins_an_archived_community() {
    let app = TestApp::spawn().await;
    let (community, stays, removed, stranger) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let c =
        ok(&app, Method::PUT, &format!("/v1/communities/{community}?wait=30"), Some(json!({ "name": "Guild" }))).await;
    member(&app, community, stays, 45).await;
    member(&app, community, removed, 10).await;
    ok(&app, Method::DELETE, &format!("/v1/communities/{community}/members/{removed}?wait=30"), None).await;
    ok(&app, Method::PUT, &format!("/v1/users/{stranger}"), None).await;
    let (status, body) = app.call(Method::DELETE, &format!("/v1/communities/{community}?wait=30"), None).await;
    assert!(status.is_success(), "{body}");
    let (space, general) = (c["matrix_space_id"].as_str().unwrap(), c["matrix_room_id"].as_str().unwrap());
    for user in [removed, stranger] {
        let client = login(&app, user).await;
        for room in [space, general] {
            let path = format!("/_matrix/client/v3/join/{}", enc(room));
            forbidden(client.request(Method::POST, &path, Some(json!({}))).await, "joining an archived room");
        }
    }
    // The moderator who stayed cannot let anyone in either.
    let mod_c = login(&app, stays).await;
    forbidden(mod_c.moderate(general, "invite", &app.hs.matrix_id(stranger)).await, "inviting into an archived room");
    let mut levels = mod_c.state(general, "m.room.power_levels", "").await.unwrap();
    levels["invite"] = json!(0);
    forbidden(mod_c.put_state(general, "m.room.power_levels", "", levels).await, "reopening it by hand");
    app.stop().await;
}

fn enc(segment: &str) -> String {
    matrix_sync_testkit::encode_segment(segment)
}
