-- Councils of a community and their members; the direct chats of pairs of
-- users; accepted requests and their coordination message.
CREATE TABLE councils (
    id BLOB PRIMARY KEY NOT NULL,
    community_id BLOB NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    hard_delete_at BIGINT
);
CREATE INDEX councils_community ON councils (community_id);

CREATE TABLE council_members (
    council_id BLOB NOT NULL REFERENCES councils (id) ON DELETE CASCADE,
    user_id BLOB NOT NULL,
    role TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (council_id, user_id)
);

-- One direct chat per pair of users; the pair id is derived from the two
-- Matrix ids, so either order names the same chat.
CREATE TABLE direct_chats (
    pair_id BLOB PRIMARY KEY NOT NULL,
    user_a TEXT NOT NULL,
    user_b TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE accepted_requests (
    id BLOB PRIMARY KEY NOT NULL,
    community_id BLOB NOT NULL,
    requester TEXT NOT NULL,
    owner TEXT NOT NULL,
    title TEXT,
    pair_id BLOB NOT NULL REFERENCES direct_chats (pair_id),
    accepted_at BIGINT NOT NULL,
    message_event_id TEXT,
    message_sent_at BIGINT
);
