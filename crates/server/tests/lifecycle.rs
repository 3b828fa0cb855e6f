#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! Soft delete (archive), restore, and the hard delete after retention, on a
//! real homeserver, as members and the homeserver's admin see them.

mod common;

use std::time::{Duration, Instant};

use common::{Db, TestApp, assert_error, ok};
use matrix_sync_testkit::{UserClient, encode_segment};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

struct Setup {
    community: Uuid,
    council: Uuid,
    admin: Uuid,
    member: Uuid,
    rooms: Vec<String>,
}

async fn setup(app: &TestApp) -> Setup {
    let (community, council, admin, member) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    ok(app, Method::PUT, &format!("/v1/communities/{community}?wait=30"), Some(json!({ "name": "Garden" }))).await;
    ok(
        app,
        Method::PUT,
        &format!("/v1/communities/{community}/members/{admin}?wait=30"),
        Some(json!({ "trust_score": 0, "role": "admin" })),
    )
    .await;
    ok(
        app,
        Method::PUT,
        &format!("/v1/communities/{community}/members/{member}?wait=30"),
        Some(json!({ "trust_score": 40 })),
    )
    .await;
    ok(
        app,
        Method::PUT,
        &format!("/v1/councils/{council}?wait=30"),
        Some(json!({ "community_id": community, "name": "Stewards" })),
    )
    .await;
    ok(app, Method::PUT, &format!("/v1/councils/{council}/members/{member}?wait=30"), Some(json!({}))).await;
    let c = ok(app, Method::GET, &format!("/v1/communities/{community}"), None).await;
    let k = ok(app, Method::GET, &format!("/v1/councils/{council}"), None).await;
    let rooms = [&c["matrix_space_id"], &c["matrix_room_id"], &k["matrix_space_id"], &k["matrix_room_id"]]
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    Setup { community, council, admin, member, rooms }
}

async fn say(client: &UserClient, room: &str, text: &str) -> Result<Value, matrix_sync_testkit::MatrixError> {
    let path = format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{}", encode_segment(room), Uuid::new_v4());
    client.request(Method::PUT, &path, Some(json!({ "msgtype": "m.text", "body": text }))).await
}

async fn wait_for_status(app: &TestApp, path: &str, want: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let (_, body) = app.call(Method::GET, path, None).await;
        if body["status"] == want {
            return body;
        }
        assert!(Instant::now() < deadline, "{path} never became {want}: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn audit_actions(audit: &Value) -> Vec<String> {
    audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn archive_makes_rooms_read_only_and_restore_brings_them_back_as_they_were() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let member = UserClient::login(&app.hs, &app.hs.matrix_id(s.member)).await.unwrap();
    let admin = UserClient::login(&app.hs, &app.hs.matrix_id(s.admin)).await.unwrap();
    let general = s.rooms[1].clone();
    say(&member, &general, "before").await.expect("members can post");
    let mut before = Vec::new();
    for room in &s.rooms {
        before.push(member.state(room, "m.room.power_levels", "").await.unwrap());
    }
    let rules_before = member.state(&general, "m.room.join_rules", "").await.unwrap();

    let archived = ok(&app, Method::DELETE, &format!("/v1/communities/{}?wait=30", s.community), None).await;
    assert_eq!(archived["status"], "archived");
    assert!(archived["deleted_at"].is_string() && archived["hard_delete_at"].is_string(), "{archived}");
    let council = ok(&app, Method::GET, &format!("/v1/councils/{}", s.council), None).await;
    assert_eq!(council["status"], "archived", "a community's archive covers its councils");

    for room in &s.rooms {
        let refused = say(&member, room, "after").await.unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{room}: {refused:?}");
        assert!(member.state(room, "m.room.name", "").await.unwrap()["name"].as_str().unwrap().ends_with("(archived)"));
    }
    say(&admin, &general, "admins may still post").await.expect("admins can post in the archive");
    assert_eq!(member.state(&general, "m.room.join_rules", "").await.unwrap()["join_rule"], "invite");
    let history = member.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b", encode_segment(&general))).await;
    assert!(history.is_ok(), "members keep read access");
    assert_error(
        &app.call(Method::PUT, &format!("/v1/communities/{}", s.community), Some(json!({ "name": "X" }))).await,
        StatusCode::CONFLICT,
        "archived",
    );

    let restored = ok(&app, Method::POST, &format!("/v1/communities/{}/restore?wait=30", s.community), None).await;
    assert_eq!(restored["status"], "synced");
    assert!(restored["deleted_at"].is_null());
    say(&member, &general, "back").await.expect("members can post again");
    for (room, levels) in s.rooms.iter().zip(before) {
        assert_eq!(member.state(room, "m.room.power_levels", "").await.unwrap(), levels, "{room}: levels as before");
    }
    assert_eq!(member.state(&general, "m.room.join_rules", "").await.unwrap(), rules_before);
    assert_eq!(member.state(&general, "m.room.name", "").await.unwrap()["name"], "General");

    let audit = ok(&app, Method::GET, &format!("/v1/audit?community_id={}&limit=100", s.community), None).await;
    let actions = audit_actions(&audit);
    assert_eq!(actions.iter().filter(|a| *a == "room_archived").count(), 4, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "room_restored").count(), 4, "{actions:?}");
    assert!(!actions.iter().any(|a| a == "drift_reverted"), "archiving is not drift: {actions:?}");
    assert_error(
        &app.call(Method::POST, &format!("/v1/communities/{}/restore", s.community), None).await,
        StatusCode::CONFLICT,
        "not_deleted",
    );
    app.stop().await;
}

#[tokio::test]
async fn a_council_is_archived_and_restored_on_its_own() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let member = UserClient::login(&app.hs, &app.hs.matrix_id(s.member)).await.unwrap();
    let archived = ok(&app, Method::DELETE, &format!("/v1/councils/{}?wait=30", s.council), None).await;
    assert_eq!(archived["status"], "archived");
    assert_eq!(say(&member, &s.rooms[3], "x").await.unwrap_err().status, StatusCode::FORBIDDEN);
    say(&member, &s.rooms[1], "the General room is untouched").await.unwrap();
    let restored = ok(&app, Method::POST, &format!("/v1/councils/{}/restore?wait=30", s.council), None).await;
    assert_eq!(restored["status"], "synced");
    say(&member, &s.rooms[3], "back").await.unwrap();
    app.stop().await;
}

/// Turning chat off is a pause, not a delete: the rooms are archived as a
/// soft delete archives them, but nothing is scheduled for deletion (no
/// `deleted_at`, no `hard_delete_at`), the retention never ends it, and
/// turning chat on again brings the rooms back with whatever changed
/// meanwhile.
#[tokio::test]
async fn turning_chat_off_archives_without_a_deletion_and_on_restores() {
    let app = TestApp::spawn_with(Db::Sqlite, &[("MATRIX_SYNC_RETENTION", "2s")]).await;
    let s = setup(&app).await;
    let member = UserClient::login(&app.hs, &app.hs.matrix_id(s.member)).await.unwrap();
    let off = json!({ "name": "Garden", "config": { "matrixEnabled": false } });
    let status = ok(&app, Method::PUT, &format!("/v1/communities/{}?wait=30", s.community), Some(off)).await;
    assert_eq!(status["status"], "archived");
    assert!(status["deleted_at"].is_null() && status["hard_delete_at"].is_null(), "{status}");
    assert_eq!(say(&member, &s.rooms[1], "x").await.unwrap_err().status, StatusCode::FORBIDDEN);
    // A newcomer while chat is off is recorded, and waits to be let in.
    let newcomer = Uuid::new_v4();
    let path = format!("/v1/communities/{}/members/{newcomer}", s.community);
    assert_eq!(app.call(Method::PUT, &path, Some(json!({ "trust_score": 5 }))).await.0, StatusCode::ACCEPTED);
    // Long past the retention (the sweeper looks every second here): still
    // archived, not deleted, its rooms all there.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let status = ok(&app, Method::GET, &format!("/v1/communities/{}", s.community), None).await;
    assert_eq!(status["status"], "archived", "{status}");
    assert_eq!(status["matrix_room_id"], s.rooms[1].as_str());
    assert_eq!(ok(&app, Method::GET, &format!("/v1/councils/{}", s.council), None).await["status"], "archived");
    let on = json!({ "name": "Garden", "config": { "matrixEnabled": true } });
    assert_eq!(
        ok(&app, Method::PUT, &format!("/v1/communities/{}?wait=30", s.community), Some(on)).await["status"],
        "synced"
    );
    say(&member, &s.rooms[1], "back").await.unwrap();
    let newcomer = UserClient::login(&app.hs, &app.hs.matrix_id(newcomer)).await.unwrap();
    assert!(newcomer.joined_rooms().await.unwrap().contains(&s.rooms[1]), "the newcomer is in the General room");
    app.stop().await;
}

/// With an admin token: after the retention the rooms are purged from the
/// homeserver, the status says `deleted`, the audit keeps the story, and
/// nothing can bring them back.
#[tokio::test]
async fn after_retention_the_rooms_are_purged() {
    let app = TestApp::spawn_with(Db::Sqlite, &[("MATRIX_SYNC_RETENTION", "4s")]).await;
    let s = setup(&app).await;
    let member = UserClient::login(&app.hs, &app.hs.matrix_id(s.member)).await.unwrap();
    ok(&app, Method::DELETE, &format!("/v1/communities/{}?wait=30", s.community), None).await;
    let deleted =
        wait_for_status(&app, &format!("/v1/communities/{}", s.community), "deleted", Duration::from_secs(60)).await;
    assert!(deleted["matrix_space_id"].is_null() && deleted["matrix_room_id"].is_null(), "{deleted}");
    assert_eq!(ok(&app, Method::GET, &format!("/v1/councils/{}", s.council), None).await["status"], "deleted");

    let admin = UserClient::with_token(&app.hs, "@synapse-admin:localhost", app.hs.get("MATRIX_ADMIN_ACCESS_TOKEN"));
    for room in &s.rooms {
        let gone = admin.get(&format!("/_synapse/admin/v1/rooms/{}", encode_segment(room))).await.unwrap_err();
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{room} is purged");
    }
    let joined = member.joined_rooms().await.unwrap();
    assert!(s.rooms.iter().all(|r| !joined.contains(r)), "{joined:?}");

    let audit = ok(&app, Method::GET, &format!("/v1/audit?community_id={}&limit=200", s.community), None).await;
    let actions = audit_actions(&audit);
    assert_eq!(actions.iter().filter(|a| *a == "room_deleted").count(), 4, "{actions:?}");
    assert!(actions.iter().any(|a| a == "room_archived") && actions.iter().any(|a| a == "room_created"));

    let again = app.call(Method::POST, &format!("/v1/communities/{}/restore", s.community), None).await;
    assert_error(&again, StatusCode::GONE, "already_deleted");
    let recreate =
        app.call(Method::PUT, &format!("/v1/communities/{}", s.community), Some(json!({ "name": "Garden" }))).await;
    assert_error(&recreate, StatusCode::GONE, "already_deleted");
    let member_path = format!("/v1/communities/{}/members/{}", s.community, Uuid::new_v4());
    let join = app.call(Method::PUT, &member_path, Some(json!({ "trust_score": 1 }))).await;
    assert_error(&join, StatusCode::GONE, "already_deleted");
    let alias = format!("#_matrix_sync_community_{}_space:{}", s.community.simple(), app.hs.server_name());
    let resolved = member.get(&format!("/_matrix/client/v3/directory/room/{}", encode_segment(&alias))).await;
    assert!(resolved.is_err(), "nothing was recreated by accident");
    app.stop().await;
}

/// Without an admin token the rooms are abandoned: members removed, aliases
/// released, the service gone. (The history stays on the homeserver.)
#[tokio::test]
async fn without_an_admin_token_rooms_are_abandoned() {
    let app =
        TestApp::spawn_with(Db::Sqlite, &[("MATRIX_SYNC_RETENTION", "3s"), ("MATRIX_ADMIN_ACCESS_TOKEN", "")]).await;
    let s = setup(&app).await;
    let member = UserClient::login(&app.hs, &app.hs.matrix_id(s.member)).await.unwrap();
    ok(&app, Method::DELETE, &format!("/v1/communities/{}?wait=30", s.community), None).await;
    wait_for_status(&app, &format!("/v1/communities/{}", s.community), "deleted", Duration::from_secs(60)).await;
    let joined = member.joined_rooms().await.unwrap();
    assert!(s.rooms.iter().all(|r| !joined.contains(r)), "{joined:?}");
    let manager = UserClient::manager(&app.hs);
    let managed = manager.joined_rooms().await.unwrap();
    assert!(s.rooms.iter().all(|r| !managed.contains(r)), "the service left");
    let alias = format!("#_matrix_sync_council_{}_discussion:{}", s.council.simple(), app.hs.server_name());
    assert!(member.get(&format!("/_matrix/client/v3/directory/room/{}", encode_segment(&alias))).await.is_err());
    app.stop().await;
}

/// Two service processes on one PostgreSQL database: the hard delete
/// happens once (no double deletes) and is not missed.
#[tokio::test]
async fn the_sweeper_deletes_once_with_two_processes() {
    let first = TestApp::spawn_with(Db::Postgres, &[("MATRIX_SYNC_RETENTION", "3s")]).await;
    let schema = first.settings["MATRIX_SYNC_DB_SCHEMA"].clone();
    let url = first.settings["DATABASE_URL"].clone();
    let second = TestApp::spawn_with(
        Db::Sqlite,
        &[("DATABASE_URL", &url), ("MATRIX_SYNC_DB_SCHEMA", &schema), ("MATRIX_SYNC_RETENTION", "3s")],
    )
    .await;
    let s = setup(&first).await;
    ok(&second, Method::DELETE, &format!("/v1/communities/{}?wait=30", s.community), None).await;
    wait_for_status(&first, &format!("/v1/communities/{}", s.community), "deleted", Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await; // both sweepers have had their turn
    let audit = ok(&second, Method::GET, &format!("/v1/audit?community_id={}&limit=200", s.community), None).await;
    let deletes: Vec<&Value> =
        audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "room_deleted").collect();
    assert_eq!(deletes.len(), 4, "each room deleted exactly once: {deletes:?}");
    second.stop().await;
    first.stop().await;
}

/// Every write under an archived community (or council) is refused as a
/// write to it is, rather than accepted and left undone: `409 archived`
/// until it is restored.
#[tokio::test]
async fn writes_under_an_archived_parent_are_refused_until_it_is_restored() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    ok(&app, Method::DELETE, &format!("/v1/councils/{}?wait=30", s.council), None).await;
    let council_member = format!("/v1/councils/{}/members/{}", s.council, s.admin);
    let refused = app.call(Method::PUT, &council_member, Some(json!({}))).await;
    assert_error(&refused, StatusCode::CONFLICT, "archived");
    ok(&app, Method::POST, &format!("/v1/councils/{}/restore?wait=30", s.council), None).await;

    ok(&app, Method::DELETE, &format!("/v1/communities/{}?wait=30", s.community), None).await;
    let newcomer = Uuid::new_v4();
    let writes = [
        (Method::PUT, format!("/v1/communities/{}/members/{newcomer}", s.community), Some(json!({ "trust_score": 1 }))),
        (Method::DELETE, format!("/v1/communities/{}/members/{}", s.community, s.member), None),
        (
            Method::PUT,
            format!("/v1/councils/{}", Uuid::new_v4()),
            Some(json!({ "community_id": s.community, "name": "New" })),
        ),
        (
            Method::PUT,
            format!("/v1/councils/{}", s.council),
            Some(json!({ "community_id": s.community, "name": "Renamed" })),
        ),
        (Method::PUT, council_member.clone(), Some(json!({}))),
        (Method::DELETE, format!("/v1/councils/{}/members/{}", s.council, s.member), None),
        (Method::DELETE, format!("/v1/councils/{}", s.council), None),
        (Method::POST, format!("/v1/councils/{}/restore", s.council), None),
    ];
    for (method, path, body) in writes {
        let answer = app.call(method.clone(), &path, body).await;
        assert_error(&answer, StatusCode::CONFLICT, "archived");
        assert!(answer.1["error"]["message"].as_str().unwrap().contains("restore it first"), "{method} {path}");
    }
    ok(&app, Method::POST, &format!("/v1/communities/{}/restore?wait=30", s.community), None).await;
    let members = app.state.engine.store.council_members(s.council).await.unwrap();
    assert_eq!(members.len(), 1, "nothing refused was recorded: {members:?}");
    ok(
        &app,
        Method::PUT,
        &format!("/v1/communities/{}/members/{newcomer}?wait=30", s.community),
        Some(json!({ "trust_score": 1 })),
    )
    .await;
    app.stop().await;
}

/// A community whose retention ended is purging: a restore now would bring
/// back rooms the purge is removing, so it is refused (`409 purging`), and
/// nothing half-deleted is ever reported restored. (The admin token is
/// refused here, so the purge cannot finish and the answer is certain.)
#[tokio::test]
async fn a_community_whose_retention_ended_is_never_restored() {
    let app = TestApp::spawn_with(
        Db::Sqlite,
        &[("MATRIX_SYNC_RETENTION", "2s"), ("MATRIX_ADMIN_ACCESS_TOKEN", "syt_revoked_admin_token")],
    )
    .await;
    let s = setup(&app).await;
    ok(&app, Method::DELETE, &format!("/v1/communities/{}?wait=30", s.community), None).await;
    let path = format!("/v1/communities/{}", s.community);
    let failing = wait_for_status(&app, &path, "error", Duration::from_secs(60)).await;
    assert!(failing["last_error"].as_str().unwrap().contains("admin"), "{failing}");
    let restore = app.call(Method::POST, &format!("{path}/restore"), None).await;
    assert_error(&restore, StatusCode::CONFLICT, "purging");
    let council_restore = app.call(Method::POST, &format!("/v1/councils/{}/restore", s.council), None).await;
    assert_eq!(council_restore.0, StatusCode::CONFLICT, "{council_restore:?}");
    let after = app.call(Method::GET, &path, None).await.1;
    assert!(after["deleted_at"].is_string(), "still deleted: {after}");
    app.stop().await;
}

/// The admin API fails in the middle of a council's hard delete: the purge
/// is the council's own job, so the community's work goes on (a member
/// added meanwhile is joined, the community stays `synced`), a restore is
/// refused, and once the API is back the purge finishes, each room deleted
/// and audited once.
#[tokio::test]
async fn a_failing_council_purge_holds_up_nothing_and_finishes_once_the_admin_api_is_back() {
    let app = TestApp::spawn_with(
        Db::Postgres,
        &[("MATRIX_SYNC_RETENTION", "3s"), ("MATRIX_ADMIN_ACCESS_TOKEN", "syt_revoked_admin_token")],
    )
    .await;
    let s = setup(&app).await;
    ok(&app, Method::DELETE, &format!("/v1/councils/{}?wait=30", s.council), None).await;
    let council = format!("/v1/councils/{}", s.council);
    let failing = wait_for_status(&app, &council, "error", Duration::from_secs(60)).await;
    assert!(failing["matrix_room_id"].is_string(), "rooms not forgotten before they are gone: {failing}");
    assert_error(&app.call(Method::POST, &format!("{council}/restore"), None).await, StatusCode::CONFLICT, "purging");

    let newcomer = Uuid::new_v4();
    let joined = ok(
        &app,
        Method::PUT,
        &format!("/v1/communities/{}/members/{newcomer}?wait=30", s.community),
        Some(json!({ "trust_score": 0 })),
    )
    .await;
    assert_eq!(joined["status"], "synced", "the community's work goes on: {joined}");
    let general = &s.rooms[1];
    let client = UserClient::login(&app.hs, &app.hs.matrix_id(newcomer)).await.unwrap();
    assert!(client.joined_rooms().await.unwrap().contains(general));

    let token = app.hs.get("MATRIX_ADMIN_ACCESS_TOKEN").to_owned();
    let app = app.restart_with(&[("MATRIX_ADMIN_ACCESS_TOKEN", &token)]).await;
    wait_for_status(&app, &council, "deleted", Duration::from_secs(60)).await;
    let admin = UserClient::with_token(&app.hs, "@synapse-admin:localhost", &token);
    for room in &s.rooms[2..] {
        let gone = admin.get(&format!("/_synapse/admin/v1/rooms/{}", encode_segment(room))).await.unwrap_err();
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{room} is purged");
    }
    assert!(client.joined_rooms().await.unwrap().contains(general), "the community's rooms stay");
    assert_error(
        &app.call(Method::POST, &format!("{council}/restore"), None).await,
        StatusCode::GONE,
        "already_deleted",
    );
    let audit = ok(&app, Method::GET, &format!("/v1/audit?community_id={}&limit=200", s.community), None).await;
    let deleted = audit_actions(&audit).iter().filter(|a| *a == "room_deleted").count();
    assert_eq!(deleted, 2, "the council's two rooms, once each");
    app.stop().await;
}
