-- Users of other homeservers a community named (federation). They are
-- invited, never provisioned; their member rows (community and council) are
-- keyed by `user_id`, the name-based UUID of their Matrix id, and this row
-- is written before the first of them. It stays when they leave: the
-- service removes the remote users a community named from its rooms where
-- they are no longer wanted, and leaves alone remote users someone else
-- invited.
CREATE TABLE remote_members (
    community_id BLOB NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    user_id BLOB NOT NULL,
    matrix_user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (community_id, user_id)
);
