//! The one typed configuration, read once at start-up from the environment
//! and optionally a TOML file with the same keys (the environment wins), and
//! passed explicitly from there on. Each section is loaded on its own so a
//! command asks only for what it needs (`registration` needs no database).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use matrix_sync_core::{Backoff, MatrixIds};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// A missing or malformed setting: one line that names it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{key} is required (set it in the environment or the config file)")]
    Missing { key: &'static str },
    #[error("{key} is malformed: {problem}")]
    Malformed { key: &'static str, problem: String },
    #[error("cannot read the config file {path}: {problem}")]
    File { path: String, problem: String },
}

/// The settings that are secrets. Each may instead be given as a file
/// (`NAME_FILE`, a path whose content is the secret), as container engines
/// pass secrets: `(NAME, NAME_FILE)`.
pub const SECRET_SETTINGS: [(&str, &str); 7] = [
    ("MATRIX_BOT_ACCESS_TOKEN", "MATRIX_BOT_ACCESS_TOKEN_FILE"),
    ("MATRIX_AS_HS_TOKEN", "MATRIX_AS_HS_TOKEN_FILE"),
    ("MATRIX_ADMIN_ACCESS_TOKEN", "MATRIX_ADMIN_ACCESS_TOKEN_FILE"),
    ("MATRIX_SYNC_API_TOKEN", "MATRIX_SYNC_API_TOKEN_FILE"),
    ("MATRIX_SYNC_BACKUP_SECRET", "MATRIX_SYNC_BACKUP_SECRET_FILE"),
    ("MATRIX_SYNC_BOT_STORE_PASSPHRASE", "MATRIX_SYNC_BOT_STORE_PASSPHRASE_FILE"),
    ("DATABASE_URL", "DATABASE_URL_FILE"),
];

/// Where settings come from: the environment over a TOML file.
#[derive(Debug, Default, Clone)]
pub struct Source {
    env: HashMap<String, String>,
    file: HashMap<String, String>,
}

impl Source {
    /// The process environment, plus the TOML file if one is named.
    pub fn from_env(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut source = Self { env: std::env::vars().collect(), file: HashMap::new() };
        if let Some(path) = file {
            source.file = read_toml(path)?;
        }
        source.with_secret_files()
    }

    /// Reads each secret given as a file (`NAME_FILE`) into `NAME`. Giving
    /// both, or a file that cannot be read, is an error naming the setting.
    pub fn with_secret_files(mut self) -> Result<Self, ConfigError> {
        for (key, file_key) in SECRET_SETTINGS {
            let Some(path) = self.get(file_key).map(str::to_owned) else { continue };
            if self.get(key).is_some() {
                return Err(ConfigError::Malformed {
                    key: file_key,
                    problem: format!("set {key} or {file_key}, not both"),
                });
            }
            let secret = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError::Malformed { key: file_key, problem: format!("cannot read {path}: {e}") })?;
            self.env.insert(key.to_owned(), secret.trim().to_owned());
        }
        Ok(self)
    }

    /// Settings given as pairs (tests, embedding).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self { env: pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(), file: HashMap::new() }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.env
            .get(key)
            .or_else(|| self.file.get(key))
            .or_else(|| self.file.get(&key.to_ascii_lowercase()))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, key: &'static str) -> Result<&str, ConfigError> {
        self.get(key).ok_or(ConfigError::Missing { key })
    }

    /// A required secret of at least `min` characters.
    fn long_secret(&self, key: &'static str, min: usize) -> Result<&str, ConfigError> {
        let secret = self.required(key)?;
        if secret.chars().count() < min {
            return Err(ConfigError::Malformed {
                key,
                problem: format!("at least {min} characters (make one with: openssl rand -hex 32)"),
            });
        }
        Ok(secret)
    }

    fn parsed<T>(
        &self,
        key: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(key).map(|v| parse(v).map_err(|problem| ConfigError::Malformed { key, problem })).transpose()
    }
}

fn read_toml(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let file_err = |problem: String| ConfigError::File { path: path.display().to_string(), problem };
    let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| file_err(e.message().to_owned()))?;
    table
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(_) | toml::Value::Boolean(_) | toml::Value::Float(_) => v.to_string(),
                other => {
                    return Err(file_err(format!("{k}: expected a string, found {}", other.type_str())));
                }
            };
            Ok((k, v))
        })
        .collect()
}

/// The homeserver and the application-service registration.
#[derive(Debug, Clone)]
pub struct MatrixConfig {
    pub homeserver_url: Url,
    /// Where users' clients reach the homeserver (`MATRIX_PUBLIC_HOMESERVER_URL`;
    /// the one above when unset): what `/v1/sessions` hands out. Behind a
    /// reverse proxy the service talks to an internal address clients cannot.
    pub public_homeserver_url: Url,
    pub ids: MatrixIds,
    /// Where the homeserver reaches the appservice API (goes into the registration).
    pub appservice_url: String,
    pub as_token: SecretString,
    pub hs_token: SecretString,
    /// A homeserver admin's token, used only to purge rooms on hard delete.
    pub admin_token: Option<SecretString>,
    /// Homeserver requests in flight at once (`MATRIX_SYNC_HOMESERVER_CONCURRENCY`).
    pub concurrency: usize,
    /// A homeserver request not answered by then fails (and its job is
    /// retried): `MATRIX_SYNC_HOMESERVER_TIMEOUT`.
    pub request_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: SecretString,
    /// The PostgreSQL schema of the service's tables.
    pub schema: String,
}

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    pub api_token: SecretString,
    /// The platform's public URL, for links in bot messages.
    pub app_url: Option<Url>,
    pub oidc: Option<OidcConfig>,
    /// Serve the demo page (the built `web/dist`) at `/demo/`.
    pub demo_dir: Option<PathBuf>,
    /// Timeouts and the connection cap of the HTTP server.
    pub http: crate::http_server::HttpLimits,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    pub issuer: String,
    pub audience: String,
    pub jwks_url: Url,
}

#[derive(Debug, Clone)]
pub struct LifecycleConfig {
    pub data_dir: PathBuf,
    /// Encrypts the bot's store (its Matrix keys) in `data_dir`
    /// (`MATRIX_SYNC_BOT_STORE_PASSPHRASE`).
    pub bot_store_passphrase: SecretString,
    /// How long a soft-deleted community or council is kept.
    pub retention: Duration,
}

/// How the reconciler runs. Not in the contract; defaults suit most sites.
#[derive(Debug, Clone)]
pub struct ReconcileConfig {
    /// Concurrent reconcile workers in this process (`MATRIX_SYNC_WORKERS`).
    pub workers: usize,
    /// How long after the last member write a community's reconcile waits
    /// for more, so a burst ends in one power-levels event per room
    /// (`MATRIX_SYNC_COALESCE`).
    pub coalesce: Duration,
    /// The longest a steady stream of member writes holds a community's
    /// reconcile back (`MATRIX_SYNC_COALESCE_MAX`).
    pub coalesce_max: Duration,
    /// How often every scope is reconciled even without a change, to catch
    /// pushes that never arrived (`MATRIX_SYNC_ANTI_ENTROPY`).
    pub anti_entropy: Duration,
    /// How a failing job is retried: the first delay
    /// (`MATRIX_SYNC_RETRY_BASE`), doubling up to `MATRIX_SYNC_RETRY_CAP`,
    /// and dead after `MATRIX_SYNC_MAX_ATTEMPTS` attempts.
    pub backoff: Backoff,
}

/// Members' chat devices and the key backups that let each new device read
/// earlier encrypted messages.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// At most this many chat devices per user; a new one beyond it ends
    /// the least recently used (`MATRIX_SYNC_MAX_DEVICES`).
    pub max_devices: usize,
    pub key_backup: KeyBackupMode,
}

/// `MATRIX_SYNC_KEY_BACKUP`.
#[derive(Debug, Clone)]
pub enum KeyBackupMode {
    /// The service makes each user's server-side key backup and keeps its
    /// private key sealed under `MATRIX_SYNC_BACKUP_SECRET`, handing it only
    /// to the signed-in user (`platform`, the default).
    Platform { secret: SecretString },
    /// Keys stay on the devices that received them (`off`).
    Off,
}

/// The shortest `MATRIX_SYNC_BACKUP_SECRET` taken: it guards every member's
/// backup key.
pub const MIN_BACKUP_SECRET_LEN: usize = 32;

/// The shortest `MATRIX_SYNC_API_TOKEN` taken: it opens the whole `/v1` API.
pub const MIN_API_TOKEN_LEN: usize = 32;

/// The shortest `MATRIX_SYNC_BOT_STORE_PASSPHRASE` taken.
pub const MIN_BOT_STORE_PASSPHRASE_LEN: usize = 16;

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub matrix: MatrixConfig,
    pub database: DatabaseConfig,
    pub api: ApiConfig,
    pub lifecycle: LifecycleConfig,
    pub reconcile: ReconcileConfig,
    pub chat: ChatConfig,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8090";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://matrix-sync.db";

impl Config {
    pub fn load(source: &Source) -> Result<Self, ConfigError> {
        let matrix = MatrixConfig::load(source)?;
        // As many workers as homeserver requests may be in flight: fewer
        // leave the homeserver idle while scopes wait on one another's
        // sequential steps (a Space before its rooms); more add nothing.
        let reconcile = ReconcileConfig::load(source, matrix.concurrency)?;
        let api = ApiConfig::load(source)?;
        // One token per job: the API token must not also be one the
        // homeserver holds (nor the reverse).
        let api_token = api.api_token.expose_secret();
        for (other, key) in [(&matrix.hs_token, "MATRIX_AS_HS_TOKEN"), (&matrix.as_token, "MATRIX_BOT_ACCESS_TOKEN")] {
            if api_token == other.expose_secret() {
                return Err(ConfigError::Malformed {
                    key: "MATRIX_SYNC_API_TOKEN",
                    problem: format!("must differ from {key}"),
                });
            }
        }
        Ok(Self {
            matrix,
            database: DatabaseConfig::load(source)?,
            api,
            lifecycle: LifecycleConfig::load(source)?,
            reconcile,
            chat: ChatConfig::load(source)?,
        })
    }
}

/// A whole number within `range`.
fn count_in(v: &str, range: std::ops::RangeInclusive<usize>) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!("`{v}` is not a number from {} to {}", range.start(), range.end())),
    }
}

fn duration(key: &'static str, source: &Source, default: Duration) -> Result<Duration, ConfigError> {
    Ok(source
        .parsed(key, |v| {
            humantime::parse_duration(v).map_err(|e| format!("`{v}`: {e} (use e.g. 60d, 12h, 90s, 200ms)"))
        })?
        .unwrap_or(default))
}

impl ReconcileConfig {
    pub fn load(source: &Source, default_workers: usize) -> Result<Self, ConfigError> {
        let workers = source.parsed("MATRIX_SYNC_WORKERS", |v| count_in(v, 1..=64))?.unwrap_or(default_workers.min(64));
        let default = Backoff::default();
        let max_attempts = source.parsed("MATRIX_SYNC_MAX_ATTEMPTS", |v| count_in(v, 1..=1000))?;
        let backoff = Backoff {
            base: duration("MATRIX_SYNC_RETRY_BASE", source, default.base)?,
            cap: duration("MATRIX_SYNC_RETRY_CAP", source, default.cap)?,
            max_attempts: max_attempts.map_or(default.max_attempts, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        };
        Ok(Self {
            backoff,
            workers,
            coalesce: duration("MATRIX_SYNC_COALESCE", source, Duration::from_millis(200))?,
            coalesce_max: duration("MATRIX_SYNC_COALESCE_MAX", source, Duration::from_secs(5))?,
            anti_entropy: duration("MATRIX_SYNC_ANTI_ENTROPY", source, Duration::from_secs(600))?,
        })
    }

    /// How member writes hold back their community's reconcile.
    pub fn debounce(&self) -> matrix_sync_store::Debounce {
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        matrix_sync_store::Debounce { quiet_ms: millis(self.coalesce), max_wait_ms: millis(self.coalesce_max) }
    }
}

fn listen(source: &Source) -> Result<SocketAddr, ConfigError> {
    Ok(source
        .parsed("MATRIX_SYNC_LISTEN", |v| v.parse::<SocketAddr>().map_err(|e| e.to_string()))?
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8090))))
}

fn http_url(v: &str) -> Result<Url, String> {
    let url = Url::parse(v).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(format!("`{v}` is not an http(s) URL"));
    }
    Ok(url)
}

impl MatrixConfig {
    pub fn load(source: &Source) -> Result<Self, ConfigError> {
        let homeserver_url = http_url(source.required("MATRIX_HOMESERVER_URL")?)
            .map_err(|problem| ConfigError::Malformed { key: "MATRIX_HOMESERVER_URL", problem })?;
        let server_name = source.required("MATRIX_SERVER_NAME")?;
        let bot = source.required("MATRIX_BOT_USER_ID")?;
        let ids = MatrixIds::new(server_name, bot).map_err(|e| {
            let key = match e {
                matrix_sync_core::IdError::ServerName(_) => "MATRIX_SERVER_NAME",
                _ => "MATRIX_BOT_USER_ID",
            };
            ConfigError::Malformed { key, problem: e.to_string() }
        })?;
        let appservice_url = match source.parsed("MATRIX_SYNC_APPSERVICE_URL", http_url)? {
            Some(url) => url.to_string().trim_end_matches('/').to_owned(),
            None => format!("http://{}", listen(source)?),
        };
        let public_homeserver_url =
            source.parsed("MATRIX_PUBLIC_HOMESERVER_URL", http_url)?.unwrap_or_else(|| homeserver_url.clone());
        Ok(Self {
            homeserver_url,
            public_homeserver_url,
            ids,
            appservice_url,
            as_token: SecretString::from(source.required("MATRIX_BOT_ACCESS_TOKEN")?),
            hs_token: SecretString::from(source.required("MATRIX_AS_HS_TOKEN")?),
            admin_token: source.get("MATRIX_ADMIN_ACCESS_TOKEN").map(SecretString::from),
            concurrency: source.parsed("MATRIX_SYNC_HOMESERVER_CONCURRENCY", |v| count_in(v, 1..=256))?.unwrap_or(8),
            request_timeout: duration("MATRIX_SYNC_HOMESERVER_TIMEOUT", source, Duration::from_secs(30))?,
        })
    }
}

impl DatabaseConfig {
    pub fn load(source: &Source) -> Result<Self, ConfigError> {
        let url = source.get("DATABASE_URL").unwrap_or(DEFAULT_DATABASE_URL);
        if !["sqlite:", "postgres://", "postgresql://"].iter().any(|p| url.starts_with(p)) {
            return Err(ConfigError::Malformed {
                key: "DATABASE_URL",
                problem: "expected postgres://… or sqlite://…".into(),
            });
        }
        let schema = source.get("MATRIX_SYNC_DB_SCHEMA").unwrap_or(matrix_sync_store::DEFAULT_SCHEMA);
        Ok(Self { url: SecretString::from(url), schema: schema.to_owned() })
    }
}

impl ApiConfig {
    pub fn load(source: &Source) -> Result<Self, ConfigError> {
        let oidc_keys = ["MATRIX_SYNC_OIDC_ISSUER", "MATRIX_SYNC_OIDC_AUDIENCE", "MATRIX_SYNC_OIDC_JWKS_URL"];
        let oidc = if oidc_keys.iter().any(|k| source.get(k).is_some()) {
            Some(OidcConfig {
                issuer: source.required("MATRIX_SYNC_OIDC_ISSUER")?.to_owned(),
                audience: source.required("MATRIX_SYNC_OIDC_AUDIENCE")?.to_owned(),
                jwks_url: source
                    .parsed("MATRIX_SYNC_OIDC_JWKS_URL", http_url)?
                    .ok_or(ConfigError::Missing { key: "MATRIX_SYNC_OIDC_JWKS_URL" })?,
            })
        } else {
            None
        };
        let api_token = source.long_secret("MATRIX_SYNC_API_TOKEN", MIN_API_TOKEN_LEN)?;
        Ok(Self {
            listen: listen(source)?,
            api_token: SecretString::from(api_token),
            app_url: source.parsed("MATRIX_SYNC_APP_URL", http_url)?,
            oidc,
            demo_dir: source.get("MATRIX_SYNC_DEMO_DIR").map(PathBuf::from),
            http: http_limits(source)?,
        })
    }
}

fn http_limits(source: &Source) -> Result<crate::http_server::HttpLimits, ConfigError> {
    let default = crate::http_server::HttpLimits::default();
    Ok(crate::http_server::HttpLimits {
        header_timeout: duration("MATRIX_SYNC_HTTP_HEADER_TIMEOUT", source, default.header_timeout)?,
        request_timeout: duration("MATRIX_SYNC_HTTP_REQUEST_TIMEOUT", source, default.request_timeout)?,
        max_connections: source
            .parsed("MATRIX_SYNC_HTTP_MAX_CONNECTIONS", |v| count_in(v, 1..=65_536))?
            .unwrap_or(default.max_connections),
        shutdown_grace: duration("MATRIX_SYNC_SHUTDOWN_GRACE", source, default.shutdown_grace)?,
    })
}

impl ChatConfig {
    pub fn load(source: &Source) -> Result<Self, ConfigError> {
        let key_backup = match source.get("MATRIX_SYNC_KEY_BACKUP").unwrap_or("platform") {
            "platform" => {
                let secret = source.long_secret("MATRIX_SYNC_BACKUP_SECRET", MIN_BACKUP_SECRET_LEN)?;
                KeyBackupMode::Platform { secret: SecretString::from(secret) }
            }
            "off" => KeyBackupMode::Off,
            other => {
                return Err(ConfigError::Malformed {
                    key: "MATRIX_SYNC_KEY_BACKUP",
                    problem: format!("`{other}`: expected `platform` or `off`"),
                });
            }
        };
        Ok(Self {
            max_devices: source.parsed("MATRIX_SYNC_MAX_DEVICES", |v| count_in(v, 1..=100))?.unwrap_or(10),
            key_backup,
        })
    }
}

impl LifecycleConfig {
    pub fn load(source: &Source) -> Result<Self, ConfigError> {
        let passphrase = source.long_secret("MATRIX_SYNC_BOT_STORE_PASSPHRASE", MIN_BOT_STORE_PASSPHRASE_LEN)?;
        Ok(Self {
            bot_store_passphrase: SecretString::from(passphrase),
            data_dir: PathBuf::from(source.get("MATRIX_SYNC_DATA_DIR").unwrap_or("./data")),
            retention: source
                .parsed("MATRIX_SYNC_RETENTION", |v| {
                    humantime::parse_duration(v).map_err(|e| format!("`{v}`: {e} (use e.g. 60d, 12h, 90s)"))
                })?
                .unwrap_or(Duration::from_secs(60 * 24 * 3600)),
        })
    }
}

#[cfg(test)]
mod tests {
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
}
