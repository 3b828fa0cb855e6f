#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! The binary's commands and start-up errors.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn matrix_sync() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_matrix-sync"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

const SETTINGS: [(&str, &str); 5] = [
    ("MATRIX_HOMESERVER_URL", "http://127.0.0.1:8008"),
    ("MATRIX_SERVER_NAME", "example.org"),
    ("MATRIX_BOT_USER_ID", "@matrix-sync:example.org"),
    ("MATRIX_BOT_ACCESS_TOKEN", "as-token-secret"),
    ("MATRIX_AS_HS_TOKEN", "hs-token-secret"),
];

#[test]
fn registration_is_printed_from_the_configuration() {
    let out = matrix_sync().envs(SETTINGS).arg("registration").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(yaml.contains("url: \"http://127.0.0.1:8090\""), "{yaml}");
    assert!(yaml.contains("as_token: \"as-token-secret\""));
    assert!(yaml.contains("hs_token: \"hs-token-secret\""));
    assert!(yaml.contains("sender_localpart: \"matrix-sync-appservice\""));
    assert!(yaml.contains("rate_limited: false"));
}

#[test]
fn registration_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("appservice.yaml");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = matrix_sync()
        .envs(SETTINGS)
        .env("MATRIX_SYNC_APPSERVICE_URL", "http://matrix-sync.internal:9000")
        .args(["registration", "--output"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(std::fs::read_to_string(&path).unwrap().contains("url: \"http://matrix-sync.internal:9000\""));
}

#[test]
fn a_missing_setting_stops_start_up_with_one_line_naming_it() {
    let without_url = SETTINGS.iter().filter(|(k, _)| *k != "MATRIX_HOMESERVER_URL").copied();
    let out = matrix_sync().envs(without_url).env("MATRIX_SYNC_API_TOKEN", "t").arg("serve").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("MATRIX_HOMESERVER_URL"), "{stderr}");

    let out = matrix_sync().envs(SETTINGS).arg("serve").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("MATRIX_SYNC_API_TOKEN") && stderr.lines().count() == 1, "{stderr}");

    let out = matrix_sync()
        .envs(SETTINGS)
        .env("MATRIX_SYNC_API_TOKEN", "api-token-0123456789abcdef0123456789")
        .env("MATRIX_SYNC_BOT_STORE_PASSPHRASE", "store-passphrase-0123456789")
        .env("MATRIX_SYNC_RETENTION", "forever")
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("MATRIX_SYNC_RETENTION") && stderr.lines().count() == 1, "{stderr}");
    assert!(!stderr.contains("as-token-secret") && !stderr.contains("hs-token-secret"));

    // An API token the homeserver also holds, or a short one, stops start-up naming it.
    for token in ["hs-token-secret", "short"] {
        let out = matrix_sync().envs(SETTINGS).env("MATRIX_SYNC_API_TOKEN", token).arg("serve").output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("MATRIX_SYNC_API_TOKEN") && stderr.lines().count() == 1, "{stderr}");
        assert!(!stderr.contains("hs-token-secret"), "the token is not echoed: {stderr}");
    }
}

#[test]
fn secrets_can_be_files_as_container_engines_pass_them() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("api_token");
    std::fs::write(&token, "api-token-from-a-file-0123456789abcdef\n").unwrap();
    // Given both ways, start-up refuses, naming the file setting.
    let out = matrix_sync()
        .envs(SETTINGS)
        .env("MATRIX_SYNC_API_TOKEN", "api-token-0123456789abcdef0123456789")
        .env("MATRIX_SYNC_API_TOKEN_FILE", &token)
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("MATRIX_SYNC_API_TOKEN_FILE") && stderr.contains("not both"), "{stderr}");
    // The registration reads its tokens from files as well.
    let as_file = dir.path().join("as_token");
    std::fs::write(&as_file, "as-token-from-a-file\n").unwrap();
    let settings = SETTINGS.iter().filter(|(k, _)| *k != "MATRIX_BOT_ACCESS_TOKEN").copied();
    let out = matrix_sync()
        .envs(settings)
        .env("MATRIX_BOT_ACCESS_TOKEN_FILE", &as_file)
        .arg("registration")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8(out.stdout).unwrap().contains("as_token: \"as-token-from-a-file\""));
}

#[test]
fn migrate_creates_the_sqlite_database_and_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested/deeper/matrix-sync.db");
    let out = matrix_sync().env("DATABASE_URL", format!("sqlite://{}", db.display())).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(db.exists());
}

#[test]
fn openapi_is_printed() {
    let out = matrix_sync().arg("openapi").output().unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["paths"]["/v1/users/{user}"].is_object());
}
