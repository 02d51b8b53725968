"""The persistent `Cancel` and `Again` buttons, and the one function that says which buttons a
status message carries.

Like `Remix` (cogs/views.py), each is a `DynamicItem` whose custom id (`sora:cancel:<job id>`,
`sora:again:<job id>`) names the job, so it keeps working after a restart with nothing in memory.
"""

from __future__ import annotations

import io
import logging
import re

import discord
from discord.ext import commands

from bot import texts_controls as words
from bot.engine.controls import again, cancel_job
from bot.engine.jobs import CANCELLABLE
from cogs.common import missing_permissions_text, requester_from_interaction, sora_bot, speak_to
from cogs.views import MAX_JOB_ID_DIGITS
from db.repository import Job

log = logging.getLogger(__name__)

CANCEL_PREFIX = "sora:cancel:"
AGAIN_PREFIX = "sora:again:"


def status_view(job: Job) -> discord.ui.View | None:
    """The components of `job`'s status message, from its state: a `Cancel` button while it waits
    locally (state `requested`), none once it is sent (None: an edit removes what was there)."""
    if job.state not in CANCELLABLE:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job.id, locale=job.locale))
    return view


class CancelButton(discord.ui.DynamicItem[discord.ui.Button], template=r"sora:cancel:(?P<job_id>\d{1,18})"):
    def __init__(self, job_id: int, *, locale: str | None = None) -> None:
        super().__init__(discord.ui.Button(label=words.cancel_label(locale), style=discord.ButtonStyle.danger,
                                           emoji="🛑",
                                           custom_id=f"{CANCEL_PREFIX}{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item,
                             match: re.Match[str]) -> CancelButton:
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        speak_to(interaction)  # a component interaction skips the tree's check: answer in the member's language
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = sora_bot(interaction.client)
        result = await cancel_job(bot.jobs, requester_from_interaction(interaction), self.job_id)
        await interaction.followup.send(result.message, ephemeral=True)


class AgainButton(discord.ui.DynamicItem[discord.ui.Button], template=r"sora:again:(?P<job_id>\d{1,18})"):
    def __init__(self, job_id: int, *, locale: str | None = None) -> None:
        super().__init__(discord.ui.Button(label=words.again_label(locale), style=discord.ButtonStyle.secondary,
                                           emoji="🔁",
                                           custom_id=f"{AGAIN_PREFIX}{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item,
                             match: re.Match[str]) -> AgainButton:
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        speak_to(interaction)  # a component interaction skips the tree's check: answer in the member's language
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = sora_bot(interaction.client)
        missing = missing_permissions_text(interaction)
        if missing:
            await interaction.followup.send(missing, ephemeral=True)
            return
        parent = await bot.repo.get_job(self.job_id) if self.job_id < 10 ** MAX_JOB_ID_DIGITS else None
        if parent is None or parent.guild_id != interaction.guild_id:
            await interaction.followup.send(words.again_unknown(self.job_id), ephemeral=True)
            return
        message_id = interaction.message.id if interaction.message else None
        outcome = await again(bot.jobs, requester_from_interaction(interaction), parent, reply_to=message_id)
        await send_outcome(interaction, outcome)


async def send_outcome(interaction: discord.Interaction, outcome) -> None:
    """The private answer to a request, with the cropped first frame attached when there is one."""
    if outcome.preview is not None:
        file = discord.File(io.BytesIO(outcome.preview), filename="first-frame.png")
        await interaction.followup.send(outcome.message, file=file, ephemeral=True)
        return
    await interaction.followup.send(outcome.message, ephemeral=True)


def result_items(job: Job, *, extendable: bool = False) -> list[discord.ui.Item]:
    """The buttons a result carries beside `Remix`: Again, and Extend where the provider can continue
    the video (cogs/extend.py)."""
    from cogs.extend import ExtendButton

    items: list[discord.ui.Item] = [AgainButton(job.id, locale=job.locale)]
    if extendable:
        items.append(ExtendButton(job.id, locale=job.locale))
    return items


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(CancelButton, AgainButton)
