-- The last good model catalog of each provider (GET /videos/models), so a restart while the
-- provider is down still offers it; and a server's default model for /sora.
CREATE TABLE model_catalog (
    provider    TEXT PRIMARY KEY,
    records     TEXT NOT NULL,  -- JSON list of normalized model records (bot.catalog.capabilities)
    fetched_at  REAL NOT NULL
);

ALTER TABLE guild_settings ADD COLUMN default_model TEXT;  -- NULL: SORA_DEFAULT_MODEL
