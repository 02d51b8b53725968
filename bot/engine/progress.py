"""The job's public status message: edited at most every `progress_interval` seconds per job, and
only when what it shows changed (Discord's edit buckets are small; members don't need more)."""

from __future__ import annotations

import logging

from bot.engine.context import EngineContext, job_view
from bot.texts import status_text
from db.repository import Job

log = logging.getLogger(__name__)


async def publish_progress(ctx: EngineContext, job: Job, *, position: int | None = None,
                           eta_seconds: float | None = None, force: bool = False,
                           credit_paused: bool = False) -> None:
    """Edit the status message: at most every `progress_interval` s, and only when its text changed."""
    text = status_text(job_view(job), state=job.state.value, progress=job.progress, queue_position=position,
                       eta_seconds=eta_seconds, credit_paused=credit_paused)
    now = ctx.clock()
    if text == job.progress_text and not force:
        return
    if (not force and job.progress_published_at is not None
            and now - job.progress_published_at < ctx.config.progress_interval):
        return
    try:
        message_id = await ctx.publisher.publish_progress(job, text)
    except Exception as exc:  # progress is best effort: never let it break the job
        log.warning("progress edit failed: %s", exc, extra=ctx.extra(job))
        await ctx.repo.update(job.id, progress_published_at=now)  # a failing edit is throttled too
        return
    await ctx.repo.update(job.id, progress_text=text, progress_published_at=now,
                          status_message_id=message_id or job.status_message_id)
