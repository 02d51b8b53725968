"""Property-based tests (issue 12, item 9): whatever a provider or an admin sends, the parsers and
the quota arithmetic give a typed result or a typed error, never an unexpected exception."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot import admin, pricing, quota
from bot.admin import AdminInputError
from bot.sora.dialects import PROFILES
from bot.sora.errors import SoraError
from bot.sora.models import Video
from bot.sora.parse import error_from_response, parse_video, parse_video_list, video_error

FAST = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# JSON-like values, biased toward the keys the parsers look at.
KEYS = st.sampled_from(["id", "status", "state", "progress", "seconds", "duration", "actualDuration", "size",
                        "width", "height", "model", "created_at", "created", "completed_at", "expires_at",
                        "video_url", "url", "meta_data", "metadata", "error", "code", "message", "data",
                        "has_more", "prompt", "fail_reason", "remixed_from_video_id", "resolution"])
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40)
           | st.sampled_from(["completed", "processing", "failed", "1e309", "-0", "9" * 30, "12s", "1280x720",
                              "2026-13-45T99:99:99Z", "NaN", "inf"]))
JSONISH = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4)
                       | st.dictionaries(KEYS | st.text(max_size=8), children, max_size=6), max_leaves=25)
PROFILE = st.sampled_from(sorted(PROFILES.values(), key=lambda p: p.name))


@FAST
@given(JSONISH, PROFILE)
def test_parse_video_gives_a_video_or_a_sora_error(data, profile):
    try:
        video = parse_video(data, profile, now=datetime(2026, 1, 1, tzinfo=UTC), secrets=("sk-secret",))
    except SoraError:
        return
    assert isinstance(video, Video) and video.id
    assert video.progress is None or 0 <= video.progress <= 100


@FAST
@given(JSONISH, PROFILE)
def test_parse_video_list_gives_videos_or_a_sora_error(data, profile):
    try:
        videos, has_more = parse_video_list(data, profile, now=datetime(2026, 1, 1, tzinfo=UTC))
    except SoraError:
        return
    assert all(isinstance(v, Video) for v in videos) and isinstance(has_more, bool)


@FAST
@given(st.integers(min_value=100, max_value=599), st.binary(max_size=300) | JSONISH.map(
    lambda v: json.dumps(v, default=str).encode()), st.dictionaries(
    st.sampled_from(["retry-after", "retry-after-ms", "x-request-id"]), st.text(max_size=30), max_size=3))
def test_error_from_response_is_always_a_typed_error_without_the_key(status, body, headers):
    error = error_from_response(status, body + b" sk-secret", headers, secrets=("sk-secret",))
    assert isinstance(error, SoraError) and "sk-secret" not in str(error) and "sk-secret" not in error.user_message


@FAST
@given(JSONISH)
def test_video_error_is_none_or_readable(raw):
    error = video_error(raw, secrets=("sk-secret",))
    assert error is None or (isinstance(error.message, str) and "sk-secret" not in error.message)


@FAST
@given(st.sampled_from(sorted(admin.NUMBER_FIELDS)), st.text(max_size=60) | st.sampled_from(
    ["1e30", "-1", "NaN", "inf", "$5", "0x10", "1_000", "٣", "1e-400", "9" * 40, "  7 ", "none"]))
def test_admin_numbers_are_a_bounded_value_or_a_worded_error(field, text):
    try:
        value = admin.parse_number(field, text)
    except AdminInputError as exc:
        assert str(exc)
        return
    if value is not None:
        number = Decimal(value)
        assert 0 <= number <= admin.MAX_VALUES[field]


@FAST
@given(st.sampled_from(sorted(admin.LIST_FIELDS)), st.text(max_size=60))
@example("allowed_seconds", "¹")  # found by hypothesis: isdigit() but not int()
@example("allowed_seconds", "4,٨")
def test_admin_lists_are_allowed_values_or_a_worded_error(field, text):
    allowed = {"allowed_models": ["sora-2", "sora-2-pro"], "allowed_sizes": ["1280x720", "720x1280"],
               "allowed_seconds": [4, 8, 12]}[field]
    try:
        value = admin.parse_list(field, text, allowed)
    except AdminInputError:
        return
    assert value is None or all(v in allowed for v in value)


MOMENT = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
OPTIONAL_INT = st.none() | st.integers(min_value=0, max_value=10**6)
LIMITS = st.builds(
    quota.Limits, user_videos_per_day=OPTIONAL_INT, user_seconds_per_day=OPTIONAL_INT,
    guild_seconds_per_month=OPTIONAL_INT,
    guild_usd_per_month=st.none() | st.decimals(min_value=0, max_value=10**6, places=2),
    user_concurrent=OPTIONAL_INT, guild_concurrent=OPTIONAL_INT,
    user_cooldown_seconds=st.none() | st.integers(min_value=0, max_value=admin.MAX_VALUES["user_cooldown_seconds"]),
    allowed_models=st.none() | st.frozensets(st.sampled_from(["sora-2", "sora-2-pro"])),
    max_seconds=OPTIONAL_INT)
ENTRIES = st.lists(st.tuples(MOMENT, st.floats(min_value=0, max_value=1e4),
                             st.decimals(min_value=0, max_value=1000, places=2)), max_size=8)
USAGE = st.builds(quota.Usage, user_entries=ENTRIES.map(tuple), guild_month_seconds=st.floats(0, 1e7),
                  guild_month_usd=st.decimals(min_value=0, max_value=10**6, places=2),
                  user_active_jobs=st.integers(0, 50), guild_active_jobs=st.integers(0, 500),
                  user_last_submission=st.none() | MOMENT,
                  bot_month_usd=st.decimals(min_value=0, max_value=10**6, places=2))
REQUEST = st.builds(quota.Request, model=st.sampled_from(["sora-2", "sora-2-pro", "sora-9"]),
                    size=st.sampled_from(["1280x720", "1792x1024"]), seconds=st.integers(1, 60))


@FAST
@given(REQUEST, LIMITS, USAGE, MOMENT, st.booleans(),
       st.none() | st.decimals(min_value=0, max_value=10**6, places=2))
def test_decide_always_decides_and_respects_the_bot_ceiling(request, limits, usage, now, bypass, bot_budget):
    decision = quota.decide(request, limits, usage, now, prices={"sora-2": "0.10", "sora-2-pro": "0.30"},
                            bypass=bypass, bot_budget=bot_budget)
    assert isinstance(decision, quota.Decision) and isinstance(decision.message, str)
    if decision.allowed:
        assert decision.seconds == request.seconds
        if bot_budget is not None:
            assert decision.usd is not None and usage.bot_month_usd + decision.usd <= bot_budget
    else:
        assert decision.reason is not None and decision.message
        assert decision.resets_at is None or decision.resets_at >= now - timedelta(days=1)


@FAST
@given(LIMITS, USAGE, MOMENT)
def test_summarize_never_shows_negative_room(limits, usage, now):
    summary = quota.summarize(limits, usage, now, prices={"sora-2": "0.10"},
                              typical=quota.Request("sora-2", "1280x720", 4))
    for window in summary.windows:
        assert window.left is None or window.left >= 0
    assert quota.render_summary(summary)


@FAST
@given(st.floats(min_value=0, max_value=1e6), st.none() | st.floats(allow_nan=True, allow_infinity=True),
       st.decimals(min_value=0, max_value=10**6, places=4))
def test_settlement_never_charges_more_than_reserved(reserved_seconds, actual, reserved_usd):
    seconds = pricing.settle_amount(reserved_seconds, actual)
    usd = pricing.settle_cost(reserved_usd, reserved_seconds, actual)
    assert 0 <= usd <= reserved_usd
    assert seconds <= reserved_seconds or seconds != seconds
