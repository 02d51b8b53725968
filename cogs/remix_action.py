"""The shared end of a remix asked through an interaction (the Remix button's modal in cogs/views.py
and `/sora-remix` in cogs/remix.py): check the parent, ask `JobService.request_remix`, answer
privately. Its own module so that views.py and remix.py both import it and not each other."""

from __future__ import annotations

import logging

import discord

from bot.domain.records import Job
from bot.texts import remix_refused
from cogs.common import MAX_JOB_ID_DIGITS, missing_permissions_text, requester_from_interaction, sora_bot

log = logging.getLogger(__name__)


async def remix_from_interaction(interaction: discord.Interaction, job_id: int, prompt: str, *,
                                 reply_to: int | None = None) -> None:
    """The shared end of the modal and /sora-remix: answer privately with the outcome."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = sora_bot(interaction.client)
    missing = missing_permissions_text(interaction)
    if missing:
        await interaction.followup.send(missing, ephemeral=True)
        return
    parent = await visible_parent(interaction, job_id)
    if parent is None:
        log.info("remix of job %s refused to user %s", job_id, interaction.user.id,
                 extra={"guild": interaction.guild_id, "user": interaction.user.id})
        await interaction.followup.send(remix_refused(job_id), ephemeral=True)
        return
    outcome = await bot.jobs.request_remix(requester_from_interaction(interaction), parent, prompt,
                                           reply_to_message_id=reply_to)
    await interaction.followup.send(outcome.message, ephemeral=True)


async def visible_parent(interaction: discord.Interaction, job_id: int) -> Job | None:
    """The job `job_id` when it exists and the member may see the channel its video was posted in."""
    bot = sora_bot(interaction.client)
    parent = await bot.repo.get_job(job_id) if 0 < job_id < 10 ** MAX_JOB_ID_DIGITS else None
    return parent if parent is not None and can_view_parent(interaction, parent) else None


def can_view_parent(interaction: discord.Interaction, parent: Job) -> bool:
    """The member may see the channel the parent video was posted in (same server, View Channel)."""
    guild = interaction.guild
    if guild is None or parent.guild_id != guild.id:
        return False
    channel = guild.get_channel_or_thread(parent.channel_id)
    member = interaction.user if isinstance(interaction.user, discord.Member) else guild.get_member(interaction.user.id)
    return channel is not None and member is not None and channel.permissions_for(member).view_channel
