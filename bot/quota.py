# Over 400 lines on purpose: one decision function and every rule it applies, in refusal order.
"""Pure quota arithmetic: a guild's limits (and its role tiers) + a member's usage + now → a decision
with the words to show. No I/O: the repository computes `Usage` from the ledger, the caller passes `now`.
`bot/engine/quota_service.py` is where a member's limits and prices are put together and where a
manager's changes are written (one transaction each); this module only does the arithmetic.

Limits (each None = unlimited): videos and video-seconds per member per rolling 24 h, video-seconds
and estimated USD per guild per calendar month (UTC), concurrent jobs per member and per guild, a
cooldown between a member's submissions, and allow-lists of models, sizes and durations.

Semantics worth knowing:
- Concurrency caps never refuse: an accepted job over a cap waits locally (`Decision.must_wait`)
  and the engine starts it when `may_start` says so (docs/ARCHITECTURE.md's lifecycle: "local wait").
- `bypass=True` (server managers, bot owners) skips every limit that meters the member's usage
  (daily counts and seconds, the monthly allowance and budget, the cooldown, the per-member
  concurrency cap) but keeps the allow-lists (a server policy that a manager changes with
  /sora-admin, not by accident) and the guild concurrency cap (shared render capacity).
  `Decision.bypassed` lists the limits that would have refused, for the log.
- `bot_budget` (BOT_USD_PER_MONTH) is the operator's ceiling over every guild together: nothing
  bypasses it, and an unpriced request is refused while it is set (it could not be counted).
- Ledger: a reservation of `Decision.seconds` / `Decision.usd` is written with the job. When the
  video is delivered it is settled at the real duration (`settle_amount`, `settle_cost` from
  bot.pricing: never more than reserved). A refund (failed, expired or never-submitted job) gives
  the whole reservation back: the repository leaves refunded entries out of `Usage`.

Usage sketch (bot/engine/service.py's `JobService`)::

    limits = resolve_limits(guild_limits, tiers, member_role_ids)
    request = Request("sora-2", "1280x720", 8)

    def judge(rows: UsageRows) -> Decision:       # run inside create_job's transaction
        return decide(request, limits, usage_from(rows), now, prices=prices, bypass=is_manager,
                      bot_budget=settings.bot_usd_per_month)

    job, decision = await repo.create_job(new_job, decide=judge, allowed=lambda d: d.allowed,
                                          reserve_seconds=request.seconds, reserve_usd=..., ...)
    if job is None:
        return decision.message                    # refused: nothing was written
    lines = render_summary(summarize(limits, usage, now, prices=..., typical=default_request))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from bot import texts
from bot.i18n import tr
from bot.pricing import UnknownPrice, price

ROLLING_WINDOW = timedelta(hours=24)
_EPSILON = 1e-9


# --- time windows (UTC) ------------------------------------------------------------------------------

def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already (as SQLite hands them back)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def rolling_window_start(now: datetime) -> datetime:
    return as_utc(now) - ROLLING_WINDOW


def month_start(now: datetime) -> datetime:
    return as_utc(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now: datetime) -> datetime:
    start = month_start(now)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


# --- limits and role tiers ---------------------------------------------------------------------------

_ALLOW_LISTS = ("allowed_models", "allowed_sizes", "allowed_seconds")
_LOWER_IS_GENEROUS = ("user_cooldown_seconds",)


def _frozen(values: Iterable[Any] | None) -> frozenset[Any] | None:
    return None if values is None else frozenset(values)


@dataclass(frozen=True)
class Limits:
    """One guild's (or one role tier's) limits. None means unlimited / any allowed."""

    user_videos_per_day: int | None = None
    user_seconds_per_day: int | None = None
    guild_seconds_per_month: int | None = None
    guild_usd_per_month: Decimal | None = None
    user_concurrent: int | None = None
    guild_concurrent: int | None = None
    user_cooldown_seconds: int | None = None
    allowed_models: frozenset[str] | None = None
    allowed_sizes: frozenset[str] | None = None
    allowed_seconds: frozenset[int] | None = None
    max_seconds: int | None = None

    def __post_init__(self) -> None:
        for name in _ALLOW_LISTS:
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        if self.guild_usd_per_month is not None:
            object.__setattr__(self, "guild_usd_per_month", Decimal(str(self.guild_usd_per_month)))

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        """Defaults for a new guild from the QUOTA_* settings. An empty allow-list setting means
        "no extra restriction" (the provider's own SORA_ALLOWED_* still apply)."""
        usd = settings.quota_guild_usd_per_month
        return cls(
            user_videos_per_day=settings.quota_user_videos_per_day,
            user_seconds_per_day=settings.quota_user_seconds_per_day,
            guild_seconds_per_month=settings.quota_guild_seconds_per_month,
            guild_usd_per_month=None if usd is None else Decimal(str(usd)),
            user_concurrent=settings.quota_user_concurrent,
            guild_concurrent=settings.quota_guild_concurrent,
            user_cooldown_seconds=settings.quota_user_cooldown_seconds or None,
            allowed_models=frozenset(settings.quota_default_models) or None,
            allowed_sizes=frozenset(settings.sora_allowed_sizes) or None,
            allowed_seconds=frozenset(settings.quota_default_seconds) or None,
        )

    def replace(self, **changes: Any) -> Limits:
        return dataclasses.replace(self, **changes)


LIMIT_FIELDS = tuple(f.name for f in dataclasses.fields(Limits))


@dataclass(frozen=True)
class RoleTier:
    """Limits a role carries. A field left None inherits the guild's value; a field named in
    `unlimited` is lifted for holders of the role (None cannot say that, it means "inherit")."""

    role_id: int
    limits: Limits
    unlimited: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "unlimited", frozenset(self.unlimited))
        unknown = self.unlimited - set(LIMIT_FIELDS)
        if unknown:
            raise ValueError(f"unknown limit names: {sorted(unknown)}")

    def over(self, base: Limits) -> Limits:
        """The limits a holder of only this role gets in a guild whose limits are `base`."""
        def value(name: str) -> Any:
            if name in self.unlimited:
                return None
            own = getattr(self.limits, name)
            return own if own is not None else getattr(base, name)

        return Limits(**{name: value(name) for name in LIMIT_FIELDS})


def _most_generous(name: str, values: list[Any]) -> Any:
    if any(v is None for v in values):
        return None
    if name in _ALLOW_LISTS:
        return frozenset().union(*values)
    if name in _LOWER_IS_GENEROUS:
        return min(values)
    return max(values)


def resolve_limits(guild_limits: Limits, tiers: Sequence[RoleTier], member_role_ids: Iterable[int]) -> Limits:
    """The member's limits: the guild's, or with tier roles the most generous value of each field
    across their tiers (allow-lists are united, the shortest cooldown wins)."""
    roles = set(member_role_ids)
    applied = [tier.over(guild_limits) for tier in tiers if tier.role_id in roles]
    if not applied:
        return guild_limits
    return Limits(**{name: _most_generous(name, [getattr(lim, name) for lim in applied])
                     for name in LIMIT_FIELDS})


# --- usage -------------------------------------------------------------------------------------------

class UsageEntry(NamedTuple):
    """One reservation or settled charge of the member (refunded ones are left out)."""

    at: datetime
    seconds: float
    usd: Decimal = Decimal(0)


@dataclass(frozen=True)
class Usage:
    """A snapshot the repository computes from the ledger. `user_entries` are the member's entries of
    the last 24 h (older ones are ignored if passed); plain (at, seconds, usd) tuples are accepted."""

    user_entries: tuple[UsageEntry, ...] = ()
    guild_month_seconds: float = 0.0
    guild_month_usd: Decimal = Decimal(0)
    user_active_jobs: int = 0
    guild_active_jobs: int = 0
    user_last_submission: datetime | None = None
    bot_month_usd: Decimal = Decimal(0)  # every guild's spend this month

    def __post_init__(self) -> None:
        entries = tuple(UsageEntry(as_utc(e[0]), float(e[1]), Decimal(str(e[2] if len(e) > 2 else 0)))
                        for e in self.user_entries)
        object.__setattr__(self, "user_entries", tuple(sorted(entries, key=lambda e: e.at)))
        object.__setattr__(self, "guild_month_usd", Decimal(str(self.guild_month_usd)))
        object.__setattr__(self, "bot_month_usd", Decimal(str(self.bot_month_usd)))
        if self.user_last_submission is not None:
            object.__setattr__(self, "user_last_submission", as_utc(self.user_last_submission))

    def recent(self, now: datetime) -> tuple[UsageEntry, ...]:
        start = rolling_window_start(now)
        return tuple(e for e in self.user_entries if e.at > start)


# --- decisions ---------------------------------------------------------------------------------------

class Refusal(StrEnum):
    MODEL_NOT_ALLOWED = "model_not_allowed"
    SIZE_NOT_ALLOWED = "size_not_allowed"
    SECONDS_NOT_ALLOWED = "seconds_not_allowed"
    UNPRICED = "unpriced"
    COOLDOWN = "cooldown"
    USER_VIDEOS = "user_videos_per_day"
    USER_SECONDS = "user_seconds_per_day"
    GUILD_SECONDS = "guild_seconds_per_month"
    GUILD_USD = "guild_usd_per_month"
    USER_CONCURRENT = "user_concurrent"
    GUILD_CONCURRENT = "guild_concurrent"
    BOT_USD = "bot_usd_per_month"


@dataclass(frozen=True)
class Request:
    model: str
    size: str
    seconds: int


@dataclass(frozen=True)
class Decision:
    """`allowed`, or refused by `reason` with `used`/`limit`/`left` in that limit's unit (videos,
    seconds or USD) and `resets_at` (None: waiting will not help). `seconds`/`usd` are what to
    reserve; `must_wait` names the concurrency cap an accepted job waits on, if any."""

    allowed: bool
    message: str
    reason: Refusal | None = None
    used: float | Decimal | None = None
    limit: float | Decimal | None = None
    left: float | Decimal | None = None
    resets_at: datetime | None = None
    seconds: int = 0
    usd: Decimal | None = None
    must_wait: Refusal | None = None
    bypassed: tuple[Refusal, ...] = field(default=())


def _sorted_list(values: frozenset[Any] | None) -> list[Any]:
    return sorted(values) if values else []


def _allow_list_refusal(request: Request, limits: Limits) -> Decision | None:
    if limits.allowed_models is not None and request.model not in limits.allowed_models:
        msg = texts.refused_model(request.model, _sorted_list(limits.allowed_models))
        return Decision(False, msg, Refusal.MODEL_NOT_ALLOWED)
    if limits.allowed_sizes is not None and request.size not in limits.allowed_sizes:
        msg = texts.refused_size(request.size, _sorted_list(limits.allowed_sizes))
        return Decision(False, msg, Refusal.SIZE_NOT_ALLOWED)
    over_max = limits.max_seconds is not None and request.seconds > limits.max_seconds
    if over_max or (limits.allowed_seconds is not None and request.seconds not in limits.allowed_seconds):
        msg = texts.refused_seconds(request.seconds, _sorted_list(limits.allowed_seconds), limits.max_seconds)
        return Decision(False, msg, Refusal.SECONDS_NOT_ALLOWED, limit=limits.max_seconds)
    return None


def _user_videos(limit: int, recent: Sequence[UsageEntry]) -> Decision | None:
    used = len(recent)
    if used + 1 <= limit:
        return None
    resets = recent[used - limit].at + ROLLING_WINDOW if limit > 0 and recent else None
    return Decision(False, texts.refused_user_videos(used, limit, resets), Refusal.USER_VIDEOS,
                    used=used, limit=limit, left=max(0, limit - used), resets_at=resets)


def _user_seconds(limit: int, requested: int, recent: Sequence[UsageEntry]) -> Decision | None:
    used = sum(e.seconds for e in recent)
    if used + requested <= limit + _EPSILON:
        return None
    resets = None
    if requested <= limit:
        to_free, freed = used + requested - limit, 0.0
        for entry in recent:  # oldest first
            freed += entry.seconds
            if freed + _EPSILON >= to_free:
                resets = entry.at + ROLLING_WINDOW
                break
    return Decision(False, texts.refused_user_seconds(used, limit, requested, resets), Refusal.USER_SECONDS,
                    used=used, limit=limit, left=max(0.0, limit - used), resets_at=resets)


def _numeric_refusals(request: Request, limits: Limits, usage: Usage, now: datetime,
                      cost: Decimal | None) -> list[Decision]:
    found: list[Decision | None] = []
    renew = next_month_start(now)
    if limits.guild_usd_per_month is not None and cost is None:
        found.append(Decision(False, texts.refused_unpriced(request.model, request.size), Refusal.UNPRICED))
    last = usage.user_last_submission
    if limits.user_cooldown_seconds and last is not None:
        until = last + timedelta(seconds=limits.user_cooldown_seconds)
        if now < until:
            found.append(Decision(False, texts.refused_cooldown(until), Refusal.COOLDOWN, resets_at=until))
    recent = usage.recent(now)
    if limits.user_videos_per_day is not None:
        found.append(_user_videos(limits.user_videos_per_day, recent))
    if limits.user_seconds_per_day is not None:
        found.append(_user_seconds(limits.user_seconds_per_day, request.seconds, recent))
    cap = limits.guild_seconds_per_month
    if cap is not None and usage.guild_month_seconds + request.seconds > cap + _EPSILON:
        used = usage.guild_month_seconds
        found.append(Decision(False, texts.refused_guild_seconds(used, cap, request.seconds, renew),
                              Refusal.GUILD_SECONDS, used=used, limit=cap, left=max(0.0, cap - used),
                              resets_at=renew))
    budget = limits.guild_usd_per_month
    if budget is not None and cost is not None and usage.guild_month_usd + cost > budget:
        spent = usage.guild_month_usd
        found.append(Decision(False, texts.refused_guild_budget(spent, budget, cost, renew), Refusal.GUILD_USD,
                              used=spent, limit=budget, left=max(Decimal(0), budget - spent),
                              resets_at=renew))
    return [d for d in found if d is not None]


def _binding(refusals: list[Decision]) -> Decision:
    """Of several refusals, the one that lasts longest (None = waiting won't help), so the member is
    never told "frees up in 2 h" while the monthly budget is spent for three weeks."""
    return max(refusals, key=lambda d: (d.resets_at is None, d.resets_at or datetime.min.replace(tzinfo=UTC)))


def may_start(limits: Limits, user_active: int, guild_active: int, *, bypass: bool = False) -> Refusal | None:
    """None when a job may start now, else the concurrency cap it waits on."""
    if not bypass and limits.user_concurrent is not None and user_active >= limits.user_concurrent:
        return Refusal.USER_CONCURRENT
    if limits.guild_concurrent is not None and guild_active >= limits.guild_concurrent:
        return Refusal.GUILD_CONCURRENT
    return None


def _cost(request: Request, prices: Mapping[str, str | Decimal] | None) -> Decimal | None:
    """The estimated cost; None without a price table or without a price for this model and size."""
    try:
        return price(request.model, request.size, request.seconds, prices) if prices is not None else None
    except UnknownPrice:
        return None


def _bot_budget_refusal(request: Request, usage: Usage, now: datetime, cost: Decimal | None,
                        budget: Decimal | float | str | None) -> Decision | None:
    if budget is None:
        return None
    if cost is None:
        return Decision(False, texts.refused_unpriced(request.model, request.size), Refusal.UNPRICED)
    ceiling = Decimal(str(budget))
    if usage.bot_month_usd + cost <= ceiling:
        return None
    renew = next_month_start(now)
    return Decision(False, texts.refused_bot_budget(renew), Refusal.BOT_USD, used=usage.bot_month_usd,
                    limit=ceiling, left=max(Decimal(0), ceiling - usage.bot_month_usd), resets_at=renew)


def decide(request: Request, limits: Limits, usage: Usage, now: datetime, *,
           prices: Mapping[str, str | Decimal] | None = None, bypass: bool = False,
           bot_budget: Decimal | float | str | None = None) -> Decision:
    """Allow or refuse one submission (see the module docstring for bypass, concurrency and the
    bot-wide `bot_budget`, which nothing bypasses)."""
    now = as_utc(now)
    refused = _allow_list_refusal(request, limits)
    if refused is not None:
        return refused
    cost = _cost(request, prices)
    ceiling = _bot_budget_refusal(request, usage, now, cost, bot_budget)
    if ceiling is not None:
        return dataclasses.replace(ceiling, seconds=request.seconds, usd=cost)
    refusals = _numeric_refusals(request, limits, usage, now, cost)
    if refusals and not bypass:
        return dataclasses.replace(_binding(refusals), seconds=request.seconds, usd=cost)
    wait = may_start(limits, usage.user_active_jobs, usage.guild_active_jobs, bypass=bypass)
    message = texts.wait_for_slot(own=wait is Refusal.USER_CONCURRENT) if wait else ""
    return Decision(True, message, seconds=request.seconds, usd=cost, must_wait=wait,
                    bypassed=tuple(d.reason for d in refusals if d.reason is not None))


# --- /sora-quota -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    label: str
    unit: str  # "videos" | "s" | "usd"
    used: float | Decimal
    limit: float | Decimal | None
    left: float | Decimal | None
    resets_at: datetime | None


@dataclass(frozen=True)
class QuotaSummary:
    windows: tuple[Window, ...]
    cooldown_until: datetime | None
    active_jobs: int
    concurrent_limit: int | None
    allowed_models: tuple[str, ...] | None
    typical: Request | None
    typical_cost: Decimal | None


def summarize(limits: Limits, usage: Usage, now: datetime, *,
              prices: Mapping[str, str | Decimal] | None = None, typical: Request | None = None) -> QuotaSummary:
    """Each window's used / limit / left / reset time, for `/sora-quota`. The member's windows reset
    piecewise (the oldest counted entry frees up first); the guild's at the next month."""
    now = as_utc(now)
    recent = usage.recent(now)
    first_frees = recent[0].at + ROLLING_WINDOW if recent else None
    renew = next_month_start(now)
    count, seconds = len(recent), sum(e.seconds for e in recent)

    def left(limit: Any, used: Any) -> Any:
        return None if limit is None else max(type(used)(0), limit - used)

    windows = [
        Window("Your videos today", "videos", count, limits.user_videos_per_day,
               left(limits.user_videos_per_day, count), first_frees),
        Window("Your video seconds today", "s", seconds, limits.user_seconds_per_day,
               left(limits.user_seconds_per_day, seconds), first_frees),
        Window("Server video seconds this month", "s", usage.guild_month_seconds, limits.guild_seconds_per_month,
               left(limits.guild_seconds_per_month, usage.guild_month_seconds), renew),
    ]
    if limits.guild_usd_per_month is not None:
        windows.append(Window("Server budget this month", "usd", usage.guild_month_usd, limits.guild_usd_per_month,
                              left(limits.guild_usd_per_month, usage.guild_month_usd), renew))
    cooldown_until = None
    if limits.user_cooldown_seconds and usage.user_last_submission is not None:
        until = usage.user_last_submission + timedelta(seconds=limits.user_cooldown_seconds)
        cooldown_until = until if until > now else None
    cost = _cost(typical, prices) if typical is not None else None
    models = tuple(sorted(limits.allowed_models)) if limits.allowed_models is not None else None
    return QuotaSummary(tuple(windows), cooldown_until, usage.user_active_jobs, limits.user_concurrent,
                        models, typical, cost)


def _amount(value: float | Decimal | None, unit: str) -> str | None:
    if value is None:
        return None
    if unit == "usd":
        return texts.usd(Decimal(value))
    number = f"{float(value):g}"
    return tr("unit.seconds", n=number) if unit == "s" else number


# a window's (English) label → the message id of its words in the reader's language
WINDOW_IDS = {"Your videos today": "quota.window.videos_today",
              "Your video seconds today": "quota.window.seconds_today",
              "Server video seconds this month": "quota.window.server_seconds_month",
              "Server budget this month": "quota.window.server_budget_month"}


def render_summary(summary: QuotaSummary) -> list[str]:
    """The lines of the `/sora-quota` answer (in the context's language, see bot/i18n.py)."""
    lines = [texts.quota_window_line(tr(WINDOW_IDS[w.label]) if w.label in WINDOW_IDS else w.label,
                                     _amount(w.used, w.unit) or "0", _amount(w.limit, w.unit),
                                     _amount(w.left, w.unit), w.resets_at if w.limit is not None else None)
             for w in summary.windows]
    lines.append(texts.quota_extras_line(
        active=summary.active_jobs, concurrent_limit=summary.concurrent_limit,
        cooldown_until=summary.cooldown_until, models=summary.allowed_models))
    if summary.typical is not None and summary.typical_cost is not None:
        t = summary.typical
        lines.append(texts.typical_cost_line(t.model, t.size, t.seconds, summary.typical_cost))
    return lines
