-- Users of other homeservers the platform named (federation). They are
-- invited, never provisioned; rows about them (community and council
-- members) are keyed by `user_id`, the name-based UUID of their Matrix id.
-- Rows stay after the user leaves every community: the service removes a
-- remote user it knows from rooms that no longer want them, and leaves
-- alone the remote users someone else invited.
CREATE TABLE remote_users (
    user_id BLOB PRIMARY KEY NOT NULL,
    matrix_user_id TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
