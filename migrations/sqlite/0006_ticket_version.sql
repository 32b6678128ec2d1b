-- forewarn store: a version on every ticket. Each save bumps it and is refused when the row
-- changed since it was read, so two staff actions (or staff and monitoring) never overwrite
-- each other's fields, and messages keyed by the version are queued once.
ALTER TABLE tickets ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
