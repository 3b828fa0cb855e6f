use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

use crate::sql::sql_store_impl;
use crate::{Result, StoreError};

/// For production and scale-out: several processes share one database and
/// claim jobs with `FOR UPDATE SKIP LOCKED`. The service's tables live in a
/// schema of their own so it can share the platform's database safely.
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects, creates the schema if missing, and migrates inside it.
    pub async fn connect(url: &str, schema: &str) -> Result<Self> {
        if !valid_schema(schema) {
            return Err(StoreError::InvalidSchema(schema.to_owned()));
        }
        let base = PgConnectOptions::from_str(url)?;
        let mut conn = PgConnection::connect_with(&base).await?;
        // The name was checked by `valid_schema`: nothing to inject.
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))).execute(&mut conn).await?;
        conn.close().await?;

        let options = base.options([("search_path", schema)]);
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Drops a schema and everything in it (tests clean up with this).
    pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
        if !valid_schema(schema) {
            return Err(StoreError::InvalidSchema(schema.to_owned()));
        }
        let mut conn = PgConnection::connect_with(&PgConnectOptions::from_str(url)?).await?;
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))).execute(&mut conn).await?;
        conn.close().await?;
        Ok(())
    }
}

pub(crate) fn valid_schema(schema: &str) -> bool {
    let mut chars = schema.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && schema.len() <= 63
}

sql_store_impl!(
    PgStore,
    sqlx::postgres::PgRow,
    "postgres",
    claim_lock = "FOR UPDATE SKIP LOCKED",
    data_modifying_with = true
);
