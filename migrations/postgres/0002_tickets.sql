-- forewarn store, PostgreSQL: tickets and their timelines, the outbox, incidents, detector state.
-- Same shape as migrations/sqlite: times are BIGINT unix milliseconds (UTC), enums are text,
-- structured values are JSONB.

CREATE TABLE tickets (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id         TEXT    NOT NULL,
    title               TEXT    NOT NULL,
    problem             TEXT    NOT NULL,
    severity            TEXT    NOT NULL CHECK (severity IN ('P1', 'P2', 'P3', 'P4')),
    status              TEXT    NOT NULL CHECK (status IN ('new', 'acknowledged', 'in_progress',
                                    'waiting_on_customer', 'resolved', 'closed', 'reopened')),
    origin              TEXT    NOT NULL CHECK (origin IN ('monitoring', 'customer', 'staff')),
    -- array of check ids, in the ticket's order (ticket_checks indexes them)
    checks              JSONB   NOT NULL,
    incident_id         BIGINT,
    assignee            TEXT,
    skill_group         TEXT    NOT NULL,
    created_ms          BIGINT  NOT NULL,
    acknowledged_ms     BIGINT,
    first_update_ms     BIGINT,
    resolved_ms         BIGINT,
    closed_ms           BIGINT,
    ack_due_ms          BIGINT,
    first_update_due_ms BIGINT,
    resolve_due_ms      BIGINT,
    next_update_due_ms  BIGINT,
    paused_since_ms     BIGINT,
    reopen_count        BIGINT  NOT NULL CHECK (reopen_count >= 0)
);
CREATE INDEX tickets_by_time ON tickets (created_ms, id);
CREATE INDEX tickets_by_customer ON tickets (customer_id, created_ms);

CREATE TABLE ticket_checks (
    check_id  TEXT   NOT NULL,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    PRIMARY KEY (check_id, ticket_id)
);

CREATE TABLE ticket_events (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id BIGINT  NOT NULL REFERENCES tickets (id),
    at_ms     BIGINT  NOT NULL,
    actor     JSONB   NOT NULL,
    public    BOOLEAN NOT NULL,
    kind      TEXT    NOT NULL,
    payload   JSONB   NOT NULL
);
CREATE INDEX ticket_events_by_ticket ON ticket_events (ticket_id, at_ms, seq);

CREATE TABLE outbox (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key              TEXT   NOT NULL UNIQUE,
    ticket_id        BIGINT REFERENCES tickets (id),
    channel          JSONB  NOT NULL,
    subject          TEXT   NOT NULL,
    body             TEXT   NOT NULL,
    message_id       TEXT   NOT NULL,
    status           TEXT   NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    created_ms       BIGINT NOT NULL,
    attempts         BIGINT NOT NULL CHECK (attempts >= 0),
    next_attempt_ms  BIGINT NOT NULL,
    delivered_ms     BIGINT,
    last_error       TEXT,
    claimed_until_ms BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_ms);
CREATE INDEX outbox_by_ticket ON outbox (ticket_id);

CREATE TABLE incidents (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key       TEXT   NOT NULL,
    opened_ms BIGINT NOT NULL,
    closed_ms BIGINT,
    checks    JSONB  NOT NULL,
    customers JSONB  NOT NULL,
    summary   TEXT   NOT NULL
);
CREATE UNIQUE INDEX incidents_open_key ON incidents (key) WHERE closed_ms IS NULL;

CREATE TABLE detector_state (
    check_id   TEXT   NOT NULL PRIMARY KEY,
    state      JSONB  NOT NULL,
    updated_ms BIGINT NOT NULL
);
