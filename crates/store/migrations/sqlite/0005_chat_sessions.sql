-- Matrix sessions minted through /v1/sessions (one device each), so a user's
-- chat sessions can be listed and ended when they log out of the platform.
-- The access tokens themselves are never stored.
CREATE TABLE chat_sessions (
    user_id BLOB NOT NULL,
    device_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
