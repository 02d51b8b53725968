"""Quota words (used by bot.quota): refusals, the /sora-quota summary's lines."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.i18n import ntr, number, tr
from bot.texts.base import discord_time, safe_user_text, size_label, usd
from bot.texts.models import _options

# --- quota words (used by bot.quota) ---------------------------------------------------------------

def _when(moment: datetime | None, locale: str | None) -> str:
    return discord_time(moment) if moment is not None else tr("time.later", locale)


def refused_model(model: str, allowed: list[str], *, locale: str | None = None) -> str:
    return tr("quota.model", locale, model=safe_user_text(model),
              options=_options([f"`{m}`" for m in allowed], locale))


def refused_size(size: str, allowed: list[str], *, locale: str | None = None) -> str:
    return tr("quota.size", locale, size=size_label(size, locale=locale),
              options=_options([size_label(s, locale=locale) for s in allowed], locale))


def refused_seconds(seconds: int, allowed: list[int], max_seconds: int | None, *, locale: str | None = None) -> str:
    choices = [s for s in allowed if max_seconds is None or s <= max_seconds]
    if allowed:
        options = ", ".join(tr("unit.seconds", locale, n=s) for s in choices)
    else:
        options = tr("quota.up_to_seconds", locale, n=max_seconds)
    return tr("quota.seconds", locale, seconds=seconds, options=options or tr("list.none", locale))


def refused_cooldown(until: datetime, *, locale: str | None = None) -> str:
    return tr("quota.cooldown", locale, when=discord_time(until))


def refused_user_videos(used: int, limit: int, resets_at: datetime | None, *, locale: str | None = None) -> str:
    if limit == 0:
        return tr("quota.videos_disabled", locale)
    return ntr("quota.user_videos", "quota.user_videos_plural", limit, locale, used=number(used, locale),
               when=_when(resets_at, locale))


def refused_user_seconds(used: float, limit: int, requested: int, resets_at: datetime | None,
                         *, locale: str | None = None) -> str:
    if requested > limit:
        return tr("quota.user_seconds_too_long", locale, requested=requested, limit=limit)
    return tr("quota.user_seconds", locale, used=number(used, locale), limit=limit, requested=requested,
              when=_when(resets_at, locale))


def refused_guild_seconds(used: float, limit: int, requested: int, resets_at: datetime,
                          *, locale: str | None = None) -> str:
    return tr("quota.guild_seconds", locale, used=number(used, locale), limit=limit, requested=requested,
              when=discord_time(resets_at))


def refused_guild_budget(spent: Decimal, limit: Decimal, cost: Decimal, resets_at: datetime,
                         *, locale: str | None = None) -> str:
    return tr("quota.guild_budget", locale, spent=usd(spent, locale=locale), limit=usd(limit, locale=locale),
              cost=usd(cost, locale=locale), when=discord_time(resets_at))


def refused_unpriced(model: str, size: str, *, locale: str | None = None) -> str:
    return tr("quota.unpriced", locale, model=safe_user_text(model), size=size_label(size, locale=locale))


def quota_window_line(label: str, used: str, limit: str | None, left: str | None,
                      resets_at: datetime | None, *, locale: str | None = None) -> str:
    """One line of /sora-quota: `**Videos today:** 2 of 3 used, 1 left · resets <t:…:R>`."""
    if limit is None:
        return tr("quota.line_unlimited", locale, label=label, used=used)
    line = tr("quota.line", locale, label=label, used=used, limit=limit, left=left)
    if resets_at is not None:
        line += " · " + tr("quota.line_resets", locale, when=discord_time(resets_at))
    return line


def wait_for_slot(*, own: bool, locale: str | None = None) -> str:
    """An accepted job that waits locally for a concurrency slot."""
    return tr("quota.wait_own", locale) if own else tr("quota.wait_server", locale)


def quota_extras_line(*, active: int, concurrent_limit: int | None, cooldown_until: datetime | None,
                      models: tuple[str, ...] | None, locale: str | None = None) -> str:
    """The last facts of /sora-quota: videos in progress, cooldown, models the member may use."""
    at_a_time = " " + tr("quota.at_a_time", locale, n=concurrent_limit) if concurrent_limit else ""
    parts = [tr("quota.in_progress", locale, n=active) + at_a_time]
    if cooldown_until is not None:
        parts.append(tr("quota.next_allowed", locale, when=discord_time(cooldown_until)))
    if models is not None:
        parts.append(tr("quota.models", locale, models=_options([f"`{m}`" for m in models], locale)))
    return " · ".join(parts)


def typical_cost_line(model: str, size: str, seconds: int, cost: Decimal, *, locale: str | None = None) -> str:
    return tr("quota.typical_cost", locale, model=model, size=size_label(size, locale=locale), seconds=seconds,
              cost=usd(cost, locale=locale))
