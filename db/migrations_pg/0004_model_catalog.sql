-- PostgreSQL twin of db/migrations/0004_model_catalog.sql (same tables, same columns).
-- The last good model catalog of each provider (GET /videos/models), so a restart while the
-- provider is down still offers it; and a server's default model for /sora.
CREATE TABLE model_catalog (
    provider    TEXT PRIMARY KEY,
    records     TEXT NOT NULL,
    fetched_at  DOUBLE PRECISION NOT NULL
);

ALTER TABLE guild_settings ADD COLUMN default_model TEXT;
