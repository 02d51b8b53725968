"""Small helpers shared by the cogs: who is asking, and the bot's services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import discord
from discord import app_commands

from bot import i18n
from bot.engine.service import Requester

if TYPE_CHECKING:
    from bot.catalog.service import CatalogService
    from bot.engine.context import EngineContext
    from bot.engine.service import JobService
    from bot.settings import Settings
    from db.repository import Repository


class UploadLimits(Protocol):
    def remember_upload_limit(self, guild_id: int | None, limit: int | None) -> None: ...


class SoraBot(Protocol):
    """What the cogs use of the running bot. bot/app.py's `SoraBot` provides it (and loads the cogs):
    the cogs see it through this Protocol, so they never import bot.app (the composition root
    imports them, not the other way round)."""

    settings: Settings
    repo: Repository
    jobs: JobService
    catalog: CatalogService
    engine_ctx: EngineContext
    publisher: UploadLimits
    tree: app_commands.CommandTree[Any]

    @property
    def user(self) -> discord.ClientUser | None: ...

    def guild_allowed(self, guild_id: int | None) -> bool: ...

    def get_channel(self, id: int, /) -> Any: ...

    async def fetch_channel(self, channel_id: int, /) -> Any: ...

    def get_guild(self, id: int, /) -> discord.Guild | None: ...


def sora_bot(client: discord.Client) -> SoraBot:
    return client  # type: ignore[return-value]


def guild_id_of(interaction: discord.Interaction) -> int:
    """The server of a `guild_only` command's interaction (Discord never sends one from a DM)."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild_id


def is_manager(member: discord.abc.User, owner_ids: list[int]) -> bool:
    if member.id in owner_ids:
        return True
    perms = getattr(member, "guild_permissions", None)
    return bool(perms and (perms.manage_guild or perms.administrator))


def speak_to(interaction: discord.Interaction) -> str:
    """Private answers to this interaction speak the member's client language (`interaction.locale`):
    set as the context's locale for the rest of its handling (each interaction runs in its own task)."""
    return i18n.set_current(interaction.locale)


def guild_locale_of(guild: discord.Guild | None) -> str | None:
    return str(guild.preferred_locale) if guild is not None else None


def requester_of(bot: SoraBot, user: discord.abc.User, channel_id: int, guild_id: int | None,
                 guild_locale: str | None = None) -> Requester:
    roles = tuple(r.id for r in getattr(user, "roles", []) if not r.is_default())
    return Requester(guild_id=guild_id, channel_id=channel_id, user_id=user.id, role_ids=roles,
                     bypass=is_manager(user, bot.settings.bot_owner_ids), guild_locale=guild_locale)


def requester_from_interaction(interaction: discord.Interaction) -> Requester:
    bot = sora_bot(interaction.client)
    bot.publisher.remember_upload_limit(interaction.guild_id, getattr(interaction, "attachment_size_limit", None))
    guild_locale = interaction.guild_locale or (interaction.guild.preferred_locale if interaction.guild else None)
    return requester_of(bot, interaction.user, interaction.channel_id or 0, interaction.guild_id,
                        str(guild_locale) if guild_locale else None)


MAX_JOB_ID_DIGITS = 18  # a job id typed by a member: SQLite's INTEGER holds 19 digits; our ids never come near

# permission attribute → the message id of its name as Discord's client shows it
NEEDED = {"send_messages": "perm.send_messages", "attach_files": "perm.attach_files",
          "read_message_history": "perm.read_message_history", "view_channel": "perm.view_channel"}


def missing_permissions_text(interaction: discord.Interaction) -> str | None:
    """If the bot can't post results in this channel, the words that say so (before anything is paid)."""
    return missing_permissions_words(interaction.app_permissions)


def missing_permissions_words(perms: discord.Permissions) -> str | None:
    """The same words for the bot's permissions in a channel (e.g. `channel.permissions_for(me)`)."""
    missing = [i18n.tr(label) for name, label in NEEDED.items() if not getattr(perms, name, False)]
    if not missing:
        return None
    return i18n.tr("perm.missing", names="**, **".join(missing))
