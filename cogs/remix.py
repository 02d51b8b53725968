"""Remix, four ways, one core: a reply to a result, the `Remix with Sora` context menu, the `Remix`
button (cogs/views.py) and `/sora-remix`. Each ends in `JobService.request_remix` (the modal and
/sora-remix through cogs/remix_action.py).
"""

from __future__ import annotations

import contextlib
import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.texts import remix_refused, reply_without_text_hint, safe_excerpt
from cogs.common import (
    MAX_JOB_ID_DIGITS,
    guild_locale_of,
    missing_permissions_words,
    requester_of,
    sora_bot,
)
from cogs.remix_action import remix_from_interaction
from cogs.views import REMIX_PREFIX, RemixModal

log = logging.getLogger(__name__)



def job_id_from_message(message: discord.Message) -> int | None:
    """The job behind a result message, read from its Remix button (no database needed)."""
    for row in message.components:
        for child in getattr(row, "children", []):
            custom_id = getattr(child, "custom_id", None) or ""
            digits = custom_id[len(REMIX_PREFIX):]
            if custom_id.startswith(REMIX_PREFIX) and digits.isdigit() and len(digits) <= MAX_JOB_ID_DIGITS:
                return int(digits)
    return None


class RemixCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = sora_bot(bot)
        self.menu = app_commands.ContextMenu(name=app_commands.locale_str("Remix with Sora", id="menu.remix.name"),
                                             callback=self.remix_menu)
        self.menu = app_commands.guild_only()(self.menu)  # result messages live in servers only
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def remix_menu(self, interaction: discord.Interaction, message: discord.Message) -> None:
        job_id = job_id_from_message(message)
        me = interaction.client.user
        if job_id is None or me is None or message.author.id != me.id:
            await interaction.response.send_message(i18n.tr("remix.not_a_result"), ephemeral=True)
            return
        await interaction.response.send_modal(RemixModal(job_id, reply_to=message.id))

    @app_commands.command(name="sora-remix", description="Remix one of your Sora videos with a change")
    @app_commands.describe(video="The video to remix (your finished videos)", prompt="What should change?")
    @app_commands.guild_only()
    async def sora_remix(self, interaction: discord.Interaction, video: str, prompt: str) -> None:
        match = re.search(r"\d+", video)
        if match is not None and len(match.group()) > MAX_JOB_ID_DIGITS:  # no such id: same words as any refusal
            await interaction.response.send_message(remix_refused(match.group()[:MAX_JOB_ID_DIGITS] + "…"),
                                                    ephemeral=True)
            return
        if match is None:
            await interaction.response.send_message(i18n.tr("remix.pick_from_list"), ephemeral=True)
            return
        await remix_from_interaction(interaction, int(match.group()), prompt)

    @sora_remix.autocomplete("video")
    async def video_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice]:
        jobs = await self.bot.repo.remixable_jobs(interaction.user.id, interaction.guild_id, current.strip())
        return [app_commands.Choice(name=f"{job.id} · {safe_excerpt(job.prompt, 80)}"[:100], value=str(job.id))
                for job in jobs[:25]]

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A reply to one of our result messages is a remix request; its text is the change."""
        if message.author.bot or message.reference is None or message.reference.message_id is None:
            return
        if not self.bot.guild_allowed(message.guild.id if message.guild else None):
            return
        parent = await self.bot.repo.job_by_result_message(message.reference.message_id)
        if parent is None:
            # The reply may beat our own record of the post: read the job from the message's button.
            resolved = message.reference.resolved
            if not isinstance(resolved, discord.Message) or self.bot.user is None:
                return
            job_id = job_id_from_message(resolved)
            if job_id is None or resolved.author.id != self.bot.user.id:
                return
            parent = await self.bot.repo.get_job(job_id)
            if parent is None:
                return
        # The replies below are public (in the channel): the server's language, not the member's.
        guild_locale = guild_locale_of(message.guild)
        i18n.set_current(await self.bot.jobs.public_locale(message.guild.id if message.guild else None, guild_locale))
        me = self.bot.user
        text = message.content
        if me is not None:
            text = re.sub(rf"<@!?{me.id}>", "", text)
        text = text.strip()
        quiet = discord.AllowedMentions.none()
        if not text:
            await message.reply(reply_without_text_hint(), allowed_mentions=quiet, delete_after=60)
            return
        me_member = message.guild.me if message.guild else None
        missing = missing_permissions_words(message.channel.permissions_for(me_member)) if me_member else None
        if missing:  # the remix could never be posted here: say so before anything is paid
            with contextlib.suppress(discord.HTTPException):
                await message.reply(missing, allowed_mentions=quiet, delete_after=60)
            return
        who = requester_of(self.bot, message.author, message.channel.id, message.guild.id if message.guild else None,
                           guild_locale)
        outcome = await self.bot.jobs.request_remix(
            who, parent, text, reply_to_message_id=parent.result_message_id or message.reference.message_id)
        if outcome.job is not None:  # accepted
            try:
                await message.add_reaction("🎬")
            except discord.HTTPException:
                log.info("could not react to a remix request", extra=outcome.job.log_extra())
        else:
            await message.reply(outcome.message, allowed_mentions=quiet, delete_after=60)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(RemixCog(bot))
