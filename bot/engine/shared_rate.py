"""The provider request-rate cap shared by every process on one PostgreSQL database.

Same interface as `TokenBucket` (`acquire`, `hold`), but the state is one row per provider in the
database (`provider_rate`), advanced by a single atomic statement per request: a GCRA ("generic cell
rate algorithm") theoretical arrival time. Each request moves it on by 1/rate and waits until it is
no more than `burst` intervals ahead of now, so N processes together send at most `rate` requests per
second (plus the burst), in arrival order, with no coordinator. Clocks are the wall clock: keep the
hosts on NTP (a skew of a second shifts the cap by that much, nothing worse).

A caller cancelled while waiting does not give its slot back (the next caller waits a little
longer than needed: harmless, never over the cap).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot.domain.store import JobStore

log = logging.getLogger(__name__)


class SharedRateCap:
    def __init__(self, repo: JobStore, provider: str, rate_per_s: float, burst: float = 1.0, *,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.repo = repo
        self.provider = provider
        self.rate = float(rate_per_s)
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep

    async def acquire(self, tokens: float = 1.0) -> float:
        """Take a request slot, waiting as long as every process's earlier requests need; returns the
        seconds waited."""
        interval = tokens / self.rate
        now = self._clock()
        tat = await self.repo.take_rate_slot(self.provider, now, interval)
        wait = tat - self.burst / self.rate - now
        if wait <= 0:
            return 0.0
        await self._sleep(wait)
        return wait

    async def hold(self, seconds: float) -> None:
        """No request from any process for `seconds` (the provider's Retry-After on a 429)."""
        now = self._clock()
        await self.repo.hold_rate(self.provider, now + seconds + (self.burst - 1) / self.rate)
        log.info("shared rate limit hold for %.1f s", seconds)
