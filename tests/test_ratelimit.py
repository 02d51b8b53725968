"""The token bucket, driven by a virtual clock (and once by the real event loop)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time

import pytest

from bot.engine.ratelimit import TokenBucket


class VirtualTime:
    """A clock plus a sleep that only returns when `run` moves time forward to its wake-up."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), future))
        await future

    async def run(self, until: float | None = None) -> None:
        """Let every task run until it sleeps, wake the earliest sleeper, repeat."""
        while True:
            for _ in range(10):
                await asyncio.sleep(0)
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # cancelled
            if not self._sleepers or (until is not None and self._sleepers[0][0] > until):
                if until is not None:
                    self.now = max(self.now, until)
                return
            wake, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            future.set_result(None)


async def test_the_burst_is_spent_at_once_then_refills_at_the_rate():
    vt = VirtualTime()
    bucket = TokenBucket(2.0, burst=3, clock=vt.clock, sleep=vt.sleep)
    assert [await bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]  # no wait for the burst
    assert bucket.delay_until_available() == pytest.approx(0.5)  # the fourth would wait
    vt.now = 0.25
    assert bucket.delay_until_available() == pytest.approx(0.25)
    vt.now = 0.5
    assert await bucket.acquire() == 0.0 and bucket.delay_until_available() > 0
    vt.now = 100.0  # a long idle time refills only up to the burst
    assert bucket.tokens == pytest.approx(3)
    assert bucket.delay_until_available(3) == 0 and bucket.delay_until_available(4) == pytest.approx(0.5)


async def test_waiters_are_served_in_arrival_order_at_the_rate():
    vt = VirtualTime()
    bucket = TokenBucket(2.0, burst=1, clock=vt.clock, sleep=vt.sleep)
    served: list[tuple[int, float]] = []

    async def worker(n: int) -> None:
        await bucket.acquire()
        served.append((n, vt.now))

    tasks = [asyncio.create_task(worker(n)) for n in range(5)]
    await vt.run()
    await asyncio.gather(*tasks)
    assert [n for n, _ in served] == list(range(5))
    assert [t for _, t in served] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    assert bucket.delay_until_available() > 0  # the last token went at t=2.0


async def test_a_cancelled_waiter_gives_its_token_back():
    vt = VirtualTime()
    bucket = TokenBucket(1.0, burst=1, clock=vt.clock, sleep=vt.sleep)
    assert await bucket.acquire() == 0.0
    waiter = asyncio.create_task(bucket.acquire())
    await vt.run(until=0.1)
    assert bucket.tokens == pytest.approx(-0.9)  # on credit
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert bucket.tokens == pytest.approx(0.1)
    vt.now = 1.0
    assert bucket.delay_until_available() == 0


def test_invalid_arguments():
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(1.0, burst=0.5)


async def test_acquire_more_than_the_burst_is_refused():
    with pytest.raises(ValueError):
        await TokenBucket(1.0, burst=2).acquire(3)


async def test_real_clock_paces_requests():
    bucket = TokenBucket(100.0, burst=1)  # time.monotonic and asyncio.sleep
    started = time.monotonic()
    await asyncio.gather(*(bucket.acquire() for _ in range(6)))
    elapsed = time.monotonic() - started
    assert 0.049 <= elapsed < 2.0
