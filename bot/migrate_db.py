"""`python -m bot migrate-db --from sqlite:///… --to postgresql://…`: copy a one-server bot's SQLite
database into PostgreSQL before scaling out (README "Scale-out"). Safe to run again; prints one line
per table and exits 0 only when every table has the same number of rows on both sides."""

from __future__ import annotations

import sys

from bot.settings import Settings


def _redacted(url: str) -> str:
    from bot.doctor import _redacted_dsn

    return _redacted_dsn(url) if url.startswith(("postgres://", "postgresql://")) else url


async def migrate_db(settings: Settings, source: str | None, target: str | None) -> int:
    from db.backend import PostgresDatabase, SqliteDatabase
    from db.copy import copy_sqlite_to_postgres
    from db.database import is_postgres_url, open_store

    source = source or (settings.database_url if not settings.database_is_postgres else None)
    target = target or (settings.database_url if settings.database_is_postgres else None)
    if not source or not source.startswith("sqlite:///"):
        print("sora-bot migrate-db: give the SQLite database with --from sqlite:///path/to/sora-bot.db",
              file=sys.stderr)
        return 2
    if not target or not is_postgres_url(target):
        print("sora-bot migrate-db: give the PostgreSQL database with --to postgresql://user:pass@host:5432/db "
              "(or set DATABASE_URL to it)", file=sys.stderr)
        return 2
    path = source[len("sqlite:///"):]
    from pathlib import Path

    if not Path(path).is_file():
        print(f"sora-bot migrate-db: no SQLite database at {path}", file=sys.stderr)
        return 2
    lite = await open_store(source)
    try:
        pg = await open_store(target)
    except Exception as exc:
        await lite.close()
        print(f"sora-bot migrate-db: cannot open {_redacted(target)}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    try:
        assert isinstance(lite, SqliteDatabase) and isinstance(pg, PostgresDatabase)
        results = await copy_sqlite_to_postgres(lite, pg)
    finally:
        await pg.close()
        await lite.close()
    print(f"copied {path} into {_redacted(target)}")
    for r in results:
        mark = "✓" if r.matches else "✗"
        print(f"  {mark} {r.table:<20} sqlite {r.source_rows:>8}  postgresql {r.target_rows:>8}  "
              f"(copied now {r.inserted})")
    if not all(r.matches for r in results):
        print("row counts differ: was the bot still running, or is the PostgreSQL database already in use?",
              file=sys.stderr)
        return 1
    print("row counts match. Point DATABASE_URL at PostgreSQL and start the bot(s).")
    return 0
