"""The retry policy: a pure object that looks at one attempt's outcome and returns a decision.

Modelled on openai-python: retry 408/409/429/5xx and connection failures, back off `0.5·2ⁿ` seconds
capped at `max_delay`, minus up to 25 % jitter, and honour `retry-after-ms` / `Retry-After` (seconds
or an HTTP date) when the server sends one.

One rule comes first: a request that creates something (a create, a remix) is never replayed when it
may already have reached the provider, because that would pay for two videos. Such a request is
retried only when it certainly did not arrive (connection refused, 429, 408) or when it carries an
idempotency key; a timeout, a broken connection or a 5xx after sending gives `UNKNOWN_OUTCOME`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

from bot.backoff import backoff


class Failure(StrEnum):
    """An attempt that produced no HTTP response."""

    CONNECT = "connect"  # never reached the server: refused, DNS, TLS, connect timeout
    TIMEOUT = "timeout"  # sent (perhaps only partly); no complete answer in time
    BROKEN = "broken"  # the connection broke after the request was sent


class Action(StrEnum):
    ACCEPT = "accept"  # hand the response to the caller: a success, or an HTTP error not worth repeating
    RETRY = "retry"  # wait `delay` seconds and send again
    GIVE_UP = "give_up"  # retries spent, or the wait asked for is too long: RateLimited / ProviderUnavailable
    UNKNOWN_OUTCOME = "unknown_outcome"  # the request may have taken effect; must not be sent again


@dataclass(frozen=True)
class Decision:
    action: Action
    delay: float = 0.0
    retry_after: float | None = None  # what the server asked for, in seconds, when it said


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:  # plain dicts are case-sensitive; httpx.Headers is not
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _non_negative_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_retry_after(headers: Mapping[str, str] | None, now: datetime | None = None) -> float | None:
    """Seconds the server asks us to wait: `retry-after-ms`, else `Retry-After` as seconds or an
    HTTP date (a date in the past means 0). None when absent or unreadable."""
    millis = _non_negative_float(_header(headers, "retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    raw = _header(headers, "retry-after")
    seconds = _non_negative_float(raw)
    if seconds is not None or raw is None:
        return seconds
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def poll_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The provider's polling hint (`openai-poll-after-ms`), in seconds."""
    millis = _non_negative_float(_header(headers, "openai-poll-after-ms"))
    return None if millis is None else millis / 1000.0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4  # attempts in all, the first included
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25  # the backoff is shortened by up to this fraction, at random
    max_retry_after: float = 60.0  # a longer Retry-After is not slept through: give up and report it
    rng: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based) when the server named none."""
        delay = backoff(attempt - 1, base=self.base_delay, cap=self.max_delay)
        return delay * (1.0 - self.jitter * self.rng())

    def decide(
        self,
        attempt: int,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        failure: Failure | None = None,
        replay_safe: bool = True,
        now: datetime | None = None,
    ) -> Decision:
        """What to do after attempt number `attempt` (1-based) ended with HTTP `status` or `failure`.

        `replay_safe`: sending the request twice cannot do anything twice (a GET, a DELETE, or a
        create that carries an idempotency key the provider honours)."""
        if (status is None) == (failure is None):
            raise ValueError("give exactly one of status and failure")
        retry_after = None
        if failure is not None:
            if failure is not Failure.CONNECT and not replay_safe:
                return Decision(Action.UNKNOWN_OUTCOME)
        else:
            assert status is not None
            if status < 400 or (400 <= status < 500 and status not in (408, 409, 429)):
                return Decision(Action.ACCEPT)
            if not replay_safe and status == 409:
                return Decision(Action.ACCEPT)  # a conflict answer: nothing was created, report it
            if not replay_safe and status >= 500:
                return Decision(Action.UNKNOWN_OUTCOME)
            retry_after = parse_retry_after(headers, now)
        if attempt >= self.max_attempts:
            return Decision(Action.GIVE_UP, retry_after=retry_after)
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return Decision(Action.GIVE_UP, retry_after=retry_after)
            return Decision(Action.RETRY, delay=retry_after, retry_after=retry_after)
        return Decision(Action.RETRY, delay=self.backoff(attempt))
