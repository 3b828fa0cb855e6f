-- One chat device per browser: a session device is reused across sign-ins,
-- so when it was last used decides which device goes when a user has too
-- many.
ALTER TABLE chat_sessions ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
UPDATE chat_sessions SET last_used_at = created_at;

-- The server-side key backup the service made for each platform user: its
-- version on the homeserver, its public key, and its private key sealed
-- (XChaCha20-Poly1305) under a key derived from MATRIX_SYNC_BACKUP_SECRET.
-- The private key is never stored in the clear.
CREATE TABLE key_backups (
    user_id UUID PRIMARY KEY,
    version TEXT NOT NULL,
    public_key TEXT NOT NULL,
    sealed_private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
