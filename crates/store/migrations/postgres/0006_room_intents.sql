-- A room creation about to be asked of the homeserver. Written before the
-- createRoom request and removed when the room is recorded, so that only a
-- creation that may have been interrupted needs a look-up by alias.
CREATE TABLE room_intents (
    scope TEXT NOT NULL,
    role TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    PRIMARY KEY (scope, role)
);
