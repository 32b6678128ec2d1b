-- forewarn store: mail taken from support mailboxes, one row per message (mailbox, UIDVALIDITY,
-- UID), written in the transaction of the ticket change it caused: a message is taken once.
-- outcome: threaded | opened | bounce | unmatched (the staff's list) | ignored; raw is the
-- original message for staff, cut at the configured size.
CREATE TABLE inbound_messages (
    mailbox      TEXT    NOT NULL,
    uidvalidity  INTEGER NOT NULL,
    uid          INTEGER NOT NULL,
    message_id   TEXT,
    received_ms  INTEGER NOT NULL,
    sender       TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    outcome      TEXT    NOT NULL,
    ticket_id    INTEGER REFERENCES tickets (id),
    raw          BLOB    NOT NULL,
    raw_size     INTEGER NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity, uid)
);
CREATE INDEX inbound_by_sender ON inbound_messages (sender, received_ms);
CREATE INDEX inbound_unmatched ON inbound_messages (outcome, received_ms);
CREATE INDEX outbox_by_message_id ON outbox (message_id);
