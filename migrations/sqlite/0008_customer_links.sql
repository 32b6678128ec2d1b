-- forewarn store, SQLite: customer links withdrawn per customer, and what customers post
-- through their links (for the limits on reports and replies). Times are INTEGER unix
-- milliseconds (UTC).

-- `forewarn links revoke CUSTOMER`: the customer's links issued before `valid_from_ms` are
-- refused; links issued later work. One row per customer that was ever revoked.
CREATE TABLE link_revocations (
    customer_id   TEXT    NOT NULL PRIMARY KEY,
    valid_from_ms INTEGER NOT NULL,
    -- how many times the customer's links were revoked
    revocations   INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per report ("report a problem") or ticket-page post (reply, "please close") a
-- customer made, kept for the limits' window: counted per link and per customer under the
-- customer's lock before the next one is taken.
CREATE TABLE customer_posts (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    customer_id TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('report', 'reply')),
    -- the nonce of the signed link it came through
    link        TEXT    NOT NULL,
    at_ms       INTEGER NOT NULL,
    -- the ticket it went to (NULL while being written, or if the process died meanwhile)
    ticket_id   INTEGER REFERENCES tickets (id)
);
CREATE INDEX customer_posts_window ON customer_posts (customer_id, kind, at_ms);
