-- forewarn store: what staff need of inbound mail. attachments: the message's attachments as
-- JSON [{"name":…,"size":…}] (their bytes stay in raw). outcome may now also be "dropped" (staff
-- dropped an unmatched mail); an unmatched mail staff open a ticket with or add to one becomes
-- "opened" or "threaded" with its ticket_id.
ALTER TABLE inbound_messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';
ALTER TABLE inbound_messages ADD COLUMN handled_by TEXT;

-- Each mailbox's fetching, written by the instance that fetches it: the last complete round,
-- the last error and how many errors since the process started.
CREATE TABLE inbound_mailboxes (
    name           TEXT    PRIMARY KEY,
    instance       TEXT    NOT NULL,
    last_fetch_ms  BIGINT,
    last_error_ms  BIGINT,
    last_error     TEXT,
    errors         BIGINT  NOT NULL DEFAULT 0
);
