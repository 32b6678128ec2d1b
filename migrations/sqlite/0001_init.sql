-- forewarn store, SQLite: check state, raw results, hourly rollups.
-- Times are INTEGER unix milliseconds (UTC); latencies are REAL milliseconds; statuses are text.

-- The current state of each check: one row per check, upserted on every result.
CREATE TABLE check_state (
    check_id        TEXT    NOT NULL PRIMARY KEY,
    customer_id     TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('ok', 'warning', 'critical', 'unknown')),
    since_ms        INTEGER NOT NULL,
    consecutive     INTEGER NOT NULL CHECK (consecutive >= 1),
    last_run_ms     INTEGER NOT NULL,
    last_message    TEXT    NOT NULL,
    last_latency_ms REAL    NOT NULL
);

-- Every run of every check, kept for a bounded window (see Store::prune).
CREATE TABLE check_result (
    id            INTEGER NOT NULL PRIMARY KEY,
    check_id      TEXT    NOT NULL,
    customer_id   TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    planned_at_ms INTEGER NOT NULL,
    started_at_ms INTEGER NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('ok', 'warning', 'critical', 'unknown')),
    latency_ms    REAL    NOT NULL,
    message       TEXT    NOT NULL,
    -- JSON object {"conditions": [...], "details": {...}}
    outcome       TEXT    NOT NULL
);
CREATE INDEX check_result_by_check ON check_result (check_id, started_at_ms);
CREATE INDEX check_result_by_time ON check_result (started_at_ms);

-- One row per check and hour. h00..h63 are a fixed log-bucket latency histogram
-- (see src/store/histogram.rs): bucket columns so that merging is a plain `+` in SQL.
CREATE TABLE check_rollup_hourly (
    check_id       TEXT    NOT NULL,
    hour_ms        INTEGER NOT NULL,
    runs           INTEGER NOT NULL,
    failures       INTEGER NOT NULL,
    -- runs with a measured latency (> 0); the latency figures are over these
    measured       INTEGER NOT NULL,
    latency_sum_ms REAL    NOT NULL,
    latency_min_ms REAL,
    latency_max_ms REAL,
    h00 INTEGER NOT NULL DEFAULT 0,
    h01 INTEGER NOT NULL DEFAULT 0,
    h02 INTEGER NOT NULL DEFAULT 0,
    h03 INTEGER NOT NULL DEFAULT 0,
    h04 INTEGER NOT NULL DEFAULT 0,
    h05 INTEGER NOT NULL DEFAULT 0,
    h06 INTEGER NOT NULL DEFAULT 0,
    h07 INTEGER NOT NULL DEFAULT 0,
    h08 INTEGER NOT NULL DEFAULT 0,
    h09 INTEGER NOT NULL DEFAULT 0,
    h10 INTEGER NOT NULL DEFAULT 0,
    h11 INTEGER NOT NULL DEFAULT 0,
    h12 INTEGER NOT NULL DEFAULT 0,
    h13 INTEGER NOT NULL DEFAULT 0,
    h14 INTEGER NOT NULL DEFAULT 0,
    h15 INTEGER NOT NULL DEFAULT 0,
    h16 INTEGER NOT NULL DEFAULT 0,
    h17 INTEGER NOT NULL DEFAULT 0,
    h18 INTEGER NOT NULL DEFAULT 0,
    h19 INTEGER NOT NULL DEFAULT 0,
    h20 INTEGER NOT NULL DEFAULT 0,
    h21 INTEGER NOT NULL DEFAULT 0,
    h22 INTEGER NOT NULL DEFAULT 0,
    h23 INTEGER NOT NULL DEFAULT 0,
    h24 INTEGER NOT NULL DEFAULT 0,
    h25 INTEGER NOT NULL DEFAULT 0,
    h26 INTEGER NOT NULL DEFAULT 0,
    h27 INTEGER NOT NULL DEFAULT 0,
    h28 INTEGER NOT NULL DEFAULT 0,
    h29 INTEGER NOT NULL DEFAULT 0,
    h30 INTEGER NOT NULL DEFAULT 0,
    h31 INTEGER NOT NULL DEFAULT 0,
    h32 INTEGER NOT NULL DEFAULT 0,
    h33 INTEGER NOT NULL DEFAULT 0,
    h34 INTEGER NOT NULL DEFAULT 0,
    h35 INTEGER NOT NULL DEFAULT 0,
    h36 INTEGER NOT NULL DEFAULT 0,
    h37 INTEGER NOT NULL DEFAULT 0,
    h38 INTEGER NOT NULL DEFAULT 0,
    h39 INTEGER NOT NULL DEFAULT 0,
    h40 INTEGER NOT NULL DEFAULT 0,
    h41 INTEGER NOT NULL DEFAULT 0,
    h42 INTEGER NOT NULL DEFAULT 0,
    h43 INTEGER NOT NULL DEFAULT 0,
    h44 INTEGER NOT NULL DEFAULT 0,
    h45 INTEGER NOT NULL DEFAULT 0,
    h46 INTEGER NOT NULL DEFAULT 0,
    h47 INTEGER NOT NULL DEFAULT 0,
    h48 INTEGER NOT NULL DEFAULT 0,
    h49 INTEGER NOT NULL DEFAULT 0,
    h50 INTEGER NOT NULL DEFAULT 0,
    h51 INTEGER NOT NULL DEFAULT 0,
    h52 INTEGER NOT NULL DEFAULT 0,
    h53 INTEGER NOT NULL DEFAULT 0,
    h54 INTEGER NOT NULL DEFAULT 0,
    h55 INTEGER NOT NULL DEFAULT 0,
    h56 INTEGER NOT NULL DEFAULT 0,
    h57 INTEGER NOT NULL DEFAULT 0,
    h58 INTEGER NOT NULL DEFAULT 0,
    h59 INTEGER NOT NULL DEFAULT 0,
    h60 INTEGER NOT NULL DEFAULT 0,
    h61 INTEGER NOT NULL DEFAULT 0,
    h62 INTEGER NOT NULL DEFAULT 0,
    h63 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (check_id, hour_ms)
) WITHOUT ROWID;
CREATE INDEX check_rollup_hourly_by_hour ON check_rollup_hourly (hour_ms);
