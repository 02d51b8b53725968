"""The persistent `Remix` button and the modal that asks for the change.

The button is a `DynamicItem`: its custom id (`sora:remix:<job id>`) carries the job, so it keeps
working after a restart without any view kept in memory.
"""

from __future__ import annotations

import re
import secrets

import discord

from bot.i18n import tr
from cogs.common import speak_to
from cogs.errors import report_unexpected
from cogs.remix_action import remix_from_interaction

REMIX_PREFIX = "sora:remix:"
MODAL_TIMEOUT = 15 * 60.0  # an abandoned modal is dropped (Discord's interaction token lives 15 minutes)


def remix_custom_id(job_id: int) -> str:
    return f"{REMIX_PREFIX}{job_id}"


class RemixModal(discord.ui.Modal):
    """Opened for one member: its words are in the context's language (the member's, see cogs/common.py)."""

    def __init__(self, job_id: int, *, reply_to: int | None = None) -> None:
        # unique per opening: discord.py keys open modals by custom id, and two members may remix one video
        super().__init__(title=tr("remix.modal_title"), custom_id=f"sora:remix-modal:{job_id}:{secrets.token_hex(4)}",
                         timeout=MODAL_TIMEOUT)
        self.change: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
            label=tr("remix.modal_label"), placeholder=tr("remix.modal_placeholder"),
            style=discord.TextStyle.paragraph, max_length=1000)
        self.add_item(self.change)
        self.job_id = job_id
        self.reply_to = reply_to  # the result message the remix will answer, as the member saw it

    async def on_submit(self, interaction: discord.Interaction) -> None:
        speak_to(interaction)
        await remix_from_interaction(interaction, self.job_id, self.change.value, reply_to=self.reply_to)

    # Modal.on_error's own signature (no `item`); discord.py's Modal itself narrows BaseView's.
    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:  # type: ignore[override]
        await report_unexpected(interaction, error, where=f"remix modal for job {self.job_id}")


class RemixButton(discord.ui.DynamicItem[discord.ui.Button], template=r"sora:remix:(?P<job_id>\d{1,18})"):
    def __init__(self, job_id: int, *, locale: str | None = None) -> None:
        """`locale`: of the result message it sits under (the server's language)."""
        super().__init__(discord.ui.Button(label=tr("remix.button", locale), style=discord.ButtonStyle.secondary,
                                           emoji="🎛️",
                                           custom_id=remix_custom_id(job_id)))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item,
                             match: re.Match[str]) -> RemixButton:
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        # A modal must be the first answer, at once (3 s rule).
        speak_to(interaction)
        message_id = interaction.message.id if interaction.message else None
        await interaction.response.send_modal(RemixModal(self.job_id, reply_to=message_id))
