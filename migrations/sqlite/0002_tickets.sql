-- forewarn store, SQLite: tickets and their timelines, the outbox, incidents, detector state.
-- Times are INTEGER unix milliseconds (UTC); enums are text; structured values are JSON text.

-- A ticket. AUTOINCREMENT: a ticket number is never handed out twice.
CREATE TABLE tickets (
    id                  INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    customer_id         TEXT    NOT NULL,
    title               TEXT    NOT NULL,
    problem             TEXT    NOT NULL,
    severity            TEXT    NOT NULL CHECK (severity IN ('P1', 'P2', 'P3', 'P4')),
    status              TEXT    NOT NULL CHECK (status IN ('new', 'acknowledged', 'in_progress',
                                    'waiting_on_customer', 'resolved', 'closed', 'reopened')),
    origin              TEXT    NOT NULL CHECK (origin IN ('monitoring', 'customer', 'staff')),
    -- JSON array of check ids, in the ticket's order (ticket_checks indexes them)
    checks              TEXT    NOT NULL,
    incident_id         INTEGER,
    assignee            TEXT,
    skill_group         TEXT    NOT NULL,
    created_ms          INTEGER NOT NULL,
    acknowledged_ms     INTEGER,
    first_update_ms     INTEGER,
    resolved_ms         INTEGER,
    closed_ms           INTEGER,
    ack_due_ms          INTEGER,
    first_update_due_ms INTEGER,
    resolve_due_ms      INTEGER,
    next_update_due_ms  INTEGER,
    paused_since_ms     INTEGER,
    reopen_count        INTEGER NOT NULL CHECK (reopen_count >= 0)
);
CREATE INDEX tickets_by_time ON tickets (created_ms, id);
CREATE INDEX tickets_by_customer ON tickets (customer_id, created_ms);

-- Which tickets name which check: finds the latest ticket of a check (reopen, not new).
CREATE TABLE ticket_checks (
    check_id  TEXT    NOT NULL,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    PRIMARY KEY (check_id, ticket_id)
) WITHOUT ROWID;

-- The timeline. seq is the order of appending (across all tickets).
CREATE TABLE ticket_events (
    seq       INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    at_ms     INTEGER NOT NULL,
    -- JSON: {"type": "system"} or {"type": "staff" | "customer", "name": "…"}
    actor     TEXT    NOT NULL,
    public    INTEGER NOT NULL CHECK (public IN (0, 1)),
    -- the event's kind (also inside payload), for queries by hand
    kind      TEXT    NOT NULL,
    -- JSON of the whole EventKind, {"kind": "…", …}
    payload   TEXT    NOT NULL
);
CREATE INDEX ticket_events_by_ticket ON ticket_events (ticket_id, at_ms, seq);

-- The transactional outbox: messages committed with the ticket change that causes them.
CREATE TABLE outbox (
    id               INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    -- idempotency key: a message with a key already queued is ignored
    key              TEXT    NOT NULL UNIQUE,
    ticket_id        INTEGER REFERENCES tickets (id),
    -- JSON: {"type": "email", "to": […]} or {"type": "webhook", "url": "…", "slack": …}
    channel          TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    message_id       TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    created_ms       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_ms  INTEGER NOT NULL,
    delivered_ms     INTEGER,
    last_error       TEXT,
    -- a worker holds the message until then (NULL: not claimed)
    claimed_until_ms INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_ms);
CREATE INDEX outbox_by_ticket ON outbox (ticket_id);

-- Ops incidents; at most one open incident per key.
CREATE TABLE incidents (
    id        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    key       TEXT    NOT NULL,
    opened_ms INTEGER NOT NULL,
    closed_ms INTEGER,
    -- JSON arrays of check ids and customer ids
    checks    TEXT    NOT NULL,
    customers TEXT    NOT NULL,
    summary   TEXT    NOT NULL
);
CREATE UNIQUE INDEX incidents_open_key ON incidents (key) WHERE closed_ms IS NULL;

-- The incident detector's per-check state (JSON), so that it survives a restart.
CREATE TABLE detector_state (
    check_id   TEXT    NOT NULL PRIMARY KEY,
    state      TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL
);
