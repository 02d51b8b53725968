"""Copy an SQLite database into PostgreSQL (`python -m bot migrate-db`): every table, every row,
idempotent, verified by row counts.

Both databases are migrated to the latest schema first, so their tables and columns are the same.
Rows are inserted with their own primary keys and `ON CONFLICT DO NOTHING`, so running it again
copies only what is missing and never duplicates; identity sequences are moved past the copied
ids, so new jobs never reuse one. Values are coerced to the PostgreSQL column's type (SQLite may
hold an int in a REAL column). Run it with the bot stopped: a row written during the copy may be
missed, and the count check says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from db.backend import PostgresDatabase, SqliteDatabase, scalar

log = logging.getLogger(__name__)

# Parents before children (quota_ledger.job_id → jobs.id; jobs.parent_job_id → an older job).
TABLES = ("jobs", "quota_ledger", "guild_settings", "role_tiers", "blocked_users", "admin_log",
          "webhook_deliveries", "provider_rate", "model_catalog", "submission_pause")
_IDENTITY = ("jobs", "admin_log")  # tables whose id comes from a sequence on PostgreSQL
_BATCH = 500


@dataclass(frozen=True)
class TableCopy:
    table: str
    source_rows: int
    target_rows: int
    inserted: int

    @property
    def matches(self) -> bool:
        return self.source_rows == self.target_rows


def _coerce(kind: str):
    if kind == "double precision":
        return lambda v: None if v is None else float(v)
    if kind in ("bigint", "integer"):
        return lambda v: None if v is None else int(v)
    return lambda v: v if v is None or isinstance(v, str) else str(v)


async def copy_sqlite_to_postgres(source: SqliteDatabase, target: PostgresDatabase) -> list[TableCopy]:
    results = []
    for table in TABLES:
        columns = [r[1] for r in await source.fetchall(f"PRAGMA table_info({table})")]
        types = {r[0]: r[1] for r in await target.fetchall(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema='public' "
            "AND table_name=?", (table,))}
        missing = [c for c in columns if c not in types]
        if missing:
            raise RuntimeError(f"{table}: PostgreSQL has no column(s) {missing}: are both at the same version?")
        coerce = [_coerce(types[c]) for c in columns]
        names = ", ".join(columns)
        marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        insert = f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"  # noqa: S608
        inserted = 0
        offset = 0
        while True:
            rows = await source.fetchall(
                f"SELECT {names} FROM {table} ORDER BY rowid LIMIT ? OFFSET ?", (_BATCH, offset))  # noqa: S608
            if not rows:
                break
            offset += len(rows)
            batch = [tuple(f(v) for f, v in zip(coerce, row, strict=True)) for row in rows]
            async with target.transaction() as tx:
                before = await scalar(tx, f"SELECT COUNT(*) FROM {table}")  # noqa: S608
                await tx.conn.executemany(insert, batch)
                after = await scalar(tx, f"SELECT COUNT(*) FROM {table}")  # noqa: S608
                inserted += after - before
        if table in _IDENTITY:
            await target.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))")
        source_rows = await scalar(source, f"SELECT COUNT(*) FROM {table}")  # noqa: S608
        target_rows = await scalar(target, f"SELECT COUNT(*) FROM {table}")  # noqa: S608
        results.append(TableCopy(table, int(source_rows), int(target_rows), inserted))
        log.info("migrate-db: %s: %d rows in SQLite, %d in PostgreSQL (%d copied now)",
                 table, source_rows, target_rows, inserted)
    return results
