"""The retry policy, branch by branch: plain calls, plain asserts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.sora.retry import Action, Decision, Failure, RetryPolicy, parse_retry_after, poll_after_seconds

NO_JITTER = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=8.0, rng=lambda: 0.0)
NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


# --- what is accepted as it is ----------------------------------------------------------------------

@pytest.mark.parametrize("status", [200, 201, 204, 301, 400, 401, 403, 404, 410, 413, 422])
@pytest.mark.parametrize("replay_safe", [True, False])
def test_successes_and_final_client_errors_are_accepted(status, replay_safe):
    assert NO_JITTER.decide(1, status=status, replay_safe=replay_safe) == Decision(Action.ACCEPT)


# --- what is retried ----------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried_when_replay_is_safe(status):
    assert NO_JITTER.decide(1, status=status).action is Action.RETRY


@pytest.mark.parametrize("failure", list(Failure))
def test_transport_failures_are_retried_when_replay_is_safe(failure):
    assert NO_JITTER.decide(1, failure=failure) == Decision(Action.RETRY, delay=0.5)


@pytest.mark.parametrize("status", [429, 408])
def test_answers_that_prove_nothing_was_done_are_retried_even_for_a_create(status):
    assert NO_JITTER.decide(1, status=status, replay_safe=False).action is Action.RETRY


def test_a_refused_connection_is_retried_even_for_a_create():
    assert NO_JITTER.decide(1, failure=Failure.CONNECT, replay_safe=False).action is Action.RETRY


# --- what must never be resent --------------------------------------------------------------------

@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_after_sending_a_create_is_an_unknown_outcome(status):
    assert NO_JITTER.decide(1, status=status, replay_safe=False) == Decision(Action.UNKNOWN_OUTCOME)


@pytest.mark.parametrize("failure", [Failure.TIMEOUT, Failure.BROKEN])
def test_timeout_or_broken_connection_after_sending_a_create_is_an_unknown_outcome(failure):
    assert NO_JITTER.decide(1, failure=failure, replay_safe=False) == Decision(Action.UNKNOWN_OUTCOME)


def test_unknown_outcome_wins_even_on_the_last_attempt():
    assert NO_JITTER.decide(4, status=500, replay_safe=False).action is Action.UNKNOWN_OUTCOME


def test_409_on_a_create_is_reported_not_resent():
    assert NO_JITTER.decide(1, status=409, replay_safe=False) == Decision(Action.ACCEPT)


# --- backoff ------------------------------------------------------------------------------------------

def test_backoff_doubles_from_half_a_second_and_is_capped():
    assert [NO_JITTER.backoff(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_jitter_shortens_by_at_most_a_quarter():
    assert RetryPolicy(rng=lambda: 1.0).backoff(1) == pytest.approx(0.375)
    assert RetryPolicy(rng=lambda: 0.5).backoff(3) == pytest.approx(2.0 * 0.875)
    policy = RetryPolicy()  # the real random source
    assert all(0.375 <= policy.backoff(1) <= 0.5 for _ in range(200))


def test_retry_delay_is_the_backoff_of_the_attempt():
    assert NO_JITTER.decide(3, status=503).delay == 2.0


# --- the server's own wait --------------------------------------------------------------------------

def test_retry_after_seconds_is_honoured():
    assert NO_JITTER.decide(1, status=429, headers={"Retry-After": "3"}) == Decision(
        Action.RETRY, delay=3.0, retry_after=3.0)


def test_retry_after_http_date_is_honoured():
    headers = {"retry-after": format_datetime(NOW + timedelta(seconds=20), usegmt=True)}
    decision = NO_JITTER.decide(1, status=503, headers=headers, now=NOW)
    assert decision == Decision(Action.RETRY, delay=20.0, retry_after=20.0)


def test_retry_after_ms_is_preferred():
    headers = {"retry-after-ms": "1500", "Retry-After": "9"}
    assert NO_JITTER.decide(1, status=429, headers=headers).delay == 1.5


def test_a_retry_after_longer_than_the_cap_gives_up_at_once_and_says_how_long():
    policy = RetryPolicy(max_retry_after=60.0)
    assert policy.decide(1, status=429, headers={"Retry-After": "120"}) == Decision(
        Action.GIVE_UP, retry_after=120.0)


def test_unreadable_retry_after_falls_back_to_backoff():
    assert NO_JITTER.decide(2, status=429, headers={"Retry-After": "soon"}) == Decision(Action.RETRY, delay=1.0)


# --- giving up ------------------------------------------------------------------------------------

def test_exhausted_429_gives_up_with_the_last_retry_after():
    assert NO_JITTER.decide(4, status=429, headers={"Retry-After": "2"}) == Decision(
        Action.GIVE_UP, retry_after=2.0)


@pytest.mark.parametrize("outcome", [{"status": 503}, {"failure": Failure.TIMEOUT}, {"failure": Failure.CONNECT}])
def test_exhausted_transient_errors_give_up(outcome):
    assert NO_JITTER.decide(4, **outcome) == Decision(Action.GIVE_UP)


def test_a_single_attempt_policy_never_retries():
    assert RetryPolicy(max_attempts=1).decide(1, status=503).action is Action.GIVE_UP


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        NO_JITTER.decide(1)
    with pytest.raises(ValueError):
        NO_JITTER.decide(1, status=500, failure=Failure.TIMEOUT)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.5)


# --- header parsing -------------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "expected"), [
    (None, None),
    ({}, None),
    ({"Retry-After": "0"}, 0.0),
    ({"Retry-After": "2.5"}, 2.5),
    ({"RETRY-AFTER": "4"}, 4.0),
    ({"Retry-After": "-3"}, None),
    ({"Retry-After": "nan"}, None),
    ({"Retry-After": "inf"}, None),
    ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # in the past: now
    ({"Retry-After": "not a date"}, None),
    ({"retry-after-ms": "250"}, 0.25),
    ({"retry-after-ms": "x", "Retry-After": "1"}, 1.0),
])
def test_parse_retry_after(headers, expected):
    assert parse_retry_after(headers, NOW) == expected


@pytest.mark.parametrize(("headers", "expected"), [
    ({"openai-poll-after-ms": "2000"}, 2.0),
    ({"OpenAI-Poll-After-Ms": "750"}, 0.75),
    ({"openai-poll-after-ms": "soon"}, None),
    ({}, None),
    (None, None),
])
def test_poll_after_seconds(headers, expected):
    assert poll_after_seconds(headers) == expected


def test_the_one_backoff_doubles_from_its_base_up_to_its_cap():
    from bot.backoff import backoff

    assert [backoff(n, base=5.0, cap=300.0) for n in range(8)] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert backoff(-3, base=2.0, cap=60.0) == 2.0  # no attempt yet: the base
    assert backoff(10_000, base=0.5, cap=30.0) == 30.0  # no overflow however long it has failed
