"""A fresh PostgreSQL database per test (random name, dropped after), or one clear skip line.

The server is `TEST_POSTGRES_URL` (default postgresql://postgres@127.0.0.1:5432/postgres, trust
auth). Unreachable: the test is skipped, unless CI is set, where that is a failure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
_reachable: bool | None = None


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _db_url(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


async def _admin():
    import asyncpg

    return await asyncpg.connect(ADMIN_URL, timeout=3)


async def require_postgres() -> None:
    """Skip (one clear line) or, under CI, fail when no PostgreSQL answers."""
    global _reachable
    if _reachable is None:
        try:
            conn = await _admin()
            await conn.close()
            _reachable = True
        except (OSError, Exception) as exc:  # refused, timed out, auth
            _reachable = False
            reason = f"PostgreSQL not reachable at {ADMIN_URL}: {type(exc).__name__}: {exc}"
            if _ci():
                pytest.fail(f"{reason} (CI is set: the PostgreSQL tests must run)")
            pytest.skip(f"{reason} (set TEST_POSTGRES_URL, or CI=true to make this a failure)")
    if not _reachable:
        if _ci():
            pytest.fail(f"PostgreSQL not reachable at {ADMIN_URL} (CI is set)")
        pytest.skip(f"PostgreSQL not reachable at {ADMIN_URL}")


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """Create a database with a random name; yield its URL; drop it (even if sessions linger)."""
    url = await _create()
    try:
        yield url
    finally:
        await _drop([url])


# --- the backend switch: TEST_DATABASE=postgres runs the database-touching tests on PostgreSQL ----------
# `database_url(tmp_path)` is where every test helper that builds settings (tests/engine_harness.py
# `make_settings`, tests/e2e/product.py `product_settings`, the crash test) gets its database: a SQLite
# file under tmp_path by default, or, with TEST_DATABASE=postgres, a fresh PostgreSQL database (one per
# tmp_path, so a test that restarts its bot on the same folder finds its data again), dropped when the
# test ends (tests/conftest.py). Which tests run on the PostgreSQL pass: see tests/conftest.py.
TEST_DATABASE = os.environ.get("TEST_DATABASE", "sqlite").strip().lower() or "sqlite"
if TEST_DATABASE not in ("sqlite", "postgres"):
    raise RuntimeError(f"TEST_DATABASE must be 'sqlite' or 'postgres', not {TEST_DATABASE!r}")

_test_databases: dict[str, str] = {}  # tmp_path -> URL, for the running test
_requested = False  # the running test asked for a database


def on_postgres() -> bool:
    """This run's switched tests use PostgreSQL (TEST_DATABASE=postgres)."""
    return TEST_DATABASE == "postgres"


def _in_thread(coro_fn, *args):
    """Run an async helper to completion from sync code, even inside a running event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro_fn(*args)).result()


async def _create() -> str:
    await require_postgres()
    name = f"sora_test_{secrets.token_hex(6)}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return _db_url(name)


async def _drop(urls: list[str]) -> None:
    admin = await _admin()
    try:
        for url in urls:
            await admin.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')
    finally:
        await admin.close()


def database_url(tmp_path: Path) -> str:
    """This test's database for the folder `tmp_path`: SQLite there, or a fresh PostgreSQL database."""
    global _requested
    _requested = True
    if not on_postgres():
        return f"sqlite:///{tmp_path / 'bot.db'}"
    key = str(tmp_path)
    if key not in _test_databases:
        _test_databases[key] = _in_thread(_create)
    return _test_databases[key]


def begin_test() -> None:
    global _requested
    _requested = False
    _test_databases.clear()


def end_test() -> bool:
    """Drop the test's PostgreSQL databases; whether the test asked for a database at all."""
    urls = list(_test_databases.values())
    _test_databases.clear()
    if urls:
        _in_thread(_drop, urls)
    return _requested
