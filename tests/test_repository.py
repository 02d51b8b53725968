"""The repository contract, against a real SQLite file and a real PostgreSQL database (the
`store_url` fixture): migrations, reservation transaction, CAS transitions, claiming, ledger
settle/refund, guild settings and the audit log. SQLite-only details (pragmas, a cancelled BEGIN,
an in-place upgrade of an old file) are tested on SQLite alone."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.jobs import IllegalTransition, JobState
from bot.domain.records import GuildConfig, NewJob, UsageRows
from bot.sandbox.job_paths import walk
from db.database import latest_version, migration_state, open_database, open_store
from db.repository import Repository


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def repo(store_url):
    db = await open_store(store_url)
    clock = Clock()
    yield Repository(db, clock=clock)
    await db.close()


def new_job(user: int = 1, guild: int | None = 10, prompt: str = "a cat") -> NewJob:
    return NewJob(guild_id=guild, channel_id=100, user_id=user, kind="generate", prompt=prompt,
                  model="sora-2", size="1280x720", seconds=4, provider="openai", idempotency_key=f"k-{prompt}")


def allow_all(_usage: UsageRows) -> bool:
    return True


async def create(repo: Repository, job: NewJob, decide=allow_all, seconds: float = 4, usd: float = 0.4):
    return await repo.create_job(job, decide=decide, allowed=bool, reserve_seconds=seconds,
                                 reserve_usd=usd, month_start=repo.clock() - 86400 * 10)


async def test_migrations_apply_once_and_record_version(tmp_path):
    path = tmp_path / "bot.db"
    conn = await open_database(path)
    assert await migration_state(conn) == (latest_version(), latest_version())
    await conn.close()
    conn = await open_database(path)  # reopening applies nothing and keeps data
    async with conn.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone())[0] == "wal"
    async with conn.execute("PRAGMA foreign_keys") as cur:
        assert (await cur.fetchone())[0] == 1
    await conn.close()


async def test_create_job_writes_job_and_reservation_together(repo):
    job, decision = await create(repo, new_job())
    assert decision is True and job is not None
    assert job.state is JobState.REQUESTED and job.next_poll_at == repo.clock()
    entry = await repo.ledger_entry(job.id)
    assert entry["status"] == "reserved" and entry["seconds"] == 4 and entry["usd"] == pytest.approx(0.4)


async def test_refused_decision_writes_nothing(repo):
    job, decision = await create(repo, new_job(), decide=lambda usage: False)
    assert job is None and decision is False
    assert await repo.count_by_state() == {}


async def test_usage_sees_reservations_and_active_jobs(repo):
    seen: list[UsageRows] = []

    def spy(usage: UsageRows) -> bool:
        seen.append(usage)
        return True

    await create(repo, new_job(user=1, prompt="one"), decide=spy)
    repo.clock.now += 60
    await create(repo, new_job(user=2, prompt="two"), decide=spy)
    repo.clock.now += 60
    await create(repo, new_job(user=1, prompt="three"), decide=spy)
    last = seen[-1]
    assert [e.seconds for e in last.user_entries_24h] == [4]
    assert last.guild_month_seconds == 8 and last.guild_month_usd == pytest.approx(0.8)
    assert last.user_active == 1 and last.guild_active == 2
    assert last.user_last_submit_at == repo.clock.now - 120


async def test_concurrent_reservations_cannot_both_pass_the_last_unit(repo):
    """Two submissions race for the last video of a 1-per-day limit: exactly one wins."""

    def one_per_day(usage: UsageRows) -> bool:
        return len(usage.user_entries_24h) < 1

    results = await asyncio.gather(*(create(repo, new_job(prompt=f"p{i}"), decide=one_per_day)
                                     for i in range(8)))
    assert sum(job is not None for job, _ in results) == 1
    assert sum((await repo.count_by_state()).values()) == 1


async def test_transitions_are_compare_and_set_and_checked(repo):
    job, _ = await create(repo, new_job())
    moved = await repo.claim_requested(job.id, now=repo.clock())
    assert moved.state is JobState.SUBMITTING and moved.submit_started_at == repo.clock()
    assert await repo.claim_requested(job.id, now=repo.clock()) is None  # already moved
    with pytest.raises(IllegalTransition):
        await repo.transition(job.id, JobState.SUBMITTING, JobState.DELIVERED)
    with pytest.raises(ValueError, match="unknown job columns"):
        await repo.update(job.id, bogus=1)


async def test_every_state_write_is_checked_and_an_illegal_one_changes_nothing(repo):
    """transition, end_job, mark_delivered and update all go through the table in bot/domain/jobs.py:
    an illegal move raises before any SQL, so neither the job row nor its ledger entry changes."""
    job, _ = await create(repo, new_job())
    before, ledger_before = await repo.get_job(job.id), dict(await repo.ledger_entry(job.id))
    repo.clock.now += 60  # a write that slipped through would stamp a new updated_at

    with pytest.raises(IllegalTransition):
        await repo.transition(job.id, JobState.REQUESTED, JobState.DELIVERED)
    with pytest.raises(IllegalTransition):
        await repo.transition(job.id, JobState.REQUESTED, JobState.QUEUED)  # the create was never sent
    with pytest.raises(IllegalTransition):
        await repo.end_job(job.id, JobState.REQUESTED, JobState.EXPIRED, code="x", message="x")
    with pytest.raises(ValueError, match="not an end"):
        await repo.end_job(job.id, JobState.REQUESTED, JobState.SUBMITTING, code="x", message="x")
    with pytest.raises(ValueError, match="does not move states"):
        await repo.update(job.id, state=JobState.DELIVERED)
    assert await repo.get_job(job.id) == before
    assert dict(await repo.ledger_entry(job.id)) == ledger_before

    ended = await repo.end_job(job.id, JobState.REQUESTED, JobState.CANCELLED, code="cancelled", message="x")
    assert ended.state is JobState.CANCELLED
    for state in JobState:  # an ended job never moves again, whatever the write
        if state is not JobState.CANCELLED:
            with pytest.raises(IllegalTransition):
                await repo.transition(job.id, JobState.CANCELLED, state)
    assert await repo.mark_delivered(job.id, message_id=1, at=repo.clock(), charge=None) is None  # not delivering
    assert await repo.get_job(job.id) == ended
    assert (await repo.ledger_entry(job.id))["status"] == "refunded"


async def test_claim_due_leases_atomically(repo):
    ids = []
    for i in range(3):
        job, _ = await create(repo, new_job(prompt=f"p{i}"))
        await repo.claim_requested(job.id, repo.clock())
        await repo.transition(job.id, JobState.SUBMITTING, JobState.QUEUED, provider_id=f"video_{i}",
                              next_poll_at=repo.clock() + i)
        ids.append(job.id)
    claimed = await repo.claim_due(repo.clock() + 1, limit=10, lease=30)
    assert [j.id for j in claimed] == ids[:2]
    assert await repo.claim_due(repo.clock() + 1, limit=10, lease=30) == []  # leased
    assert [j.id for j in await repo.claim_due(repo.clock() + 40, limit=10, lease=30)] == ids


async def delivering(repo: Repository, job):
    return await walk(repo, job.id, JobState.DELIVERING)


async def test_delivery_settles_and_ending_refunds_exclusively_and_once(repo):
    a, _ = await create(repo, new_job(prompt="a"), seconds=8, usd=0.8)
    await delivering(repo, a)
    done = await repo.mark_delivered(a.id, message_id=77, at=repo.clock(), charge=(7.9, 0.79))
    assert done.state is JobState.DELIVERED and done.result_message_id == 77
    entry = await repo.ledger_entry(a.id)
    assert entry["status"] == "settled" and entry["seconds"] == pytest.approx(7.9)
    assert await repo.refund_ended_jobs() == 0  # a settled charge is never refunded

    b, _ = await create(repo, new_job(prompt="b"))
    await delivering(repo, b)
    ended = await repo.end_job(b.id, JobState.DELIVERING, JobState.FAILED, code="undeliverable", message="m")
    assert ended.state is JobState.FAILED and (await repo.ledger_entry(b.id))["status"] == "refunded"
    assert await repo.end_job(b.id, JobState.DELIVERING, JobState.FAILED, code="x", message="m") is None
    assert await repo.mark_delivered(b.id, message_id=78, at=repo.clock(), charge=(4, 0.4)) is None
    assert (await repo.ledger_entry(b.id))["status"] == "refunded"

    # a settle can't charge more than was reserved
    c, _ = await create(repo, new_job(prompt="c"), seconds=4, usd=0.4)
    await delivering(repo, c)
    await repo.mark_delivered(c.id, message_id=79, at=repo.clock(), charge=(12, 1.2))
    assert (await repo.ledger_entry(c.id))["seconds"] == 4


async def test_start_up_refunds_a_reservation_left_open_on_an_ended_job(repo):
    job, _ = await create(repo, new_job(prompt="orphan"))
    await walk(repo, job.id, JobState.FAILED)  # as if a crash fell between the two writes
    assert await repo.refund_ended_jobs() == 1
    assert (await repo.ledger_entry(job.id))["status"] == "refunded"


async def test_refunded_jobs_do_not_count(repo):
    seen = []
    job, _ = await create(repo, new_job(prompt="x"))
    await repo.end_job(job.id, JobState.REQUESTED, JobState.FAILED, code="failed", message="m")
    await create(repo, new_job(prompt="y"), decide=lambda u: seen.append(u) or True)
    assert seen[0].user_entries_24h == [] and seen[0].guild_month_seconds == 0


async def test_guild_config_tiers_blocks_and_audit(repo):
    assert (await repo.guild_config(5)).limits == {}
    await repo.save_guild_config(GuildConfig(5, {"user_videos_per_day": 9}, [1, 2], None), by=77,
                                 action="limits.set", detail="user_videos_per_day=9")
    cfg = await repo.guild_config(5)
    assert cfg.limits == {"user_videos_per_day": 9} and cfg.channels == [1, 2]
    await repo.set_role_tier(5, 900, {"allowed_models": ["sora-2-pro"]}, by=77)
    assert await repo.role_tiers(5) == {900: {"allowed_models": ["sora-2-pro"]}}
    await repo.set_blocked(5, 42, True, by=77, reason="spam")
    assert await repo.is_blocked(5, 42)
    await repo.set_blocked(5, 42, False, by=77)
    assert not await repo.is_blocked(5, 42)
    actions = [r["action"] for r in await repo.admin_log(5)]
    assert actions == ["unblock", "block", "tier.set", "limits.set"]
    assert all(r["user_id"] == 77 for r in await repo.admin_log(5))


async def test_a_cancelled_transaction_never_leaves_the_connection_inside_one(tmp_path):
    """Cancelled while BEGIN waits for another process's write lock (a health check's timeout):
    the shared connection must come back clean, or every later write would be lost."""
    import sqlite3

    path = tmp_path / "locked.db"
    conn = await open_database(path)
    repo = Repository(conn)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    task = asyncio.create_task(repo.ping_write())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    other.execute("ROLLBACK")
    other.close()
    job, _ = await create(repo, new_job(prompt="after the cancel"))
    assert job is not None and not conn.in_transaction
    await conn.close()


async def test_a_database_from_before_a_migration_is_upgraded_in_place(tmp_path):
    """A file at version 1 (made by an older release) gets 0002 on the next start, keeping its jobs."""
    import sqlite3

    from db.database import migrations

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(migrations()[0][1].read_text() + "\nPRAGMA user_version = 1;")
    old.execute("""INSERT INTO jobs (channel_id, user_id, kind, prompt, model, size, seconds, provider,
                   idempotency_key, state, created_at, updated_at) VALUES (1,2,'generate','old','sora-2',
                   '1280x720',4,'openai','k','delivered',0,0)""")
    old.commit()
    old.close()
    conn = await open_database(path)
    assert await migration_state(conn) == (latest_version(), latest_version())
    job = await Repository(conn).get_job(1)
    assert job.prompt == "old" and job.user_cap is None
    await conn.close()


# --- what the OpenRouter, catalog, hardening and busy-channel work added: on both backends too --------
async def test_billed_settlement_and_a_charged_refund_use_the_real_cost(repo):
    a, _ = await create(repo, new_job(prompt="billed"), seconds=8, usd=3.2)
    await delivering(repo, a)
    await repo.mark_delivered(a.id, message_id=80, at=repo.clock(), charge=(8, 3.5), billed=True)
    entry = await repo.ledger_entry(a.id)
    assert entry["status"] == "settled" and entry["usd"] == pytest.approx(3.5)  # above the estimate: billed

    b, _ = await create(repo, new_job(prompt="rendered"), seconds=8, usd=3.2)
    await walk(repo, b.id, JobState.DELIVERING, provider_cost_usd=2.96)
    await repo.end_job(b.id, JobState.DELIVERING, JobState.FAILED, code="undeliverable", message="m", charged=True)
    entry = await repo.ledger_entry(b.id)
    assert entry["status"] == "refunded" and entry["charged_usd"] == pytest.approx(2.96)
    usage = await repo.usage(10, 1, month_start=repo.clock() - 86400)
    assert [e.usd for e in usage.user_entries_24h] == [pytest.approx(3.5)]  # the refunded one is the member's again
    assert usage.guild_month_usd == pytest.approx(3.5 + 2.96) and usage.bot_month_usd == pytest.approx(3.5 + 2.96)


async def test_submission_pause_strikes_hold_and_resume(repo):
    assert await repo.submission_pause("openrouter") is None
    first = await repo.pause_submissions("openrouter", until=repo.clock() + 300, reason="402")
    second = await repo.pause_submissions("openrouter", until=repo.clock() + 600, reason="402 again")
    assert (first.strikes, second.strikes) == (1, 2) and second.until == pytest.approx(repo.clock() + 600)
    await repo.hold_submission_pause("openrouter", until=repo.clock() + 900)
    assert (await repo.submission_pause("openrouter")).until == pytest.approx(repo.clock() + 900)
    assert await repo.resume_submissions("openrouter") is True
    assert await repo.submission_pause("openrouter") is None and await repo.resume_submissions("openrouter") is False


async def test_model_catalog_and_default_model_are_stored(repo):
    assert await repo.stored_model_catalog("openrouter") is None
    await repo.save_model_catalog("openrouter", [{"id": "google/veo-3.1"}], fetched_at=100.0)
    await repo.save_model_catalog("openrouter", [{"id": "alibaba/wan-2.6"}], fetched_at=200.0)
    assert await repo.stored_model_catalog("openrouter") == ([{"id": "alibaba/wan-2.6"}], 200.0)
    await repo.set_guild_default_model(10, "google/veo-3.1", by=5)
    assert await repo.guild_default_model(10) == "google/veo-3.1"


async def test_a_finished_sibling_hastens_the_others_and_render_history_is_per_shape(repo):
    a, _ = await create(repo, new_job(prompt="first"))
    b, _ = await create(repo, new_job(prompt="second"))
    now = repo.clock()
    await walk(repo, a.id, JobState.COMPLETED, submitted_at=now - 100, completed_at=now)
    await walk(repo, b.id, JobState.RUNNING, submitted_at=now - 95, next_poll_at=now + 500)
    assert await repo.hasten_siblings(a, 100.0, now) == 1
    assert (await repo.get_job(b.id)).next_poll_at == pytest.approx(now)
    assert await repo.recent_render_seconds("sora-2", size="1280x720", seconds=4) == pytest.approx([100.0])
    assert await repo.recent_render_seconds("sora-2", size="720x1280", seconds=4) == []


async def test_the_bot_wide_ceiling_holds_across_guilds_under_concurrency(repo):
    """BOT_USD_PER_MONTH reads every guild's spend: with `bot_wide` the reservations of different
    guilds are serialized too, so three concurrent $8 requests under a $10 ceiling let one through."""
    import asyncio

    def under_ceiling(usage: UsageRows) -> bool:
        return usage.bot_month_usd + 8 <= 10

    async def ask(guild: int):
        return await repo.create_job(new_job(user=guild, guild=guild, prompt=f"g{guild}"), decide=under_ceiling,
                                     allowed=bool, reserve_seconds=8, reserve_usd=8.0,
                                     month_start=repo.clock() - 86400, bot_wide=True)

    results = await asyncio.gather(*(ask(g) for g in (1, 2, 3)))
    assert sorted(decision for _, decision in results) == [False, False, True]


async def test_a_lease_is_extended_only_by_its_holder(repo):
    job, _ = await create(repo, new_job(prompt="lease"))
    now = repo.clock()
    await walk(repo, job.id, JobState.RUNNING, next_poll_at=now)
    [claimed] = await repo.claim_due(now, limit=1, lease=30)
    assert await repo.extend_lease(claimed.id, now + 90) is True
    assert (await repo.get_job(claimed.id)).claimed_until == pytest.approx(now + 90)
    await repo.update(claimed.id, claimed_by="another-process")
    assert await repo.extend_lease(claimed.id, now + 200) is False
    await repo.update(claimed.id, claimed_until=None)
    assert await repo.extend_lease(claimed.id, now + 200) is False  # released: nothing to extend


async def test_the_report_counts_what_an_undelivered_render_cost(repo):
    await create(repo, new_job(user=1, prompt="kept"), seconds=4, usd=0.4)
    lost, _ = await create(repo, new_job(user=2, prompt="lost"), seconds=8, usd=0.8)
    await walk(repo, lost.id, JobState.DELIVERING)
    await repo.end_job(lost.id, JobState.DELIVERING, JobState.FAILED, code="undeliverable", message="m", charged=True)
    report = await repo.guild_report(10, since=repo.clock() - 86400)
    assert report == [(2, 0, 0.0, pytest.approx(0.8)), (1, 1, 4.0, pytest.approx(0.4))]
