"""PostgreSQL's `exclusive` section: the holder's statements go over the connection that holds the
advisory lock (they never queue for the pool while the lock is held); other tasks keep the pool."""

from __future__ import annotations

import asyncio

from db.database import open_store
from tests.pgtools import fresh_database

_PID = "SELECT pg_backend_pid()"
_HOLDER = ("SELECT pid FROM pg_locks WHERE locktype='advisory' AND granted "
           "AND database=(SELECT oid FROM pg_database WHERE datname=current_database())")


async def test_the_holder_runs_on_the_locked_connection_and_others_on_the_pool():
    async with fresh_database() as url:
        db = await open_store(url)
        try:
            async with db.exclusive("admission") as ours:
                assert ours
                [holder] = [r[0] for r in await db.fetchall(_HOLDER)]
                assert (await db.fetchone(_PID))[0] == holder
                async with db.transaction() as tx:
                    assert (await tx.fetchone(_PID))[0] == holder
                # a task started inside the section inherits its context but not its connection
                assert (await asyncio.create_task(db.fetchone(_PID)))[0] != holder
                async with db.exclusive("admission") as again:  # a second try, from the pool: refused
                    assert not again
            assert await db.fetchall(_HOLDER) == []  # released
            assert db._pinned() is None  # back on the pool
        finally:
            await db.close()
