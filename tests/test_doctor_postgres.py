"""doctor on PostgreSQL: the connection, the migration level (behind / current), a rolled-back write,
and a refused connection explained without printing the password."""

from __future__ import annotations

import socket

from bot.doctor import Status, check_database
from bot.settings import Settings
from db.database import open_store
from tests.pgtools import fresh_database


async def test_doctor_reports_the_postgres_migration_level():
    async with fresh_database() as url:
        settings = Settings(_env_file=None, DATABASE_URL=url)
        behind = await check_database(settings)
        assert behind.status is Status.FAIL and "schema version 0 of" in behind.detail and behind.fix
        db = await open_store(url)  # what the bot does at start
        await db.close()
        ok = await check_database(settings)
        assert ok.status is Status.OK and "PostgreSQL" in ok.detail and "migrated" in ok.detail


async def test_doctor_explains_an_unreachable_postgres_without_the_password():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    settings = Settings(_env_file=None, DATABASE_URL=f"postgresql://sora:hunter2@127.0.0.1:{port}/sora")
    result = await check_database(settings)
    assert result.status is Status.FAIL and "cannot connect" in result.detail and result.fix
    assert "hunter2" not in result.detail + result.fix and f"127.0.0.1:{port}" in result.detail
