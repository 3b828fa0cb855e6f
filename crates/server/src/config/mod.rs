//! The one typed configuration, read once at start-up from the environment
//! and optionally a TOML file with the same keys (the environment wins), and
//! passed explicitly from there on. Each section is loaded on its own so a
//! command asks only for what it needs (`registration` needs no database).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use matrix_sync_core::{Backoff, MatrixIds};
pub use matrix_sync_engine::webhook::WebhookSettings;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

mod source;

pub use source::{ConfigError, SECRET_SETTINGS, Source};

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
    /// `MATRIX_SYNC_WEBHOOK_URL` and `MATRIX_SYNC_WEBHOOK_SECRET`: where
    /// notices of new messages go (none when the URL is not set).
    pub webhook: Option<WebhookSettings>,
}

/// The shortest `MATRIX_SYNC_WEBHOOK_SECRET` taken: the platform trusts
/// what it signs.
pub const MIN_WEBHOOK_SECRET_LEN: usize = 32;

fn load_webhook(source: &Source) -> Result<Option<WebhookSettings>, ConfigError> {
    let Some(url) = source.parsed("MATRIX_SYNC_WEBHOOK_URL", http_url)? else {
        if source.get("MATRIX_SYNC_WEBHOOK_SECRET").is_some() {
            return Err(ConfigError::Malformed {
                key: "MATRIX_SYNC_WEBHOOK_SECRET",
                problem: "set without MATRIX_SYNC_WEBHOOK_URL (where should the notices go?)".into(),
            });
        }
        return Ok(None);
    };
    let secret = source.long_secret("MATRIX_SYNC_WEBHOOK_SECRET", MIN_WEBHOOK_SECRET_LEN)?;
    Ok(Some(WebhookSettings { url, secret: SecretString::from(secret) }))
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
            webhook: load_webhook(source)?,
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
mod tests;
