-- forewarn store, PostgreSQL: staff users and their sessions.
-- Times are BIGINT unix milliseconds (UTC).

-- A staff member who signs in to the dashboard. The password is an argon2 PHC string.
CREATE TABLE users (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('staff', 'admin')),
    password_hash TEXT    NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms    BIGINT  NOT NULL
);

-- A signed-in browser. `id_hash` is the hex SHA-256 of the cookie's session id: the id itself
-- is never stored, so a copy of the database does not let anyone in.
CREATE TABLE user_sessions (
    id_hash     TEXT    NOT NULL PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users (id),
    created_ms  BIGINT  NOT NULL,
    expires_ms  BIGINT  NOT NULL,
    csrf_secret TEXT    NOT NULL
);
CREATE INDEX user_sessions_by_user ON user_sessions (user_id);
CREATE INDEX user_sessions_by_expiry ON user_sessions (expires_ms);
