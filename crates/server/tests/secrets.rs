#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! No secret reaches the log: the service runs as its own process at debug
//! level through every path that handles a token (provisioning, sessions
//! from the identity provider, on a new device and again on the same one,
//! key backups made and handed out, the bot's login and message, appservice
//! pushes with the `hs_token` in the header and in the query, a wrong
//! token), and its whole log is searched for each one.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;

use common::{ServiceProcess, TestApp, free_port};
use matrix_sync_testkit::{LocalHomeserver, TestIdentityProvider};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// An appservice transaction as the homeserver pushes it, the token in the
/// header (current homeservers) or in the query (older ones).
async fn push(base: &str, txn_id: &str, token: &str, in_query: bool) -> StatusCode {
    let url = format!("{base}/_matrix/app/v1/transactions/{txn_id}");
    let req = reqwest::Client::new();
    let req = if in_query { req.put(format!("{url}?access_token={token}")) } else { req.put(url).bearer_auth(token) };
    req.json(&json!({ "events": [] })).send().await.unwrap().status()
}

/// The service as a process of its own on the test homeserver, its
/// database and data in `dir`.
fn process_settings(hs: &LocalHomeserver, dir: &std::path::Path) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = hs.settings.clone();
    vars.insert("MATRIX_SYNC_LISTEN".into(), format!("127.0.0.1:{}", free_port()));
    vars.insert("DATABASE_URL".into(), format!("sqlite://{}/matrix-sync.db", dir.display()));
    vars.insert("MATRIX_SYNC_DATA_DIR".into(), dir.join("data").display().to_string());
    vars
}

#[tokio::test]
async fn no_token_appears_in_the_log_even_at_debug_level() {
    let hs = LocalHomeserver::for_tests();
    let idp = TestIdentityProvider::start().await;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("service.log");
    let mut vars = process_settings(&hs, dir.path());
    vars.insert("RUST_LOG".into(), "debug".into());
    for (k, v) in idp.settings() {
        vars.insert(k.into(), v);
    }
    let service = ServiceProcess::start(&vars, Stdio::from(std::fs::File::create(&log_path).unwrap())).await;
    let api = service.api(hs.get("MATRIX_SYNC_API_TOKEN"));

    let (community, alice, bob, request) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    api.success(Method::PUT, &format!("/v1/users/{alice}"), Some(json!({ "display_name": "Alice" }))).await;
    api.success(Method::PUT, &format!("/v1/communities/{community}?wait=30"), Some(json!({ "name": "Secrets" }))).await;
    for user in [alice, bob] {
        let path = format!("/v1/communities/{community}/members/{user}?wait=30");
        api.success(Method::PUT, &path, Some(json!({ "trust_score": 20 }))).await;
    }
    // Sessions: the identity provider's token in, a Matrix token out.
    let id_token = idp.token_for(alice);
    let minted = api.with_token(&id_token).success(Method::POST, "/v1/sessions", None).await;
    let matrix_token = minted["access_token"].as_str().unwrap().to_owned();
    let alice_backup_key = minted["key_backup"]["private_key"].as_str().unwrap().to_owned();
    // The same device again: the backup key is handed out once more.
    let again = api
        .with_token(&id_token)
        .success(Method::POST, "/v1/sessions", Some(json!({ "device_id": minted["device_id"] })))
        .await;
    assert_eq!(again["key_backup"]["private_key"], alice_backup_key.as_str());
    // The bot logs in and sends its encrypted message.
    let accept = json!({ "community_id": community, "requester_id": bob, "owner_id": alice, "title": "Ladder" });
    let answer = api.success(Method::POST, &format!("/v1/requests/{request}/accept?wait=30"), Some(accept)).await;
    assert_eq!(answer["status"], "synced", "{answer}");
    // Bob's backup was made for the bot's message; he signs in after it.
    let bobs = api.with_token(&idp.token_for(bob)).success(Method::POST, "/v1/sessions", None).await;
    let bob_backup_key = bobs["key_backup"]["private_key"].as_str().unwrap().to_owned();
    // The homeserver's pushes, with the token where current and older
    // homeservers put it.
    let hs_token = hs.get("MATRIX_AS_HS_TOKEN").to_owned();
    assert_eq!(push(&service.base, "secrets-1", &hs_token, false).await, StatusCode::OK);
    assert_eq!(push(&service.base, "secrets-2", &hs_token, true).await, StatusCode::OK);
    // A wrong token, in both places a token is taken.
    let wrong = "wrong-token-9d2f7c1e6b4a";
    let (status, _) = api.with_token(wrong).call(Method::GET, "/v1/audit", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(push(&service.base, "secrets-3", wrong, true).await, StatusCode::FORBIDDEN);
    api.success(Method::DELETE, &format!("/v1/users/{alice}/sessions"), None).await;
    service.terminate();

    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("data/bot/session.json")).unwrap())
            .expect("the bot's session file");
    let bot_token = saved["access_token"].as_str().unwrap().to_owned();
    let secrets = [
        ("the API token", hs.get("MATRIX_SYNC_API_TOKEN").to_owned()),
        ("the appservice's as_token", hs.as_token().to_owned()),
        ("the homeserver's hs_token", hs_token),
        ("the homeserver admin's token", hs.get("MATRIX_ADMIN_ACCESS_TOKEN").to_owned()),
        ("the identity provider's token", id_token),
        ("a minted Matrix session token", matrix_token),
        ("the bot's access token", bot_token),
        ("a wrong token presented", wrong.to_owned()),
        ("the key-backup secret", hs.get("MATRIX_SYNC_BACKUP_SECRET").to_owned()),
        ("the bot store's passphrase", hs.get("MATRIX_SYNC_BOT_STORE_PASSPHRASE").to_owned()),
        ("Alice's backup private key", alice_backup_key),
        ("Bob's backup private key", bob_backup_key),
    ];
    let log = std::fs::read_to_string(&log_path).unwrap();
    // The log is not empty: debug lines from the paths above are there.
    assert!(log.lines().count() > 50, "expected a debug log, got:\n{log}");
    assert!(log.contains("matrix-sync is serving"), "{log}");
    for (what, secret) in secrets {
        assert!(secret.len() >= 16, "{what} is too short to search for");
        assert!(!log.contains(&secret), "{what} appears in the log");
        // Nor a good part of it (a token cut to fit a line).
        assert!(!log.contains(&secret[..16]), "the start of {what} appears in the log");
    }
}

/// At the default level the log stays small enough to keep: a line per
/// meaningful event, none of the Matrix SDK's per-sync spans (their sync
/// filter alone is kilobytes), even while the bot syncs for half a minute.
#[tokio::test]
async fn the_default_log_is_small_enough_to_keep() {
    let hs = LocalHomeserver::for_tests();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("service.log");
    let mut vars = process_settings(&hs, dir.path());
    // Unset, as an operator starts it: the default level.
    vars.insert("RUST_LOG".into(), String::new());
    let service = ServiceProcess::start(&vars, Stdio::from(std::fs::File::create(&log_path).unwrap())).await;
    let api = service.api(hs.get("MATRIX_SYNC_API_TOKEN"));
    let (community, alice, bob) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    api.success(Method::PUT, &format!("/v1/communities/{community}?wait=30"), Some(json!({ "name": "Quiet" }))).await;
    for user in [alice, bob] {
        let path = format!("/v1/communities/{community}/members/{user}?wait=30");
        api.success(Method::PUT, &path, Some(json!({ "trust_score": 3 }))).await;
    }
    let accept = json!({ "community_id": community, "requester_id": bob, "owner_id": alice });
    api.success(Method::POST, &format!("/v1/requests/{}/accept?wait=30", Uuid::new_v4()), Some(accept)).await;
    // Three of the bot's long-polling syncs (10 s each).
    tokio::time::sleep(std::time::Duration::from_secs(31)).await;
    service.terminate();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 600, "a line of {longest} bytes:\n{log}");
    assert!(log.lines().count() < 40, "{} lines:\n{log}", log.lines().count());
    assert!(log.contains("matrix-sync is serving") && log.contains("context message sent"), "{log}");
}

/// Waits up to `within` for the bot to be ready; its device id then.
async fn bot_ready(app: &TestApp, within: std::time::Duration) -> Option<String> {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if let Some(bot) = app.state.engine.bot.get() {
            return bot.device_id();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    None
}

/// Every file under `dir`, read whole.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            found.push((path, bytes));
        }
    }
    found
}

#[tokio::test]
async fn the_bots_store_is_encrypted_at_rest_in_a_private_folder() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    let bot_dir = data.path().join("bot");
    // A store from before stores were encrypted is retired.
    std::fs::create_dir_all(bot_dir.join("store")).unwrap();
    std::fs::write(bot_dir.join("store/matrix-sdk-crypto.sqlite3"), "keys in the clear").unwrap();
    let data_dir = data.path().display().to_string();
    let app = TestApp::spawn_with(common::Db::Sqlite, &[("MATRIX_SYNC_DATA_DIR", data_dir.as_str())]).await;
    let device = bot_ready(&app, std::time::Duration::from_secs(60)).await.expect("the bot starts");
    assert!(!bot_dir.join("store").exists(), "the unencrypted store is gone");
    let mode = std::fs::metadata(&bot_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the bot's folder is private");
    // Nothing that names the bot or its device is readable in its stores.
    let bot = app.hs.get("MATRIX_BOT_USER_ID").to_owned();
    let files = files_under(&bot_dir.join("store-encrypted"));
    assert!(
        files.len() >= 4,
        "the stores are there: {files:?}",
        files = files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (path, bytes) in &files {
        for needle in [bot.as_str(), device.as_str()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} is readable in {}",
                path.display()
            );
        }
    }
    // Another passphrase cannot open the store: the bot does not start.
    let app = app.restart_with(&[("MATRIX_SYNC_BOT_STORE_PASSPHRASE", "another-passphrase-0123456789")]).await;
    assert_eq!(bot_ready(&app, std::time::Duration::from_secs(5)).await, None, "a wrong passphrase opened the store");
    // The right one does, on the same device.
    let passphrase = app.hs.get("MATRIX_SYNC_BOT_STORE_PASSPHRASE").to_owned();
    let app = app.restart_with(&[("MATRIX_SYNC_BOT_STORE_PASSPHRASE", passphrase.as_str())]).await;
    assert_eq!(bot_ready(&app, std::time::Duration::from_secs(60)).await, Some(device));
    app.stop().await;
}
