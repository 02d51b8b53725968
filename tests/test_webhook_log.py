"""db/webhooks.py on a real SQLite file and a real PostgreSQL database: a delivery key is acted on
once, only a waiting job is made due, keys are pruned by age, and Repository.mark_due never moves a job's state."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.jobs import JobState
from bot.domain.records import NewJob
from db.database import open_store
from db.repository import Repository
from db.webhooks import WebhookLog

NOW = 1_800_000_000.0


@pytest.fixture
async def repo(store_url):
    db = await open_store(store_url)
    yield Repository(db, clock=lambda: NOW)
    await db.close()


async def job_in(repo: Repository, state: JobState, key: str = "k"):
    job, _ = await repo.create_job(
        NewJob(guild_id=10, channel_id=100, user_id=1, kind="generate", prompt="a cat", model="sora-2",
               size="1280x720", seconds=4, provider="openai", idempotency_key=key),
        decide=lambda usage: True, allowed=bool, reserve_seconds=4, reserve_usd=0.4, month_start=NOW - 86400)
    path = {JobState.QUEUED: [JobState.SUBMITTING, JobState.QUEUED],
            JobState.DELIVERING: [JobState.SUBMITTING, JobState.QUEUED, JobState.COMPLETED, JobState.DOWNLOADING,
                                  JobState.DELIVERING]}[state]
    current = JobState.REQUESTED
    for step in path:
        job = await repo.transition(job.id, current, step, provider_id=f"video_{key}", next_poll_at=NOW + 500)
        current = step
    return job


async def test_a_key_is_acted_on_once_and_makes_a_waiting_job_due(repo):
    log = WebhookLog(repo)
    job = await job_in(repo, JobState.QUEUED)
    assert await log.accept("openai:wh_1", source="openai", job_id=job.id, now=NOW + 1)
    assert (await repo.get_job(job.id)).next_poll_at == NOW + 1
    await repo.update(job.id, next_poll_at=NOW + 500)
    assert not await log.accept("openai:wh_1", source="openai", job_id=job.id, now=NOW + 2)
    assert (await repo.get_job(job.id)).next_poll_at == NOW + 500, "a replay changes nothing"
    assert await log.seen("openai:wh_1") and not await log.seen("openai:wh_2")


async def test_concurrent_replays_only_one_wins(repo):
    log = WebhookLog(repo)
    job = await job_in(repo, JobState.QUEUED)
    results = await asyncio.gather(*(log.accept("k", source="openai", job_id=job.id, now=NOW) for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]


async def test_a_job_past_waiting_is_recorded_but_not_touched(repo):
    log = WebhookLog(repo)
    job = await job_in(repo, JobState.DELIVERING)
    assert await log.accept("openai:late", source="openai", job_id=job.id, now=NOW + 1)
    after = await repo.get_job(job.id)
    assert after.state is JobState.DELIVERING and after.next_poll_at == NOW + 500
    assert not await repo.mark_due(job.id, NOW + 1)
    queued = await job_in(repo, JobState.QUEUED, key="q")
    assert await repo.mark_due(queued.id, NOW + 3)
    again = await repo.get_job(queued.id)
    assert again.state is JobState.QUEUED and again.next_poll_at == NOW + 3


async def test_old_keys_are_pruned(repo):
    log = WebhookLog(repo)
    job = await job_in(repo, JobState.QUEUED)
    await log.accept("old", source="openai", job_id=job.id, now=NOW - 10 * 86400)
    await log.accept("new", source="openai", job_id=job.id, now=NOW)
    assert await log.prune(NOW - 7 * 86400) == 1
    assert not await log.seen("old") and await log.seen("new")
