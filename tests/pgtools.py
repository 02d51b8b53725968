"""A fresh PostgreSQL database per test (random name, dropped after), or one clear skip line.

The server is `TEST_POSTGRES_URL` (default postgresql://postgres@127.0.0.1:5432/postgres, trust
auth). Unreachable: the test is skipped, unless CI is set, where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator

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
    await require_postgres()
    name = f"sora_test_{secrets.token_hex(6)}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _db_url(name)
    finally:
        admin = await _admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
