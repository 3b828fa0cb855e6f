//! The store's one error type.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or refused.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A URL of neither backend.
    #[error("unsupported DATABASE_URL `{0}`: expected postgres://… or sqlite://…")]
    UnsupportedUrl(String),
    /// A PostgreSQL schema name that is not plain.
    #[error("invalid schema name `{0}`: use lowercase letters, digits and underscores")]
    InvalidSchema(String),
    /// A row the code cannot read (never read as a default).
    #[error("stored data is not what this version expects: {0}")]
    Corrupt(String),
}

/// A column a record cannot hold (an unknown role, a malformed trust
/// table) is a corrupt row, not a database failure.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::ColumnDecode { index, source } => StoreError::Corrupt(format!("column {index}: {source}")),
            other => StoreError::Database(other),
        }
    }
}

impl StoreError {
    /// Whether the database could not be reached (as opposed to refusing a
    /// statement), so callers can answer "unavailable" rather than "failed".
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) => true,
            // PostgreSQL going away: class 08 (connection exception) and 57P
            // (shut down by the operator, crashed, not accepting connections
            // yet), as during a restart.
            StoreError::Database(sqlx::Error::Database(e)) => {
                e.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P"))
            }
            _ => false,
        }
    }
}
