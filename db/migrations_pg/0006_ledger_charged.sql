-- PostgreSQL twin of db/migrations/0006_ledger_charged.sql (same tables, same columns).
-- What the provider charged for a job whose reservation was refunded although its video was
-- rendered upstream; NULL: nothing was charged.
ALTER TABLE quota_ledger ADD COLUMN charged_usd DOUBLE PRECISION;
