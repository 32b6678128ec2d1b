-- forewarn store: several instances on one database (see src/cluster/ and src/store/cluster.rs).
-- Same shape on SQLite and PostgreSQL: times are BIGINT unix milliseconds (UTC), flags 0/1.

-- Every running `forewarn serve`; alive while its heartbeat is younger than one lease.
CREATE TABLE cluster_members (
    instance     TEXT   NOT NULL PRIMARY KEY,
    region       TEXT   NOT NULL,
    started_ms   BIGINT NOT NULL,
    heartbeat_ms BIGINT NOT NULL,
    version      TEXT   NOT NULL
);

-- Who runs a check in a region, until when. Taken, renewed and released under one lock per
-- region (an advisory transaction lock on PostgreSQL, the single writer on SQLite).
CREATE TABLE check_leases (
    check_id   TEXT   NOT NULL,
    region     TEXT   NOT NULL,
    owner      TEXT   NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (check_id, region)
);
CREATE INDEX check_leases_by_owner ON check_leases (owner);

-- Periodic jobs (SLA clocks, maintenance notices, …) that one instance at a time runs.
CREATE TABLE job_leases (
    job        TEXT   NOT NULL PRIMARY KEY,
    owner      TEXT   NOT NULL,
    expires_ms BIGINT NOT NULL
);

-- What each region last saw of each check: the quorum and dead-prober rules read it.
CREATE TABLE check_region_status (
    check_id TEXT   NOT NULL,
    region   TEXT   NOT NULL,
    failing  BIGINT NOT NULL CHECK (failing IN (0, 1)),
    instance TEXT   NOT NULL,
    at_ms    BIGINT NOT NULL,
    PRIMARY KEY (check_id, region)
);

-- The incident detector's per-check state for a named region (the region "default" keeps
-- using detector_state). JSON as text.
CREATE TABLE detector_state_region (
    check_id   TEXT   NOT NULL,
    region     TEXT   NOT NULL,
    state      TEXT   NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (check_id, region)
);

-- Two instances (or regions) deciding at once open one ticket per customer and incident: the
-- second insert fails and joins the first ticket.
CREATE UNIQUE INDEX tickets_open_per_incident ON tickets (customer_id, incident_id)
    WHERE incident_id IS NOT NULL AND status NOT IN ('resolved', 'closed');
