-- What the platform says a user is called and looks like (display name,
-- avatar URL); a write of it enqueues the user's profile task, which brings
-- the homeserver profile to it. The avatar is fetched from the platform's
-- URL and uploaded to the homeserver once: avatar_mxc is what avatar_source
-- became (NULL with a source: that URL could not be used, and is not
-- fetched again until it changes).
CREATE TABLE user_profiles (
    user_id BLOB PRIMARY KEY,
    display_name TEXT,
    avatar_url TEXT,
    avatar_source TEXT,
    avatar_mxc TEXT,
    updated_at BIGINT NOT NULL
);

-- New messages to tell the platform's webhook about, one row per event
-- (the event id is the idempotency key: a replayed transaction adds
-- nothing), each delivered by its own task. delivered_at is set once the
-- webhook took it.
CREATE TABLE webhook_deliveries (
    id BLOB PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    origin_server_ts BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);
