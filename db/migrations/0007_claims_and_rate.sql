-- Several processes, one queue (PostgreSQL; harmless on SQLite): who holds a job's lease, so a
-- restarted process frees only its own leases and never a live neighbour's; and the provider
-- request-rate cap shared by every process (a GCRA "theoretical arrival time" per provider).
ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
CREATE TABLE provider_rate (
    provider TEXT PRIMARY KEY,
    tat      REAL NOT NULL
);
