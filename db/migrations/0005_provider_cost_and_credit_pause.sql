-- What the provider really charged for a job (OpenRouter's usage.cost, USD), recorded when it
-- completes; delivery settles the ledger at it. NULL: the provider says nothing (today's arithmetic).
ALTER TABLE jobs ADD COLUMN provider_cost_usd REAL;

-- Submissions paused for the whole bot because a provider said 402 (out of credit). One row per
-- provider while paused; `strikes` counts 402s in a row (the recheck backs off with it) and
-- `until` is when the next single probe may be sent. Deleted when a create succeeds again.
CREATE TABLE submission_pause (
    provider    TEXT PRIMARY KEY,
    since       REAL    NOT NULL,
    until       REAL    NOT NULL,
    strikes     INTEGER NOT NULL,
    reason      TEXT
);
