use std::sync::Arc;

use crate::{PgStore, Result, SqliteStore, Store, StoreError};

/// The PostgreSQL schema the service's tables live in unless told otherwise.
pub const DEFAULT_SCHEMA: &str = "matrix_sync";

/// Opens the store a `DATABASE_URL` names and brings its schema up to date.
pub async fn connect(url: &str, pg_schema: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url, pg_schema).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}
