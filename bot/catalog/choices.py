"""Pure helpers that turn a catalog and a member's limits into what the member may pick: the models,
each model's sizes and durations, defaults, prices per second and autocomplete choices. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TypeVar

from bot import pricing
from bot.catalog.capabilities import ModelCapabilities
from bot.i18n import tr
from bot.quota import Limits

MAX_CHOICES = 25  # Discord's cap on autocomplete choices
MAX_CHOICE_NAME = 100

T = TypeVar("T")


def allowed_models(models: Iterable[ModelCapabilities], limits: Limits) -> list[ModelCapabilities]:
    """The models a member may use: the catalog's, narrowed by the allow-list when there is one."""
    return [m for m in models if limits.allowed_models is None or m.id in limits.allowed_models]


def offered_sizes(caps: ModelCapabilities, limits: Limits) -> list[str]:
    """The model's sizes the member may use (all of the model's when the allow-list leaves none)."""
    kept = [s for s in caps.sizes if limits.allowed_sizes is None or s in limits.allowed_sizes]
    return kept or list(caps.sizes)


def offered_seconds(caps: ModelCapabilities, limits: Limits) -> list[int]:
    kept = [s for s in caps.durations
            if (limits.allowed_seconds is None or s in limits.allowed_seconds)
            and (limits.max_seconds is None or s <= limits.max_seconds)]
    return kept or list(caps.durations)


def pick(preferred: T, offered: Sequence[T]) -> T | None:
    """`preferred` when offered, else the first offered value (None when nothing is)."""
    if preferred in offered:
        return preferred
    return offered[0] if offered else None


def price_per_second(caps: ModelCapabilities, size: str, table: Mapping[str, str | Decimal]) -> Decimal | None:
    """The model's own per-second SKU price, else PRICE_PER_SECOND's (model@size, model, *), else None."""
    own = caps.price_per_second(size)
    if own is not None:
        return own
    try:
        return pricing.price_per_second(caps.id, size, table)
    except (pricing.UnknownPrice, ValueError):
        return None


def price_hint(caps: ModelCapabilities, size: str, table: Mapping[str, str | Decimal],
               guild: Mapping[str, str] | None) -> Decimal | None:
    """What `merge_prices` + `pricing.price_per_second` would give at `size`, without building the
    model's whole table (autocomplete asks this for every model on each keystroke)."""
    if guild and any(key == caps.id or key.startswith(caps.id + "@") for key in guild):
        try:
            return pricing.price_per_second(caps.id, size, table)
        except (pricing.UnknownPrice, ValueError):
            return None
    return price_per_second(caps, size, table)


def catalog_prices(caps: ModelCapabilities) -> dict[str, str]:
    """The model's SKU prices as PRICE_PER_SECOND keys ("model@size" → USD per second)."""
    table = {}
    for size in caps.sizes:
        value = caps.price_per_second(size)
        if value is not None:
            table[f"{caps.id}@{size}"] = str(value)
    return table


def merge_prices(settings_table: Mapping[str, str], catalog_table: Mapping[str, str],
                 guild_table: Mapping[str, str] | None, model: str) -> dict[str, str]:
    """The price table for one request: the provider's SKU prices beat PRICE_PER_SECOND, and a
    price a server admin set for the model (`/sora-admin price`) beats both."""
    guild = dict(guild_table or {})
    admin_priced = any(key == model or key.startswith(model + "@") for key in guild)
    merged = dict(settings_table)
    if not admin_priced:
        merged.update(catalog_table)
    merged.update(guild)
    return merged


def _usd_hint(amount: Decimal) -> str:
    text = f"{amount:.2f}" if amount >= Decimal("0.01") or amount == 0 else f"{amount.normalize():f}"
    return tr("choices.usd_per_second", price=text)


def model_label(caps: ModelCapabilities, per_second: Decimal | None) -> str:
    """"Google: Veo 3.1 · ~$0.40/s" (no hint when unpriced), within Discord's 100 characters."""
    label = caps.name
    if per_second is not None:
        label += f" · {_usd_hint(per_second)}"
    return label[:MAX_CHOICE_NAME]


def filter_choices(pairs: Iterable[tuple[str, T]], typed: str) -> list[tuple[str, T]]:
    """The first 25 (label, value) pairs whose label or value contains what the member typed."""
    needle = (typed or "").strip().casefold()
    found: list[tuple[str, T]] = []
    for label, value in pairs:
        if not needle or needle in label.casefold() or needle in str(value).casefold():
            found.append((label[:MAX_CHOICE_NAME], value))
            if len(found) >= MAX_CHOICES:
                break
    return found


def complete_list(typed: str, offered: Sequence[object]) -> list[tuple[str, str]]:
    """Autocomplete for a comma-separated list ("a,b,ve" → "a,b,google/veo-3.1"): the last item is
    completed from `offered`; items already listed are not offered again. Values fit 100 characters."""
    head, _, last = (typed or "").rpartition(",")
    done = [p.strip() for p in head.split(",") if p.strip()]
    needle = last.strip().casefold()
    found: list[tuple[str, str]] = []
    for value in offered:
        text = str(value)
        if text in done or (needle and needle not in text.casefold()):
            continue
        full = ",".join([*done, text])
        if len(full) <= MAX_CHOICE_NAME:
            found.append((full, full))
            if len(found) >= MAX_CHOICES:
                break
    return found
