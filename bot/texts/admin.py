"""Server settings and hard limits: /sora-admin's lists and lines, refusals of untrusted requests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from bot.i18n import tr
from bot.texts.base import discord_time

# --- hard limits and refusals of untrusted requests (see README "Security") -------------------------

def listing(items: Iterable[str], *, locale: str | None = None) -> str:
    """`items` as one run of text, separated the locale's way ("a, b" / "a、b")."""
    return tr("list.separator", locale).join(items)


def channel_mentions(channel_ids: Iterable[int], *, locale: str | None = None) -> str:
    return listing((f"<#{c}>" for c in channel_ids), locale=locale)


def tier_line(role_id: int, tier: str, *, locale: str | None = None) -> str:
    """One role tier in `/sora-admin show`."""
    return tr("admin.tier_line", locale, role=f"<@&{role_id}>", tier=tier)


def price_list(prices: Mapping[str, str], *, locale: str | None = None) -> str:
    """A server's prices per second, by model (or model@size), in `/sora-admin show`."""
    return listing((tr("admin.price_item", locale, key=k, price=v) for k, v in sorted(prices.items())),
                   locale=locale)


def admin_only(*, locale: str | None = None) -> str:
    return tr("admin.only_managers", locale)


def guild_not_allowed(*, locale: str | None = None) -> str:
    return tr("guild.not_allowed", locale)


ADMIN_ONLY = tr("admin.only_managers", "en")  # the English words, kept for callers that compare
GUILD_NOT_ALLOWED = tr("guild.not_allowed", "en")


def remix_refused(job_id: object, *, locale: str | None = None) -> str:
    """The one answer to a remix that can't go ahead (unknown id, another server, not finished, a
    channel the member can't see): the same words whatever the reason, so ids can't be probed."""
    return tr("remix.refused", locale, job_id=job_id)


def leaving_guild_text(*, locale: str | None = None) -> str:
    """Posted (where the bot can) before it leaves a server that DISCORD_ALLOWED_GUILD_IDS does not list."""
    return tr("guild.leaving", locale)


def refused_bot_budget(resets_at: datetime, *, locale: str | None = None) -> str:
    """The bot-wide monthly ceiling (BOT_USD_PER_MONTH) is reached: nobody can make videos until it renews."""
    return tr("quota.bot_budget", locale, when=discord_time(resets_at, "f"))
