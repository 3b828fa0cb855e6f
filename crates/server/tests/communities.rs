#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! Communities on a real homeserver, checked the way a member sees them:
//! with their own token.
//!
//! Over 500 lines on purpose: one test per behaviour of a community's rooms
//! (creation, levels, drift, bursts, capacity), sharing the helpers above.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Db, TestApp, assert_error, eventually, login, rooms_marked_for};
use matrix_sync_testkit::UserClient;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

async fn put_community(app: &TestApp, id: Uuid, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, &format!("/v1/communities/{id}?wait=30"), Some(body)).await
}

async fn put_member(app: &TestApp, c: Uuid, user: Uuid, trust: i64, role: &str) -> (StatusCode, Value) {
    let body = json!({ "trust_score": trust, "role": role });
    app.call(Method::PUT, &format!("/v1/communities/{c}/members/{user}?wait=30"), Some(body)).await
}

async fn level_in(client: &UserClient, room: &str, user: &str) -> i64 {
    let pl = client.state(room, "m.room.power_levels", "").await.unwrap();
    pl["users"][user].as_i64().unwrap_or(0)
}

struct Community {
    id: Uuid,
    space: String,
    general: String,
}

async fn create_community(app: &TestApp, members: &[(Uuid, i64, &str)]) -> Community {
    let id = Uuid::new_v4();
    let (status, body) = put_community(app, id, json!({ "name": "Makers" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (user, trust, role) in members {
        let (status, body) = put_member(app, id, *user, *trust, role).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "synced");
    }
    let (_, status) = app.call(Method::GET, &format!("/v1/communities/{id}"), None).await;
    Community {
        id,
        space: status["matrix_space_id"].as_str().unwrap().to_owned(),
        general: status["matrix_room_id"].as_str().unwrap().to_owned(),
    }
}

async fn hierarchy_and_levels_as_a_member_sees_them(db: Db) {
    let app = TestApp::spawn_with(db, &[]).await;
    let (low, invite, moderator, admin) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let c = create_community(
        &app,
        &[(low, 0, "member"), (invite, 15, "member"), (moderator, 30, "member"), (admin, 0, "admin")],
    )
    .await;
    let (status, body) = app.call(Method::GET, &format!("/v1/communities/{}", c.id), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "synced");

    let me = UserClient::login(&app.hs, &app.hs.matrix_id(low)).await.unwrap();
    let joined = me.joined_rooms().await.unwrap();
    assert!(joined.contains(&c.space) && joined.contains(&c.general), "{joined:?}");

    // The Space is a Space, linked to its General room both ways.
    let create = me.state(&c.space, "m.room.create", "").await.unwrap();
    assert_eq!(create["type"], "m.space");
    assert_eq!(create["room_version"], "12");
    assert_eq!(me.state(&c.space, "m.room.name", "").await.unwrap()["name"], "Makers");
    let child = me.state(&c.space, "m.space.child", &c.general).await.unwrap();
    assert!(!child["via"].as_array().unwrap().is_empty());
    let parent = me.state(&c.general, "m.space.parent", &c.space).await.unwrap();
    assert!(!parent["via"].as_array().unwrap().is_empty());

    // General: restricted to the Space's members, not encrypted by default.
    let rules = me.state(&c.general, "m.room.join_rules", "").await.unwrap();
    assert_eq!(rules["join_rule"], "restricted");
    assert_eq!(rules["allow"], json!([{ "type": "m.room_membership", "room_id": c.space }]));
    assert_eq!(me.state(&c.space, "m.room.join_rules", "").await.unwrap()["join_rule"], "invite");
    assert!(me.state(&c.general, "m.room.encryption", "").await.is_err(), "General is not encrypted by default");

    // Power levels exactly as the contract says, in both rooms.
    for room in [&c.space, &c.general] {
        let pl = me.state(room, "m.room.power_levels", "").await.unwrap();
        assert_eq!((pl["users_default"].as_i64(), pl["events_default"].as_i64()), (Some(0), Some(0)));
        assert_eq!(pl["invite"], 25);
        for action in ["kick", "ban", "redact"] {
            assert_eq!(pl[action], 50, "{action}");
        }
        for event in [
            "m.room.power_levels",
            "m.room.encryption",
            "m.room.join_rules",
            "m.room.history_visibility",
            "m.space.child",
            "m.space.parent",
        ] {
            assert_eq!(pl["events"][event], 100, "{event}");
        }
        let users: BTreeMap<String, i64> = serde_json::from_value(pl["users"].clone()).unwrap();
        let expected = BTreeMap::from([
            (app.hs.matrix_id(invite), 25),
            (app.hs.matrix_id(moderator), 50),
            (app.hs.matrix_id(admin), 100),
        ]);
        assert_eq!(users, expected, "the creator and level-0 members are not listed");
    }
    app.stop().await;
}

#[tokio::test]
async fn hierarchy_and_levels_as_a_member_sees_them_sqlite() {
    hierarchy_and_levels_as_a_member_sees_them(Db::Sqlite).await;
}

#[tokio::test]
async fn hierarchy_and_levels_as_a_member_sees_them_postgres() {
    hierarchy_and_levels_as_a_member_sees_them(Db::Postgres).await;
}

/// UC-3 and UC-4: the homeserver itself enforces what trust allows.
#[tokio::test]
async fn trust_decides_who_may_invite_and_kick() {
    let app = TestApp::spawn().await;
    let (low, inviter, moderator) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let c = create_community(&app, &[(low, 0, "member"), (inviter, 15, "member"), (moderator, 30, "member")]).await;
    let (guest_a, guest_b) = (Uuid::new_v4(), Uuid::new_v4());
    for guest in [guest_a, guest_b] {
        let (status, _) = app.call(Method::PUT, &format!("/v1/users/{guest}"), None).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (low_c, inviter_c, moderator_c) =
        (login(&app, low).await, login(&app, inviter).await, login(&app, moderator).await);

    let refused = low_c.moderate(&c.general, "invite", &app.hs.matrix_id(guest_a)).await.unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "trust 0 cannot invite: {refused:?}");
    inviter_c.moderate(&c.general, "invite", &app.hs.matrix_id(guest_a)).await.expect("trust 15 can invite");
    inviter_c.moderate(&c.general, "invite", &app.hs.matrix_id(guest_b)).await.unwrap();
    let refused = inviter_c.moderate(&c.general, "kick", &app.hs.matrix_id(guest_a)).await.unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "trust 15 cannot kick");
    moderator_c.moderate(&c.general, "kick", &app.hs.matrix_id(guest_a)).await.expect("trust 30 can kick");

    // The moderator's trust drops: the homeserver takes the right away.
    let (status, body) = put_member(&app, c.id, moderator, 3, "member").await;
    assert_eq!((status, body["power_level"].as_i64()), (StatusCode::OK, Some(0)), "{body}");
    assert_eq!(level_in(&moderator_c, &c.general, &app.hs.matrix_id(moderator)).await, 0);
    let refused = moderator_c.moderate(&c.general, "kick", &app.hs.matrix_id(guest_b)).await.unwrap_err();
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "no longer a moderator");

    let audit = app.call(Method::GET, &format!("/v1/audit?community_id={}", c.id), None).await.1;
    let demoted = audit["entries"].as_array().unwrap().iter().any(|e| {
        e["action"] == "power_level_changed"
            && e["user_id"] == app.hs.matrix_id(moderator)
            && e["old_level"] == 50
            && e["new_level"] == 0
            && e["cause"] == "trust"
    });
    assert!(demoted, "{audit}");
    app.stop().await;
}

/// UC-4 at scale: a burst of changes within one coalescing window ends in
/// one power-levels event per room, as the README says, with the right
/// final levels. (The window is widened to 2 s so that a busy machine's
/// slow calls still fall in one.)
#[tokio::test]
async fn a_burst_of_trust_changes_coalesces() {
    let app = TestApp::spawn_with(Db::Sqlite, &[("MATRIX_SYNC_COALESCE", "2s")]).await;
    let members: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
    let initial: Vec<(Uuid, i64, &str)> = members.iter().map(|m| (*m, 0, "member")).collect();
    let c = create_community(&app, &initial).await;
    let watcher = UserClient::login(&app.hs, &app.hs.matrix_id(members[0])).await.unwrap();
    let before: Vec<usize> = futures_count(&watcher, &[&c.space, &c.general]).await;

    let mut expected = BTreeMap::new();
    for i in 0..50u32 {
        let user = members[(i as usize) % members.len()];
        let trust = i64::from((i * 7) % 40);
        expected.insert(app.hs.matrix_id(user), trust);
        let body = json!({ "trust_score": trust });
        let (status, _) = app.call(Method::PUT, &format!("/v1/communities/{}/members/{user}", c.id), Some(body)).await;
        assert!(status.is_success());
    }
    let (status, _) =
        app.call(Method::PUT, &format!("/v1/communities/{}?wait=30", c.id), Some(json!({ "name": "Makers" }))).await;
    assert_eq!(status, StatusCode::OK);

    let after = futures_count(&watcher, &[&c.space, &c.general]).await;
    for (room, (b, a)) in [&c.space, &c.general].iter().zip(before.iter().zip(after.iter())) {
        eprintln!("{room}: {} power-levels events for 50 changes", a - b);
        assert_eq!(a - b, 1, "{room}: {} power-levels events for 50 changes in one window", a - b);
        for (user, trust) in &expected {
            let want = match trust {
                0..=4 => 0,
                5..=14 => 10,
                15..=29 => 25,
                _ => 50,
            };
            assert_eq!(level_in(&watcher, room, user).await, want, "{user} at trust {trust}");
        }
    }
    app.stop().await;
}

/// With nothing but the service changing the rooms, a trust change costs
/// the power-levels events alone: the rooms' state is known from the last
/// reconcile (the room cache), not read back from the homeserver.
#[tokio::test]
async fn a_trust_change_costs_only_its_power_levels_events() {
    let app = TestApp::spawn().await;
    let (admin, member) = (Uuid::new_v4(), Uuid::new_v4());
    let c = create_community(&app, &[(admin, 0, "admin"), (member, 0, "member")]).await;
    // The first reconcile after the rooms were made reads them once.
    let (status, body) = put_member(&app, c.id, member, 1, "member").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let before = app.state.metrics.homeserver.by_endpoint();
    let (status, body) = put_member(&app, c.id, member, 40, "member").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let made: BTreeMap<&str, u64> = app
        .state
        .metrics
        .homeserver
        .by_endpoint()
        .into_iter()
        .map(|(endpoint, n)| (endpoint, n - before.get(endpoint).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(made, BTreeMap::from([("state.power_levels", 2)]), "one event in the Space and one in General");
    let watcher = UserClient::login(&app.hs, &app.hs.matrix_id(admin)).await.unwrap();
    let member_id = app.hs.matrix_id(member);
    for room in [&c.space, &c.general] {
        assert_eq!(level_in(&watcher, room, &member_id).await, 50);
    }
    app.stop().await;
}

async fn futures_count(client: &UserClient, rooms: &[&String]) -> Vec<usize> {
    let mut counts = Vec::new();
    for room in rooms {
        counts.push(client.state_history(room, "m.room.power_levels").await.unwrap().len());
    }
    counts
}

/// An admin raising someone by hand is reverted within seconds (the push
/// path) and audited.
#[tokio::test]
async fn a_manual_power_level_change_is_reverted_and_audited() {
    let app = TestApp::spawn_receiving_pushes(&[]).await;
    let (admin, member) = (Uuid::new_v4(), Uuid::new_v4());
    let c = create_community(&app, &[(admin, 0, "admin"), (member, 0, "member")]).await;
    let admin_c = UserClient::login(&app.hs, &app.hs.matrix_id(admin)).await.unwrap();
    let member_id = app.hs.matrix_id(member);
    // A reconcile with nothing to do: the rooms' state is cached now, and a
    // change by someone else must not be hidden by it.
    let (status, body) = put_member(&app, c.id, member, 1, "member").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut pl = admin_c.state(&c.general, "m.room.power_levels", "").await.unwrap();
    pl["users"][&member_id] = json!(100);
    admin_c.put_state(&c.general, "m.room.power_levels", "", pl).await.expect("an admin may edit power levels");
    assert_eq!(level_in(&admin_c, &c.general, &member_id).await, 100);

    // Usually a second or two. Synapse sends pushes in order, one
    // transaction at a time, so when earlier tests left it a backlog (pushes
    // to nobody while no test listened) the revert waits behind it.
    let started = Instant::now();
    eventually("the raise is reverted", Duration::from_secs(60), || async {
        level_in(&admin_c, &c.general, &member_id).await == 0
    })
    .await;
    eprintln!("reverted after {:?}", started.elapsed());

    // The audit is written right after the homeserver accepted the revert.
    let audited = |audit: &Value| {
        let entries = audit["entries"].as_array().unwrap();
        entries.iter().any(|e| e["action"] == "drift_reverted" && e["room_id"] == c.general.as_str())
            && entries.iter().any(|e| {
                e["action"] == "power_level_changed"
                    && e["user_id"] == member_id.as_str()
                    && e["old_level"] == 100
                    && e["new_level"] == 0
                    && e["cause"] == "drift"
            })
    };
    let path = format!("/v1/audit?community_id={}", c.id);
    eventually("the revert is audited", Duration::from_secs(10), || async {
        audited(&app.call(Method::GET, &path, None).await.1)
    })
    .await;
    app.stop().await;
}

/// Whatever a hand-made change the service reverts, it is audited as
/// `drift_reverted` with what was restored: a room's history made world
/// readable, its name changed, its Space link removed.
#[tokio::test]
async fn names_history_visibility_and_space_links_changed_by_hand_are_reverted_and_audited() {
    let app = TestApp::spawn_receiving_pushes(&[]).await;
    let admin = Uuid::new_v4();
    let c = create_community(&app, &[(admin, 0, "admin")]).await;
    let admin_c = UserClient::login(&app.hs, &app.hs.matrix_id(admin)).await.unwrap();
    let name = admin_c.state(&c.general, "m.room.name", "").await.unwrap()["name"].clone();
    let open = json!({ "history_visibility": "world_readable" });
    admin_c.put_state(&c.general, "m.room.history_visibility", "", open).await.expect("an admin may");
    admin_c.put_state(&c.general, "m.room.name", "", json!({ "name": "Hijacked" })).await.unwrap();
    admin_c.put_state(&c.space, "m.space.child", &c.general, json!({})).await.unwrap();

    eventually("every change is reverted", Duration::from_secs(60), || async {
        let visibility = admin_c.state(&c.general, "m.room.history_visibility", "").await.unwrap();
        let current = admin_c.state(&c.general, "m.room.name", "").await.unwrap();
        let link = admin_c.state(&c.space, "m.space.child", &c.general).await.unwrap();
        visibility["history_visibility"] == "shared"
            && current["name"] == name
            && link["via"].as_array().is_some_and(|via| !via.is_empty())
    })
    .await;
    let path = format!("/v1/audit?community_id={}", c.id);
    eventually("each revert is audited", Duration::from_secs(10), || async {
        let audit = app.call(Method::GET, &path, None).await.1;
        let details: Vec<String> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "drift_reverted" && e["cause"] == "drift")
            .map(|e| e["detail"].as_str().unwrap_or_default().to_owned())
            .collect();
        ["history visibility restored to shared (was world_readable)", "name restored to", "Space child link restored"]
            .iter()
            .all(|want| details.iter().any(|d| d.contains(want)))
    })
    .await;
    app.stop().await;
}

/// Without a push (the service was not listening), the periodic
/// anti-entropy pass repairs drift too.
#[tokio::test]
async fn anti_entropy_repairs_drift_whose_push_was_missed() {
    let app = TestApp::spawn_with(Db::Sqlite, &[("MATRIX_SYNC_ANTI_ENTROPY", "2s")]).await;
    let admin = Uuid::new_v4();
    let c = create_community(&app, &[(admin, 0, "admin")]).await;
    let admin_c = UserClient::login(&app.hs, &app.hs.matrix_id(admin)).await.unwrap();
    admin_c.put_state(&c.space, "m.room.join_rules", "", json!({ "join_rule": "public" })).await.unwrap();
    eventually("the join rule is restored", Duration::from_secs(15), || async {
        admin_c.state(&c.space, "m.room.join_rules", "").await.unwrap()["join_rule"] == "invite"
    })
    .await;
    app.stop().await;
}

/// A removed member is kicked from every room of the community.
#[tokio::test]
async fn removing_a_member_removes_them_from_every_room() {
    let app = TestApp::spawn().await;
    let (stays, leaves) = (Uuid::new_v4(), Uuid::new_v4());
    let c = create_community(&app, &[(stays, 0, "member"), (leaves, 40, "member")]).await;
    let leaver = UserClient::login(&app.hs, &app.hs.matrix_id(leaves)).await.unwrap();
    assert!(leaver.joined_rooms().await.unwrap().contains(&c.general));

    let (status, body) =
        app.call(Method::DELETE, &format!("/v1/communities/{}/members/{leaves}?wait=30", c.id), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let joined = leaver.joined_rooms().await.unwrap();
    assert!(!joined.contains(&c.general) && !joined.contains(&c.space), "{joined:?}");
    let stayer = UserClient::login(&app.hs, &app.hs.matrix_id(stays)).await.unwrap();
    assert_eq!(level_in(&stayer, &c.general, &app.hs.matrix_id(leaves)).await, 0, "their level is gone too");
    let again = app.call(Method::DELETE, &format!("/v1/communities/{}/members/{leaves}", c.id), None).await;
    assert_error(&again, StatusCode::NOT_FOUND, "not_found");
    app.stop().await;
}

/// Creation interrupted at any point and run again makes exactly one Space
/// and one General room.
#[tokio::test]
async fn interrupted_creation_never_makes_a_second_room() {
    // At the registration's address, as in production: looking a room up by
    // its alias makes the homeserver ask the service, which must answer.
    let mut app = TestApp::spawn_receiving_pushes(&[]).await;
    let manager = UserClient::manager(&app.hs);
    for delay_ms in [0u64, 40, 120, 250, 500] {
        let id = Uuid::new_v4();
        let members: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        app.call(Method::PUT, &format!("/v1/communities/{id}"), Some(json!({ "name": "Interrupted" }))).await;
        for m in &members {
            app.call(Method::PUT, &format!("/v1/communities/{id}/members/{m}"), Some(json!({ "trust_score": 0 })))
                .await;
        }
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        app = app.restart().await; // stops mid-reconcile, whatever it was doing
        let (status, _) = app.call(Method::GET, &format!("/v1/communities/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) =
            app.call(Method::PUT, &format!("/v1/communities/{id}"), Some(json!({ "name": "Interrupted" }))).await;
        assert!(status.is_success());
        // Usually a second. Sometimes the homeserver first asks the old
        // process about the room's alias over a connection it still holds,
        // and that lookup waits out the request timeout (30 s) and is
        // retried: a delay, which this test allows; a second room is what
        // it must never see.
        let status_path = format!("/v1/communities/{id}");
        eventually("the community is synced after the restart", Duration::from_secs(120), || async {
            app.call(Method::GET, &status_path, None).await.1["status"] == "synced"
        })
        .await;
        let body2 = app.call(Method::GET, &status_path, None).await.1;
        let rooms = rooms_marked_for(&manager, id).await;
        let markers: Vec<&str> = rooms.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(
            markers,
            [format!("community:{id}/general"), format!("community:{id}/space")],
            "after {delay_ms} ms"
        );
        assert_eq!(body2["matrix_space_id"], rooms[1].1.as_str());
        assert_eq!(body2["matrix_room_id"], rooms[0].1.as_str());
        let member = UserClient::login(&app.hs, &app.hs.matrix_id(members[2])).await.unwrap();
        assert!(member.joined_rooms().await.unwrap().contains(&rooms[0].1));
    }
    app.stop().await;
}

/// A room created by an attempt whose result was never recorded (the
/// process died right after the homeserver answered) is found by its alias.
#[tokio::test]
async fn a_room_made_before_a_crash_is_found_by_its_alias() {
    let app = TestApp::spawn().await;
    let id = Uuid::new_v4();
    let manager = UserClient::manager(&app.hs);
    let alias_localpart = format!("_matrix_sync_community_{}_space", id.simple());
    // Made the way the service makes rooms: the appservice acting as its
    // managing identity (only the appservice may use its reserved aliases).
    let made = manager
        .request(
            Method::POST,
            &format!("/_matrix/client/v3/createRoom?user_id={}", matrix_sync_testkit::encode_segment(&manager.user_id)),
            Some(json!({
                "room_version": "12", "room_alias_name": alias_localpart, "name": "Orphan",
                "creation_content": { "type": "m.space", "org.matrix_sync.room": format!("community:{id}/space") },
            })),
        )
        .await
        .unwrap();
    let (status, body) = put_community(&app, id, json!({ "name": "Found again" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["matrix_space_id"], made["room_id"]);
    assert_eq!(
        manager.state(made["room_id"].as_str().unwrap(), "m.room.name", "").await.unwrap()["name"],
        "Found again"
    );
    assert_eq!(rooms_marked_for(&manager, id).await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn community_writes_are_validated() {
    let app = TestApp::spawn().await;
    let id = Uuid::new_v4();
    let path = format!("/v1/communities/{id}");
    assert_error(&app.call(Method::PUT, &path, Some(json!({}))).await, StatusCode::BAD_REQUEST, "bad_request");
    assert_error(
        &app.call(Method::PUT, "/v1/communities/nope", Some(json!({ "name": "x" }))).await,
        StatusCode::BAD_REQUEST,
        "invalid_id",
    );
    let no_council_encryption = json!({ "name": "C", "config": { "matrixCouncilChatsEncrypted": false } });
    assert_error(
        &app.call(Method::PUT, &path, Some(no_council_encryption)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "encryption_required",
    );
    let bad_levels = json!({ "name": "C", "trust_levels": [{ "min_trust": 0, "power_level": 0 }, { "min_trust": 10, "power_level": 100 }] });
    assert_error(
        &app.call(Method::PUT, &path, Some(bad_levels)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_trust_levels",
    );
    assert_error(
        &app.call(Method::PUT, &format!("{path}?wait=31"), Some(json!({ "name": "C" }))).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert_error(&app.call(Method::GET, &path, None).await, StatusCode::NOT_FOUND, "not_found");
    let member = format!("{path}/members/{}", Uuid::new_v4());
    assert_error(
        &app.call(Method::PUT, &member, Some(json!({ "trust_score": 1 }))).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // Encrypted General, then asking to turn it off: 409. Nothing changed.
    let encrypted = json!({ "name": "C", "config": { "matrixGeneralChatEncrypted": true } });
    let (status, body) = app.call(Method::PUT, &format!("{path}?wait=30"), Some(encrypted)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let off = json!({ "name": "C", "config": { "matrixGeneralChatEncrypted": false } });
    assert_error(&app.call(Method::PUT, &path, Some(off)).await, StatusCode::CONFLICT, "encryption_cannot_be_disabled");
    let general = body["matrix_room_id"].as_str().unwrap();
    let manager = UserClient::manager(&app.hs);
    assert_eq!(manager.state(general, "m.room.encryption", "").await.unwrap()["algorithm"], "m.megolm.v1.aes-sha2");

    assert_error(&app.call(Method::PUT, &member, Some(json!({}))).await, StatusCode::BAD_REQUEST, "bad_request");
    assert_error(
        &app.call(Method::PUT, &member, Some(json!({ "trust_score": -1 }))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "negative_trust_score",
    );
    assert_error(
        &app.call(Method::PUT, &member, Some(json!({ "trust_score": 1, "role": "king" }))).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    assert_error(&app.call(Method::GET, "/v1/audit?limit=0", None).await, StatusCode::BAD_REQUEST, "bad_request");
    assert_error(
        &app.call(Method::GET, "/v1/audit?since=yesterday", None).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    app.stop().await;
}

/// Turning encryption on later works: the General room becomes encrypted.
#[tokio::test]
async fn encryption_can_be_turned_on_later() {
    let app = TestApp::spawn().await;
    let c = create_community(&app, &[]).await;
    let manager = UserClient::manager(&app.hs);
    assert!(manager.state(&c.general, "m.room.encryption", "").await.is_err());
    let on = json!({ "name": "Makers", "config": { "matrixGeneralChatEncrypted": true } });
    let (status, _) = put_community(&app, c.id, on).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(manager.state(&c.general, "m.room.encryption", "").await.unwrap()["algorithm"], "m.megolm.v1.aes-sha2");
    app.stop().await;
}

/// Before a room's power levels would outgrow one event, writes are refused
/// with a clear error and a metric. (Chat is off for this community, so the
/// test needs no thousand joins on the homeserver.)
#[tokio::test]
async fn power_levels_that_would_not_fit_one_event_are_refused() {
    let app = TestApp::spawn().await;
    let id = Uuid::new_v4();
    let off = json!({ "name": "Big", "config": { "matrixEnabled": false } });
    let (status, _) = app.call(Method::PUT, &format!("/v1/communities/{id}"), Some(off)).await;
    assert!(status.is_success());
    let capacity = matrix_sync_core::power::power_levels_capacity(app.hs.server_name());
    for _ in 0..capacity {
        let user = Uuid::new_v4();
        let (status, body) = app
            .call(Method::PUT, &format!("/v1/communities/{id}/members/{user}"), Some(json!({ "trust_score": 30 })))
            .await;
        assert!(status.is_success(), "{body}");
    }
    let one_more = format!("/v1/communities/{id}/members/{}", Uuid::new_v4());
    let refused = app.call(Method::PUT, &one_more, Some(json!({ "trust_score": 30 }))).await;
    assert_error(&refused, StatusCode::UNPROCESSABLE_ENTITY, "power_levels_full");
    let (status, _) = app.call(Method::PUT, &one_more, Some(json!({ "trust_score": 0 }))).await;
    assert!(status.is_success(), "level-0 members are not listed, so they still fit");
    let metrics = common::read(app.raw(Method::GET, "/metrics").send().await.unwrap()).await.1;
    assert!(metrics.as_str().unwrap().contains("matrix_sync_power_levels_full_total 1"));
    app.stop().await;
}
