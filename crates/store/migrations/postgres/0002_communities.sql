-- See the SQLite migration of the same name.
CREATE TABLE communities (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    matrix_enabled BOOLEAN NOT NULL,
    general_encrypted BOOLEAN NOT NULL,
    trust_levels TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    hard_delete_at BIGINT
);

CREATE TABLE community_members (
    community_id UUID NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    user_id UUID NOT NULL,
    trust_score BIGINT NOT NULL,
    role TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (community_id, user_id)
);

CREATE TABLE matrix_rooms (
    room_id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (scope, role)
);

CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    community_id UUID,
    council_id UUID,
    room_id TEXT,
    user_id TEXT,
    old_level BIGINT,
    new_level BIGINT,
    cause TEXT,
    detail TEXT
);
CREATE INDEX audit_log_community ON audit_log (community_id, id);
