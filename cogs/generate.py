"""`/sora`: validate, hand to the job service, answer privately. The engine posts the public status
message and, later, the result (with the bot token)."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.texts import size_label
from cogs.common import missing_permissions_text, requester_from_interaction, sora_bot

log = logging.getLogger(__name__)

SIZES = ["1280x720", "720x1280", "1792x1024", "1024x1792"]
MODELS = ["sora-2", "sora-2-pro"]
SECONDS = [4, 8, 12]


class GenerateCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = sora_bot(bot)

    @app_commands.command(name="sora", description="Make a short video with Sora")
    @app_commands.describe(prompt="Describe the video: subject, action, setting, camera, lighting",
                           model="sora-2 is quick; sora-2-pro is finer and costs more",
                           size="Shape and resolution", seconds="Length of the video",
                           image="Optional first frame (JPEG, PNG or WebP)")
    @app_commands.choices(
        model=[app_commands.Choice(name=m, value=m) for m in MODELS],
        size=[app_commands.Choice(name=size_label(s), value=s) for s in SIZES],
        seconds=[app_commands.Choice(name=f"{s} seconds", value=s) for s in SECONDS],
    )
    @app_commands.guild_only()
    async def sora(self, interaction: discord.Interaction, prompt: app_commands.Range[str, 1, 4000],
                   model: str | None = None, size: str | None = None, seconds: int | None = None,
                   image: discord.Attachment | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # the 3 s rule: answer first
        missing = missing_permissions_text(interaction)
        if missing:
            await interaction.followup.send(missing, ephemeral=True)
            return
        who = requester_from_interaction(interaction)
        data = None
        if image is not None:
            if image.size > self.bot.settings.sora_max_image_bytes:
                limit_mb = self.bot.settings.sora_max_image_bytes / 1_000_000
                await interaction.followup.send(
                    f"That image is {image.size / 1_000_000:.1f} MB; the limit is {limit_mb:.0f} MB.", ephemeral=True)
                return
            data = await image.read()
        outcome = await self.bot.jobs.request_video(who, prompt=prompt, model=model, size=size, seconds=seconds,
                                                    image=data)
        await interaction.followup.send(outcome.message, ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(GenerateCog(bot))
