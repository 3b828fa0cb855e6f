-- Users of other homeservers the platform named (federation); see the
-- SQLite migration for the why.
CREATE TABLE remote_users (
    user_id UUID PRIMARY KEY,
    matrix_user_id TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
