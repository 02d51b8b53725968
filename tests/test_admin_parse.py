"""What a manager types into /sora-admin, parsed or refused in words (bot/admin.py)."""

from __future__ import annotations

import pytest

from bot import admin, quota
from bot.admin import AdminInputError


@pytest.mark.parametrize(("text", "expected"), [("3", 3), ("0", 0), ("none", None), ("-1", None), ("off", None)])
def test_numbers(text, expected):
    assert admin.parse_number("user_videos_per_day", text) == expected


@pytest.mark.parametrize("text", ["lots", "nan", "inf", "-Infinity", "2.5", "-3"])
def test_bad_numbers_are_refused_in_words(text):
    with pytest.raises(AdminInputError):
        admin.parse_number("user_videos_per_day", text)


def test_budget_keeps_cents_and_refuses_infinity():
    assert admin.parse_number("guild_usd_per_month", "$12.50") == "12.50"
    with pytest.raises(AdminInputError):
        admin.parse_number("guild_usd_per_month", "inf")


def test_lists_are_checked_against_what_the_bot_offers():
    assert admin.parse_list("allowed_seconds", "4, 8", [4, 8, 12]) == [4, 8]
    assert admin.parse_list("allowed_models", "all", ["sora-2"]) is None
    with pytest.raises(AdminInputError, match="isn't offered"):
        admin.parse_list("allowed_models", "sora-3", ["sora-2", "sora-2-pro"])
    with pytest.raises(AdminInputError, match="at least one"):
        admin.parse_list("allowed_models", "none", ["sora-2"])  # 'none' must not mean 'all'


def test_tiers_inherit_lift_and_override():
    tier = admin.tier_from_json(7, {"allowed_models": ["sora-2", "sora-2-pro"], "user_videos_per_day": "unlimited"})
    base = quota.Limits(user_videos_per_day=3, allowed_models=frozenset({"sora-2"}), user_cooldown_seconds=30)
    member = quota.resolve_limits(base, [tier], [7])
    assert member.user_videos_per_day is None and member.allowed_models == {"sora-2", "sora-2-pro"}
    assert member.user_cooldown_seconds == 30  # not named by the tier: inherited
    assert quota.resolve_limits(base, [tier], [8]) == base
    with pytest.raises(AdminInputError):
        admin.apply_changes({}, {"no_such_limit": 1})
