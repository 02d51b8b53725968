"""`/sora-models`: what each model this server lets the member use offers (lengths, shapes, first and
last frame, audio, price per second), privately, in as many messages as Discord's limits need."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import texts
from bot.catalog import choices
from bot.sora import shapes
from cogs.common import requester_from_interaction, sora_bot


class ModelsCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = sora_bot(bot)

    @app_commands.command(name="sora-models", description="What each video model offers here, and its price")
    @app_commands.guild_only()
    async def sora_models(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = requester_from_interaction(interaction)
        limits = await self.bot.jobs.limits_for(who)
        default = await self.bot.jobs.default_model(who)
        entries = []
        for caps, price in await self.bot.jobs.model_menu(who):
            sizes = choices.offered_sizes(caps, limits)
            entries.append(texts.model_summary(
                caps.name, caps.id, seconds=choices.offered_seconds(caps, limits),
                sizes=[shapes.label(s) for s in sizes], audio=caps.audio, first_frame=caps.first_frame,
                last_frame=caps.last_frame, usd_per_second=price, default=caps.id == default))
        for page in texts.models_pages(entries):
            await interaction.followup.send(page, ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(ModelsCog(bot))
