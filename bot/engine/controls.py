"""What a member can do to a job after asking for it: take it back before it is sent (Cancel), ask
for the same video again (Again), or continue a finished one (Extend). The Discord side
(cogs/controls.py, cogs/extend.py) only calls these.

Cancel is a compare-and-set from `requested` to `cancelled` with the reservation refunded in the same
transaction (`JobStore.end_job`): if the poller claimed the job a moment earlier the set fails and
the member is told it can no longer be stopped (the providers have no cancel). Nothing is sent
upstream either way, so nobody pays for a cancelled video.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from bot import texts_controls as words
from bot.domain.jobs import CANCELLABLE, TERMINAL, JobState
from bot.domain.records import Job
from bot.engine.progress import publish_progress
from bot.engine.service import JobService, Outcome, Requester

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CancelResult:
    message: str
    job: Job | None = None  # the cancelled job, when it was cancelled

    @property
    def cancelled(self) -> bool:
        return self.job is not None


async def cancel_job(service: JobService, who: Requester, job_id: int) -> CancelResult:
    ctx = service.ctx
    job = await ctx.repo.get_job(job_id)
    if job is None or job.guild_id != who.guild_id:
        return CancelResult(words.cancel_already_over(job_id))
    if job.user_id != who.user_id and not who.bypass:
        return CancelResult(words.cancel_not_allowed(job_id))
    if job.state not in CANCELLABLE:
        return CancelResult(words.cancel_already_over(job_id) if job.state in TERMINAL
                            else words.cancel_too_late(job_id))
    ended = await ctx.repo.end_job(job.id, JobState.REQUESTED, JobState.CANCELLED, code="cancelled",
                                   message=f"cancelled by {who.user_id}")
    if ended is None:  # the poller sent it a moment ago (or it ended otherwise)
        current = await ctx.repo.get_job(job.id)
        state = current.state if current is not None else JobState.FAILED
        return CancelResult(words.cancel_already_over(job_id) if state in TERMINAL else words.cancel_too_late(job_id))
    log.info("job cancelled by %s before it was sent", who.user_id, extra=ended.log_extra())
    if ended.image_path:
        Path(ended.image_path).unlink(missing_ok=True)
        ended = await ctx.repo.update(ended.id, image_path=None) or ended
    await publish_progress(ctx, ended, force=True)  # the status says so, and the Cancel button goes
    service.poller.wake()  # the queue moves up: positions are published on the next turn
    return CancelResult(words.cancel_done(job_id), ended)


async def again(service: JobService, who: Requester, parent: Job, *, reply_to: int | None) -> Outcome:
    """The same prompt, model, size, length and first frame as `parent`, as a new job of `who`,
    through the same checks as `/sora` (a remix: the same change to the same source again)."""
    ctx = service.ctx
    if parent.guild_id != who.guild_id:
        return Outcome(words.again_unknown(parent.id), refusal="invalid")
    reply_to = reply_to or parent.result_message_id
    if parent.kind in ("remix", "extend") and parent.parent_job_id is not None:
        source = await ctx.repo.get_job(parent.parent_job_id)
        if source is None:
            return Outcome(words.again_unknown(parent.id), refusal="invalid")
        if parent.kind == "extend":  # the same continuation of the same video again
            return await service.request_extension(who, source, parent.prompt, parent.seconds,
                                                   reply_to_message_id=reply_to)
        return await service.request_remix(who, source, parent.prompt, reply_to_message_id=reply_to)
    image = None
    if parent.image_path:
        try:
            image = Path(parent.image_path).read_bytes()
        except OSError:
            return Outcome(words.again_frame_gone(parent.id), refusal="invalid")
    return await service.request_video(who, prompt=parent.prompt, model=parent.model, size=parent.size,
                                       seconds=parent.seconds, image=image, reply_to_message_id=reply_to)


def default_length(parent: Job, lengths: list[int]) -> int:
    """The length an Extend modal offers first: the video's own length when an extension may add
    it, else the shortest offered."""
    return parent.seconds if parent.seconds in lengths else min(lengths)


def parse_length(text: str | None) -> int | None:
    """Seconds typed in the Extend modal ("8", "8s", "8 秒", "８"); None when it is not a number."""
    cleaned = unicodedata.normalize("NFKC", text or "").strip().lower()
    cleaned = re.sub(r"\s*(s|sec|secs|seconds?|秒)$", "", cleaned)
    return int(cleaned) if cleaned.isdigit() and len(cleaned) <= 4 else None


async def extend(service: JobService, who: Requester, parent: Job, prompt: str, length: str | None, *,
                 reply_to: int | None) -> Outcome:
    """An extension of `parent` asked from the modal: `length` as typed (None: the only length offered)."""
    lengths = service.extension_lengths(parent)
    seconds = default_length(parent, lengths) if lengths else parent.seconds
    if length is not None and length.strip():
        parsed = parse_length(length)
        if parsed is None and lengths:  # (none offered: request_extension says it can't be extended)
            return Outcome(words.extend_bad_length(length, lengths), refusal="invalid")
        seconds = parsed if parsed is not None else seconds
    return await service.request_extension(who, parent, prompt, seconds, reply_to_message_id=reply_to)
