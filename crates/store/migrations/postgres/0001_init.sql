-- Runs inside the service's own schema (search_path), apart from the host
-- application's tables. See the SQLite migration for the why of each table.
CREATE TABLE matrix_user_mappings (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL UNIQUE,
    matrix_user_id TEXT NOT NULL UNIQUE,
    display_name TEXT,
    provisioned_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ
);

CREATE TABLE jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

CREATE TABLE appservice_transactions (
    txn_id TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL,
    event_count INTEGER NOT NULL
);
