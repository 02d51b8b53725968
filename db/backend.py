"""The thin connection adapter under the repository: one API over SQLite (aiosqlite) and PostgreSQL
(asyncpg), so every repository statement is written once, in portable SQL with `?` placeholders.

    rows = await db.fetchall("SELECT * FROM jobs WHERE user_id=?", (7,))
    async with db.transaction() as tx:          # BEGIN IMMEDIATE on SQLite, a pooled tx on PostgreSQL
        await tx.lock("admission", guild_id)     # cross-process mutex for this tx (no-op on SQLite)
        n = await tx.execute("UPDATE …", args)   # → rows changed

Rows are `aiosqlite.Row` or `asyncpg.Record`: both index by position and by column name and turn
into dicts with `dict(row)`. What differs between the engines lives here and only here: the
placeholder spelling, `FOR UPDATE SKIP LOCKED` (`db.skip_locked`), advisory locks, LISTEN/NOTIFY.

Why asyncpg and not psycopg 3: it is the fastest PostgreSQL driver for asyncio, has a built-in pool,
and LISTEN/NOTIFY is a callback on a connection (`add_listener`), which is what the poller wake-up
needs. Its strict typing is harmless here: the schema keeps epoch-seconds DOUBLE PRECISION and
BIGINT snowflakes, the same Python floats and ints as on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import hashlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

import aiosqlite

log = logging.getLogger(__name__)

Row = Any  # aiosqlite.Row | asyncpg.Record

# The connection holding an `exclusive` section's advisory lock, and the task that holds it: that
# task's statements run on it (see PostgresDatabase.exclusive). Tasks started meanwhile inherit the
# variable but are not the holder, so they keep using the pool.
_PINNED: contextvars.ContextVar[tuple[asyncio.Task[Any] | None, Any] | None] = contextvars.ContextVar(
    "sora_pg_pinned", default=None)


def lock_key(*parts: object) -> int:
    """A stable signed 64-bit advisory-lock key for `parts` (same in every process)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@functools.lru_cache(maxsize=1024)
def to_dollar_params(sql: str) -> str:
    """`?` → `$1, $2, …` outside quoted strings and identifiers (PostgreSQL's placeholder spelling)."""
    out: list[str] = []
    n = 0
    quote: str | None = None
    for ch in sql:
        if quote:
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            continue
        out.append(ch)
    return "".join(out)


class _FetchOne(Protocol):
    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None: ...


async def scalar(source: _FetchOne, sql: str, args: Sequence[Any] = ()) -> Any:
    """The first column of the one row `sql` always returns (an aggregate, a RETURNING): a database,
    or a transaction. A missing row is a broken invariant and raises."""
    row = await source.fetchone(sql, args)
    if row is None:
        raise LookupError(f"expected one row from: {sql.split(None, 3)[:3]}")
    return row[0]


def _rowcount(status: str) -> int:
    """asyncpg's command tag ("UPDATE 3", "INSERT 0 1", "DELETE 0") → rows affected."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class Database:
    """The adapter interface (both backends implement it)."""

    backend: str
    skip_locked: str = ""  # appended to a claim's inner SELECT

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        raise NotImplementedError

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        raise NotImplementedError

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Any]:
        raise NotImplementedError

    def exclusive(self, name: str) -> contextlib.AbstractAsyncContextManager[bool]:
        """A cross-process mutex held for the block; yields False when another process holds it
        (the caller skips its turn). SQLite: one process per file, always True."""
        raise NotImplementedError

    async def notify(self, channel: str, payload: str = "") -> None:
        """Wake other processes listening on `channel` (no-op on SQLite)."""

    async def listen(self, channel: str, callback: Callable[[str], None]) -> None:
        """Call `callback(payload)` when another process notifies `channel` (no-op on SQLite)."""

    async def close(self) -> None:
        raise NotImplementedError


# --- SQLite ---------------------------------------------------------------------------------------
class _SqliteTx:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        async with self.conn.execute(sql, args) as cur:
            return await cur.fetchone()

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        async with self.conn.execute(sql, args) as cur:
            return list(await cur.fetchall())

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        cur = await self.conn.execute(sql, args)
        count = cur.rowcount
        await cur.close()
        return count

    async def lock(self, *parts: object) -> None:
        """BEGIN IMMEDIATE already holds the file's write lock: nothing more to take."""


class SqliteDatabase(Database):
    """One shared aiosqlite connection; `_lock` serializes statements and transactions on it, so a
    transaction of one coroutine never swallows another's statement. Transactions are BEGIN
    IMMEDIATE, which also serializes against another process on the same file."""

    backend = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()
        self._tx = _SqliteTx(conn)

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        async with self._lock:
            return await self._tx.fetchone(sql, args)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        async with self._lock:
            return await self._tx.fetchall(sql, args)

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        async with self._lock:
            return await self._tx.execute(sql, args)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteTx]:
        async with self._lock:
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                yield self._tx
            except BaseException:
                # Even when cancelled (the BEGIN may still run on aiosqlite's thread): the ROLLBACK is
                # queued behind it, so the shared connection never stays inside a transaction.
                with contextlib.suppress(sqlite3.OperationalError):
                    await asyncio.shield(self.conn.execute("ROLLBACK"))
                raise
            else:
                await self.conn.execute("COMMIT")

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        yield True

    async def close(self) -> None:
        await self.conn.close()


# --- PostgreSQL -----------------------------------------------------------------------------------
class _PgTx:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        return await self.conn.fetchrow(to_dollar_params(sql), *args)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return list(await self.conn.fetch(to_dollar_params(sql), *args))

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return _rowcount(await self.conn.execute(to_dollar_params(sql), *args))

    async def lock(self, *parts: object) -> None:
        """Serialize this transaction with every other one (any process) that locks the same parts."""
        await self.conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(*parts))


class PostgresDatabase(Database):
    """An asyncpg pool: each statement or transaction takes a connection of its own, so statements
    of different coroutines run in parallel; transactions are READ COMMITTED, and a check-then-write
    (the quota reservation, admission) takes an advisory lock first."""

    backend = "postgres"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, pool: Any, dsn: str) -> None:
        self.pool = pool
        self.dsn = dsn
        self._listener: Any = None
        self._callbacks: dict[str, list[Callable[[str], None]]] = {}
        self._closing = False
        self._reconnect_task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 1, max_size: int = 10) -> PostgresDatabase:
        import asyncpg

        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, command_timeout=60)
        return cls(pool, dsn)

    def _pinned(self) -> Any:
        """The connection this task holds for an `exclusive` section, if any."""
        pinned = _PINNED.get()
        if pinned is not None and pinned[0] is asyncio.current_task():
            return pinned[1]
        return None

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        return await (self._pinned() or self.pool).fetchrow(to_dollar_params(sql), *args)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return list(await (self._pinned() or self.pool).fetch(to_dollar_params(sql), *args))

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return _rowcount(await (self._pinned() or self.pool).execute(to_dollar_params(sql), *args))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PgTx]:
        pinned = self._pinned()
        if pinned is not None:
            async with pinned.transaction():
                yield _PgTx(pinned)
        else:
            async with self.pool.acquire() as conn, conn.transaction():
                yield _PgTx(conn)

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """A cross-process mutex (a session advisory lock), tried once. While the section runs, the
        statements of the task inside it go over the connection holding the lock: they never queue
        for the pool behind the other work (with hundreds of jobs in flight, admission's few
        statements used to wait seconds for a pooled connection while the lock was held)."""
        key = lock_key("exclusive", name)
        async with self.pool.acquire() as conn:
            got = await conn.fetchval("SELECT pg_try_advisory_lock($1)", key)
            token = _PINNED.set((asyncio.current_task(), conn)) if got else None
            try:
                yield bool(got)
            finally:
                if token is not None:
                    _PINNED.reset(token)
                if got:
                    await conn.execute("SELECT pg_advisory_unlock($1)", key)

    async def notify(self, channel: str, payload: str = "") -> None:
        await self.pool.execute("SELECT pg_notify($1, $2)", channel, payload)

    async def listen(self, channel: str, callback: Callable[[str], None]) -> None:
        import asyncpg

        if self._listener is None:
            self._listener = await asyncpg.connect(self.dsn)
            self._listener.add_termination_listener(self._listener_lost)
        first = channel not in self._callbacks
        self._callbacks.setdefault(channel, []).append(callback)
        if first:
            await self._listener.add_listener(channel, self._dispatch)

    def _listener_lost(self, _conn: Any) -> None:
        """The LISTEN connection dropped (server restart, network): reconnect in the background."""
        if self._closing or (self._reconnect_task is not None and not self._reconnect_task.done()):
            return
        self._listener = None
        self._reconnect_task = asyncio.get_running_loop().create_task(self._relisten(), name="pg-relisten")

    async def _relisten(self) -> None:
        import asyncpg

        delay = 0.5
        while not self._closing:
            try:
                conn = await asyncpg.connect(self.dsn)
                conn.add_termination_listener(self._listener_lost)
                for channel in self._callbacks:
                    await conn.add_listener(channel, self._dispatch)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("LISTEN connection lost; retrying in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            self._listener = conn
            log.info("LISTEN connection restored")
            for channel in self._callbacks:  # a wake-up may have been missed meanwhile
                self._dispatch(conn, 0, channel, "")
            return

    def _dispatch(self, _conn: Any, _pid: int, channel: str, payload: object) -> None:
        for callback in self._callbacks.get(channel, []):
            try:
                callback(str(payload))  # NOTIFY payloads are text
            except Exception:
                log.exception("a NOTIFY handler for %s failed", channel)

    async def close(self) -> None:
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
        await self.pool.close()
