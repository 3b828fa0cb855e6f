//! The configuration's loading rules, one setting at a time.

use std::collections::HashMap;

use super::source::read_toml;
use super::*;
use secrecy::ExposeSecret;

const MINIMAL: [(&str, &str); 8] = [
    ("MATRIX_HOMESERVER_URL", "http://127.0.0.1:8008"),
    ("MATRIX_SERVER_NAME", "example.org"),
    ("MATRIX_BOT_USER_ID", "@matrix-sync:example.org"),
    ("MATRIX_BOT_ACCESS_TOKEN", "as-secret"),
    ("MATRIX_AS_HS_TOKEN", "hs-secret"),
    ("MATRIX_SYNC_API_TOKEN", "api-secret-0123456789abcdef0123456789"),
    ("MATRIX_SYNC_BACKUP_SECRET", "backup-secret-0123456789abcdef0123456789"),
    ("MATRIX_SYNC_BOT_STORE_PASSPHRASE", "store-secret-0123456789"),
];

fn with(overrides: &[(&'static str, &'static str)]) -> Source {
    let mut pairs: HashMap<&str, &str> = MINIMAL.into_iter().collect();
    for (k, v) in overrides {
        pairs.insert(k, v);
    }
    Source::from_pairs(pairs)
}

#[test]
fn defaults_follow_the_contract() {
    let c = Config::load(&with(&[])).unwrap();
    assert_eq!(c.api.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(c.matrix.appservice_url, "http://127.0.0.1:8090");
    assert_eq!(c.database.url.expose_secret(), DEFAULT_DATABASE_URL);
    assert_eq!(c.lifecycle.data_dir, PathBuf::from("./data"));
    assert_eq!(c.lifecycle.retention, Duration::from_secs(60 * 86_400));
    assert!(c.api.oidc.is_none() && c.api.app_url.is_none() && c.matrix.admin_token.is_none());
}

#[test]
fn each_missing_required_setting_is_named() {
    for (key, _) in MINIMAL {
        let pairs = MINIMAL.into_iter().filter(|(k, _)| *k != key);
        let err = Config::load(&Source::from_pairs(pairs)).unwrap_err();
        assert_eq!(err, ConfigError::Missing { key });
        assert!(err.to_string().starts_with(key));
    }
}

#[test]
fn malformed_settings_are_named() {
    let cases: [(&'static str, &'static str); 14] = [
        ("MATRIX_SYNC_API_TOKEN", "short-api-token"),
        ("MATRIX_SYNC_BOT_STORE_PASSPHRASE", "short"),
        ("MATRIX_SYNC_HTTP_MAX_CONNECTIONS", "0"),
        ("MATRIX_SYNC_HTTP_HEADER_TIMEOUT", "soon"),
        ("MATRIX_HOMESERVER_URL", "not a url"),
        ("MATRIX_SERVER_NAME", "bad name!"),
        ("MATRIX_BOT_USER_ID", "@bot:elsewhere.org"),
        ("MATRIX_SYNC_LISTEN", "localhost"),
        ("DATABASE_URL", "mysql://x"),
        ("MATRIX_SYNC_RETENTION", "sixty days"),
        ("MATRIX_SYNC_APP_URL", "ftp://x"),
        ("MATRIX_SYNC_BACKUP_SECRET", "too-short"),
        ("MATRIX_SYNC_KEY_BACKUP", "homeserver"),
        ("MATRIX_SYNC_MAX_DEVICES", "0"),
    ];
    for (key, value) in cases {
        match Config::load(&with(&[(key, value)])) {
            Err(ConfigError::Malformed { key: named, .. }) => assert_eq!(named, key),
            other => panic!("{key}={value}: {other:?}"),
        }
    }
}

#[test]
fn key_backup_is_the_platforms_unless_turned_off() {
    let c = Config::load(&with(&[])).unwrap();
    assert!(matches!(c.chat.key_backup, KeyBackupMode::Platform { .. }));
    assert_eq!(c.chat.max_devices, 10);
    let without_secret = MINIMAL.into_iter().filter(|(k, _)| *k != "MATRIX_SYNC_BACKUP_SECRET");
    let mut off = Source::from_pairs(without_secret);
    off.env.insert("MATRIX_SYNC_KEY_BACKUP".into(), "off".into());
    assert!(matches!(Config::load(&off).unwrap().chat.key_backup, KeyBackupMode::Off), "no secret needed");
    let c = Config::load(&with(&[("MATRIX_SYNC_MAX_DEVICES", "3")])).unwrap();
    assert_eq!(c.chat.max_devices, 3);
}

#[test]
fn oidc_needs_all_three_settings() {
    let err = Config::load(&with(&[("MATRIX_SYNC_OIDC_ISSUER", "http://idp")])).unwrap_err();
    assert_eq!(err, ConfigError::Missing { key: "MATRIX_SYNC_OIDC_AUDIENCE" });
    let c = Config::load(&with(&[
        ("MATRIX_SYNC_OIDC_ISSUER", "http://idp/realms/x"),
        ("MATRIX_SYNC_OIDC_AUDIENCE", "platform"),
        ("MATRIX_SYNC_OIDC_JWKS_URL", "http://idp/certs"),
    ]))
    .unwrap();
    assert_eq!(c.api.oidc.unwrap().audience, "platform");
}

#[test]
fn a_webhook_needs_its_url_and_a_long_secret() {
    assert!(Config::load(&with(&[])).unwrap().webhook.is_none(), "off by default");
    let url = ("MATRIX_SYNC_WEBHOOK_URL", "https://platform.example.org/hooks/chat");
    let secret = ("MATRIX_SYNC_WEBHOOK_SECRET", "webhook-secret-0123456789abcdef0123");
    let webhook = Config::load(&with(&[url, secret])).unwrap().webhook.unwrap();
    assert_eq!(webhook.url.as_str(), url.1);
    assert_eq!(
        Config::load(&with(&[url])).unwrap_err(),
        ConfigError::Missing { key: "MATRIX_SYNC_WEBHOOK_SECRET" },
        "a URL without a secret"
    );
    for (overrides, key) in [
        (vec![url, ("MATRIX_SYNC_WEBHOOK_SECRET", "short")], "MATRIX_SYNC_WEBHOOK_SECRET"),
        (vec![secret], "MATRIX_SYNC_WEBHOOK_SECRET"),
        (vec![("MATRIX_SYNC_WEBHOOK_URL", "ftp://x"), secret], "MATRIX_SYNC_WEBHOOK_URL"),
    ] {
        let err = Config::load(&with(&overrides)).unwrap_err();
        assert!(matches!(err, ConfigError::Malformed { key: k, .. } if k == key), "{overrides:?}: {err:?}");
    }
}

#[test]
fn retention_accepts_short_and_long_forms() {
    let c = Config::load(&with(&[("MATRIX_SYNC_RETENTION", "90s")])).unwrap();
    assert_eq!(c.lifecycle.retention, Duration::from_secs(90));
    let c = Config::load(&with(&[("MATRIX_SYNC_RETENTION", "60d")])).unwrap();
    assert_eq!(c.lifecycle.retention, Duration::from_secs(60 * 86_400));
}

#[test]
fn clients_get_the_public_homeserver_url_when_one_is_set() {
    let c = Config::load(&with(&[])).unwrap();
    assert_eq!(c.matrix.public_homeserver_url, c.matrix.homeserver_url);
    let c = Config::load(&with(&[("MATRIX_PUBLIC_HOMESERVER_URL", "https://matrix.example.org")])).unwrap();
    assert_eq!(c.matrix.public_homeserver_url.as_str(), "https://matrix.example.org/");
    assert_eq!(c.matrix.homeserver_url.as_str(), "http://127.0.0.1:8008/");
    assert!(Config::load(&with(&[("MATRIX_PUBLIC_HOMESERVER_URL", "matrix.example.org")])).is_err());
}

#[test]
fn toml_file_offers_the_same_keys_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("matrix-sync.toml");
    std::fs::write(
        &path,
        "MATRIX_HOMESERVER_URL = \"http://file:8008\"\nmatrix_server_name = \"example.org\"\nMATRIX_SYNC_RETENTION = \"5s\"\n",
    )
    .unwrap();
    let mut source = Source::from_pairs(MINIMAL.into_iter().filter(|(k, _)| *k != "MATRIX_SERVER_NAME"));
    source.file = read_toml(&path).unwrap();
    let c = Config::load(&source).unwrap();
    assert_eq!(c.matrix.homeserver_url.as_str(), "http://127.0.0.1:8008/", "environment wins");
    assert_eq!(c.matrix.ids.server_name().as_str(), "example.org");
    assert_eq!(c.lifecycle.retention, Duration::from_secs(5));

    std::fs::write(&path, "not = [toml").unwrap();
    assert!(matches!(read_toml(&path), Err(ConfigError::File { .. })));
}

#[test]
fn the_api_token_is_no_token_the_homeserver_holds() {
    let long = "the-same-token-0123456789abcdef0123456789";
    for key in ["MATRIX_AS_HS_TOKEN", "MATRIX_BOT_ACCESS_TOKEN"] {
        let err = Config::load(&with(&[(key, long), ("MATRIX_SYNC_API_TOKEN", long)])).unwrap_err();
        match err {
            ConfigError::Malformed { key: named, problem } => {
                assert_eq!(named, "MATRIX_SYNC_API_TOKEN");
                assert!(problem.contains(key), "{problem}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn every_secret_may_be_given_as_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut pairs: HashMap<String, String> = HashMap::new();
    for (k, v) in MINIMAL {
        pairs.insert(k.to_owned(), v.to_owned());
    }
    pairs.insert("MATRIX_ADMIN_ACCESS_TOKEN".into(), "admin-secret".into());
    pairs.insert("DATABASE_URL".into(), "postgres://u:pw-secret@db/x".into());
    pairs.insert("MATRIX_SYNC_WEBHOOK_URL".into(), "https://platform.example.org/hooks/chat".into());
    pairs.insert("MATRIX_SYNC_WEBHOOK_SECRET".into(), "webhook-secret-0123456789abcdef0123".into());
    for (key, file_key) in SECRET_SETTINGS {
        let value = pairs.remove(key).unwrap();
        let path = dir.path().join(key);
        // As a container engine writes it, with a final newline.
        std::fs::write(&path, format!("{value}\n")).unwrap();
        pairs.insert(file_key.to_owned(), path.display().to_string());
    }
    let from_files =
        Source::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).with_secret_files().unwrap();
    let c = Config::load(&from_files).unwrap();
    assert_eq!(c.matrix.as_token.expose_secret(), "as-secret");
    assert_eq!(c.matrix.hs_token.expose_secret(), "hs-secret");
    assert_eq!(c.matrix.admin_token.unwrap().expose_secret(), "admin-secret");
    assert_eq!(c.api.api_token.expose_secret(), "api-secret-0123456789abcdef0123456789");
    assert_eq!(c.lifecycle.bot_store_passphrase.expose_secret(), "store-secret-0123456789");
    assert_eq!(c.database.url.expose_secret(), "postgres://u:pw-secret@db/x");
    assert!(matches!(c.chat.key_backup, KeyBackupMode::Platform { .. }));
    assert_eq!(c.webhook.unwrap().secret.expose_secret(), "webhook-secret-0123456789abcdef0123");

    // Both at once, or a file that is not there: the `_FILE` setting is named.
    let both = with(&[("MATRIX_SYNC_API_TOKEN_FILE", "/nonexistent")]).with_secret_files().unwrap_err();
    assert!(
        matches!(&both, ConfigError::Malformed { key: "MATRIX_SYNC_API_TOKEN_FILE", problem } if problem.contains("not both")),
        "{both:?}"
    );
    let without = MINIMAL.into_iter().filter(|(k, _)| *k != "MATRIX_SYNC_API_TOKEN");
    let mut missing = Source::from_pairs(without);
    missing.env.insert("MATRIX_SYNC_API_TOKEN_FILE".into(), "/nonexistent/token".into());
    let err = missing.with_secret_files().unwrap_err();
    assert!(
        matches!(&err, ConfigError::Malformed { key: "MATRIX_SYNC_API_TOKEN_FILE", problem } if problem.contains("/nonexistent/token")),
        "{err:?}"
    );
}

#[test]
fn debug_output_never_shows_secrets() {
    let c = Config::load(&with(&[("DATABASE_URL", "postgres://u:pw-secret@db/x")])).unwrap();
    let debug = format!("{c:?}");
    for secret in ["as-secret", "hs-secret", "api-secret", "pw-secret", "backup-secret", "store-secret"] {
        assert!(!debug.contains(secret), "{secret} leaked in {debug}");
    }
}
