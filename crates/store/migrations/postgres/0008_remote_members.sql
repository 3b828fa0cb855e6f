-- Users of other homeservers a community named (federation); see the
-- SQLite migration for the why.
CREATE TABLE remote_members (
    community_id UUID NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    user_id UUID NOT NULL,
    matrix_user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (community_id, user_id)
);
