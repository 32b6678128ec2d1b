-- forewarn store, SQLite: staff users and their sessions.
-- Times are INTEGER unix milliseconds (UTC).

-- A staff member who signs in to the dashboard. The password is an argon2 PHC string.
CREATE TABLE users (
    id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('staff', 'admin')),
    password_hash TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_ms    INTEGER NOT NULL
);

-- A signed-in browser. `id_hash` is the hex SHA-256 of the cookie's session id: the id itself
-- is never stored, so a copy of the database does not let anyone in.
CREATE TABLE user_sessions (
    id_hash     TEXT    NOT NULL PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    csrf_secret TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX user_sessions_by_user ON user_sessions (user_id);
CREATE INDEX user_sessions_by_expiry ON user_sessions (expires_ms);
