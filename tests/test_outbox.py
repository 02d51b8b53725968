"""The per-channel outbox: newest text only, results before edits, edits within the budget, and a
step that queues an edit never waits for it."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

from multidict import CIMultiDict

from bot.engine.jobs import JobState
from bot.engine.outbox import EDIT, POST, BucketState, ChannelOutbox
from cogs.ratelimits import RateLimits
from db.database import open_store
from db.repository import NewJob, Repository
from tests.engine_harness import RecordingPublisher
from tests.pgtools import database_url


class SlowPublisher(RecordingPublisher):
    """Each edit takes `delay` s, like a Discord that is far away; records the order of work."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.order: list[str] = []
        self.buckets: dict[tuple[int, str], BucketState] = {}

    async def publish_progress(self, job, text):
        await asyncio.sleep(self.delay)
        self.order.append(f"status {job.id}: {text}")
        bucket = self.buckets.get((job.channel_id, EDIT))
        if bucket is not None and job.status_message_id:  # what Discord's headers would say next
            now = asyncio.get_running_loop().time()
            bucket = (dataclasses.replace(bucket, remaining=bucket.remaining - 1) if now < bucket.reset_at
                      else BucketState(bucket.limit, bucket.limit - 1, now + 0.3))
            self.buckets[(job.channel_id, EDIT)] = bucket
        return await super().publish_progress(job, text)

    async def publish_result(self, job, video: Path, caption: str) -> int:
        self.order.append(f"result {job.id}")
        return 1

    def rate_limit(self, channel_id: int, lane: str) -> BucketState | None:
        return self.buckets.get((channel_id, lane))


async def _jobs(tmp_path, count: int):
    conn = await open_store(database_url(tmp_path))
    repo = Repository(conn)
    jobs = []
    for i in range(count):
        job, _ = await repo.create_job(
            NewJob(guild_id=1, channel_id=2, user_id=3 + i, kind="generate", prompt="p", model="sora-2",
                   size="1280x720", seconds=4, provider="simulated", idempotency_key=f"k{i}"),
            decide=lambda usage: True, allowed=bool, reserve_seconds=4, reserve_usd=0.4, month_start=0)
        jobs.append(job)
    return conn, repo, jobs


async def test_offering_never_waits_and_only_the_newest_text_is_sent(tmp_path):
    conn, repo, [job] = await _jobs(tmp_path, 1)
    publisher = SlowPublisher(delay=0.2)
    outbox = ChannelOutbox(publisher, repo, clock=time.time)
    job = dataclasses.replace(job, status_message_id=77)
    started = time.perf_counter()
    for pct in range(10, 60, 10):
        outbox.offer_status(job, f"{pct}%")
    assert time.perf_counter() - started < 0.05  # the caller did not wait for Discord
    await outbox.drain()
    sent = [p.text for p in publisher.progress]
    assert sent == ["50%"]  # 10–40 % were superseded before the channel's turn came: never sent
    assert (await repo.get_job(job.id)).progress_text == "50%"
    outbox.offer_status(job, "60%")
    await asyncio.sleep(0.05)
    outbox.offer_status(job, "70%")  # while 60 % is in flight: kept, sent after it
    await outbox.drain()
    assert [p.text for p in publisher.progress] == ["50%", "60%", "70%"]
    await conn.close()


async def test_results_go_before_refreshes_and_edits_stay_within_the_learned_budget(tmp_path):
    conn, repo, jobs = await _jobs(tmp_path, 6)
    publisher = SlowPublisher()
    loop = asyncio.get_running_loop()
    # Discord said: 5 per window, 2 left, the window resets in 0.3 s
    publisher.buckets[(2, EDIT)] = BucketState(limit=5, remaining=2, reset_at=loop.time() + 0.3)
    outbox = ChannelOutbox(publisher, repo, clock=time.time, margin=0.0)
    live = [dataclasses.replace(j, status_message_id=100 + j.id, state=JobState.RUNNING) for j in jobs]
    for job in live:
        outbox.offer_status(job, "refresh")
    result = asyncio.create_task(outbox.call(live[0], lambda: publisher.publish_result(live[0], Path("x"), "c")))
    await asyncio.sleep(0.1)
    assert result.done() and f"result {live[0].id}" in publisher.order  # posts do not queue behind edits
    # one refresh went (2 left → 1 kept back for an urgent edit); the rest wait for the reset
    assert len(publisher.progress) == 1
    done = dataclasses.replace(live[5], state=JobState.DELIVERED)
    outbox.offer_status(done, "Done", urgent=True)
    await asyncio.sleep(0.05)
    assert publisher.progress[-1].text == "Done"  # the urgent edit took the last token
    assert len(publisher.progress) == 2
    await outbox.drain()
    assert len(publisher.progress) == 6  # after the reset the remaining refreshes went
    await conn.close()


async def test_default_budget_without_headers(tmp_path):
    conn, repo, jobs = await _jobs(tmp_path, 8)
    publisher = RecordingPublisher()
    outbox = ChannelOutbox(publisher, repo, clock=time.time, default_limit=4, default_window=0.4)
    for job in jobs:
        outbox.offer_status(dataclasses.replace(job, status_message_id=200 + job.id), "refresh")
    await asyncio.sleep(0.15)
    assert len(publisher.progress) == 3  # 4 per window, one kept for urgent edits
    await outbox.drain()
    assert len(publisher.progress) == 8
    await conn.close()


async def test_rate_limits_are_learned_from_discord_headers():
    limits = RateLimits()
    headers = CIMultiDict({"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset-After": "4.5"})
    limits.observe("PATCH", "/api/v10/channels/42/messages/9", 200, headers)
    limits.observe("POST", "/api/v10/channels/42/messages", 200, CIMultiDict({**headers, "X-RateLimit-Remaining": "1"}))
    edit, post = limits.get(42, EDIT), limits.get(42, POST)
    assert (edit.limit, edit.remaining, post.remaining) == (5, 3, 1)
    assert 4.0 < edit.reset_at - asyncio.get_running_loop().time() <= 4.5
    limits.observe("PATCH", "/api/v10/channels/42/messages/9", 429, headers)
    assert limits.get(42, EDIT).remaining == 0 and limits.refused == {"PATCH edit": 1}
    limits.observe("PATCH", "/api/v10/channels/43/messages/9", 200, CIMultiDict())  # no headers: nothing learned
    assert limits.get(43, EDIT) is None
