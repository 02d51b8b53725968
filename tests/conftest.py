"""Shared fixtures: `store_url` is a fresh database of each backend (the repository contract suite
runs against SQLite and PostgreSQL alike)."""

from __future__ import annotations

import pytest

from tests.pgtools import fresh_database


@pytest.fixture(params=["sqlite", "postgres"])
async def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'bot.db'}"
        return
    async with fresh_database() as url:
        yield url
