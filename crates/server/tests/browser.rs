#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! The chat embed in a real browser (Debian's Chromium, driven by
//! playwright-core): Alice and Bob each sign in through `/v1/sessions` in
//! their own browser context; Alice's message in their encrypted DM appears
//! decrypted on Bob's page, Bob's message in General on Alice's, Alice's in
//! the council on Bob's. Alice reloads (same device, history readable) and
//! opens a fresh browser (a new device reading her history from her key
//! backup); Carol, whose request was accepted before she ever signed in,
//! reads the bot's message. The steps are in `web/tests/e2e.mjs`; what a
//! member expects of a chat is in `chat-features.mjs`, and the packed
//! package in a minimal host page in `host-page.mjs`.
//! Needs `web/dist`, `web/tests/host/dist` and `web/node_modules` (`make
//! test` builds them, `dev/web.sh`) and `/usr/bin/chromium` (`make test`
//! installs it).

mod common;

use std::path::PathBuf;

use common::{Db, TestApp, ok};
use matrix_sync_testkit::TestIdentityProvider;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

fn web_dir() -> PathBuf {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    manifest.ancestors().find(|d| d.join("web/package.json").exists()).expect("the workspace root").join("web")
}

/// The service with the demo page and a test identity provider, once the
/// browser's prerequisites are checked.
async fn spawn_for_browser(web: &std::path::Path) -> (TestApp, TestIdentityProvider) {
    spawn_serving(web, &web.join("dist")).await
}

/// The same, serving `pages` (a built page: the demo, or the minimal host
/// page) at `/demo/`.
async fn spawn_serving(web: &std::path::Path, pages: &std::path::Path) -> (TestApp, TestIdentityProvider) {
    assert!(pages.join("index.html").exists(), "build the web embed and its pages first: dev/web.sh");
    assert!(
        web.join("node_modules/playwright-core").exists(),
        "install the web dependencies first: (cd web && npm ci)"
    );
    assert!(PathBuf::from("/usr/bin/chromium").exists(), "install Chromium first: apt-get install chromium");
    let idp = TestIdentityProvider::start().await;
    let mut settings: Vec<(&str, String)> = idp.settings();
    settings.push(("MATRIX_SYNC_DEMO_DIR", pages.display().to_string()));
    settings.push(("MATRIX_SYNC_APP_URL", "https://communities.example.org".into()));
    let overrides: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (TestApp::spawn_with(Db::Sqlite, &overrides).await, idp)
}

/// A user's demo page: signed in with their identity-provider token, the
/// tabs showing these rooms.
fn page(app: &TestApp, idp: &TestIdentityProvider, user: Uuid, name: &str, rooms: [&str; 3]) -> String {
    let hash = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("idp_token", &idp.token_for(user))
        .append_pair("name", name)
        .append_pair("general", rooms[0])
        .append_pair("council", rooms[1])
        .append_pair("dm", rooms[2])
        .finish();
    format!("{}/demo/#{hash}", app.base)
}

/// Runs one of `web/tests`' scripts; its output, and whether it passed.
async fn run_script(web: &std::path::Path, script: &str, env: &[(&str, String)]) -> (bool, String) {
    let output = tokio::process::Command::new("node")
        .arg(script)
        .current_dir(web)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await
        .expect("node runs");
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    eprintln!("{log}");
    (output.status.success(), log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_chat() {
    let web = web_dir();
    let (app, idp) = spawn_for_browser(&web).await;

    let (community, council) = (Uuid::new_v4(), Uuid::new_v4());
    let (alice, bob, carol) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    ok(
        &app,
        Method::PUT,
        &format!("/v1/communities/{community}?wait=30"),
        Some(json!({ "name": "Makers' Collective" })),
    )
    .await;
    for (user, name) in [(alice, "Alice"), (bob, "Bob"), (carol, "Carol")] {
        ok(&app, Method::PUT, &format!("/v1/users/{user}"), Some(json!({ "display_name": name }))).await;
        ok(
            &app,
            Method::PUT,
            &format!("/v1/communities/{community}/members/{user}?wait=30"),
            Some(json!({ "trust_score": 10 })),
        )
        .await;
    }
    ok(
        &app,
        Method::PUT,
        &format!("/v1/councils/{council}?wait=30"),
        Some(json!({ "community_id": community, "name": "Stewards" })),
    )
    .await;
    for user in [alice, bob] {
        ok(&app, Method::PUT, &format!("/v1/councils/{council}/members/{user}?wait=30"), Some(json!({}))).await;
    }
    let c = ok(&app, Method::GET, &format!("/v1/communities/{community}"), None).await;
    let k = ok(&app, Method::GET, &format!("/v1/councils/{council}"), None).await;
    let accepted = json!({ "community_id": community, "requester_id": bob, "owner_id": alice, "title": "Oak table" });
    let request =
        ok(&app, Method::POST, &format!("/v1/requests/{}/accept?wait=30", Uuid::new_v4()), Some(accepted)).await;
    // Carol has never signed in: her request's message was sent before she
    // had any device.
    let carols = json!({ "community_id": community, "requester_id": carol, "owner_id": alice, "title": "Drill" });
    let carols = ok(&app, Method::POST, &format!("/v1/requests/{}/accept?wait=30", Uuid::new_v4()), Some(carols)).await;
    assert_eq!(carols["status"], "synced", "{carols}");

    let (general, council_room) = (c["matrix_room_id"].as_str().unwrap(), k["matrix_room_id"].as_str().unwrap());
    let (dm, carols_dm) = (request["matrix_room_id"].as_str().unwrap(), carols["matrix_room_id"].as_str().unwrap());
    let out_dir = web.join("test-results");
    let (passed, log) = run_script(
        &web,
        "tests/e2e.mjs",
        &[
            ("ALICE_URL", page(&app, &idp, alice, "Alice", [general, council_room, dm])),
            ("BOB_URL", page(&app, &idp, bob, "Bob", [general, council_room, dm])),
            ("CAROL_URL", page(&app, &idp, carol, "Carol", [general, council_room, carols_dm])),
            ("OUT_DIR", out_dir.display().to_string()),
        ],
    )
    .await;
    assert!(passed, "the browser test failed (screenshots in {}):\n{log}", out_dir.display());
    for shot in
        ["dm-bob.png", "general-alice.png", "council-bob.png", "reload-alice.png", "fresh-alice.png", "carol-dm.png"]
    {
        assert!(out_dir.join(shot).exists(), "{shot} saved");
    }
    app.stop().await;
}

/// Encrypted history at scale: Alice writes `HISTORY_MESSAGES` (default 50;
/// the figure in the README is for 200) messages across five encrypted rooms
/// (General, the council's, three DMs), then a new browser of hers reads
/// every earlier one its timelines show, with keys from her key backup. The
/// script prints how long that took from the page's opening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_of_five_rooms_reads_on_a_new_browser() {
    let web = web_dir();
    let (app, idp) = spawn_for_browser(&web).await;
    let alice = Uuid::new_v4();
    let others: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    let encrypted = json!({ "name": "Makers' Collective", "config": { "matrixGeneralChatEncrypted": true } });
    let members: Vec<(Uuid, i64)> = std::iter::once(alice).chain(others.iter().copied()).map(|u| (u, 10)).collect();
    let (community, c) = common::community_with(&app, encrypted, &members).await;
    let (_, k) = common::council_with(&app, community, &[alice]).await;
    let mut rooms =
        vec![c["matrix_room_id"].as_str().unwrap().to_owned(), k["matrix_room_id"].as_str().unwrap().to_owned()];
    for other in &others {
        let accept = json!({ "community_id": community, "requester_id": other, "owner_id": alice });
        let request =
            ok(&app, Method::POST, &format!("/v1/requests/{}/accept?wait=30", Uuid::new_v4()), Some(accept)).await;
        rooms.push(request["matrix_room_id"].as_str().unwrap().to_owned());
    }
    let total: usize = std::env::var("HISTORY_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let out_dir = web.join("test-results");
    let (passed, log) = run_script(
        &web,
        "tests/history-timing.mjs",
        &[
            ("ALICE_URL", page(&app, &idp, alice, "Alice", [&rooms[0], &rooms[1], &rooms[2]])),
            ("ROOMS", rooms.join(",")),
            ("PER_ROOM", (total / rooms.len()).max(1).to_string()),
            ("OUT_DIR", out_dir.display().to_string()),
        ],
    )
    .await;
    assert!(passed, "the history test failed (screenshots in {}):\n{log}", out_dir.display());
    app.stop().await;
}

/// What a member expects of a chat, in the embed as two people use it
/// (`web/tests/chat-features.mjs`): scrollback to the first of 300
/// encrypted messages, an encrypted image and a file over the upload limit,
/// no member shown by an id, replies, an edit, a deletion, "Seen", typing,
/// the unread count the host page gets, and an invitation accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_has_what_members_expect() {
    let web = web_dir();
    let (app, idp) = spawn_for_browser(&web).await;
    let (community, council) = (Uuid::new_v4(), Uuid::new_v4());
    let people = [(Uuid::new_v4(), "Alice Martin"), (Uuid::new_v4(), "Bob Chen")];
    let encrypted = json!({ "name": "Makers' Collective", "config": { "matrixGeneralChatEncrypted": true } });
    ok(&app, Method::PUT, &format!("/v1/communities/{community}?wait=30"), Some(encrypted)).await;
    for (user, name) in people {
        let member = json!({ "trust_score": 10, "display_name": name });
        ok(&app, Method::PUT, &format!("/v1/communities/{community}/members/{user}?wait=30"), Some(member)).await;
    }
    let council_body = json!({ "community_id": community, "name": "Stewards" });
    ok(&app, Method::PUT, &format!("/v1/councils/{council}?wait=30"), Some(council_body)).await;
    for (user, _) in people {
        ok(&app, Method::PUT, &format!("/v1/councils/{council}/members/{user}?wait=30"), Some(json!({}))).await;
    }
    let [(alice, _), (bob, _)] = people;
    let accepted = json!({ "community_id": community, "requester_id": bob, "owner_id": alice, "title": "Oak table" });
    let request =
        ok(&app, Method::POST, &format!("/v1/requests/{}/accept?wait=30", Uuid::new_v4()), Some(accepted)).await;
    let general = ok(&app, Method::GET, &format!("/v1/communities/{community}"), None).await["matrix_room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let council_room = ok(&app, Method::GET, &format!("/v1/councils/{council}"), None).await["matrix_room_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dm = request["matrix_room_id"].as_str().unwrap();
    let names = json!({
        "alice": { "display_name": "Alice Martin", "matrix_id": app.hs.matrix_id(alice), "platform_id": alice },
        "bob": { "display_name": "Bob Chen", "matrix_id": app.hs.matrix_id(bob), "platform_id": bob },
    });
    let rooms = [general.as_str(), council_room.as_str(), dm];
    let out_dir = web.join("test-results/features");
    let (passed, log) = run_script(
        &web,
        "tests/chat-features.mjs",
        &[
            ("ALICE_URL", page(&app, &idp, alice, "Alice", rooms)),
            ("BOB_URL", page(&app, &idp, bob, "Bob", rooms)),
            ("NAMES", names.to_string()),
            ("OUT_DIR", out_dir.display().to_string()),
        ],
    )
    .await;
    assert!(passed, "the chat features test failed (screenshots in {}):\n{log}", out_dir.display());
    app.stop().await;
}

/// The package as a platform installs it: a minimal host page (not the
/// demo), built from the packed tarball (`web/tests/host`, built by
/// `dev/web.sh`), mounts a chat that decrypts the bot's message in a DM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_packed_embed_mounts_in_a_host_page() {
    let web = web_dir();
    let (app, idp) = spawn_serving(&web, &web.join("tests/host/dist")).await;
    let (alice, carol) = (Uuid::new_v4(), Uuid::new_v4());
    let (community, _) = common::community_with(&app, json!({ "name": "Makers" }), &[(alice, 10), (carol, 0)]).await;
    let accepted = json!({ "community_id": community, "requester_id": carol, "owner_id": alice, "title": "Drill" });
    let request =
        ok(&app, Method::POST, &format!("/v1/requests/{}/accept?wait=30", Uuid::new_v4()), Some(accepted)).await;
    let dm = request["matrix_room_id"].as_str().unwrap();
    let hash = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("idp_token", &idp.token_for(carol))
        .append_pair("dm", dm)
        .finish();
    let out_dir = web.join("test-results/host");
    let (passed, log) = run_script(
        &web,
        "tests/host-page.mjs",
        &[("HOST_URL", format!("{}/demo/#{hash}", app.base)), ("OUT_DIR", out_dir.display().to_string())],
    )
    .await;
    assert!(passed, "the host page test failed (screenshots in {}):\n{log}", out_dir.display());
    app.stop().await;
}
