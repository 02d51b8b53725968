"""The SQLite table rebuild (db/migrations/0009_extend_kind.sql, run by db/database.py with foreign
keys off and a foreign-key check before COMMIT): a database at version 8 holding real rows (jobs
with parents, ledger rows, a deleted highest id) comes through with every row, every index, its
AUTOINCREMENT mark and its foreign keys, and then accepts extension jobs."""

from __future__ import annotations

import sqlite3

import pytest

from db.database import MigrationError, migrate, migration_state, migrations, needs_foreign_keys_off, open_database

JOB = """INSERT INTO jobs (id, guild_id, channel_id, user_id, kind, prompt, model, size, seconds, parent_job_id,
         provider, provider_id, idempotency_key, state, created_at, updated_at, user_cap, locale, duration)
         VALUES (?, 7, 1, ?, ?, ?, 'sora-2', '1280x720', 8, ?, 'openai', ?, ?, 'delivered', ?, ?, 2, 'zh-CN', 8.0)"""


def at_version(path, version: int) -> None:
    """A database file as release `version` left it."""
    db = sqlite3.connect(path)
    for number, migration in migrations():
        if number <= version:
            db.executescript(migration.read_text(encoding="utf-8"))
    db.execute(f"PRAGMA user_version = {version}")
    db.commit()
    db.close()


def schema(path) -> dict[str, str]:
    db = sqlite3.connect(path)
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'jobs' AND type = 'index'").fetchall()
    db.close()
    return dict(rows)


def fill(path) -> list[tuple]:
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys = ON")
    for i in range(1, 41):
        parent = i - 1 if i % 5 == 0 else None  # every fifth job is a remix of the one before
        db.execute(JOB, (i, 100 + i % 3, "remix" if parent else "generate", f"prompt {i} 雨", parent,
                         f"video_{i}", f"key-{i}", float(i), float(i) + 0.5))
        db.execute("INSERT INTO quota_ledger (job_id, guild_id, user_id, status, seconds, usd, created_at) "
                   "VALUES (?, 7, ?, 'settled', 8, 0.8, ?)", (i, 100 + i % 3, float(i)))
    db.execute("DELETE FROM quota_ledger WHERE job_id = 40")
    db.execute("DELETE FROM jobs WHERE id = 40")  # the highest id is gone: it must not be handed out again
    db.commit()
    rows = db.execute("SELECT * FROM jobs ORDER BY id").fetchall()
    db.close()
    return rows


async def test_the_rebuild_keeps_every_row_index_and_the_id_sequence(tmp_path):
    path = tmp_path / "v8.db"
    at_version(path, 8)
    before_rows, before_indexes = fill(path), schema(path)
    ledger_before = sqlite3.connect(path).execute("SELECT * FROM quota_ledger ORDER BY job_id").fetchall()

    conn = await open_database(path)
    try:
        applied, latest = await migration_state(conn)
        assert applied == latest >= 9
        async with conn.execute("SELECT * FROM jobs ORDER BY id") as cur:
            after_rows = [tuple(r) for r in await cur.fetchall()]
        assert after_rows == before_rows and len(after_rows) == 39
        async with conn.execute("SELECT * FROM quota_ledger ORDER BY job_id") as cur:
            assert [tuple(r) for r in await cur.fetchall()] == ledger_before
        async with conn.execute("PRAGMA foreign_keys") as cur:
            assert (await cur.fetchone())[0] == 1  # on again after the rebuild
        async with conn.execute("PRAGMA foreign_key_check") as cur:
            assert await cur.fetchall() == []
        # a new job gets id 41, not the deleted 40; an extension is now a legal kind, nonsense is not
        await conn.execute(JOB, (None, 5, "extend", "then it rains", 39, "video_x", "key-x", 99.0, 99.0))
        async with conn.execute("SELECT MAX(id), kind FROM jobs WHERE kind = 'extend'") as cur:
            assert tuple(await cur.fetchone()) == (41, "extend")
        with pytest.raises(sqlite3.IntegrityError):
            await conn.execute(JOB, (50, 5, "bogus", "x", None, "video_y", "key-y", 1.0, 1.0))
        with pytest.raises(sqlite3.IntegrityError):  # the self-reference is still enforced
            await conn.execute(JOB, (51, 5, "extend", "x", 999, "video_z", "key-z", 1.0, 1.0))
    finally:
        await conn.close()
    assert schema(path) == before_indexes  # every index recreated, word for word


async def test_a_migration_that_leaves_a_dangling_reference_is_rolled_back(tmp_path, monkeypatch):
    """The runner's foreign-key check: a rebuild that loses a referenced row changes nothing."""
    from pathlib import Path

    import db.database as database

    path = tmp_path / "v8.db"
    at_version(path, 8)
    fill(path)
    broken = tmp_path / "migrations"
    broken.mkdir()
    for number, migration in migrations():
        text = migration.read_text(encoding="utf-8")
        if number == 9:  # the same rebuild, but it "forgets" job 1, which job 5 and a ledger row point at
            text = text.replace("FROM jobs;", "FROM jobs WHERE id <> 1;")
        (broken / migration.name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(database, "MIGRATIONS_DIR", Path(broken))
    monkeypatch.setattr(database.migrations, "__defaults__", (Path(broken),))
    import aiosqlite

    conn = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        await conn.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(MigrationError, match="dangling"):
            await migrate(conn)
        async with conn.execute("PRAGMA user_version") as cur:
            assert (await cur.fetchone())[0] == 8
        async with conn.execute("SELECT COUNT(*) FROM jobs") as cur:
            assert (await cur.fetchone())[0] == 39  # nothing lost: the old table is back
        async with conn.execute("PRAGMA foreign_keys") as cur:
            assert (await cur.fetchone())[0] == 1
    finally:
        await conn.close()


def test_only_the_rebuild_migration_turns_foreign_keys_off():
    flagged = [path.name for _, path in migrations() if needs_foreign_keys_off(path.read_text(encoding="utf-8"))]
    assert flagged == ["0009_extend_kind.sql"]


async def test_both_backends_take_extension_jobs_and_refuse_unknown_kinds(store_url):
    """The PostgreSQL twin (a constraint swapped in place) allows exactly what the SQLite rebuild does."""
    import dataclasses

    from db.database import open_store
    from db.repository import Repository
    from tests.test_repository import create, new_job

    db = await open_store(store_url)
    try:
        repo = Repository(db)
        source, _ = await create(repo, new_job(prompt="a kite"))
        extension, _ = await create(repo, dataclasses.replace(new_job(prompt="it climbs"), kind="extend", seconds=8,
                                                              parent_job_id=source.id), seconds=8, usd=0.8)
        stored = await repo.get_job(extension.id)
        assert (stored.kind, stored.parent_job_id, stored.seconds) == ("extend", source.id, 8)
        assert (await repo.ledger_entry(extension.id))["seconds"] == 8
        with pytest.raises(Exception, match=r"(?i)check"):
            await create(repo, dataclasses.replace(new_job(prompt="bogus"), kind="bogus"))
    finally:
        await db.close()
