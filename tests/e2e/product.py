"""Helpers for end-to-end tests of the product through the fake Discord."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox.fake_discord import FakeDiscord, StoredMessage
from bot.settings import Settings
from tests.pgtools import database_url


def product_settings(tmp_path: Path, fake: FakeDiscord | None = None, **overrides: object) -> Settings:
    values = {"SORA_PROVIDER": "simulated", "DATA_DIR": str(tmp_path / "data"), "DISCORD_TOKEN": "x.y.z",
              "QUOTA_USER_COOLDOWN_SECONDS": "0",
              "SIMULATED_RENDER_SECONDS": "1", "LOG_LEVEL": "INFO"}
    if fake is not None:
        values["DISCORD_GUILD_IDS"] = str(fake.world.guild_id)
    values.update({k: str(v) for k, v in overrides.items()})
    if "DATABASE_URL" not in values:  # SQLite under tmp_path, or (TEST_DATABASE=postgres) a fresh PostgreSQL
        values["DATABASE_URL"] = database_url(tmp_path)
    return Settings(_env_file=None, **values)


def is_result(message: StoredMessage, job_id: int | None = None) -> bool:
    wanted = f"sora:remix:{job_id}" if job_id is not None else "sora:remix:"
    return bool(message.attachments) and any(c.startswith(wanted) for c in message.custom_ids)


def job_id_of(text: str) -> int:
    import re

    match = re.search(r"`(\d+)`", text)
    assert match, text
    return int(match.group(1))
