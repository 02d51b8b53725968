"""`python -m bot migrate-db`: a one-server bot's SQLite database copied into a fresh PostgreSQL one,
every table and row (jobs read back equal), idempotent on a second run, sequences moved past the
copied ids, row counts verified; bad arguments get one clear line."""

from __future__ import annotations

import sqlite3

from bot.__main__ import main
from bot.domain.jobs import JobState
from bot.domain.records import GuildConfig, NewJob
from bot.migrate_db import migrate_db
from bot.sandbox.job_paths import walk
from bot.settings import Settings
from db.database import open_store
from db.repository import Repository
from db.webhooks import WebhookLog
from tests.pgtools import fresh_database

NOW = 1_800_000_000.0


async def cli(source: str, target: str) -> int:
    """What `python -m bot migrate-db --from source --to target` runs (main() owns its event loop)."""
    return await migrate_db(Settings(_env_file=None), source, target)


async def _fill(url: str) -> list:
    db = await open_store(url)
    repo = Repository(db, clock=lambda: NOW)
    jobs = []
    for i in range(3):
        job, _ = await repo.create_job(
            NewJob(guild_id=10, channel_id=100, user_id=i, kind="generate", prompt=f"p{i} ünïcode", model="sora-2",
                   size="1280x720", seconds=4, provider="openai", idempotency_key=f"k{i}", user_cap=2),
            decide=lambda u: True, allowed=bool, reserve_seconds=4, reserve_usd=0.4, month_start=0)
        jobs.append(job)
    await walk(repo, jobs[0].id, JobState.DELIVERING, file_path="/data/videos/1.mp4", file_size=123,
                      duration=4.04)
    await repo.mark_delivered(jobs[0].id, message_id=2**60 + 7, at=NOW, charge=(4.04, 0.4))
    await repo.save_guild_config(GuildConfig(10, {"user_videos_per_day": 9}, [1, 2], None), by=77,
                                 action="limits.set", detail="x")
    await repo.set_role_tier(10, 900, {"allowed_models": ["sora-2-pro"]}, by=77)
    await repo.set_blocked(10, 42, True, by=77, reason="spam")
    await walk(repo, jobs[1].id, JobState.QUEUED, provider_id="video_1")
    await WebhookLog(repo).accept("openai:evt_1", source="openai", job_id=jobs[1].id, now=NOW)
    await db.close()
    path = url[len("sqlite:///"):]
    raw = sqlite3.connect(path)  # an older release wrote an int into a REAL column
    raw.execute("UPDATE jobs SET created_at = 1800000000 WHERE id = ?", (jobs[2].id,))
    raw.commit()
    raw.close()
    return jobs


async def test_copies_everything_idempotently_and_verifies_counts(tmp_path, capsys):
    lite_url = f"sqlite:///{tmp_path / 'bot.db'}"
    jobs = await _fill(lite_url)
    async with fresh_database() as pg_url:
        pg_url_with_password = pg_url.replace("postgres@", "postgres:s3cret@")
        assert await cli(lite_url, pg_url_with_password) == 0
        out = capsys.readouterr().out
        assert "row counts match" in out and "s3cret" not in out
        assert "✓ jobs" in out and "sqlite        3  postgresql        3  (copied now 3)" in out
        assert await cli(lite_url, pg_url) == 0  # again: nothing doubles
        assert "(copied now 3)" not in capsys.readouterr().out

        lite, pg = await open_store(lite_url), await open_store(pg_url)
        try:
            a, b = Repository(lite), Repository(pg, clock=lambda: NOW)
            for job in jobs:
                assert await b.get_job(job.id) == await a.get_job(job.id)
            for table in ("quota_ledger", "guild_settings", "role_tiers", "blocked_users", "admin_log",
                          "webhook_deliveries"):
                query = f"SELECT * FROM {table}"  # noqa: S608  (a fixed table name)
                assert len(await lite.fetchall(query)) == len(await pg.fetchall(query)) > 0, table
            assert (await b.ledger_entry(jobs[0].id))["status"] == "settled"
            assert (await b.guild_config(10)).limits == {"user_videos_per_day": 9}
            assert await b.is_blocked(10, 42)
            new, _ = await b.create_job(
                NewJob(guild_id=10, channel_id=1, user_id=9, kind="generate", prompt="after", model="sora-2",
                       size="1280x720", seconds=4, provider="openai", idempotency_key="new"),
                decide=lambda u: True, allowed=bool, reserve_seconds=4, reserve_usd=0.4, month_start=0)
            assert new.id > max(j.id for j in jobs)  # the sequence moved past the copied ids
        finally:
            await lite.close()
            await pg.close()

        # a PostgreSQL database with rows SQLite does not have: the counts disagree, exit 1
        assert await cli(lite_url, pg_url) == 1
        assert "row counts differ" in capsys.readouterr().err


def test_bad_arguments_get_one_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["migrate-db", "--from", "sqlite:///nowhere.db", "--to", "mysql://x"]) == 2
    assert "--to postgresql://" in capsys.readouterr().err
    assert main(["migrate-db", "--from", f"sqlite:///{tmp_path / 'missing.db'}", "--to", "postgresql://x@h/d"]) == 2
    assert "no SQLite database" in capsys.readouterr().err


async def test_every_table_of_the_schema_is_copied(tmp_path):
    """A table added by a migration but missing from db/copy.py's TABLES would be silently left behind."""
    from db.copy import TABLES
    from db.database import open_database

    conn = await open_database(tmp_path / "schema.db")
    async with conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'") as cur:
        tables = {row[0] for row in await cur.fetchall()}
    await conn.close()
    assert tables - {"schema_version"} <= set(TABLES), f"not copied by migrate-db: {tables - set(TABLES)}"
