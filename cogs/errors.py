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

from bot.sora.errors import SoraError
from bot.texts import error_id_text

log = logging.getLogger(__name__)


def describe(error: app_commands.AppCommandError) -> str | None:
    """Words for failures a member can cause or understand; None for a bug."""
    original = getattr(error, "original", error)
    if isinstance(error, app_commands.NoPrivateMessage):
        return "Sora videos can only be made in a server channel."
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the **Manage Server** permission for that."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.TransformerError):
        return f"That value isn't valid: {error.value!r}."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) if getattr(error, "member_facing", False) else "You can't use this command here."
    if isinstance(original, SoraError):
        return original.user_message
    if isinstance(original, discord.Forbidden):
        return "I don't have permission to do that in this channel. Ask a server admin to check my permissions."
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
        bot.tree.on_error = self.on_app_command_error

    async def cog_unload(self) -> None:
        self.bot.tree.on_error = self._previous

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
