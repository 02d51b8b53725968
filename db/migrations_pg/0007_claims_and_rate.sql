-- PostgreSQL twin of db/migrations/0007_claims_and_rate.sql (same tables, same columns).
ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
CREATE TABLE provider_rate (
    provider TEXT PRIMARY KEY,
    tat      DOUBLE PRECISION NOT NULL
);
