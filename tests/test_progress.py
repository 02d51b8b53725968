"""The status message is edited at most every `progress_interval` seconds per job, and only when
what it shows changed."""

from __future__ import annotations

from bot.domain.jobs import JobState
from bot.domain.records import NewJob
from bot.engine.context import EngineConfig, EngineContext
from bot.engine.progress import publish_progress
from bot.sandbox.job_paths import walk
from bot.sandbox.recording import RecordingPublisher
from bot.sora.simulated import SimulatedProvider
from db.database import open_store
from db.repository import Repository


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_edits_are_throttled_and_only_for_visible_changes(tmp_path, store_url):
    conn = await open_store(store_url)  # SQLite and PostgreSQL
    clock = Clock()
    repo = Repository(conn, clock=clock)
    publisher = RecordingPublisher()
    ctx = EngineContext(repo, SimulatedProvider(tmp_path / "sim"), publisher,
                        EngineConfig(data_dir=tmp_path, progress_interval=10.0), clock=clock)
    job, _ = await repo.create_job(
        NewJob(guild_id=1, channel_id=2, user_id=3, kind="generate", prompt="p", model="sora-2", size="1280x720",
               seconds=4, provider="simulated", idempotency_key="k"),
        decide=lambda usage: True, allowed=bool, reserve_seconds=4, reserve_usd=0.4, month_start=0)

    async def show(progress: int, *, after: float) -> None:
        clock.now += after
        fresh = await walk(repo, job.id, JobState.RUNNING, progress=progress)
        await publish_progress(ctx, fresh)
        # The outbox sends off the caller's path and keeps only the newest text per message; drained
        # after each update so this test sees the throttle, not how fast a backend lets the lane run.
        await ctx.outbox.drain()

    await publish_progress(ctx, job, force=True)  # the status message is created at once
    await ctx.outbox.drain()
    await show(10, after=3)  # changed, but only 3 s later: not sent
    await show(20, after=8)  # 11 s after the last edit: sent
    await show(20, after=30)  # nothing visible changed: not sent
    await show(55, after=1)  # changed, and the last sent edit was 31 s ago: sent
    await ctx.outbox.drain()  # edits are sent by the channel's outbox, off the caller's path
    sent = [p.text for p in publisher.progress]
    assert len(sent) == 3
    assert "20%" in sent[1] and "55%" in sent[2]
    assert len({p.message_id for p in publisher.progress}) == 1  # one message, edited
    await conn.close()
