-- Platform user → Matrix user (FT-17 `matrix_user_mappings`). The platform's
-- `app_users` table lives in the host application's database, so there is no
-- foreign key to it here; `user_id` is unique because a platform user has
-- exactly one Matrix account on this homeserver.
CREATE TABLE matrix_user_mappings (
    id BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL UNIQUE,
    matrix_user_id TEXT NOT NULL UNIQUE,
    display_name TEXT,
    provisioned_at TEXT NOT NULL,
    last_seen_at TEXT
);

-- The durable job queue: at most one row (pending, running or dead) per scope.
-- Times are milliseconds since the Unix epoch, written by the service.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'dead')),
    generation BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    run_at BIGINT NOT NULL,
    lease_token TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_at);

-- Appservice transactions already taken in, so a replayed txn id is a no-op
-- across restarts (Synapse deduplicates only in memory).
CREATE TABLE appservice_transactions (
    txn_id TEXT PRIMARY KEY NOT NULL,
    received_at BIGINT NOT NULL,
    event_count INTEGER NOT NULL
);
