"""Job messages: the status message, the result's caption, failures, the private confirmation, /sora-jobs' lines."""

from __future__ import annotations

from decimal import Decimal

from bot.i18n import tr
from bot.texts.base import (
    MAX_CONTENT,
    FailureKind,
    JobView,
    _fit,
    _remix_of,
    _spec,
    human_bytes,
    human_duration,
    progress_bar,
    safe_excerpt,
    safe_user_text,
    seconds_label,
    shorten,
    size_label,
    usd,
)

# --- job messages ----------------------------------------------------------------------------------

def _eta_words(eta_seconds: float | None, locale: str | None) -> str:
    if eta_seconds is None:
        return ""
    if eta_seconds <= 5:
        return " · " + tr("eta.any_moment", locale)
    return " · " + tr("eta.left", locale, duration=human_duration(eta_seconds, locale=locale))


def status_text(
    job: JobView,
    *,
    state: str,
    queue_position: int | None = None,
    progress: int | None = None,
    eta_seconds: float | None = None,
    credit_paused: bool = False,
    locale: str | None = None,
) -> str:
    """The public status message edited while a job runs (state is our job state's value).
    `credit_paused`: submissions wait because the provider account is out of credit (402).
    `locale`: the server's (a public message)."""
    locale = locale if locale is not None else job.locale
    head = tr("status.head", locale, job_id=job.job_id, user_id=job.user_id, spec=_spec(job, locale))
    head += _remix_of(job, locale)
    eta = _eta_words(eta_seconds, locale)
    if state in ("requested", "submitting") and credit_paused:
        line = "⏸️ " + credit_paused_note(locale=locale)
    elif state in ("requested", "submitting") and queue_position:
        line = tr("status.waiting_in_line", locale, position=queue_position, eta=eta)
    elif state in ("requested", "submitting"):
        line = tr("status.sending", locale)
    elif state == "queued":
        where = tr("status.queue_position", locale, position=queue_position) if queue_position else ""
        line = tr("status.queued", locale, where=where, eta=eta)
    elif state == "running":
        line = f"{progress_bar(progress, locale=locale)}{eta}"
    elif state in ("completed", "downloading", "delivering"):
        line = f"{progress_bar(100, locale=locale)} · " + tr("status.finishing", locale)
    elif state == "delivered":
        line = tr("status.delivered", locale)
    elif state in ("failed", "expired"):
        line = tr("status.failed", locale)
    else:
        line = tr("status.other", locale, state=safe_user_text(state))
    return _fit(head + "\n> ", job.prompt, "\n" + line, minimum=20)


def result_caption(
    job: JobView,
    *,
    actual_seconds: float | None = None,
    original_size: str | None = None,
    original_bytes: int | None = None,
    locale: str | None = None,
) -> str:
    """The message that carries the MP4: requester, job id, prompt, model, size, seconds, and a note
    when the file was compressed to fit the upload limit (pass the original size and byte count)."""
    locale = locale if locale is not None else job.locale
    seconds = actual_seconds if actual_seconds is not None else job.seconds
    spec = (f"{job.model} · {size_label(job.size, locale=locale)} · "
            f"{seconds_label(round(float(seconds), 1), locale=locale)}")
    head = tr("result.head", locale, user_id=job.user_id, job_id=job.job_id, spec=spec) + _remix_of(job, locale)
    tail = ""
    if original_size or original_bytes:
        bits = [b for b in (original_size and original_size.replace("x", "×"),
                            original_bytes and human_bytes(original_bytes, locale=locale)) if b]
        tail += "\n-# " + tr("result.compressed", locale, original=", ".join(bits))
    tail += "\n-# " + tr("result.remix_hint", locale)
    return _fit(head + "\n> ", job.prompt, tail, minimum=20)


_FAILURE_IDS = {kind: f"failure.{kind.value}" for kind in FailureKind}


def _then(sentence: str) -> str:
    """`sentence` ready for the next words: a space after Latin punctuation, none after the
    full-width marks Chinese ends its sentences and labels with (。：！？)."""
    return sentence if sentence.endswith(("。", "：", "！", "？")) else sentence + " "


def failure_text(
    job: JobView,
    kind: FailureKind,
    *,
    detail: str | None = None,
    refunded: bool = True,
    error_id: str | None = None,
    locale: str | None = None,
) -> str:
    """Why a job ended without a video, in plain words. `detail` is the provider's message, shown
    escaped and shortened; `refunded` says the reservation was given back to the member's quota."""
    locale = locale if locale is not None else job.locale
    head = _then(tr("failure.head", locale, user_id=job.user_id, job_id=job.job_id))
    reason = tr(_FAILURE_IDS[kind], locale)
    tail = ""
    if refunded:
        tail += "\n" + tr("failure.refunded", locale)
    if error_id:
        tail += "\n" + error_id_text(error_id, locale=locale)
    prompt_part = "\n> " + safe_excerpt(job.prompt, 300)
    if detail and kind is not FailureKind.UNEXPECTED:
        return _fit(head + reason + prompt_part + "\n" + _then(tr("failure.service_said", locale)), detail, tail)
    return shorten(head + reason + prompt_part + tail, MAX_CONTENT)


def accepted_text(
    job: JobView,
    *,
    eta_seconds: float,
    queue_position: int | None = None,
    cost: Decimal | None = None,
    locale: str | None = None,
) -> str:
    """The private reply once a job is accepted: its id, what was asked, and when to expect it."""
    wait = tr("accepted.expected", locale, duration=human_duration(eta_seconds, locale=locale))
    if queue_position:
        wait = tr("accepted.in_line", locale, position=queue_position) + " " + wait
    extra = " " + tr("accepted.cost", locale, cost=usd(cost, locale=locale)) if cost is not None else ""
    head = tr("accepted.head", locale, job_id=job.job_id, spec=_spec(job, locale)) + _remix_of(job, locale)
    tail = "\n" + tr("accepted.tail", locale, wait=wait, extra=extra)
    return _fit(head + "\n> ", job.prompt, tail, minimum=20)


def credit_paused_note(*, locale: str | None = None) -> str:
    """Submissions are paused bot-wide: the provider said the account is out of credit (402)."""
    return tr("credit.paused", locale)


def credit_paused_line(*, locale: str | None = None) -> str:
    """The note as its own line under an answer."""
    return "⏸️ " + credit_paused_note(locale=locale)


def job_line(job_id: object, state: str, prompt: str, *, rendering: bool = False, progress: int | None = None,
             link: str | None = None, locale: str | None = None) -> str:
    """One line of `/sora-jobs`: id, state (with a bar while rendering), a link to the result, the prompt."""
    bar = f" {progress_bar(progress, width=10, locale=locale)}" if rendering else ""
    opened = " · " + tr("jobs.open", locale, link=link) if link else ""
    return tr("jobs.line", locale, id=job_id, state=state, progress=bar, link=opened,
              prompt=safe_excerpt(prompt, 60))


def continuation_unsupported(model: str, *, locale: str | None = None) -> str:
    """A remix asked of a video whose model cannot continue one (checked before anything is sent)."""
    return tr("remix.unsupported", locale, model=safe_user_text(model))


def reply_without_text_hint(*, locale: str | None = None) -> str:
    """When a reply to a result arrives without its text (no message content intent)."""
    return tr("remix.reply_without_text", locale)


def error_id_text(error_id: str, *, locale: str | None = None) -> str:
    """For an unexpected error: an id the member can hand to an admin, who finds it in the logs."""
    return tr("error.with_id", locale, error_id=safe_user_text(error_id))
