-- migrate: foreign_keys=off
-- Extensions (the Extend button): a job of kind 'extend' continues a finished video. SQLite cannot
-- change a CHECK constraint in place, so `jobs` is rebuilt the standard way (sqlite.org/lang_altertable.html,
-- "making other kinds of table schema changes"): the runner turns foreign keys off around this
-- migration (the directive above) and runs `PRAGMA foreign_key_check` before it commits.
-- 1. the new table, exactly the old one but for the CHECK; 2. every row copied, column by column;
-- 3. the AUTOINCREMENT high-water mark kept (ids of deleted jobs are never handed out again);
-- 4. the old table dropped and the new one renamed; 5. its indexes recreated.
CREATE TABLE jobs__new (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id            INTEGER,
    channel_id          INTEGER NOT NULL,
    user_id             INTEGER NOT NULL,
    kind                TEXT    NOT NULL CHECK (kind IN ('generate', 'remix', 'extend')),
    prompt              TEXT    NOT NULL,
    model               TEXT    NOT NULL,
    size                TEXT    NOT NULL,
    seconds             INTEGER NOT NULL,
    parent_job_id       INTEGER REFERENCES jobs(id),
    image_path          TEXT,
    provider            TEXT    NOT NULL,
    provider_id         TEXT,
    idempotency_key     TEXT    NOT NULL,
    state               TEXT    NOT NULL,
    progress            INTEGER,
    error_code          TEXT,
    error_message       TEXT,
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_poll_at        REAL,
    last_poll_at        REAL,
    claimed_until       REAL,
    created_at          REAL    NOT NULL,
    updated_at          REAL    NOT NULL,
    submit_started_at   REAL,
    submitted_at        REAL,
    completed_at        REAL,
    delivered_at        REAL,
    expires_at          REAL,
    file_path           TEXT,
    file_size           INTEGER,
    duration            REAL,
    status_message_id   INTEGER,
    result_message_id   INTEGER,
    reply_to_message_id INTEGER,
    progress_published_at REAL,
    progress_text       TEXT,
    user_cap            INTEGER,
    provider_cost_usd   REAL,
    claimed_by          TEXT,
    locale              TEXT
);
INSERT INTO jobs__new (
    id, guild_id, channel_id, user_id, kind, prompt, model, size, seconds, parent_job_id, image_path,
    provider, provider_id, idempotency_key, state, progress, error_code, error_message, attempts,
    next_poll_at, last_poll_at, claimed_until, created_at, updated_at, submit_started_at, submitted_at,
    completed_at, delivered_at, expires_at, file_path, file_size, duration, status_message_id,
    result_message_id, reply_to_message_id, progress_published_at, progress_text, user_cap,
    provider_cost_usd, claimed_by, locale)
SELECT
    id, guild_id, channel_id, user_id, kind, prompt, model, size, seconds, parent_job_id, image_path,
    provider, provider_id, idempotency_key, state, progress, error_code, error_message, attempts,
    next_poll_at, last_poll_at, claimed_until, created_at, updated_at, submit_started_at, submitted_at,
    completed_at, delivered_at, expires_at, file_path, file_size, duration, status_message_id,
    result_message_id, reply_to_message_id, progress_published_at, progress_text, user_cap,
    provider_cost_usd, claimed_by, locale
FROM jobs;
CREATE TEMP TABLE jobs__seq AS SELECT seq FROM sqlite_sequence WHERE name = 'jobs';
DROP TABLE jobs;
ALTER TABLE jobs__new RENAME TO jobs;
DELETE FROM sqlite_sequence WHERE name = 'jobs';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'jobs', MAX(COALESCE((SELECT seq FROM jobs__seq), 0), COALESCE((SELECT MAX(id) FROM jobs), 0));
DROP TABLE jobs__seq;
CREATE INDEX jobs_due ON jobs (state, next_poll_at);
CREATE INDEX jobs_user ON jobs (user_id, created_at);
CREATE INDEX jobs_guild ON jobs (guild_id, created_at);
CREATE UNIQUE INDEX jobs_provider_id ON jobs (provider, provider_id) WHERE provider_id IS NOT NULL;
CREATE INDEX jobs_result_message ON jobs (result_message_id) WHERE result_message_id IS NOT NULL;
