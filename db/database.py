"""Open the SQLite database: pragmas (WAL, foreign keys, busy timeout) and numbered migrations.

Migrations are `db/migrations/NNNN_name.sql`, applied in order, all pending ones in one
transaction, and recorded in `PRAGMA user_version`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_[\w-]+\.sql$")


def migrations() -> list[tuple[int, Path]]:
    found = []
    for path in MIGRATIONS_DIR.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    found.sort()
    numbers = [n for n, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migrations must be numbered 0001, 0002, … without gaps: {numbers}")
    return found


def latest_version() -> int:
    return len(migrations())


async def migration_state(conn: aiosqlite.Connection) -> tuple[int, int]:
    """(applied, latest) migration numbers."""
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0]), latest_version()


async def migrate(conn: aiosqlite.Connection) -> int:
    """Apply every pending migration in one transaction; return how many were applied."""
    applied, _latest = await migration_state(conn)
    pending = [(n, p) for n, p in migrations() if n > applied]
    if not pending:
        return 0
    script = ["BEGIN IMMEDIATE;"]
    for _number, path in pending:
        script.append(path.read_text(encoding="utf-8"))
    script.append(f"PRAGMA user_version = {pending[-1][0]};")
    script.append("COMMIT;")
    try:
        await conn.executescript("\n".join(script))
    except Exception:
        if conn.in_transaction:
            await conn.rollback()
        raise
    log.info("database migrated from version %d to %d", applied, pending[-1][0])
    return len(pending)


async def open_database(path: Path | str) -> aiosqlite.Connection:
    """Connect (creating the folder), set pragmas, apply migrations. The caller closes it."""
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(str(path), isolation_level=None)  # we manage transactions
    try:
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA busy_timeout = 5000")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await migrate(conn)
    except Exception:
        await conn.close()
        raise
    return conn
