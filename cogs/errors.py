"""One error handler for every application command: a clear private answer, never silence.

Expected failures get their own words; anything else is logged with a traceback and an error id
the member can hand to an admin.
"""

from __future__ import annotations

import logging
import secrets

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import tr
from bot.sora.errors import SoraError
from bot.texts import error_id_text, safe_user_text

log = logging.getLogger(__name__)


def describe(error: app_commands.AppCommandError) -> str | None:
    """Words for failures a member can cause or understand; None for a bug."""
    original = getattr(error, "original", error)
    if isinstance(error, app_commands.NoPrivateMessage):
        return tr("error.no_private_message")
    if isinstance(error, app_commands.MissingPermissions):
        return tr("error.missing_permissions")
    if isinstance(error, app_commands.CommandOnCooldown):
        return tr("error.cooldown", seconds=f"{error.retry_after:.0f}")
    if isinstance(error, app_commands.TransformerError):
        return tr("error.bad_value", value=safe_user_text(repr(error.value)))
    if isinstance(error, app_commands.CheckFailure):
        return str(error) if getattr(error, "member_facing", False) else tr("error.check_failed")
    if isinstance(original, SoraError):
        return original.user_message
    if isinstance(original, discord.Forbidden):
        return tr("error.forbidden")
    return None


async def answer_privately(interaction: discord.Interaction, text: str) -> None:
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell user %s about an error", interaction.user.id)


async def report_unexpected(interaction: discord.Interaction, error: BaseException, *, where: str) -> None:
    """A bug: log the traceback under a fresh error id and give the member that id, privately."""
    error_id = secrets.token_hex(4)
    log.error("unexpected error in %s (error id %s)", where, error_id, exc_info=error,
              extra={"guild": interaction.guild_id, "user": interaction.user.id})
    await answer_privately(interaction, error_id_text(error_id))


class ErrorsCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self._previous = bot.tree.on_error
        bot.tree.error(self.on_app_command_error)

    async def cog_unload(self) -> None:
        self.bot.tree.error(self._previous)

    async def on_app_command_error(self, interaction: discord.Interaction,
                                   error: app_commands.AppCommandError) -> None:
        text = describe(error)
        if text is None:
            command = interaction.command.qualified_name if interaction.command else "?"
            await report_unexpected(interaction, getattr(error, "original", error), where=f"/{command}")
            return
        await answer_privately(interaction, text)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(ErrorsCog(bot))
