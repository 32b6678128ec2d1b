-- forewarn store: one row the store watch rewrites to learn whether the database accepts writes
-- (after a full disk or a lost connection, forewarn declares the store healthy again only when
-- a write commits).
CREATE TABLE store_probe (
    id INTEGER PRIMARY KEY,
    written_at_ms BIGINT NOT NULL
);
