-- The web host (`sfm serve`): its admin user, login sessions, one-time setup links,
-- the key that signs its cookies, and the record of interventions.
CREATE TABLE web_users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES web_users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE TABLE web_setup_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE web_secret (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL
);
CREATE TABLE interventions (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    module_id TEXT,
    instance TEXT NOT NULL,
    caller TEXT NOT NULL,
    called TEXT NOT NULL,
    effects TEXT NOT NULL,
    outcome TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX interventions_at ON interventions(at)
