"""`/sora-gallery`: a member's finished videos in this server, newest first, ten a page, each a link
to its result message; private. `member:` lets managers look at someone else's.

The page buttons are `DynamicItem`s whose custom id carries who opened the gallery, whose videos it
shows and the page (`sora:gallery:<viewer>:<member>:<page>`), so they work after a restart too.
"""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import texts_controls as words
from cogs.common import guild_id_of, is_manager, sora_bot, speak_to

PAGE_SIZE = 10
MAX_PAGE = 10_000


def result_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


async def gallery_answer(bot, guild_id: int, viewer: int, member: int, page: int) -> tuple[str, discord.ui.View | None]:
    """The text and the page buttons of one page (the last page when `page` is past it)."""
    total, jobs = await bot.repo.gallery(guild_id, member, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    if total == 0:
        return words.gallery_empty(own=viewer == member), None
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:
        page = pages
        total, jobs = await bot.repo.gallery(guild_id, member, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    entries = [(job.id, job.prompt, result_link(guild_id, job.channel_id, job.result_message_id)) for job in jobs]
    text = words.gallery_page(entries, page=page, pages=pages, total=total, user_id=member, own=viewer == member)
    if pages == 1:
        return text, None
    view = discord.ui.View(timeout=None)
    view.add_item(GalleryButton(viewer, member, page - 1, label=words.gallery_previous(), disabled=page <= 1))
    view.add_item(GalleryButton(viewer, member, page + 1, label=words.gallery_next(), disabled=page >= pages))
    return text, view


class GalleryButton(discord.ui.DynamicItem[discord.ui.Button],
                    template=r"sora:gallery:(?P<viewer>\d{1,20}):(?P<member>\d{1,20}):(?P<page>\d{1,5})"):
    def __init__(self, viewer: int, member: int, page: int, *, label: str = "…", disabled: bool = False) -> None:
        super().__init__(discord.ui.Button(label=label, style=discord.ButtonStyle.secondary, disabled=disabled,
                                           custom_id=f"sora:gallery:{viewer}:{member}:{max(page, 0)}"))
        self.viewer, self.member, self.page = viewer, member, page

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item,
                             match: re.Match[str]) -> GalleryButton:
        return cls(int(match["viewer"]), int(match["member"]), int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        speak_to(interaction)  # a component interaction skips the tree's check: answer in the member's language
        if interaction.user.id != self.viewer or interaction.guild_id is None:
            await interaction.response.send_message(words.gallery_not_yours(), ephemeral=True)
            return
        bot = sora_bot(interaction.client)
        text, view = await gallery_answer(bot, interaction.guild_id, self.viewer, self.member,
                                          min(max(self.page, 1), MAX_PAGE))
        await interaction.response.edit_message(content=text, view=view,
                                                allowed_mentions=discord.AllowedMentions.none())


class GalleryCog(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = sora_bot(bot)

    @app_commands.command(name="sora-gallery", description="Your finished videos in this server, newest first")
    @app_commands.describe(member="Managers: look at another member's videos")
    @app_commands.guild_only()
    async def sora_gallery(self, interaction: discord.Interaction, member: discord.Member | None = None) -> None:
        target = member or interaction.user
        if target.id != interaction.user.id and not is_manager(interaction.user, self.bot.settings.bot_owner_ids):
            await interaction.response.send_message(words.gallery_others_refused(), ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        text, view = await gallery_answer(self.bot, guild_id_of(interaction), interaction.user.id, target.id, 1)
        kwargs: dict[str, Any] = {"view": view} if view is not None else {}
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none(),
                                        **kwargs)


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(GalleryButton)
    await bot.add_cog(GalleryCog(bot))
