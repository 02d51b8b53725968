"""The whole product on loopback: the real SoraBot (discord.py) against the fake Discord and a
provider (the free `simulated` one by default). Used by `python -m bot demo` and the e2e tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bot.app import Resources, SoraBot, build_resources, make_bot
from bot.engine.wiring import engine_config
from bot.sandbox.fake_discord import FakeDiscord
from bot.settings import Settings


def product_settings(tmp_path: Path, fake: FakeDiscord | None = None, **overrides: object) -> Settings:
    values = {"SORA_PROVIDER": "simulated", "DATA_DIR": str(tmp_path / "data"), "DISCORD_TOKEN": "x.y.z",
              "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", "QUOTA_USER_COOLDOWN_SECONDS": "0",
              "SIMULATED_RENDER_SECONDS": "1", "LOG_LEVEL": "INFO"}
    if fake is not None:
        values["DISCORD_GUILD_IDS"] = str(fake.world.guild_id)
    values.update({k: str(v) for k, v in overrides.items()})
    # pydantic-settings takes the environment names as keywords, which its typed __init__ cannot express
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]



@dataclass
class Product:
    fake: FakeDiscord
    bot: SoraBot
    resources: Resources


@contextlib.asynccontextmanager
async def running_product(fake: FakeDiscord, settings: Settings, *, time_scale: float = 0.01,
                          progress_interval: float = 0.2, resources: Resources | None = None,
                          **engine: object) -> AsyncIterator[Product]:
    """Start SoraBot against `fake` (already started), commands synced; close everything on exit."""
    own = resources is None
    resources = resources or await build_resources(settings)
    config = engine_config(settings, time_scale=time_scale)
    import dataclasses

    config = dataclasses.replace(config, progress_interval=progress_interval, **engine)  # type: ignore[arg-type]
    bot = make_bot(resources, engine=config, guild_ready_timeout=0.1)
    try:
        async with fake.run_bot(bot, timeout=10):
            await bot.commands_synced.wait()
            yield Product(fake, bot, resources)
    finally:
        if own:
            await resources.aclose()
