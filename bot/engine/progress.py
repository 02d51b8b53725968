"""The job's public status message: edited at most every `progress_interval` seconds per job, and
only when what it shows changed (Discord's edit buckets are small; members don't need more).

The text goes to the channel's outbox (bot/engine/outbox.py), which sends it within the channel's
edit budget: a job step never waits for Discord here."""

from __future__ import annotations

import logging

from bot.engine.context import EngineContext, job_view
from bot.texts import status_text
from db.repository import Job

log = logging.getLogger(__name__)


async def publish_progress(ctx: EngineContext, job: Job, *, position: int | None = None,
                           eta_seconds: float | None = None, force: bool = False,
                           credit_paused: bool = False) -> None:
    """Queue the status text: at most every `progress_interval` s, and only when it changed.
    `force` (created, delivered, failed) always queues, ahead of the channel's refreshes."""
    text = status_text(job_view(job), state=job.state.value, progress=job.progress, queue_position=position,
                       eta_seconds=eta_seconds, credit_paused=credit_paused)
    now = ctx.clock()
    last_text, last_at = ctx.outbox.last_offer(job)
    if text == last_text and not force:
        return
    if not force and last_at is not None and now - last_at < ctx.config.progress_interval:
        return
    ctx.outbox.offer_status(job, text, urgent=force)
