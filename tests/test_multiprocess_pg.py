"""Several processes, one PostgreSQL queue, through two independent repositories (each its own
connection pool, as two bot processes would have): SKIP LOCKED claims never hand one job to both,
a lease lapses so the other takes over, a restart frees only its own leases, the last unit of quota
goes to exactly one of eight racing requests, one process admits at a time, and the provider's
request-rate cap is shared."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.jobs import JobState
from bot.domain.records import NewJob, UsageRows
from bot.engine.shared_rate import SharedRateCap
from db.database import open_store
from db.repository import Repository
from tests.pgtools import fresh_database

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def two():
    """Two repositories on one fresh database, as processes "a" and "b"."""
    async with fresh_database() as url:
        clock = Clock()
        dbs = [await open_store(url), await open_store(url)]
        try:
            yield [Repository(db, clock=clock, owner=name) for db, name in zip(dbs, "ab", strict=True)]
        finally:
            for db in dbs:
                await db.close()


def new_job(prompt: str, user: int = 1, guild: int = 10) -> NewJob:
    return NewJob(guild_id=guild, channel_id=100, user_id=user, kind="generate", prompt=prompt, model="sora-2",
                  size="1280x720", seconds=4, provider="openai", idempotency_key=f"k-{prompt}")


async def create(repo: Repository, job: NewJob, decide=lambda usage: True):
    return await repo.create_job(job, decide=decide, allowed=bool, reserve_seconds=4, reserve_usd=0.4,
                                 month_start=NOW - 86400)


async def queued(repo: Repository, n: int) -> list[int]:
    ids = []
    for i in range(n):
        job, _ = await create(repo, new_job(f"p{i}", user=i))
        await repo.claim_requested(job.id, NOW)
        await repo.transition(job.id, JobState.SUBMITTING, JobState.QUEUED, provider_id=f"video_{i}",
                              next_poll_at=NOW, claimed_until=None)
        ids.append(job.id)
    return ids


async def test_concurrent_claims_never_hand_one_job_to_both(two):
    a, b = two
    ids = await queued(a, 60)
    claims = await asyncio.gather(*(r.claim_due(NOW, limit=7, lease=60) for _ in range(6) for r in (a, b)))
    got = [j.id for claim in claims for j in claim]
    assert len(got) == len(set(got)) == 60 and set(got) == set(ids)
    owners = {j.id: j.claimed_by for claim in claims for j in claim}
    assert set(owners.values()) <= {"a", "b"}


async def test_a_lapsed_lease_lets_the_other_process_take_the_job(two):
    a, b = two
    [job_id] = await queued(a, 1)
    assert [j.id for j in await a.claim_due(NOW, limit=5, lease=30)] == [job_id]
    assert await b.claim_due(NOW + 29, limit=5, lease=30) == []  # a still holds it
    assert await b.release_leases() == 0  # b restarting frees nothing of a's
    taken = await b.claim_due(NOW + 31, limit=5, lease=30)  # a died: its lease lapsed
    assert [j.id for j in taken] == [job_id] and taken[0].claimed_by == "b"
    assert await b.release_leases() == 1  # b restarting under its name takes its own back at once
    assert (await a.get_job(job_id)).claimed_until is None


async def test_start_up_recovery_touches_only_unleased_lapsed_or_own_submissions(two):
    a, b = two
    job, _ = await create(a, new_job("x"))
    await a.claim_requested(job.id, NOW, lease=60)  # a is submitting it now
    assert await b.lapsed_in_states([JobState.SUBMITTING], NOW + 1, include_own=True) == []
    assert [j.id for j in await a.lapsed_in_states([JobState.SUBMITTING], NOW + 1, include_own=True)] == [job.id]
    assert await a.lapsed_in_states([JobState.SUBMITTING], NOW + 1, include_own=False) == []
    lapsed = await b.lapsed_in_states([JobState.SUBMITTING], NOW + 61, include_own=False)
    assert [j.id for j in lapsed] == [job.id]


async def test_eight_requests_across_two_processes_for_the_last_unit_one_wins(two):
    a, b = two

    def one_per_day(usage: UsageRows) -> bool:
        return len(usage.user_entries_24h) < 1

    results = await asyncio.gather(*(create(repo, new_job(f"race{i}"), decide=one_per_day)
                                     for i in range(4) for repo in (a, b)))
    assert sum(job is not None for job, _ in results) == 1
    assert sum((await b.count_by_state()).values()) == 1
    rows = await a._all("SELECT status FROM quota_ledger")
    assert [r[0] for r in rows] == ["reserved"]


async def test_one_process_admits_at_a_time(two):
    a, b = two
    async with a.exclusive("admission") as mine:
        assert mine is True
        async with b.exclusive("admission") as theirs:
            assert theirs is False
    async with b.exclusive("admission") as theirs:
        assert theirs is True  # released when a left


async def test_the_provider_rate_cap_is_shared_by_both_processes(two):
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(round(seconds, 6))

    caps = [SharedRateCap(repo, "openai", rate_per_s=20, burst=2, clock=lambda: NOW, sleep=record) for repo in two]
    await asyncio.gather(*(caps[i % 2].acquire() for i in range(10)))
    # 2 at once (the burst), then one every 1/20 s, whichever process asks
    assert sorted(waits) == [round(0.05 * i, 6) for i in range(1, 9)]
    await caps[0].hold(5)
    waits.clear()
    await caps[1].acquire()
    assert waits and waits[0] >= 5
