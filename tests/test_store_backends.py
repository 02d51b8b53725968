"""The two backends agree: both migration sets end with the same tables and columns, PostgreSQL's
migrations are recorded and never re-applied (even by two processes starting at once), and the
placeholder translation leaves quoted text alone."""

from __future__ import annotations

import asyncio

from db.backend import PostgresDatabase, lock_key, to_dollar_params
from db.database import PG_MIGRATIONS_DIR, migrations, open_store, pg_migration_state, store_migration_state


def test_placeholders_become_dollar_numbers_outside_quotes():
    assert to_dollar_params("SELECT ? , '?', \"a?\" WHERE x=? AND y IN (?,?)") == (
        "SELECT $1 , '?', \"a?\" WHERE x=$2 AND y IN ($3,$4)")


def test_lock_keys_are_stable_signed_64_bit():
    assert lock_key("admission", 10) == lock_key("admission", 10) != lock_key("admission", 11)
    assert -(2**63) <= lock_key("x") < 2**63


def test_both_migration_sets_have_the_same_numbers_and_names():
    assert [p.name for _, p in migrations()] == [p.name for _, p in migrations(PG_MIGRATIONS_DIR)]


async def _columns_sqlite(db) -> dict[str, set[str]]:
    tables = [r[0] for r in await db.fetchall(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
    return {t: {r[1] for r in await db.fetchall(f"PRAGMA table_info({t})")} for t in tables}


async def _columns_pg(db) -> dict[str, set[str]]:
    rows = await db.fetchall("SELECT table_name, column_name FROM information_schema.columns "
                             "WHERE table_schema='public' AND table_name <> 'schema_version'")
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(table, set()).add(column)
    return out


async def test_both_backends_end_with_the_same_tables_and_columns(tmp_path):
    from tests.pgtools import fresh_database

    lite = await open_store(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        expected = await _columns_sqlite(lite)
    finally:
        await lite.close()
    async with fresh_database() as url:
        pg = await open_store(url)
        try:
            assert await _columns_pg(pg) == expected
            applied, latest = await store_migration_state(pg)
            assert applied == latest == len(migrations(PG_MIGRATIONS_DIR))
        finally:
            await pg.close()


async def test_postgres_migrates_once_even_when_two_processes_start_together():
    from tests.pgtools import fresh_database

    async with fresh_database() as url:
        a, b = await asyncio.gather(open_store(url), open_store(url))
        try:
            assert isinstance(a, PostgresDatabase)
            rows = await a.fetchall("SELECT version FROM schema_version ORDER BY version")
            assert [r[0] for r in rows] == list(range(1, len(migrations(PG_MIGRATIONS_DIR)) + 1))
            assert (await pg_migration_state(b))[0] == len(rows)
        finally:
            await a.close()
            await b.close()


async def test_a_dropped_listen_connection_is_restored_and_wakes_once():
    """The LISTEN connection is killed server-side: it reconnects, wakes the listener (a NOTIFY may
    have been missed) and hears the next NOTIFY."""
    from tests.pgtools import fresh_database

    async with fresh_database() as url:
        db = await open_store(url)
        try:
            heard: list[str] = []
            await db.listen("sora_test_channel", heard.append)
            await db.notify("sora_test_channel", "one")
            for _ in range(100):
                if heard:
                    break
                await asyncio.sleep(0.02)
            assert heard == ["one"]
            pid = db._listener.get_server_pid()
            await db.execute("SELECT pg_terminate_backend(?)", (pid,))
            for _ in range(200):
                if len(heard) >= 2:
                    break
                await asyncio.sleep(0.05)
            assert heard == ["one", ""]  # the catch-up wake after reconnecting
            await db.notify("sora_test_channel", "two")
            for _ in range(100):
                if "two" in heard:
                    break
                await asyncio.sleep(0.02)
            assert heard[-1] == "two"
        finally:
            await db.close()
