"""Helpers for end-to-end tests of the product through the fake Discord (the settings of such a world
are `bot.sandbox.product.product_settings`)."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox.fake_discord import FakeDiscord, StoredMessage
from bot.sandbox.product import product_settings as sandbox_product_settings
from bot.settings import Settings
from tests.pgtools import database_url


def product_settings(tmp_path: Path, fake: FakeDiscord | None = None, **overrides: object) -> Settings:
    """The sandbox's product settings (bot/sandbox/product.py) on this test's database: SQLite under
    `tmp_path`, or with TEST_DATABASE=postgres a fresh PostgreSQL database (tests/pgtools.py)."""
    if "DATABASE_URL" not in overrides:  # SQLite under tmp_path, or (TEST_DATABASE=postgres) a fresh PostgreSQL
        overrides = {**overrides, "DATABASE_URL": database_url(tmp_path)}
    return sandbox_product_settings(tmp_path, fake, **overrides)


def is_result(message: StoredMessage, job_id: int | None = None) -> bool:
    wanted = f"sora:remix:{job_id}" if job_id is not None else "sora:remix:"
    return bool(message.attachments) and any(c.startswith(wanted) for c in message.custom_ids)


def job_id_of(text: str) -> int:
    import re

    match = re.search(r"`(\d+)`", text)
    assert match, text
    return int(match.group(1))
