-- 03xx: the SIP front. Live per-user state set on the web page, the JSON API or with
-- `sfm pbx user`: it overrides the loaded directory file's value for that field until the
-- next `sfm pbx load` (which clears it). field: "dnd", "redirects.always", "redirects.busy",
-- "redirects.timeout"; value: JSON (true/false, or {"enabled", "destination", "seconds"}).
CREATE TABLE pbx_live_state (
    user_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (user_id, field)
);
