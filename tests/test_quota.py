"""Quota arithmetic: windows, tiers, prices, decisions, settlement and the /sora-quota summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot import pricing, quota
from bot.pricing import UnknownPrice, price
from bot.quota import Limits, Refusal, Request, RoleTier, Usage, UsageEntry, decide
from bot.settings import Settings

NOW = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
PRICES = Settings.model_fields["price_per_second"].default_factory()
SMALL = Request("sora-2", "1280x720", 4)


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def entries(*hours_ago: float, seconds: float = 4, usd: str = "0.40") -> tuple[UsageEntry, ...]:
    return tuple(UsageEntry(NOW - timedelta(hours=h), seconds, Decimal(usd)) for h in hours_ago)


# --- windows and prices ------------------------------------------------------------------------------

def test_window_helpers_are_utc():
    assert quota.rolling_window_start(NOW) == NOW - timedelta(hours=24)
    assert quota.month_start(NOW) == datetime(2026, 3, 1, tzinfo=UTC)
    assert quota.next_month_start(NOW) == datetime(2026, 4, 1, tzinfo=UTC)
    assert quota.next_month_start(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
    # an aware time in another zone is converted; a naive one is taken as UTC
    tokyo = datetime(2026, 4, 1, 5, 0, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert quota.month_start(tokyo) == datetime(2026, 4, 1, tzinfo=UTC)
    assert quota.month_start(datetime(2026, 3, 31, 23, 0)) == datetime(2026, 3, 1, tzinfo=UTC)


def test_price_uses_the_most_specific_key():
    assert price("sora-2", "1280x720", 8, PRICES) == Decimal("0.80")
    assert price("sora-2-pro", "1280x720", 4, PRICES) == Decimal("1.20")
    assert price("sora-2-pro", "1792x1024", 12, PRICES) == Decimal("6.00")
    with pytest.raises(UnknownPrice):
        price("sora-3", "1280x720", 4, PRICES)
    assert price("sora-3", "1280x720", 4, {**PRICES, "*": "1"}) == Decimal("4")
    with pytest.raises(ValueError):
        price("sora-2", "1280x720", 4, {"sora-2": "cheap"})


# --- limits and tiers --------------------------------------------------------------------------------

def test_limits_from_settings_defaults():
    limits = Limits.from_settings(Settings(_env_file=None))
    assert limits.user_videos_per_day == 3
    assert limits.guild_usd_per_month == Decimal("20.0")
    assert limits.allowed_models == frozenset({"sora-2"})
    assert limits.allowed_seconds == frozenset({4, 8})
    assert limits.user_cooldown_seconds == 30
    assert limits.user_seconds_per_day is None


def test_tiers_most_generous_value_wins_and_none_inherits():
    guild = Limits(user_videos_per_day=3, user_seconds_per_day=24, allowed_models={"sora-2"},
                   user_cooldown_seconds=60, guild_usd_per_month=Decimal(20))
    supporter = RoleTier(1, Limits(allowed_models={"sora-2", "sora-2-pro"}, user_videos_per_day=5))
    booster = RoleTier(2, Limits(user_videos_per_day=4, user_cooldown_seconds=10))
    newbie = RoleTier(3, Limits(user_videos_per_day=1))
    staff = RoleTier(4, Limits(), unlimited={"user_videos_per_day"})

    assert quota.resolve_limits(guild, [supporter, booster], []) == guild
    both = quota.resolve_limits(guild, [supporter, booster, newbie], [1, 2, 99])
    assert both.user_videos_per_day == 5
    assert both.allowed_models == frozenset({"sora-2", "sora-2-pro"})  # booster inherits sora-2: union
    assert both.user_cooldown_seconds == 10  # the shortest cooldown is the most generous
    assert both.user_seconds_per_day == 24 and both.guild_usd_per_month == Decimal(20)  # inherited
    # a tier can also restrict, when it is the member's only tier
    assert quota.resolve_limits(guild, [newbie], [3]).user_videos_per_day == 1
    # ... but a tier that leaves the field to the guild is more generous than it
    assert quota.resolve_limits(guild, [newbie, supporter], [3, 1]).user_videos_per_day == 5
    assert quota.resolve_limits(guild, [newbie, staff], [3, 4]).user_videos_per_day is None
    with pytest.raises(ValueError):
        RoleTier(5, Limits(), unlimited={"videos"})


# --- decisions ---------------------------------------------------------------------------------------

def test_within_every_limit_is_allowed_with_the_amounts_to_reserve():
    limits = Limits(user_videos_per_day=3, guild_usd_per_month=Decimal(20))
    decision = decide(Request("sora-2", "1280x720", 8), limits, Usage(entries(1)), NOW, prices=PRICES)
    assert decision.allowed and decision.reason is None
    assert decision.seconds == 8 and decision.usd == Decimal("0.80")
    assert decision.must_wait is None and decision.bypassed == ()


def test_daily_video_count_refuses_with_the_rolling_reset():
    usage = Usage(entries(20, 3, 10))  # unordered on purpose; the oldest (20 h ago) frees first
    decision = decide(SMALL, Limits(user_videos_per_day=3), usage, NOW)
    assert not decision.allowed and decision.reason is Refusal.USER_VIDEOS
    resets = NOW + timedelta(hours=4)
    assert (decision.used, decision.limit, decision.left, decision.resets_at) == (3, 3, 0, resets)
    assert decision.message == f"You've used 3 of 3 videos for today. Your next one frees up <t:{ts(resets)}:R>."
    # entries older than 24 h no longer count
    assert decide(SMALL, Limits(user_videos_per_day=3), Usage(entries(30, 3, 10)), NOW).allowed
    # the limit was lowered below what was used: the reset waits for enough entries to age out
    lowered = decide(SMALL, Limits(user_videos_per_day=1), usage, NOW)
    assert lowered.resets_at == NOW + timedelta(hours=24 - 3)  # all three must age out


def test_daily_seconds_frees_up_when_enough_seconds_age_out():
    usage = Usage(entries(20, 10, seconds=8) + entries(2, seconds=4))  # 20 s used
    decision = decide(Request("sora-2", "1280x720", 8), Limits(user_seconds_per_day=24), usage, NOW)
    assert decision.reason is Refusal.USER_SECONDS
    assert decision.used == 20 and decision.left == 4
    assert decision.resets_at == NOW + timedelta(hours=4)  # the 8 s from 20 h ago is enough
    assert decide(Request("sora-2", "1280x720", 4), Limits(user_seconds_per_day=24), usage, NOW).allowed
    too_long = decide(Request("sora-2", "1280x720", 12), Limits(user_seconds_per_day=8), Usage(), NOW)
    assert too_long.reason is Refusal.USER_SECONDS and too_long.resets_at is None
    assert "shorter" in too_long.message


def test_guild_month_seconds_and_budget_renew_next_month():
    renew = datetime(2026, 4, 1, tzinfo=UTC)
    seconds = decide(SMALL, Limits(guild_seconds_per_month=100), Usage(guild_month_seconds=98), NOW)
    assert seconds.reason is Refusal.GUILD_SECONDS and seconds.resets_at == renew and seconds.left == 2
    limits = Limits(guild_usd_per_month=Decimal(20))
    spent = Usage(guild_month_usd=Decimal("19.50"))
    assert decide(Request("sora-2", "1280x720", 4), limits, spent, NOW, prices=PRICES).allowed  # $0.40
    pro = decide(Request("sora-2-pro", "1280x720", 4), limits, spent, NOW, prices=PRICES)  # $1.20
    assert pro.reason is Refusal.GUILD_USD and pro.left == Decimal("0.50") and pro.resets_at == renew
    assert "$19.50 of $20.00" in pro.message and "$1.20" in pro.message and f"<t:{ts(renew)}:R>" in pro.message


def test_unpriced_model_is_refused_only_under_a_budget():
    table = {"sora-2": "0.10"}
    request = Request("sora-2-pro", "1280x720", 4)
    refused = decide(request, Limits(guild_usd_per_month=Decimal(20)), Usage(), NOW, prices=table)
    assert refused.reason is Refusal.UNPRICED
    free_for_all = decide(request, Limits(), Usage(), NOW, prices=table)
    assert free_for_all.allowed and free_for_all.usd is None


def test_cooldown():
    usage = Usage(user_last_submission=NOW - timedelta(seconds=10))
    decision = decide(SMALL, Limits(user_cooldown_seconds=30), usage, NOW)
    assert decision.reason is Refusal.COOLDOWN and decision.resets_at == NOW + timedelta(seconds=20)
    assert decide(SMALL, Limits(user_cooldown_seconds=30), usage, NOW + timedelta(seconds=20)).allowed


def test_allow_lists():
    limits = Limits(allowed_models={"sora-2"}, allowed_sizes={"1280x720", "720x1280"},
                    allowed_seconds={4, 8})
    pro = decide(Request("sora-2-pro", "1280x720", 4), limits, Usage(), NOW)
    assert pro.reason is Refusal.MODEL_NOT_ALLOWED and "`sora-2`" in pro.message
    wide = decide(Request("sora-2", "1792x1024", 4), limits, Usage(), NOW)
    assert wide.reason is Refusal.SIZE_NOT_ALLOWED and "portrait 720×1280" in wide.message
    long = decide(Request("sora-2", "1280x720", 12), limits, Usage(), NOW)
    assert long.reason is Refusal.SECONDS_NOT_ALLOWED and "4 s, 8 s" in long.message
    capped = decide(Request("sora-2", "1280x720", 12), Limits(max_seconds=8), Usage(), NOW)
    assert capped.reason is Refusal.SECONDS_NOT_ALLOWED and "up to 8 s" in capped.message


def test_the_refusal_that_lasts_longest_is_the_one_shown():
    usage = Usage(entries(20, 3, 10), guild_month_usd=Decimal(20))
    limits = Limits(user_videos_per_day=3, guild_usd_per_month=Decimal(20))
    decision = decide(SMALL, limits, usage, NOW, prices=PRICES)
    assert decision.reason is Refusal.GUILD_USD  # not "frees up in 4 h": the budget is gone for weeks


def test_bypass_skips_numbers_but_not_allow_lists():
    usage = Usage(entries(1, 2, 3), guild_month_usd=Decimal(20), user_last_submission=NOW,
                  user_active_jobs=5, guild_active_jobs=5)
    limits = Limits(user_videos_per_day=3, guild_usd_per_month=Decimal(20), user_cooldown_seconds=30,
                    allowed_models={"sora-2"}, user_concurrent=2, guild_concurrent=5)
    decision = decide(SMALL, limits, usage, NOW, prices=PRICES, bypass=True)
    assert decision.allowed
    assert set(decision.bypassed) == {Refusal.USER_VIDEOS, Refusal.GUILD_USD, Refusal.COOLDOWN}
    assert decision.must_wait is Refusal.GUILD_CONCURRENT  # shared capacity still applies
    pro = decide(Request("sora-2-pro", "1280x720", 4), limits, usage, NOW, prices=PRICES, bypass=True)
    assert pro.reason is Refusal.MODEL_NOT_ALLOWED


def test_concurrency_caps_make_a_job_wait_not_fail():
    limits = Limits(user_concurrent=2, guild_concurrent=5)
    mine = decide(SMALL, limits, Usage(user_active_jobs=2, guild_active_jobs=2), NOW)
    assert mine.allowed and mine.must_wait is Refusal.USER_CONCURRENT and "as soon as" in mine.message
    server = decide(SMALL, limits, Usage(user_active_jobs=0, guild_active_jobs=5), NOW)
    assert server.allowed and server.must_wait is Refusal.GUILD_CONCURRENT
    assert quota.may_start(limits, 1, 4) is None
    assert quota.may_start(limits, 2, 4) is Refusal.USER_CONCURRENT
    assert quota.may_start(limits, 2, 4, bypass=True) is None


def test_usage_accepts_plain_tuples_and_naive_times():
    usage = Usage(user_entries=[(NOW.replace(tzinfo=None) - timedelta(hours=1), 4, "0.4")],
                  user_last_submission=NOW.replace(tzinfo=None))
    assert usage.user_entries[0].at.tzinfo is UTC and usage.user_entries[0].usd == Decimal("0.4")
    assert decide(SMALL, Limits(user_videos_per_day=1), usage, NOW).reason is Refusal.USER_VIDEOS


# --- ledger ------------------------------------------------------------------------------------------

def test_settle_at_the_real_duration_never_more_than_reserved():
    assert pricing.settle_amount(8, 7.5) == 7.5
    assert pricing.settle_amount(8, 8.04) == 8
    assert pricing.settle_amount(8, None) == 8
    assert pricing.settle_amount(8, 0) == 8
    assert pricing.settle_cost(Decimal("0.80"), 8, 4) == Decimal("0.40")
    assert pricing.settle_cost(Decimal("0.80"), 8, 9) == Decimal("0.80")
    assert pricing.settle_cost(Decimal("0.80"), 0, 9) == Decimal("0.80")


# --- /sora-quota -------------------------------------------------------------------------------------

def test_summary_windows_and_rendering():
    limits = Limits(user_videos_per_day=3, user_seconds_per_day=24, guild_seconds_per_month=600,
                    guild_usd_per_month=Decimal(20), user_concurrent=2, user_cooldown_seconds=30,
                    allowed_models={"sora-2", "sora-2-pro"})
    usage = Usage(entries(20, 2, seconds=8, usd="0.80"), guild_month_seconds=120,
                  guild_month_usd=Decimal("12.5"), user_active_jobs=1,
                  user_last_submission=NOW - timedelta(seconds=10))
    summary = quota.summarize(limits, usage, NOW, prices=PRICES, typical=Request("sora-2", "1280x720", 8))
    videos, seconds, server_seconds, budget = summary.windows
    assert (videos.used, videos.limit, videos.left) == (2, 3, 1)
    assert videos.resets_at == NOW + timedelta(hours=4)
    assert (seconds.used, seconds.left) == (16, 8)
    assert (server_seconds.used, server_seconds.left) == (120, 480)
    assert budget.left == Decimal("7.5") and budget.resets_at == datetime(2026, 4, 1, tzinfo=UTC)
    assert summary.cooldown_until == NOW + timedelta(seconds=20)
    assert summary.typical_cost == Decimal("0.80")
    lines = quota.render_summary(summary)
    assert lines[0] == f"**Your videos today:** 2 of 3 used, 1 left · resets <t:{ts(NOW + timedelta(hours=4))}:R>"
    assert "16 s of 24 s used, 8 s left" in lines[1]
    assert "$12.50 of $20.00 used, $7.50 left" in lines[3]
    assert "1 of 2 at a time" in lines[4] and "`sora-2-pro`" in lines[4]
    assert "$0.80" in lines[5]


def test_summary_without_limits_or_usage():
    summary = quota.summarize(Limits(), Usage(), NOW)
    assert len(summary.windows) == 3  # no budget line without a budget
    assert all(w.limit is None and w.left is None for w in summary.windows)
    lines = quota.render_summary(summary)
    assert lines[0] == "**Your videos today:** 0 used · no limit"
    assert summary.typical_cost is None and len(lines) == 4
