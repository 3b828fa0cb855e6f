-- A hard delete first moves its community or council into a purging state
-- (one conditional update), before any room is touched: a restore that
-- comes later is refused, and one that came first stops the purge.
ALTER TABLE communities ADD COLUMN purging_at BIGINT;
ALTER TABLE councils ADD COLUMN purging_at BIGINT;

-- Appservice transactions are told apart by id and body: a replay has the
-- same body, while a homeserver whose counter restarted (a database
-- restore) reuses ids for new events. Old ids are pruned by age.
ALTER TABLE appservice_transactions ADD COLUMN digest TEXT;
CREATE INDEX appservice_transactions_received ON appservice_transactions (received_at);
