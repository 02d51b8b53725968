"""`python -m bot run`: check the settings, build the resources, run the bot until stopped."""

from __future__ import annotations

from bot.settings import Settings


async def run(settings: Settings) -> int:
    settings.require_discord()
    settings.require_provider_key()
    from bot.app import serve  # imported late: the checks above must answer before discord.py loads

    return await serve(settings)
