-- forewarn store, PostgreSQL: follow-up surveys, their single-use links, call-back tasks, opt-outs
-- and the server's own secrets. Times are BIGINT unix milliseconds (UTC).

-- Secrets the server generates once and every instance shares (the link-signing key when
-- `[web] secret` is not configured). The first instance to insert one wins.
CREATE TABLE server_secrets (
    name       TEXT    NOT NULL PRIMARY KEY,
    value      TEXT    NOT NULL,
    created_ms BIGINT  NOT NULL
);

-- One survey per ticket and resolution cycle (`cycle_ms` is the ticket's resolved_ms when the
-- survey went out), so running the job twice, or on two instances, surveys once.
CREATE TABLE surveys (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id   BIGINT  NOT NULL REFERENCES tickets (id),
    cycle_ms    BIGINT  NOT NULL,
    customer_id TEXT    NOT NULL,
    -- JSON array of the addresses it went to
    contacts    TEXT    NOT NULL,
    -- the staff member who resolved the ticket (NULL: resolved by monitoring)
    credited_to TEXT,
    sent_ms     BIGINT  NOT NULL,
    reminded_ms BIGINT,
    answered_ms BIGINT,
    rating      BIGINT  CHECK (rating BETWEEN 1 AND 5),
    solved      BOOLEAN,
    comment     TEXT,
    UNIQUE (ticket_id, cycle_ms)
);
CREATE INDEX surveys_by_sent ON surveys (sent_ms);

-- Single-use links already used: the nonce of the link, consumed in the transaction that
-- records what the link did.
CREATE TABLE used_links (
    nonce   TEXT    NOT NULL PRIMARY KEY,
    used_ms BIGINT  NOT NULL
);

-- Contacts who asked for no more surveys.
CREATE TABLE survey_optouts (
    contact TEXT    NOT NULL PRIMARY KEY,
    at_ms   BIGINT  NOT NULL
);

-- Call-back tasks for CSM staff: an unhappy answer (rating <= 2 or "not solved").
CREATE TABLE survey_callbacks (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    survey_id   BIGINT  NOT NULL REFERENCES surveys (id),
    ticket_id   BIGINT  NOT NULL REFERENCES tickets (id),
    customer_id TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    created_ms  BIGINT  NOT NULL,
    done_ms     BIGINT,
    done_by     TEXT,
    outcome     TEXT,
    UNIQUE (survey_id)
);
CREATE INDEX survey_callbacks_open ON survey_callbacks (done_ms, created_ms);
