"""Extend: the persistent `Extend` button under a result whose video the provider can continue, the
`Extend with Sora` message context menu, and the modal both open ("what happens next", and the
length to add when the model offers more than one). Each ends in `bot.engine.controls.extend`.

The button's custom id (`sora:extend:<job id>`) names the job, so it works after a restart with
nothing in memory, like `Remix` and `Again`. It is put on a result only when the provider can
extend that model (`JobService.extendable`); the context menu answers privately why not otherwise.
"""

from __future__ import annotations

import logging
import re
import secrets

import discord
from discord import app_commands
from discord.ext import commands

from bot import texts_controls as words
from bot.engine.controls import default_length, extend
from cogs.common import MAX_JOB_ID_DIGITS, missing_permissions_text, requester_from_interaction, sora_bot, speak_to
from cogs.controls import send_outcome
from cogs.remix import job_id_from_message
from cogs.remix_action import visible_parent
from cogs.views import MODAL_TIMEOUT

log = logging.getLogger(__name__)

EXTEND_PREFIX = "sora:extend:"


class ExtendModal(discord.ui.Modal):
    """Opened for one member, in their language: what happens next, and (where the model offers a
    choice) how many seconds to add, prefilled with the video's own length when that is offered."""

    def __init__(self, job_id: int, lengths: list[int], default: int, *, reply_to: int | None = None) -> None:
        super().__init__(title=words.extend_modal_title(),
                         custom_id=f"sora:extend-modal:{job_id}:{secrets.token_hex(4)}", timeout=MODAL_TIMEOUT)
        self.next: discord.ui.TextInput[ExtendModal] = discord.ui.TextInput(
            label=words.extend_next_label(), placeholder=words.extend_next_placeholder(),
            style=discord.TextStyle.paragraph, max_length=1000)
        self.add_item(self.next)
        self.length: discord.ui.TextInput[ExtendModal] | None = None
        if len(lengths) > 1:
            self.length = discord.ui.TextInput(label=words.extend_length_label(),
                                               placeholder=words.extend_length_placeholder(lengths),
                                               default=str(default), max_length=8, required=False)
            self.add_item(self.length)
        self.job_id = job_id
        self.reply_to = reply_to  # the result message the extension will answer

    async def on_submit(self, interaction: discord.Interaction) -> None:
        speak_to(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = sora_bot(interaction.client)
        missing = missing_permissions_text(interaction)
        if missing:
            await interaction.followup.send(missing, ephemeral=True)
            return
        parent = await visible_parent(interaction, self.job_id)
        if parent is None:
            await interaction.followup.send(words.extend_refused(self.job_id), ephemeral=True)
            return
        outcome = await extend(bot.jobs, requester_from_interaction(interaction), parent, self.next.value,
                               self.length.value if self.length is not None else None, reply_to=self.reply_to)
        await send_outcome(interaction, outcome)

    # Modal.on_error's own signature (no `item`); discord.py's Modal itself narrows BaseView's.
    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:  # type: ignore[override]
        from cogs.errors import report_unexpected

        await report_unexpected(interaction, error, where=f"extend modal for job {self.job_id}")


async def open_extend(interaction: discord.Interaction, job_id: int, *, reply_to: int | None) -> None:
    """Show the modal, or say privately why this video can't be extended. One quick read of the job
    first (a modal must be the first answer, within 3 s)."""
    bot = sora_bot(interaction.client)
    parent = await bot.repo.get_job(job_id) if 0 < job_id < 10 ** MAX_JOB_ID_DIGITS else None
    if parent is None or parent.guild_id != interaction.guild_id:
        await interaction.response.send_message(words.extend_refused(job_id), ephemeral=True)
        return
    lengths = bot.jobs.extension_lengths(parent)
    if not lengths:
        await interaction.response.send_message(words.extend_unsupported(parent.model), ephemeral=True)
        return
    await interaction.response.send_modal(ExtendModal(parent.id, lengths, default_length(parent, lengths),
                                                      reply_to=reply_to))


class ExtendButton(discord.ui.DynamicItem[discord.ui.Button], template=r"sora:extend:(?P<job_id>\d{1,18})"):
    def __init__(self, job_id: int, *, locale: str | None = None) -> None:
        super().__init__(discord.ui.Button(label=words.extend_label(locale), style=discord.ButtonStyle.secondary,
                                           emoji="⏩", custom_id=f"{EXTEND_PREFIX}{job_id}"))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item,
                             match: re.Match[str]) -> ExtendButton:
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        speak_to(interaction)
        await open_extend(interaction, self.job_id, reply_to=interaction.message.id if interaction.message else None)


class ExtendCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = sora_bot(bot)
        menu = app_commands.ContextMenu(name=app_commands.locale_str("Extend with Sora", id="menu.extend.name"),
                                        callback=self.extend_menu)
        self.menu = app_commands.guild_only()(menu)  # result messages live in servers only
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def extend_menu(self, interaction: discord.Interaction, message: discord.Message) -> None:
        job_id = job_id_from_message(message)
        me = interaction.client.user
        if job_id is None or me is None or message.author.id != me.id:
            await interaction.response.send_message(words.extend_not_a_result(), ephemeral=True)
            return
        await open_extend(interaction, job_id, reply_to=message.id)


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(ExtendButton)
    await bot.add_cog(ExtendCog(bot))
