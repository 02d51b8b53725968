-- PostgreSQL twin of db/migrations/0009_extend_kind.sql: jobs may be of kind 'extend' (the Extend
-- button). PostgreSQL changes a CHECK constraint in place (the column's constraint is named
-- jobs_kind_check by default), so no table rebuild here.
ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('generate', 'remix', 'extend'));
