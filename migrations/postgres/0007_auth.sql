-- forewarn store, PostgreSQL: failed sign-ins per login name, and per-user API tokens.
-- Times are BIGINT unix milliseconds (UTC).

-- Failed sign-ins of one login name, known or not (a lockout must not tell whether the account
-- exists). `failures` counts within the window that started at `window_start_ms`; reaching the
-- threshold locks the name until `locked_until_ms` (0: never locked) for `next_lock_ms`, which
-- then doubles up to a cap. Kept here, not in memory, so that every instance sharing the
-- database sees the same lockout. A successful sign-in deletes the row.
CREATE TABLE login_failures (
    name            TEXT    NOT NULL PRIMARY KEY,
    failures        BIGINT  NOT NULL,
    window_start_ms BIGINT  NOT NULL,
    last_failure_ms BIGINT  NOT NULL,
    locked_until_ms BIGINT  NOT NULL DEFAULT 0,
    next_lock_ms    BIGINT  NOT NULL
);
CREATE INDEX login_failures_by_last ON login_failures (last_failure_ms);

-- A user's API token (`forewarn token create`). Only the hex SHA-256 of the secret is kept, as
-- for sessions. The token acts as its user with at most `scope` (and never more than the
-- user's role); revoked tokens stay listed.
CREATE TABLE api_tokens (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    secret_hash  TEXT    NOT NULL UNIQUE,
    user_id      BIGINT  NOT NULL REFERENCES users (id),
    scope        TEXT    NOT NULL CHECK (scope IN ('read', 'staff', 'admin')),
    label        TEXT    NOT NULL DEFAULT '',
    created_ms   BIGINT  NOT NULL,
    expires_ms   BIGINT,
    last_used_ms BIGINT,
    revoked_ms   BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
