"""A token bucket: the per-provider request-rate cap every upstream call goes through.

`rate_per_s` tokens flow in per second up to `burst`; a request takes one. `delay_until_available`
says how long a token is away, and `acquire` waits for one. Waiters take their token on credit (the
balance may go negative), so each waits its own turn in arrival order instead of all waking at once.
A 429 is not handled here: the engine reschedules the job (see bot/engine/poller.py).

The clock and the sleep are injected, so tests drive time by hand.

Usage sketch (the engine's, `EngineContext.rate`)::

    bucket = TokenBucket(config.requests_per_second, config.burst)
    await bucket.acquire()                  # before each upstream request
    video = await provider.retrieve(video_id)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)


class RateCap(Protocol):
    """What the engine needs of a request-rate cap: `TokenBucket` (one process) or
    `bot.engine.shared_rate.SharedRateCap` (several processes sharing PostgreSQL)."""

    async def acquire(self, tokens: float = 1.0) -> float:
        """Take `tokens`, waiting as long as needed; returns the seconds waited."""
        ...


class TokenBucket:
    def __init__(
        self,
        rate_per_s: float,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = float(rate_per_s)
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._updated = clock()

    def _refill(self) -> float:
        now = self._clock()
        if now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = max(self._updated, now)
        return now

    @property
    def tokens(self) -> float:
        """The current balance (negative while waiters hold tokens on credit)."""
        self._refill()
        return self._tokens

    def delay_until_available(self, tokens: float = 1.0) -> float:
        """Seconds until `tokens` could be taken without waiting (0 when they can now)."""
        self._refill()
        missing = tokens - self._tokens
        return max(0.0, missing / self.rate)

    async def acquire(self, tokens: float = 1.0) -> float:
        """Take `tokens`, waiting as long as needed; returns the seconds waited (by the clock)."""
        if tokens > self.burst:
            raise ValueError("cannot take more tokens than the burst size")
        wait = self.delay_until_available(tokens)
        self._tokens -= tokens  # on credit: later callers queue up behind this one
        if wait <= 0:
            return 0.0
        started = self._clock()
        try:
            await self._sleep(wait)
        except BaseException:
            self._tokens += tokens  # cancelled: give the token back
            raise
        return self._clock() - started
