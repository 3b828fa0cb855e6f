-- The version of a scope's rooms. It moves on whenever they may have
-- changed (the service applied a plan to them, or the homeserver pushed an
-- event someone else sent), so a process's cached view of them, taken at
-- an older version, is known to be stale: in this process or any other.
CREATE TABLE scope_versions (
    scope TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
