"""`/sora-jobs` (the caller's recent jobs) and `/sora-quota` (usage and what is left); both private."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.jobs import JobState
from bot.i18n import tr
from bot.texts import job_line, shorten
from cogs.common import requester_from_interaction, sora_bot

# job state → the message id of its words in /sora-jobs
_STATE_WORDS = {
    JobState.REQUESTED: "jobs.state.requested", JobState.SUBMITTING: "jobs.state.submitting",
    JobState.UNKNOWN: "jobs.state.unknown", JobState.QUEUED: "jobs.state.queued",
    JobState.RUNNING: "jobs.state.running", JobState.COMPLETED: "jobs.state.fetching",
    JobState.DOWNLOADING: "jobs.state.fetching", JobState.DELIVERING: "jobs.state.delivering",
    JobState.DELIVERED: "jobs.state.delivered", JobState.FAILED: "jobs.state.failed",
    JobState.EXPIRED: "jobs.state.expired",
}


class AccountCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = sora_bot(bot)

    @app_commands.command(name="sora-jobs", description="Your recent Sora videos and their progress")
    @app_commands.guild_only()
    async def sora_jobs(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        jobs = await self.bot.repo.recent_jobs(interaction.user.id, interaction.guild_id, limit=10)
        if not jobs:
            await interaction.followup.send(tr("jobs.none"), ephemeral=True)
            return
        lines = [tr("jobs.title")]
        for job in jobs:
            state = tr(_STATE_WORDS[job.state]) if job.state in _STATE_WORDS else job.state.value
            link = None
            if job.result_message_id and interaction.guild_id:
                link = f"https://discord.com/channels/{interaction.guild_id}/{job.channel_id}/{job.result_message_id}"
            lines.append(job_line(job.id, state, job.prompt, rendering=job.state is JobState.RUNNING,
                                  progress=job.progress, link=link))
        await interaction.followup.send(shorten("\n".join(lines), 2000), ephemeral=True)

    @app_commands.command(name="sora-quota", description="How much video you can still make, and when it resets")
    @app_commands.guild_only()
    async def sora_quota(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        lines = await self.bot.jobs.quota_lines(requester_from_interaction(interaction))
        await interaction.followup.send(shorten("\n".join([tr("quota.title"), *lines]), 2000), ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(AccountCog(bot))
