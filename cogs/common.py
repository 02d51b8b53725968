"""Small helpers shared by the cogs: who is asking, and the bot's services."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.engine.service import Requester

if TYPE_CHECKING:
    from bot.app import SoraBot


def sora_bot(client: discord.Client) -> SoraBot:
    return client  # type: ignore[return-value]


def is_manager(member: discord.abc.User, owner_ids: list[int]) -> bool:
    if member.id in owner_ids:
        return True
    perms = getattr(member, "guild_permissions", None)
    return bool(perms and (perms.manage_guild or perms.administrator))


def requester_of(bot: SoraBot, user: discord.abc.User, channel_id: int, guild_id: int | None) -> Requester:
    roles = tuple(r.id for r in getattr(user, "roles", []) if not r.is_default())
    return Requester(guild_id=guild_id, channel_id=channel_id, user_id=user.id, role_ids=roles,
                     bypass=is_manager(user, bot.settings.bot_owner_ids))


def requester_from_interaction(interaction: discord.Interaction) -> Requester:
    bot = sora_bot(interaction.client)
    bot.publisher.remember_upload_limit(interaction.guild_id, getattr(interaction, "attachment_size_limit", None))
    return requester_of(bot, interaction.user, interaction.channel_id or 0, interaction.guild_id)


NEEDED = {"send_messages": "Send Messages", "attach_files": "Attach Files", "read_message_history":
          "Read Message History", "view_channel": "View Channel"}


def missing_permissions_text(interaction: discord.Interaction) -> str | None:
    """If the bot can't post results in this channel, the words that say so (before anything is paid)."""
    return missing_permissions_words(interaction.app_permissions)


def missing_permissions_words(perms: discord.Permissions) -> str | None:
    """The same words for the bot's permissions in a channel (e.g. `channel.permissions_for(me)`)."""
    missing = [label for name, label in NEEDED.items() if not getattr(perms, name, False)]
    if not missing:
        return None
    return ("I can't post videos in this channel: I'm missing the **" + "**, **".join(missing)
            + "** permission. Ask a server admin to allow it, or use another channel.")
