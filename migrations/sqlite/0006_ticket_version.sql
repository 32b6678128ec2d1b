-- forewarn store: a version on every ticket. Each save bumps it and is refused when the row
-- changed since it was read, so two staff actions (or staff and monitoring) never overwrite
-- each other's fields, and messages keyed by the version are queued once.
ALTER TABLE tickets ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- Which instance holds a message's delivery claim: when that instance is no longer a live
-- member of the cluster, the others release its claims at once instead of waiting out the lease.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
