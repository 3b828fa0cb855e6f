use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::sql::sql_store_impl;
use crate::{Result, StoreError};

/// The embedded default: one file, nothing to start.
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating the file and its folder if missing) and migrates.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let file = options.get_filename();
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Database(sqlx::Error::Configuration(
                    format!("cannot create the folder {}: {e}", display(dir)).into(),
                ))
            })?;
        }
        // A few connections: readers run beside the one writer (WAL), and a
        // connection held up by a cancelled task (shutdown) cannot block the
        // rest, such as giving back a claimed job. Writers wait for each
        // other (busy timeout); every transaction here starts with its
        // write, so none has to upgrade a read lock and deadlock.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

sql_store_impl!(SqliteStore, sqlx::sqlite::SqliteRow, "sqlite", claim_lock = "", data_modifying_with = false);
