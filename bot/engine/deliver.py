"""From "upstream completed" to "the member has the MP4": download at once, verify, fit, post.

completed ─► downloading ─► delivering ─► delivered
The download happens before any Discord work (provider links expire: one hour for OpenAI's). The
original stays on disk until delivered; Discord failures are retried with backoff and the publisher
deduplicates a retried post (nonce, then the channel's recent messages), so a restart never posts
twice. The quota reservation is settled at the real duration once delivered, and at the provider's
real charge where it reports one (OpenRouter's `usage.cost`).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

from bot import media
from bot.backoff import backoff
from bot.domain.jobs import JobState
from bot.domain.records import Job
from bot.engine.context import EngineContext, job_view
from bot.engine.ports import DeliveryRejected, DeliveryRetryable, UploadTooLarge
from bot.engine.progress import publish_progress
from bot.engine.submit import fail
from bot.pricing import billed_cost, settle_amount, settle_cost
from bot.sora import errors
from bot.sora.models import Video
from bot.texts import FailureKind, failure_text, result_caption

log = logging.getLogger(__name__)


def _backoff(attempt: int, scale: float) -> float:
    return backoff(attempt, base=5.0, cap=300.0) * scale


async def download(ctx: EngineContext, job: Job, video: Video | None = None) -> None:
    """`job` is `completed`: fetch the MP4 to DATA_DIR, verify it, move on to delivering."""
    claimed = await ctx.repo.transition(job.id, JobState.COMPLETED, JobState.DOWNLOADING)
    if claimed is None:
        return
    job = claimed
    dest = ctx.videos_dir() / f"job-{job.id}.mp4"
    partial = dest.with_suffix(".part")
    try:
        if video is None:
            assert job.provider_id is not None, "a completed job has its provider id"
            await ctx.rate.acquire()
            video = await ctx.provider.retrieve(job.provider_id)
        await ctx.rate.acquire()
        size = await ctx.provider.download(video, partial)
        info = await media.probe(partial)
    except errors.DownloadExpired as exc:
        partial.unlink(missing_ok=True)
        log.warning("video expired before download: %s", exc, extra=job.log_extra())
        await fail(ctx, job, JobState.DOWNLOADING, code="expired", state=JobState.EXPIRED,
                   text=failure_text(job_view(job), FailureKind.EXPIRED))
        return
    except (errors.SoraError, OSError) as exc:
        partial.unlink(missing_ok=True)
        attempts = job.attempts + 1
        if attempts >= ctx.config.download_attempts:
            log.error("download failed %d times, giving up: %s", attempts, exc, extra=job.log_extra())
            await fail(ctx, job, JobState.DOWNLOADING, code="download_failed",
                       text=failure_text(job_view(job), FailureKind.FAILED,
                                         detail=getattr(exc, "user_message", None)))
            return
        delay = _backoff(attempts, ctx.config.time_scale)
        log.warning("download failed (attempt %d), retrying in %.0fs: %s", attempts, delay, exc,
                    extra=job.log_extra())
        await ctx.repo.transition(job.id, JobState.DOWNLOADING, JobState.COMPLETED, attempts=attempts,
                                  next_poll_at=ctx.clock() + delay, claimed_until=None)
        return
    partial.replace(dest)
    log.info("downloaded %d bytes, %.1fs %dx%d", size, info.duration, info.width, info.height,
             extra=job.log_extra())
    moved = await ctx.repo.transition(job.id, JobState.DOWNLOADING, JobState.DELIVERING, file_path=str(dest),
                                      file_size=size, duration=info.duration, attempts=0,
                                      completed_at=job.completed_at or ctx.clock())
    if moved is not None:
        await deliver(ctx, moved, info)


async def deliver(ctx: EngineContext, job: Job, info: media.MediaInfo | None = None) -> None:
    """`job` is `delivering`: fit the file under the channel's limit and post it."""
    path = Path(job.file_path or "")
    if not path.exists():
        # The file is gone (disk cleaned by hand?): fetch it again while the link may still live.
        log.warning("local file missing before delivery; downloading again", extra=job.log_extra())
        await ctx.repo.transition(job.id, JobState.DELIVERING, JobState.COMPLETED, next_poll_at=ctx.clock(),
                                  claimed_until=None)
        return
    # Count the attempt durably BEFORE posting: after a crash mid-post, `attempts > 1` tells the
    # publisher to look for the earlier post in the channel before posting again.
    counted = await ctx.repo.update(job.id, attempts=job.attempts + 1)
    if counted is None:  # the row is gone (deleted by hand): nothing to deliver
        return
    job = counted
    charge, billed = await _settlement(ctx, job)  # read now: the post and its record should be close together
    try:
        limit = await ctx.publisher.upload_limit(job)
        fitted = await media.fit_to_limit(path, limit, path.parent, info=info)  # info: no second probe
        try:
            message_id = await _post(ctx, job, fitted)
        except UploadTooLarge as exc:
            # Smaller than what Discord just refused (and than its stated limit, when it gave one).
            smaller = int(min(exc.limit_bytes or limit, fitted.size_bytes) * 0.85)
            log.warning("Discord said 413 at %d bytes; fitting to %d and retrying once", fitted.size_bytes,
                        smaller, extra=job.log_extra())
            fitted = await media.fit_to_limit(path, smaller, path.parent)
            message_id = await _post(ctx, job, fitted)
    except (DeliveryRetryable, media.MediaError, UploadTooLarge, OSError) as exc:
        attempts = job.attempts
        if attempts >= ctx.config.delivery_attempts:
            log.error("delivery failed %d times, giving up: %s", attempts, exc, extra=job.log_extra())
            await fail(ctx, job, JobState.DELIVERING, code="undeliverable",
                       text=failure_text(job_view(job), FailureKind.DELIVERY))
            return
        delay = max(getattr(exc, "retry_after", None) or 0.0, _backoff(attempts, ctx.config.time_scale))
        log.warning("delivery failed (attempt %d), retrying in %.0fs: %s", attempts, delay, exc,
                    extra=job.log_extra())
        await ctx.repo.update(job.id, next_poll_at=ctx.clock() + delay, claimed_until=None)
        return
    except DeliveryRejected as exc:
        log.error("Discord refused the result for good: %s", exc, extra=job.log_extra())
        await fail(ctx, job, JobState.DELIVERING, code="undeliverable",
                   text=failure_text(job_view(job), FailureKind.DELIVERY, detail=str(exc)))
        return
    now = ctx.clock()
    done = await ctx.repo.mark_delivered(job.id, message_id=message_id, at=now, charge=charge, billed=billed)
    if done is None:
        return
    if job.completed_at:
        ctx.metrics.observe_delivery(max(0.0, now - job.completed_at))
    await publish_progress(ctx, done, force=True)
    log.info("delivered as message %s", message_id, extra=job.log_extra())


async def _settlement(ctx: EngineContext, job: Job) -> tuple[tuple[float, float] | None, bool]:
    """((seconds, usd), billed) to settle the reservation at: the real duration, never more than
    reserved; the usd is the provider's real charge when it reported one (billed), else the
    reservation scaled to the real duration."""
    entry = await ctx.repo.ledger_entry(job.id)
    if entry is None:
        return None, False
    seconds = settle_amount(entry["seconds"], job.duration)
    if job.provider_cost_usd is not None:
        return (seconds, float(billed_cost(job.provider_cost_usd))), True
    return (seconds, float(settle_cost(Decimal(str(entry["usd"])), entry["seconds"], job.duration))), False


async def _post(ctx: EngineContext, job: Job, fitted: media.FitResult) -> int:
    caption = result_caption(
        job_view(job), actual_seconds=job.duration,
        original_size=f"{fitted.original_width}x{fitted.original_height}" if fitted.compressed else None,
        original_bytes=fitted.original_size_bytes if fitted.compressed else None)
    if fitted.compressed:
        ctx.metrics.transcoded(fitted.size_bytes)
    # in the channel's outbox, ahead of every status edit there
    return await ctx.outbox.call(job, lambda: ctx.publisher.publish_result(job, fitted.path, caption))
