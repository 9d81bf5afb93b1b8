-- Issue 11: every change of an instance bumps its revision, so a writer that edited an older
-- revision (the web form, an API PUT that names one) is told instead of overwriting silently.
ALTER TABLE instances ADD COLUMN revision INTEGER NOT NULL DEFAULT 1
