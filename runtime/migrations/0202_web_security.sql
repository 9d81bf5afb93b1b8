-- Issue 11: login throttling counted in the database (atomic across threads and processes),
-- and API tokens for scripts (`Authorization: Bearer <token>`), stored hashed.
CREATE TABLE web_login_attempts (
    id INTEGER PRIMARY KEY,
    client TEXT NOT NULL,       -- the client address the throttle counts for
    at REAL NOT NULL,           -- seconds since the epoch
    outcome TEXT NOT NULL       -- 'pending' while the password is checked, then 'failed'
);
CREATE INDEX web_login_attempts_by_client ON web_login_attempts(client, at);
CREATE TABLE web_api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used TEXT
)
