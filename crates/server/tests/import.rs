#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! `matrix-sync import` at a smoke size, against the real homeserver.

mod common;

use std::process::Command;

use common::{Db, TestApp};
use matrix_sync_testkit::{LocalHomeserver, UserClient};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

fn run_import(
    hs: &LocalHomeserver,
    db_url: &str,
    data_dir: &std::path::Path,
    file: &std::path::Path,
    extra: &[&std::ffi::OsStr],
) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_matrix-sync"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(hs.settings.iter())
        .env("DATABASE_URL", db_url)
        .env("MATRIX_SYNC_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .arg("import")
        .arg(file)
        .args(extra)
        .output()
        .unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_is_onboarded_from_a_file_and_a_rerun_changes_nothing() {
    let hs = LocalHomeserver::for_tests();
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/import.db", dir.path().display());
    let communities: Vec<(Uuid, Vec<Uuid>, Uuid)> =
        (0..2).map(|_| (Uuid::new_v4(), (0..3).map(|_| Uuid::new_v4()).collect(), Uuid::new_v4())).collect();
    let doc = json!({ "communities": communities.iter().map(|(id, members, council)| json!({
        "id": id,
        "name": "Imported",
        "members": [
            { "user_id": members[0], "trust_score": 40 },
            { "user_id": members[1], "trust_score": 0, "role": "admin" },
            { "user_id": members[2], "trust_score": 3, "display_name": "Ida Imported" },
        ],
        "councils": [{ "id": council, "name": "Stewards", "members": [
            { "user_id": members[0], "role": "moderator" }, { "user_id": members[2] },
        ]}],
    })).collect::<Vec<Value>>() });
    let file = dir.path().join("platform.json");
    std::fs::write(&file, doc.to_string()).unwrap();

    let report = dir.path().join("report.json");
    let (ok, log) = run_import(&hs, &db_url, &dir.path().join("data"), &file, &["--report".as_ref(), report.as_ref()]);
    eprintln!("{log}");
    assert!(ok, "{log}");
    assert!(log.contains("homeserver requests: "), "{log}");
    // The cost: the minimal set (6 registrations, 8 rooms, 6 links, 20
    // joins), the start-up (registering the bot, logging it in, reading
    // the managing identity's display name) and the two named members'
    // names (read, then set: 4; and their profile task, running beside the
    // community's reconcile, may register them once more: 2); no look-ups
    // (only an interrupted creation is looked up by its alias).
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["requests_minimal"], 40, "{report}");
    let made = report["requests_made"].as_u64().unwrap();
    let by = &report["requests_by_endpoint"];
    assert_eq!((by["createRoom"].as_u64(), by["join"].as_u64()), (Some(8), Some(20)), "{report}");
    assert!(made <= 40 + 3 + 4 + 2, "{made} requests: {report}");
    assert!(log.contains("done: 2 communities, 2 councils, 8 rooms, 20 memberships"), "{log}");
    assert!(log.contains("memberships 20/20"), "progress is shown: {log}");

    let app = TestApp::spawn_with(Db::Sqlite, &[("DATABASE_URL", &db_url)]).await;
    let mut spaces = Vec::new();
    for (id, members, council) in &communities {
        let (status, body) = app.call(Method::GET, &format!("/v1/communities/{id}"), None).await;
        assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("synced")), "{body}");
        spaces.push(body["matrix_space_id"].clone());
        let discussion =
            app.call(Method::GET, &format!("/v1/councils/{council}"), None).await.1["matrix_room_id"].clone();
        let member = UserClient::login(&app.hs, &app.hs.matrix_id(members[2])).await.unwrap();
        let joined = member.joined_rooms().await.unwrap();
        let name = member.display_name(&app.hs.matrix_id(members[2])).await.unwrap();
        assert_eq!(name.as_deref(), Some("Ida Imported"), "the file's name is what members see");
        assert!(joined.contains(&body["matrix_room_id"].as_str().unwrap().to_owned()));
        assert!(joined.contains(&discussion.as_str().unwrap().to_owned()));
    }
    app.stop().await;

    // Run again (as after an interruption): nothing new is made.
    let (ok, log) = run_import(&hs, &db_url, &dir.path().join("data"), &file, &[]);
    assert!(ok, "{log}");
    let app = TestApp::spawn_with(Db::Sqlite, &[("DATABASE_URL", &db_url)]).await;
    for ((id, _, _), space) in communities.iter().zip(spaces) {
        let body = app.call(Method::GET, &format!("/v1/communities/{id}"), None).await.1;
        assert_eq!(body["matrix_space_id"], space, "the same Space, not a second one");
    }
    app.stop().await;
}

#[test]
fn a_bad_file_is_refused_with_where_it_is_wrong_and_nothing_is_written() {
    let hs = LocalHomeserver::for_tests();
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/import.db", dir.path().display());
    let (member, stranger) = (Uuid::new_v4(), Uuid::new_v4());
    let doc = json!({ "communities": [{ "id": Uuid::new_v4(), "name": "C",
        "members": [{ "user_id": member, "trust_score": 1 }],
        "councils": [{ "id": Uuid::new_v4(), "name": "K", "members": [{ "user_id": stranger }] }] }] });
    let file = dir.path().join("bad.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let (ok, log) = run_import(&hs, &db_url, &dir.path().join("data"), &file, &[]);
    assert!(!ok);
    assert!(log.contains("communities[0].councils[0].members[0].user_id"), "{log}");
    assert!(!dir.path().join("import.db").exists(), "nothing was written");

    let doc = json!({ "communities": [{ "id": Uuid::new_v4(), "name": "C",
        "councils": [{ "id": Uuid::new_v4(), "name": "Bell\u{7}ringers" }] }] });
    std::fs::write(&file, doc.to_string()).unwrap();
    let (ok, log) = run_import(&hs, &db_url, &dir.path().join("data"), &file, &[]);
    assert!(!ok && log.contains("communities[0].councils[0].name"), "a control character, as the API refuses: {log}");
    assert!(!dir.path().join("import.db").exists(), "nothing was written");

    let doc = json!({ "communities": [{ "id": Uuid::new_v4(), "name": "C",
        "members": [{ "user_id": member, "trust_score": 1, "avatar_url": "ftp://example.org/a.png" }] }] });
    std::fs::write(&file, doc.to_string()).unwrap();
    let (ok, log) = run_import(&hs, &db_url, &dir.path().join("data"), &file, &[]);
    assert!(!ok && log.contains("communities[0].members[0].avatar_url"), "{log}");
    assert!(!dir.path().join("import.db").exists(), "nothing was written");

    std::fs::write(&file, "{\"communities\": [{\"id\": \"nope\"}]}").unwrap();
    let (ok, log) = run_import(&hs, &db_url, &dir.path().join("data"), &file, &[]);
    assert!(!ok && log.contains("bad.json"), "{log}");
}

/// What is recorded already is checked as the API checks it, for the whole
/// file before anything is written: no writes into an archived community,
/// no council moved from its community, no encryption turned off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_follows_the_apis_rules_against_what_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/import.db", dir.path().display());
    let app = TestApp::spawn_with(Db::Sqlite, &[("DATABASE_URL", &db_url)]).await;
    let hs = app.hs.clone();
    let (archived, other, council) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for id in [archived, other] {
        app.call(
            Method::PUT,
            &format!("/v1/communities/{id}"),
            Some(json!({ "name": "C", "config": { "matrixGeneralChatEncrypted": true } })),
        )
        .await;
    }
    app.call(Method::PUT, &format!("/v1/councils/{council}"), Some(json!({ "community_id": other, "name": "K" })))
        .await;
    app.call(Method::DELETE, &format!("/v1/communities/{archived}"), None).await;
    app.stop().await;

    let fresh = Uuid::new_v4();
    let cases = [
        (json!([{ "id": fresh, "name": "New" }, { "id": archived, "name": "C" }]), "communities[1].id", "archived"),
        (
            json!([{ "id": fresh, "name": "New", "councils": [{ "id": council, "name": "K" }] }]),
            "communities[0].councils[0].id",
            "council_in_another_community",
        ),
        (
            json!([{ "id": other, "name": "C", "config": { "matrixGeneralChatEncrypted": false } }]),
            "communities[0].config.matrixGeneralChatEncrypted",
            "encryption_cannot_be_disabled",
        ),
    ];
    let file = dir.path().join("platform.json");
    for (communities, place, code) in cases {
        std::fs::write(&file, json!({ "communities": communities }).to_string()).unwrap();
        let (ok, log) = run_import(&hs, &db_url, &dir.path().join("data"), &file, &["--no-wait".as_ref()]);
        assert!(!ok, "{log}");
        assert!(log.contains(place) && log.contains(code), "{place} {code}: {log}");
    }
    let app = TestApp::spawn_with(Db::Sqlite, &[("DATABASE_URL", &db_url)]).await;
    assert_eq!(
        app.call(Method::GET, &format!("/v1/communities/{fresh}"), None).await.0,
        StatusCode::NOT_FOUND,
        "nothing was written"
    );
    let kept = app.state.engine.store.council(council).await.unwrap().unwrap();
    assert_eq!(kept.community_id, other, "not moved");
    app.stop().await;
}
