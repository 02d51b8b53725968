"""Pure helpers of `/sora-admin`: turn what a manager typed into stored limit changes, and the
guild's settings into lines to show. No Discord, no SQL: `bot/engine/quota_service.py` reads and
writes the settings (each change one transaction) and `cogs/admin.py` is the command surface.

Stored form (JSON in guild_settings.limits and role_tiers.limits): field name of `quota.Limits` →
value; for a guild `null` means unlimited; for a role tier the string "unlimited" lifts the limit
for holders of the role and an absent field inherits the guild's.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from bot import quota
from bot.i18n import tr

UNLIMITED = "unlimited"
NUMBER_FIELDS = {
    "user_videos_per_day": "videos per member per 24 h",
    "user_seconds_per_day": "video seconds per member per 24 h",
    "guild_seconds_per_month": "video seconds per server per month",
    "guild_usd_per_month": "budget per server per month (USD)",
    "user_concurrent": "videos in progress per member",
    "guild_concurrent": "videos in progress per server",
    "user_cooldown_seconds": "seconds between a member's requests",
    "max_seconds": "longest video (seconds)",
}
LIST_FIELDS = {"allowed_models": "models", "allowed_sizes": "sizes", "allowed_seconds": "durations (s)"}
# The labels above are the English words (command choices' default names); what a manager reads comes
# from the catalogue: message id "field.<field>" (see `label`).
# The largest value each limit accepts: beyond these a number is a typo (or a probe), and 1e30
# seconds of cooldown would overflow the date arithmetic. `none` still means "no limit".
MAX_VALUES = {
    "user_videos_per_day": 10_000, "user_seconds_per_day": 1_000_000, "guild_seconds_per_month": 100_000_000,
    "guild_usd_per_month": 1_000_000, "user_concurrent": 1_000, "guild_concurrent": 10_000,
    "user_cooldown_seconds": 30 * 86_400, "max_seconds": 3_600,
}
_MAX_INPUT_CHARS = 40


class AdminInputError(ValueError):
    """What the manager typed can't be used; the message says why, in words."""


def parse_number(field: str, text: str) -> Any:
    """`none`/`off`/`unlimited`/`-1` → None (no limit); else a non-negative number."""
    value = text.strip().lower()
    if value in ("none", "off", "unlimited", "-1", ""):
        return None
    if len(value) > _MAX_INPUT_CHARS:
        raise AdminInputError(tr("admin.number_too_long"))
    try:
        number = Decimal(value.lstrip("$"))
    except InvalidOperation:
        raise AdminInputError(tr("admin.not_a_number", text=text)) from None
    if not number.is_finite():
        raise AdminInputError(tr("admin.not_a_number", text=text))
    if number < 0:
        raise AdminInputError(tr("admin.negative"))
    ceiling = MAX_VALUES.get(field, 1_000_000)
    if number > ceiling:
        raise AdminInputError(tr("admin.ceiling", label=label(field), ceiling=f"{ceiling:,}"))
    if field == "guild_usd_per_month":
        return str(number)
    if number != number.to_integral_value():
        raise AdminInputError(tr("admin.whole_number", label=label(field)))
    return int(number)


def parse_list(field: str, text: str, allowed: list[Any]) -> list[Any] | None:
    """A comma-separated allow-list, checked against what the provider offers; `all` → None."""
    value = text.strip().lower()
    if value in ("all", "any"):
        return None
    if value in ("", "none"):
        raise AdminInputError(tr("admin.list_empty"))
    items: list[Any] = []
    for part in (p.strip() for p in value.split(",") if p.strip()):
        digits = part.isascii() and part.isdigit()  # "¹".isdigit() is True, but int("¹") fails
        item: Any = int(part) if field == "allowed_seconds" and digits else part
        if item not in allowed:
            raise AdminInputError(tr("admin.not_offered", part=part, options=", ".join(map(str, allowed))))
        items.append(item)
    return items


def apply_changes(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    merged.update(changes)
    unknown = set(merged) - set(quota.LIMIT_FIELDS)
    if unknown:
        raise AdminInputError(f"unknown limits: {', '.join(sorted(unknown))}")
    return merged


def tier_from_json(role_id: int, data: Mapping[str, Any]) -> quota.RoleTier:
    unlimited = {k for k, v in data.items() if v == UNLIMITED and k in quota.LIMIT_FIELDS}
    fields = {k: v for k, v in data.items() if k in quota.LIMIT_FIELDS and k not in unlimited}
    return quota.RoleTier(role_id, quota.Limits(**fields), frozenset(unlimited))


def guild_limits(base: quota.Limits, stored: Mapping[str, Any]) -> quota.Limits:
    return base.replace(**{k: v for k, v in stored.items() if k in quota.LIMIT_FIELDS})


def label(field: str) -> str:
    """The words for a limit or list field in the context's language ("videos per member per 24 h")."""
    return tr(f"field.{field}") if field in NUMBER_FIELDS or field in LIST_FIELDS else field


def describe_limits(limits: quota.Limits) -> list[str]:
    lines = []
    for field in NUMBER_FIELDS:
        value = getattr(limits, field)
        shown = tr("admin.no_limit") if value is None else (
            f"${value}" if field == "guild_usd_per_month" else str(value))
        lines.append(f"• {label(field)}: **{shown}**")
    for field in LIST_FIELDS:
        value = getattr(limits, field)
        shown = tr("admin.all") if value is None else ", ".join(str(v) for v in sorted(value))
        lines.append(f"• {label(field)}: **{shown}**")
    return lines


def describe_tier(data: Mapping[str, Any]) -> str:
    parts = []
    for key, value in sorted(data.items()):
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{label(key)}: {shown}")
    return "; ".join(parts) or tr("admin.no_changes")
