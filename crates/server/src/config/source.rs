//! Where settings come from: the environment over a TOML file, with each
//! secret also takeable from a file (`NAME_FILE`).

use std::collections::HashMap;
use std::path::Path;

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
pub const SECRET_SETTINGS: [(&str, &str); 8] = [
    ("MATRIX_BOT_ACCESS_TOKEN", "MATRIX_BOT_ACCESS_TOKEN_FILE"),
    ("MATRIX_AS_HS_TOKEN", "MATRIX_AS_HS_TOKEN_FILE"),
    ("MATRIX_ADMIN_ACCESS_TOKEN", "MATRIX_ADMIN_ACCESS_TOKEN_FILE"),
    ("MATRIX_SYNC_API_TOKEN", "MATRIX_SYNC_API_TOKEN_FILE"),
    ("MATRIX_SYNC_BACKUP_SECRET", "MATRIX_SYNC_BACKUP_SECRET_FILE"),
    ("MATRIX_SYNC_WEBHOOK_SECRET", "MATRIX_SYNC_WEBHOOK_SECRET_FILE"),
    ("MATRIX_SYNC_BOT_STORE_PASSPHRASE", "MATRIX_SYNC_BOT_STORE_PASSPHRASE_FILE"),
    ("DATABASE_URL", "DATABASE_URL_FILE"),
];

/// Where settings come from: the environment over a TOML file.
#[derive(Debug, Default, Clone)]
pub struct Source {
    pub(super) env: HashMap<String, String>,
    pub(super) file: HashMap<String, String>,
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

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.env
            .get(key)
            .or_else(|| self.file.get(key))
            .or_else(|| self.file.get(&key.to_ascii_lowercase()))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn required(&self, key: &'static str) -> Result<&str, ConfigError> {
        self.get(key).ok_or(ConfigError::Missing { key })
    }

    /// A required secret of at least `min` characters.
    pub(super) fn long_secret(&self, key: &'static str, min: usize) -> Result<&str, ConfigError> {
        let secret = self.required(key)?;
        if secret.chars().count() < min {
            return Err(ConfigError::Malformed {
                key,
                problem: format!("at least {min} characters (make one with: openssl rand -hex 32)"),
            });
        }
        Ok(secret)
    }

    pub(super) fn parsed<T>(
        &self,
        key: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(key).map(|v| parse(v).map_err(|problem| ConfigError::Malformed { key, problem })).transpose()
    }
}

pub(super) fn read_toml(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
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
