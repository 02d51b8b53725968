"""`/sora`: validate, hand to the job service, answer privately. The engine posts the public status
message and, later, the result (with the bot token).

With a fetched catalog (a provider that lists its models, e.g. OpenRouter) `model`, `size` and
`seconds` autocomplete: the models this server lets the member use, then the sizes and lengths of the
model chosen so far (read from the interaction's namespace; the member's default model when none is
chosen yet). The built-in profile of the other dialects is fixed at start-up, so there the same
catalog values are offered as the fixed choices members always had. Either way a value the model
doesn't take is refused privately by the job service before anything is paid."""

from __future__ import annotations

import dataclasses
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import choices
from bot.catalog.service import Catalog
from bot.i18n import tr
from bot.sora import shapes
from bot.texts import size_label
from cogs.common import missing_permissions_text, requester_from_interaction, sora_bot
from cogs.controls import send_outcome

log = logging.getLogger(__name__)

DISCORD_MAX_OPTION_CHARS = 6000  # Discord's ceiling for a string option


class GenerateCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = sora_bot(bot)
        # The prompt box stops at SORA_MAX_PROMPT_CHARS (within Discord's own ceiling).
        cap = min(self.bot.settings.sora_max_prompt_chars, DISCORD_MAX_OPTION_CHARS)
        params = self.sora._params  # discord.py keeps option bounds here
        params["prompt"] = dataclasses.replace(params["prompt"], min_value=1, max_value=cap)
        if not self.bot.catalog.live:
            for name, fixed in fixed_choices(self.bot.catalog.current()).items():
                params[name] = dataclasses.replace(params[name], choices=fixed, autocomplete=None)

    @app_commands.command(name="sora", description="Make a short video")
    @app_commands.describe(prompt="Describe the video: subject, action, setting, camera, lighting",
                           model="Which video model (see /sora-models for what each offers)",
                           size="Shape and resolution (the model's own list)",
                           seconds="Length of the video (the model's own list)",
                           image="Optional first frame (JPEG, PNG or WebP)")
    @app_commands.guild_only()
    async def sora(self, interaction: discord.Interaction, prompt: str,
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
                await interaction.followup.send(tr("generate.image_too_big", size=f"{image.size / 1_000_000:.1f}",
                                                   limit=f"{limit_mb:.0f}"), ephemeral=True)
                return
            data = await image.read()
        outcome = await self.bot.jobs.request_video(who, prompt=prompt, model=model or None, size=size or None,
                                                    seconds=seconds, image=data)
        await send_outcome(interaction, outcome)  # with the cropped first frame, when it was cropped

    @sora.autocomplete("model")
    async def model_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        who = requester_from_interaction(interaction)
        pairs = [(choices.model_label(caps, price), caps.id) for caps, price in await self.bot.jobs.model_menu(who)]
        return [app_commands.Choice(name=label, value=str(value))
                for label, value in choices.filter_choices(pairs, current)]

    @sora.autocomplete("size")
    async def size_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        offer = await self._offer(interaction)
        if offer is None:
            return []
        pairs = [(shapes.label(s), s) for s in offer[1]]
        return [app_commands.Choice(name=label, value=str(value))
                for label, value in choices.filter_choices(pairs, current)]

    @sora.autocomplete("seconds")
    async def seconds_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[int]]:
        offer = await self._offer(interaction)
        if offer is None:
            return []
        pairs = [(tr("generate.seconds_choice", n=s), s) for s in offer[2]]
        return [app_commands.Choice(name=label, value=value)
                for label, value in choices.filter_choices(pairs, str(current or ""))]

    async def _offer(self, interaction: discord.Interaction):
        model = getattr(interaction.namespace, "model", None) or None
        return await self.bot.jobs.offer(requester_from_interaction(interaction), model)


def fixed_choices(catalog: Catalog) -> dict[str, list[app_commands.Choice]]:
    """The built-in profile as fixed option choices (each list within Discord's 25; a longer one keeps
    its autocomplete)."""
    found = {
        "model": [app_commands.Choice(name=m.name, value=m.id) for m in catalog.models],
        "size": [app_commands.Choice(name=size_label(s), value=s) for s in catalog.offered("allowed_sizes")],
        "seconds": [app_commands.Choice(name=app_commands.locale_str(f"{s} seconds", id="generate.seconds_choice", n=s),
                                        value=s) for s in catalog.offered("allowed_seconds")],
    }
    return {name: values for name, values in found.items() if 0 < len(values) <= choices.MAX_CHOICES}


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(GenerateCog(bot))
