"""The job's public status message: edited at most every `progress_interval` seconds per job, and
only when what it shows changed (Discord's edit buckets are small; members don't need more).

The text goes to the channel's outbox (bot/engine/outbox.py), which sends it within the channel's
edit budget: a job step never waits for Discord here."""

from __future__ import annotations

import asyncio
import logging
import weakref

from bot.domain.jobs import CANCELLABLE, JobState
from bot.domain.records import Job
from bot.engine.context import EngineContext, job_view
from bot.texts import status_text
from bot.texts_controls import status_with_controls

log = logging.getLogger(__name__)

# A waiting job can be cancelled at any moment: its status is published one at a time and from the
# stored state, so a stale "waiting" edit never lands after the "cancelled" one (with its button).
_CANCELLABLE_LOCKS: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()


async def publish_progress(ctx: EngineContext, job: Job, *, position: int | None = None,
                           eta_seconds: float | None = None, force: bool = False,
                           credit_paused: bool = False) -> None:
    """Queue the status text: at most every `progress_interval` s, and only when it changed.
    `force` (created, delivered, failed) always queues, ahead of the channel's refreshes. A job that
    can still be cancelled is re-read under its lock, so a stale "waiting" text never lands after
    "cancelled"."""
    if job.state not in CANCELLABLE and job.state != JobState.CANCELLED:
        await _publish_progress(ctx, job, position=position, eta_seconds=eta_seconds, force=force,
                                credit_paused=credit_paused)
        return
    lock = _CANCELLABLE_LOCKS.setdefault(job.id, asyncio.Lock())
    async with lock:
        await _publish_progress(ctx, await ctx.repo.get_job(job.id) or job, position=position,
                                eta_seconds=eta_seconds, force=force, credit_paused=credit_paused)


async def _publish_progress(ctx: EngineContext, job: Job, *, position: int | None = None,
                            eta_seconds: float | None = None, force: bool = False,
                            credit_paused: bool = False) -> None:
    text = status_text(job_view(job), state=job.state.value, progress=job.progress, queue_position=position,
                       eta_seconds=eta_seconds, credit_paused=credit_paused)
    text = status_with_controls(job_view(job), job.state.value, text)  # the Cancel / can't-stop words
    now = ctx.clock()
    last_text, last_at = ctx.outbox.last_offer(job)
    if text == last_text and not force:
        return
    if not force and last_at is not None and now - last_at < ctx.config.progress_interval:
        return
    ctx.outbox.offer_status(job, text, urgent=force)
