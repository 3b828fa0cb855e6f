-- When a soft-deleted community or council was hard-deleted: its rooms are
-- gone from the homeserver and their records from matrix_rooms; the row
-- stays so the API can answer `deleted`, and the audit trail stays.
ALTER TABLE communities ADD COLUMN purged_at BIGINT;
ALTER TABLE councils ADD COLUMN purged_at BIGINT;
