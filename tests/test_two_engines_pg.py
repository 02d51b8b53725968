"""Two job engines (two "processes") on one PostgreSQL database and one provider: a job accepted on
one wakes the other's poller at once (LISTEN/NOTIFY), so a process whose own loop is busy or gone
does not leave new work waiting for a neighbour's 30-second idle timer; a webhook nudge wakes the
neighbours too. Every job is delivered once, by one of them. Eight members' requests racing for
one member's last video of the day across the two engines: exactly one is accepted."""

from __future__ import annotations

import asyncio
import time

from bot.sandbox.recording import member
from bot.sora.simulated import SimulatedProvider
from tests.engine_harness import Harness, make_settings
from tests.pgtools import fresh_database


async def _settle(h: Harness) -> None:
    """Let the poller finish start-up and fall asleep on its idle timer (no work yet)."""
    for _ in range(100):
        if h.poller.turns >= 1:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)


async def test_a_job_accepted_on_one_process_wakes_the_other(tmp_path):
    async with fresh_database() as url:
        settings = make_settings(tmp_path, DATABASE_URL=url)
        provider = SimulatedProvider(settings.data_dir / "sim", render_seconds=0.2)
        async with Harness(settings, provider, owner="a") as a, Harness(settings, provider, owner="b") as b:
            await _settle(b)
            await a.poller.stop(grace=0)  # a takes the request but its loop is gone: only b can work it
            before = b.poller.wakeups_received
            started = time.monotonic()
            outcome = await a.service.request_video(member(), prompt="wake the neighbour")
            done = await b.wait_for(outcome.job.id, "delivered", timeout=15)
            took = time.monotonic() - started
            assert b.poller.wakeups_received > before
            assert took < 10, f"b waited {took:.1f} s: it slept on its idle timer instead of being woken"
            assert [r.job_id for r in b.publisher.results] == [done.id] and a.publisher.results == []
            assert len(await provider.list()) == 1  # one upstream create, whoever admitted it


async def test_a_webhook_nudge_on_one_process_wakes_the_others(tmp_path):
    async with fresh_database() as url:
        settings = make_settings(tmp_path, DATABASE_URL=url)
        provider = SimulatedProvider(settings.data_dir / "sim", render_seconds=0.2)
        async with Harness(settings, provider, owner="a") as a, Harness(settings, provider, owner="b") as b:
            await _settle(b)
            before = b.poller.wakeups_received
            a.poller.nudge(12345)  # the receiver on a verified a delivery for some job
            for _ in range(100):
                if b.poller.wakeups_received > before:
                    break
                await asyncio.sleep(0.02)
            assert b.poller.wakeups_received > before


async def test_eight_requests_for_the_last_unit_across_two_engines_one_wins(tmp_path):
    async with fresh_database() as url:
        settings = make_settings(tmp_path, DATABASE_URL=url, QUOTA_USER_VIDEOS_PER_DAY="1")
        provider = SimulatedProvider(settings.data_dir / "sim", render_seconds=0.2)
        async with Harness(settings, provider, owner="a") as a, Harness(settings, provider, owner="b") as b:
            outcomes = await asyncio.gather(*(h.service.request_video(member(user_id=7), prompt=f"race {i}")
                                              for i in range(4) for h in (a, b)))
            accepted = [o for o in outcomes if o.job is not None]
            assert len(accepted) == 1, [o.message for o in outcomes]
            assert all(o.refusal for o in outcomes if o.job is None)
            done = await a.wait_for(accepted[0].job.id, "delivered", timeout=20)
            assert len(await provider.list()) == 1
            assert len(a.publisher.results) + len(b.publisher.results) == 1
            assert (await a.repo.ledger_entry(done.id))["status"] == "settled"
