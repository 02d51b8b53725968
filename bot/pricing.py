"""What a video costs the server owner: USD per second of video by model and size, and settlement.

The table is `Settings.price_per_second` (PRICE_PER_SECOND): keys are "model" or "model@size", and
the most specific key wins ("sora-2-pro@1792x1024" before "sora-2-pro"); a "*" key, when present,
prices anything else. Amounts are decimal strings so money never goes through a float.

A reservation is settled at the video's real duration, never above what was reserved.

Usage sketch::

    cost = price("sora-2-pro", "1792x1024", 8, settings.price_per_second)   # Decimal("4.00")
    charge = settle_cost(cost, 8, actual_seconds=7.5)                       # Decimal("3.7500")
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

CENT_PRECISION = Decimal("0.0001")


class UnknownPrice(LookupError):
    """No key of the table prices this model and size."""

    def __init__(self, model: str, size: str) -> None:
        super().__init__(f"no price for model={model!r} size={size!r}")
        self.model = model
        self.size = size


def price_per_second(model: str, size: str, table: Mapping[str, str | Decimal]) -> Decimal:
    """USD per second of video for this model and size; raises `UnknownPrice`."""
    for key in (f"{model}@{size}", model, "*"):
        if key in table:
            try:
                value = Decimal(str(table[key]))
            except InvalidOperation as exc:
                raise ValueError(f"price for {key!r} is not a number: {table[key]!r}") from exc
            if value < 0 or not value.is_finite():
                raise ValueError(f"price for {key!r} must be a non-negative number")
            return value
    raise UnknownPrice(model, size)


def price(model: str, size: str, seconds: float, table: Mapping[str, str | Decimal]) -> Decimal:
    """The estimated USD cost of one video, to 1/100 of a cent; raises `UnknownPrice`."""
    per_second = price_per_second(model, size, table)
    return (per_second * Decimal(str(seconds))).quantize(CENT_PRECISION)


# --- settling a reservation (see bot.quota for the ledger's rules) ---------------------------------

def settle_amount(reserved_seconds: float, actual_seconds: float | None) -> float:
    """Seconds to charge for a delivered video: its real duration, never more than reserved (an
    unknown or nonsensical duration charges the reservation)."""
    if actual_seconds is None or actual_seconds <= 0:
        return float(reserved_seconds)
    # rounded to the millisecond, but never above the reservation (1.34375 s must not become 1.344)
    return min(float(reserved_seconds), round(min(float(reserved_seconds), float(actual_seconds)), 3))


def settle_cost(reserved_usd: Decimal, reserved_seconds: float, actual_seconds: float | None) -> Decimal:
    """USD to charge: the reservation scaled down to `settle_amount` (never more than reserved)."""
    if reserved_seconds <= 0:
        return Decimal(reserved_usd)
    share = Decimal(str(settle_amount(reserved_seconds, actual_seconds))) / Decimal(str(reserved_seconds))
    return min(Decimal(reserved_usd), (Decimal(reserved_usd) * share).quantize(CENT_PRECISION))


def billed_cost(usd: float | Decimal) -> Decimal:
    """The provider's real charge for a job (e.g. OpenRouter's `usage.cost`), to 1/100 of a cent:
    what the ledger settles at, whatever the estimate was. Raises ValueError when negative."""
    value = Decimal(str(usd))
    if not value.is_finite() or value < 0:
        raise ValueError(f"a charge must be a non-negative number, not {usd!r}")
    return value.quantize(CENT_PRECISION)
