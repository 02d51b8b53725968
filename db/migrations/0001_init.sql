-- Jobs, the quota ledger, guild settings and the admin audit log.
-- Times are unix seconds (REAL, UTC). Ids from Discord are INTEGER snowflakes.

CREATE TABLE jobs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id            INTEGER,
    channel_id          INTEGER NOT NULL,
    user_id             INTEGER NOT NULL,
    kind                TEXT    NOT NULL CHECK (kind IN ('generate', 'remix')),
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
    progress_text       TEXT
);
CREATE INDEX jobs_due ON jobs (state, next_poll_at);
CREATE INDEX jobs_user ON jobs (user_id, created_at);
CREATE INDEX jobs_guild ON jobs (guild_id, created_at);
CREATE UNIQUE INDEX jobs_provider_id ON jobs (provider, provider_id) WHERE provider_id IS NOT NULL;
CREATE INDEX jobs_result_message ON jobs (result_message_id) WHERE result_message_id IS NOT NULL;

-- One row per job: reserved at submit (same transaction as the job row), then settled at the real
-- duration or refunded. Usage windows sum the rows that are reserved or settled.
CREATE TABLE quota_ledger (
    job_id      INTEGER PRIMARY KEY REFERENCES jobs(id),
    guild_id    INTEGER,
    user_id     INTEGER NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('reserved', 'settled', 'refunded')),
    seconds     REAL    NOT NULL,
    usd         REAL    NOT NULL,
    reason      TEXT,
    created_at  REAL    NOT NULL,
    closed_at   REAL
);
CREATE INDEX quota_ledger_user ON quota_ledger (user_id, created_at);
CREATE INDEX quota_ledger_guild ON quota_ledger (guild_id, created_at);

CREATE TABLE guild_settings (
    guild_id    INTEGER PRIMARY KEY,
    limits      TEXT,      -- JSON of the overridden fields of quota.Limits
    channels    TEXT,      -- JSON list of channel ids the bot answers in; NULL = everywhere
    prices      TEXT,      -- JSON price table override; NULL = the settings' table
    updated_at  REAL    NOT NULL,
    updated_by  INTEGER
);

CREATE TABLE role_tiers (
    guild_id    INTEGER NOT NULL,
    role_id     INTEGER NOT NULL,
    limits      TEXT    NOT NULL,  -- JSON of quota.Limits fields this role overrides
    updated_at  REAL    NOT NULL,
    updated_by  INTEGER,
    PRIMARY KEY (guild_id, role_id)
);

CREATE TABLE blocked_users (
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    reason      TEXT,
    blocked_by  INTEGER,
    blocked_at  REAL    NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

CREATE TABLE admin_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    detail      TEXT,
    at          REAL    NOT NULL
);
