-- Licensing (issue 11): the trial counts used time from evidence a clock step cannot fake.
-- `used` is the trial time consumed up to the checkpoint (-1: a row written before this
-- migration, whose used time is latest_seen - started_at); `latest_seen` is now the wall clock
-- at the checkpoint, `boot_id` and `since_boot` the kernel's boot id and seconds since boot.
ALTER TABLE licence_trials ADD COLUMN used INTEGER NOT NULL DEFAULT -1;
ALTER TABLE licence_trials ADD COLUMN boot_id TEXT NOT NULL DEFAULT '';
ALTER TABLE licence_trials ADD COLUMN since_boot INTEGER NOT NULL DEFAULT 0;
