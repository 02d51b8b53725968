"""Sending a job upstream exactly once, and finding it again when a crash hid the outcome.

The job row and its quota reservation already exist (state `requested`, see service.py). Here:
`submitting` is written (durably, with `submit_started_at`) BEFORE the create is sent; the provider id
is stored as soon as it is known. If the outcome is unknown (a timeout after sending, a crash between
the POST and storing the id), the job becomes `unknown` and `reconcile` looks for it upstream (same
idempotency key where the dialect honours one, else the list endpoint matched by prompt and time).
It is never submitted again blindly.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

from bot import i18n, media_types
from bot.backoff import backoff
from bot.domain.jobs import JobState
from bot.domain.records import Job
from bot.engine.context import EngineContext, job_view
from bot.engine.progress import publish_progress
from bot.engine.schedule import learned_render_seconds, next_poll_delay, render_spread
from bot.engine.upstream import from_upstream
from bot.metrics import failure_reason
from bot.sora import errors
from bot.sora.base import VideoExtender
from bot.sora.models import CreateVideo, Video, VideoError
from bot.texts import FailureKind, failure_text

log = logging.getLogger(__name__)

# Errors that mean the provider did not take the job. Anything else after the POST (an unreadable
# answer, say) may hide a created, paid-for video: it is reconciled, never resent.
_REFUSALS = (errors.InvalidRequest, errors.AuthenticationFailed, errors.NotFound, errors.OperationUnsupported)


# How far before `submit_started_at` an upstream created_at may be and still be ours (clock skew).
_SKEW = 120.0


async def submit(ctx: EngineContext, job: Job) -> None:
    """`job` is in `submitting` (claimed by the poller's admission). Send the create or remix."""
    try:
        await ctx.rate.acquire()
        with i18n.use(job.locale):  # a refusal's words are built while the provider answers
            video = await _send(ctx, job)
    except errors.InsufficientCredits as exc:
        await pause_for_credit(ctx, job, exc)
        return
    except (errors.RateLimited, errors.ProviderUnavailable) as exc:
        # Certainly not accepted (the client raises these only when the request was refused or never
        # reached the provider): wait locally and try again, then give up and tell the member.
        if job.attempts + 1 >= ctx.config.submit_attempts:
            log.warning("provider still unavailable after %d tries; giving up: %s", job.attempts + 1, exc,
                        extra=job.log_extra())
            await fail(ctx, job, JobState.SUBMITTING, code="unavailable",
                       text=failure_text(job_view(job), FailureKind.UNAVAILABLE))
            return
        delay = (getattr(exc, "retry_after", None) or min(300.0, 15.0 * (job.attempts + 1))) * ctx.config.time_scale
        log.info("provider busy at submit, retrying in %.0fs: %s", delay, exc, extra=job.log_extra())
        await ctx.repo.transition(job.id, JobState.SUBMITTING, JobState.REQUESTED,
                                  next_poll_at=ctx.clock() + delay, attempts=job.attempts + 1,
                                  submit_started_at=None)
        return
    except _REFUSALS as exc:
        # Refused (bad input, content policy, auth, remix unsupported, parent gone): fail and refund.
        log.warning("provider refused the job: %s", exc, extra=job.log_extra())
        kind = FailureKind.CONTENT_POLICY if isinstance(exc, errors.ContentPolicyRejected) else FailureKind.FAILED
        await fail(ctx, job, JobState.SUBMITTING, code=exc.code or type(exc).__name__,
                   text=failure_text(job_view(job), kind, detail=_words(exc, job)))
        return
    except errors.SoraError as exc:  # UnknownOutcome, or an answer we couldn't read: it may exist upstream
        log.warning("create outcome unknown, will reconcile: %s", exc, extra=job.log_extra())
        # The submission's lease (several processes) goes with it: the reconcile is due in 5 s, not
        # when the lease would lapse.
        await ctx.repo.transition(job.id, JobState.SUBMITTING, JobState.UNKNOWN, next_poll_at=ctx.clock() + 5,
                                  claimed_until=None)
        return
    adopted = await adopt(ctx, job, JobState.SUBMITTING, video)
    if adopted is not None and adopted.state is not JobState.COMPLETED:  # sent: the Cancel button goes now
        await publish_progress(ctx, adopted, force=True)
    ctx.metrics.submitted(job.provider, job.model)
    if await ctx.repo.resume_submissions(job.provider):
        log.warning("the %s account accepts videos again: submissions resumed", job.provider, extra=job.log_extra())


async def pause_for_credit(ctx: EngineContext, job: Job, exc: errors.SoraError) -> None:
    """402: the provider account is out of credit. Pause every submission (durably), put `job` back
    in line untouched (its reservation stays, nothing is charged), and recheck with one probe after
    a backoff that doubles with each 402 in a row. One warning for the operator per pause."""
    previous = await ctx.repo.submission_pause(job.provider)
    strikes = previous.strikes if previous is not None else 0
    delay = backoff(strikes, base=ctx.config.credit_recheck, cap=ctx.config.credit_recheck_max) * ctx.config.time_scale
    pause = await ctx.repo.pause_submissions(job.provider, until=ctx.clock() + delay, reason=exc.message)
    if pause.strikes == 1:
        log.warning("the %s account is out of credit (HTTP 402): all video submissions are paused and "
                    "rechecked every so often; add credit to resume (queued jobs wait, nothing is lost)",
                    job.provider, extra=job.log_extra())
    else:
        log.info("still out of credit (%d in a row); next recheck in %.0fs", pause.strikes, delay,
                 extra=job.log_extra())
    moved = await ctx.repo.transition(job.id, JobState.SUBMITTING, JobState.REQUESTED, next_poll_at=pause.until,
                                      submit_started_at=None, claimed_until=None)
    if moved is not None and moved.status_message_id is not None:
        await publish_progress(ctx, moved, force=True, credit_paused=True)


async def _send(ctx: EngineContext, job: Job) -> Video:
    if job.kind == "remix":
        parent = await ctx.repo.get_job(job.parent_job_id) if job.parent_job_id else None
        if parent is None or parent.provider_id is None:
            raise errors.NotFound("the video to remix is unknown",
                                  user_message=i18n.tr("failure.remix_parent_gone", job.locale))
        if getattr(ctx.provider, "continues_by_create", False):  # OpenRouter: a create that continues it
            request = CreateVideo(prompt=job.prompt, model=job.model, size=job.size, seconds=job.seconds,
                                  previous_job_id=parent.provider_id)
            return await ctx.provider.create(request, idempotency_key=job.idempotency_key)
        return await ctx.provider.remix(parent.provider_id, job.prompt, idempotency_key=job.idempotency_key)
    if job.kind == "extend":
        return await _send_extension(ctx, job)
    image = None
    if job.image_path:
        image = await asyncio.to_thread(Path(job.image_path).read_bytes)
    request = CreateVideo(prompt=job.prompt, model=job.model, size=job.size, seconds=job.seconds, image=image,
                          image_mime=media_types.mime_of_path(job.image_path) if image else None)
    return await ctx.provider.create(request, idempotency_key=job.idempotency_key)


async def _send_extension(ctx: EngineContext, job: Job) -> Video:
    """`job.seconds` more of its parent's video: OpenRouter continues it with a create that names the
    parent (`previous_job_id`), OpenAI-style relays with `POST /videos/extensions`."""
    parent = await ctx.repo.get_job(job.parent_job_id) if job.parent_job_id else None
    if parent is None or parent.provider_id is None:
        raise errors.NotFound("the video to extend is unknown",
                              user_message=i18n.tr("failure.extend_parent_gone", job.locale))
    provider = ctx.provider
    if not isinstance(provider, VideoExtender) or not provider.can_extend(job.model):  # the provider changed?
        raise errors.OperationUnsupported("this provider cannot extend videos", code="unsupported",
                                          user_message=i18n.tr("controls.extend_unsupported", job.locale,
                                                               model=job.model))
    if getattr(provider, "continues_by_create", False):
        request = CreateVideo(prompt=job.prompt, model=job.model, size=job.size, seconds=job.seconds,
                              previous_job_id=parent.provider_id)
        return await provider.create(request, idempotency_key=job.idempotency_key)
    return await provider.extend(parent.provider_id, job.prompt, job.seconds, idempotency_key=job.idempotency_key)


async def adopt(ctx: EngineContext, job: Job, old: JobState, video: Video) -> Job | None:
    """Record the upstream id and state; schedule the first poll (see schedule.py)."""
    now = ctx.clock()
    state = from_upstream(video.state)
    if state is JobState.FAILED:
        await ctx.repo.update(job.id, provider_id=video.id)
        await fail(ctx, job, old, code=(video.error.code if video.error else None) or "failed",
                   text=upstream_failure_text(job, video.error))
        return None
    history = await ctx.render_history(job)
    expected = learned_render_seconds(job.model, job.size, job.seconds, history, time_scale=ctx.config.time_scale)
    # The first poll comes from the schedule like every other one: a share of the expected time but
    # never past max_delay (a short render must not wait for a long estimate), hints as floors.
    first = 0.0 if state is JobState.COMPLETED else next_poll_delay(
        elapsed=0.0, expected=expected, progress=video.progress, state=video.state,
        poll_hint=video.poll_after_seconds, rng=ctx.rng, config=ctx.schedule,
        spread=render_spread(history, ctx.schedule))
    if not history and state is not JobState.COMPLETED and ctx.schedule.safety_net_interval is None:
        # Nothing like it rendered yet: the constants are a guess, so look early (a fast model is
        # noticed within seconds), unless the provider asked for more time. With webhooks on the
        # push says when it is done: polls stay the stretched safety net.
        first = max(min(first, ctx.schedule.first_poll_unknown), video.poll_after_seconds or 0.0)
    return await ctx.repo.transition(job.id, old, state, provider_id=video.id, submitted_at=now,
                                     progress=video.progress, next_poll_at=now + first, claimed_until=None,
                                     attempts=0)


async def reconcile(ctx: EngineContext, job: Job) -> None:
    """`job` is `unknown`: find what became of its create without sending a second paid one."""
    provider = ctx.provider
    found: Video | None = None
    try:
        await ctx.rate.acquire()
        if provider.supports_idempotency:
            found = await _send(ctx, job)  # the same idempotency key returns the same job
        elif provider.supports_list:
            found = await _find_in_list(ctx, job)
        else:
            found = None
    except (errors.RateLimited, errors.ProviderUnavailable, errors.UnknownOutcome) as exc:
        log.info("reconcile postponed: %s", exc, extra=job.log_extra())
        await ctx.repo.update(job.id, next_poll_at=ctx.clock() + 15, claimed_until=None)
        return
    except errors.SoraError as exc:
        log.warning("reconcile failed: %s", exc, extra=job.log_extra())
        found = None
    if found is not None:
        log.info("reconciled: upstream job %s found", found.id, extra=job.log_extra())
        await adopt(ctx, job, JobState.UNKNOWN, found)
        return
    waited = ctx.clock() - (job.submit_started_at or job.created_at)
    if provider.supports_list and waited < ctx.config.reconcile_window:
        await ctx.repo.update(job.id, next_poll_at=ctx.clock() + 15, claimed_until=None)
        return
    log.warning("upstream outcome could not be confirmed; not resubmitting", extra=job.log_extra())
    await fail(ctx, job, JobState.UNKNOWN, code="unknown_outcome",
               text=failure_text(job_view(job), FailureKind.UNAVAILABLE,
                                 detail=i18n.tr("failure.lost_contact", job.locale)))


async def _find_in_list(ctx: EngineContext, job: Job) -> Video | None:
    """The one upstream video that can be ours: same prompt (and model, size, seconds where listed),
    made after we started sending, and not owned by another of our jobs. Two candidates: ambiguous,
    so none (it stays unknown until the window closes, rather than adopting someone else's)."""
    started = job.submit_started_at or job.created_at
    candidates = []
    for video in await ctx.provider.list(limit=100):
        if video.prompt is None and video.created_at is None:
            continue
        if video.prompt is not None and video.prompt.strip() != job.prompt.strip():
            continue
        if video.created_at is not None and video.created_at.timestamp() < started - _SKEW:
            continue
        if video.model not in (None, job.model) or video.size not in (None, job.size):
            continue
        if video.seconds is not None and job.kind == "generate" and round(video.seconds) != job.seconds:
            continue
        if await ctx.repo.job_by_provider_id(job.provider, video.id) is not None:
            continue  # another job of ours already owns it
        candidates.append(video)
    return candidates[0] if len(candidates) == 1 else None


async def fail(ctx: EngineContext, job: Job, old: JobState, *, code: str, text: str,
               state: JobState = JobState.FAILED) -> None:
    """End the job (failed or expired) and refund its reservation (one transaction), then mark the
    status message and tell the requester in a new message that mentions them."""
    rendered = old in (JobState.COMPLETED, JobState.DOWNLOADING, JobState.DELIVERING)  # the provider charged
    code = re.sub(r"[^A-Za-z0-9_.:-]", "_", code.strip())[:64] or "failed"  # may be the provider's words
    moved = await ctx.repo.end_job(job.id, old, state, code=code, message=text[:1000], charged=rendered)
    if moved is None:
        return
    ctx.metrics.failed(failure_reason(code))
    await publish_progress(ctx, moved, force=True)
    try:
        # after the status message says "failed, see below", ahead of the channel's refreshes
        await ctx.outbox.call(moved, lambda: ctx.publisher.publish_failure(moved, text), after_status=True)
    except Exception:
        log.exception("could not tell the requester about the failure", extra=job.log_extra())


def upstream_failure_text(job: Job, error: VideoError | None) -> str:
    kind = FailureKind.CONTENT_POLICY if error is not None and error.content_policy else FailureKind.FAILED
    if error is not None and error.ending == "cancelled":
        kind = FailureKind.CANCELLED
    elif error is not None and error.ending == "expired":
        kind = FailureKind.UPSTREAM_EXPIRED
    return failure_text(job_view(job), kind, detail=error.message if error else None)


def _words(exc: errors.SoraError, job: Job) -> str:
    """The error's member-facing words in the language of the job's public messages."""
    with i18n.use(job.locale):
        return exc.user_message
