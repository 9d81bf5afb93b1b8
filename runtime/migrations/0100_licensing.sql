-- Licensing (issue 6). The trial of a module on this PBX: one row per module id and hardware
-- id, never deleted (module removal keeps it, so re-adding does not restart the trial).
-- `mac` is an HMAC of the other columns with the PBX key in DATA/licensing/pbx.key.
CREATE TABLE licence_trials (
    module_id   TEXT NOT NULL,
    hardware_id TEXT NOT NULL,
    started_at  INTEGER NOT NULL,  -- seconds since the epoch (UTC)
    latest_seen INTEGER NOT NULL,  -- the latest clock reading seen; the clock set back uses this
    mac         TEXT NOT NULL,
    PRIMARY KEY (module_id, hardware_id)
);
-- The licence of a module as signed by the vendor (verified again on every read).
CREATE TABLE licence_licences (
    module_id   TEXT PRIMARY KEY,
    document    TEXT NOT NULL,     -- the licence file, exactly as received (JSON)
    stored_at   INTEGER NOT NULL
);
-- A verification asked of the licence service and not yet confirmed with its code.
CREATE TABLE licence_requests (
    module_id    TEXT PRIMARY KEY,
    email        TEXT NOT NULL,
    server       TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    requested_at INTEGER NOT NULL
);
-- Bumped on every licence change, so a running host can notice one without reading licences.
CREATE TABLE licence_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO licence_generation VALUES (1, 0);
