-- The module manager: installed modules, their builds on disk, and their instances.
-- A module row names the build in use (current_build) and the one kept for rollback
-- (previous_build); each build is a folder DATA/modules/<module id>/<build>/.
CREATE TABLE modules (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    vendor TEXT NOT NULL,
    current_build TEXT NOT NULL,
    previous_build TEXT,
    installed_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE module_builds (
    module_id TEXT NOT NULL REFERENCES modules(id) ON DELETE CASCADE,
    build TEXT NOT NULL,
    version INTEGER NOT NULL,
    display_version TEXT,
    variant TEXT,
    spec_version INTEGER,
    min_pbx_version TEXT,
    runnable INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    file_name TEXT NOT NULL,
    info_json TEXT NOT NULL,
    installed_at TEXT NOT NULL,
    PRIMARY KEY (module_id, build)
);

CREATE TABLE instances (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    module_id TEXT NOT NULL REFERENCES modules(id),
    name TEXT NOT NULL COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    log_level TEXT NOT NULL DEFAULT 'INFO',
    active INTEGER NOT NULL DEFAULT 1,
    config_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (module_id, name)
);

CREATE INDEX instances_by_name ON instances(name)
