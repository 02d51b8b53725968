"""Admission's queries (db/repository.py), on SQLite and PostgreSQL alike: the waiting queue as light
rows, the round-robin memory counted in the database, the batch claim; and the rule for when a new
place in line is worth a status edit (bot/engine/poller.py)."""

from __future__ import annotations

from bot.engine.jobs import JobState
from bot.engine.poller import _worth_showing
from db.database import open_store
from db.repository import Repository
from tests.test_repository import Clock, create, new_job


async def _repo(store_url: str) -> tuple[Repository, Clock]:
    clock = Clock()
    return Repository(await open_store(store_url), clock=clock, owner="p1"), clock


async def test_the_waiting_queue_the_round_robin_memory_and_the_batch_claim(store_url):
    repo, clock = await _repo(store_url)
    try:
        ids = []
        for user, prompt in ((1, "a0"), (1, "a1"), (2, "b0"), (1, "a2")):
            job, _ = await create(repo, new_job(user=user, prompt=prompt))
            ids.append(job.id)
            clock.now += 1
        waiting = await repo.waiting_for_admission()
        assert [(w.id, w.user_id, w.guild_id, w.channel_id) for w in waiting] == [
            (ids[0], 1, 10, 100), (ids[1], 1, 10, 100), (ids[2], 2, 10, 100), (ids[3], 1, 10, 100)]
        assert await repo.served_since_oldest_waiting() == {}

        now = clock.now
        claimed = await repo.claim_requested_many([ids[2], ids[0]], now, lease=30.0)
        assert [j.id for j in claimed] == [ids[2], ids[0]]  # in the order asked
        assert all(j.state is JobState.SUBMITTING and j.submit_started_at == now for j in claimed)
        assert all(j.claimed_until == now + 30.0 and j.claimed_by == "p1" for j in claimed)
        # compare-and-set: a job no longer waiting is left out, the others still claimed
        again = await repo.claim_requested_many([ids[0], ids[1]], now, lease=None)
        assert [j.id for j in again] == [ids[1]] and again[0].claimed_until is None
        # member 1 still waits (a2, made before the claims): a0 and a1 started since → served 2;
        # member 2 has nothing waiting any more → not counted
        assert await repo.served_since_oldest_waiting() == {1: 2}
        assert [w.id for w in await repo.waiting_for_admission()] == [ids[3]]
        assert set(await repo.jobs_by_ids([ids[0], ids[3], 999])) == {ids[0], ids[3]}
    finally:
        await repo.db.close()


async def test_a_batch_claim_of_more_than_one_statement_holds(store_url):
    repo, clock = await _repo(store_url)
    try:
        ids = [(await create(repo, new_job(user=i % 7, prompt=f"p{i}")))[0].id for i in range(1203)]
        claimed = await repo.claim_requested_many(list(reversed(ids)), clock.now)
        assert [j.id for j in claimed] == list(reversed(ids))
        assert await repo.waiting_for_admission() == []
    finally:
        await repo.db.close()


def test_a_place_is_shown_again_near_the_front_always_further_back_by_a_tenth():
    assert _worth_showing(500, None)  # never shown
    assert not _worth_showing(7, 7)  # unchanged
    assert _worth_showing(99, 100) and _worth_showing(100, 180)  # the first 100: every move
    assert not _worth_showing(950, 1000) and _worth_showing(900, 1000)  # further back: a tenth
    assert _worth_showing(1100, 1000) and not _worth_showing(1050, 1000)  # moving back too
