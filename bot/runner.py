"""`python -m bot run`: check the settings, build the resources, run the bot until stopped."""

from __future__ import annotations

from collections.abc import Callable

from bot.settings import Settings


async def run(settings: Settings) -> int:
    settings.require_discord()
    settings.require_provider_key()
    from bot.app import serve  # imported late: the checks above must answer before discord.py loads

    point_discord_at: Callable[[str], object] | None = None
    if settings.discord_api_url:  # the loopback fake Discord (tests, the demo)
        from bot.sandbox.fake_discord.wiring import point_discord_py_at

        point_discord_at = point_discord_py_at
    return await serve(settings, point_discord_at=point_discord_at)
