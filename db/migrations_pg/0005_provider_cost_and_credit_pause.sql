-- PostgreSQL twin of db/migrations/0005_provider_cost_and_credit_pause.sql (same tables, same columns).
-- What the provider really charged for a job (OpenRouter's usage.cost, USD); NULL: not reported.
ALTER TABLE jobs ADD COLUMN provider_cost_usd DOUBLE PRECISION;

-- Submissions paused for the whole bot because a provider said 402 (out of credit).
CREATE TABLE submission_pause (
    provider    TEXT PRIMARY KEY,
    since       DOUBLE PRECISION NOT NULL,
    until       DOUBLE PRECISION NOT NULL,
    strikes     BIGINT NOT NULL,
    reason      TEXT
);
