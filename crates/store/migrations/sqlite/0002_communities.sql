-- The platform's desired state for communities and their members, the rooms
-- the service made for each scope, and the audit trail.
CREATE TABLE communities (
    id BLOB PRIMARY KEY NOT NULL,
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
    community_id BLOB NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    user_id BLOB NOT NULL,
    trust_score BIGINT NOT NULL,
    role TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (community_id, user_id)
);

-- Every room the service created, by the scope and role it serves.
CREATE TABLE matrix_rooms (
    room_id TEXT PRIMARY KEY NOT NULL,
    scope TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (scope, role)
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    community_id BLOB,
    council_id BLOB,
    room_id TEXT,
    user_id TEXT,
    old_level BIGINT,
    new_level BIGINT,
    cause TEXT,
    detail TEXT
);
CREATE INDEX audit_log_community ON audit_log (community_id, id);
