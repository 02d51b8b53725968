"""Member-facing words of the controls: Cancel, Again, Extend, the gallery, the report chart, the fitted frame.

Every word comes from the catalogue (bot/i18n.py, ids `controls.*`), in `locale` (None: the
context's, i.e. the member's for private answers); public texts take the job's language. Every
text stays within Discord's 2,000 characters and escapes what members typed.
"""

from __future__ import annotations

from bot.i18n import tr
from bot.texts import (
    MAX_CONTENT,
    JobView,
    discord_len,
    safe_excerpt,
    safe_user_text,
    seconds_label,
    shorten,
    size_label,
)


def cancel_label(locale: str | None = None) -> str:
    return tr("controls.cancel_label", locale)


def again_label(locale: str | None = None) -> str:
    return tr("controls.again_label", locale)


def gallery_previous() -> str:
    return tr("controls.gallery_previous")


def gallery_next() -> str:
    return tr("controls.gallery_next")

# States in which the create has (or may have) reached the provider but the video isn't back yet.
_SENT = frozenset({"submitting", "unknown", "queued", "running"})


def cannot_stop_note(locale: str | None = None) -> str:
    return tr("controls.cannot_stop", locale)


def status_with_controls(job: JobView, state: str, base: str) -> str:
    """The status message as the controls see it: `base` (texts.status_text), with a note once the
    job can no longer be cancelled, or the cancelled words for a cancelled job."""
    if state == "cancelled":
        return cancelled_status(job)
    if state not in _SENT:
        return base
    note = "\n" + cannot_stop_note(job.locale)
    if discord_len(base) + discord_len(note) <= MAX_CONTENT:
        return base + note
    return shorten(base, MAX_CONTENT - discord_len(note)) + note


def cancelled_status(job: JobView) -> str:
    spec = f"{job.model} · {size_label(job.size, locale=job.locale)} · {seconds_label(job.seconds, locale=job.locale)}"
    head = tr("status.head", job.locale, job_id=job.job_id, user_id=job.user_id, spec=spec) + "\n> "
    tail = "\n" + tr("controls.cancelled_tail", job.locale)
    budget = MAX_CONTENT - discord_len(head) - discord_len(tail)
    return shorten(head + safe_excerpt(job.prompt, max(budget, 20)) + tail, MAX_CONTENT)


def cancel_done(job_id: object) -> str:
    return tr("controls.cancel_done", job_id=job_id)


def cancel_too_late(job_id: object) -> str:
    return tr("controls.cancel_too_late", job_id=job_id)


def cancel_already_over(job_id: object) -> str:
    return tr("controls.cancel_already_over", job_id=job_id)


def cancel_not_allowed(job_id: object) -> str:
    return tr("controls.cancel_not_allowed", job_id=job_id)


def again_unknown(job_id: object) -> str:
    return tr("controls.again_unknown", job_id=job_id)


def again_frame_gone(job_id: object) -> str:
    return tr("controls.again_frame_gone", job_id=job_id)


def gallery_empty(*, own: bool) -> str:
    return tr("controls.gallery_empty_own") if own else tr("controls.gallery_empty_other")


def gallery_others_refused() -> str:
    return tr("controls.gallery_others_refused")


def gallery_page(entries: list[tuple[int, str, str]], *, page: int, pages: int, total: int,
                 user_id: int, own: bool) -> str:
    """One page: (job id, prompt, link to the result message) per video, newest first."""
    head = (tr("controls.gallery_head_own", total=total, page=page, pages=pages) if own
            else tr("controls.gallery_head_other", user_id=user_id, total=total, page=page, pages=pages))
    lines = [head]
    budget = max(20, (MAX_CONTENT - discord_len(head)) // max(1, len(entries)) - 40)
    for job_id, prompt, link in entries:
        lines.append(f"`{job_id}` [{safe_excerpt(prompt, min(budget, 90))}]({link})")
    return shorten("\n".join(lines), MAX_CONTENT)


def gallery_not_yours() -> str:
    return tr("controls.gallery_not_yours")


def first_frame_note(size: str) -> str:
    return tr("controls.first_frame_note", size=size_label(size))


def report_chart_name() -> str:
    return "usage-this-month.png"


def chart_titles() -> dict[str, str]:
    return {"videos": tr("controls.chart_videos"), "spend": tr("controls.chart_spend"), "top": tr("controls.chart_top"),
            "day": tr("controls.chart_day"), "none": tr("controls.chart_none")}


# --- Extend -----------------------------------------------------------------------------------------
def extend_label(locale: str | None = None) -> str:
    return tr("controls.extend_label", locale)


def extend_modal_title() -> str:
    return tr("controls.extend_title")


def extend_next_label() -> str:
    return tr("controls.extend_next_label")


def extend_next_placeholder() -> str:
    return tr("controls.extend_next_placeholder")


def extend_length_label() -> str:
    return tr("controls.extend_length_label")


def seconds_options(values: list[int]) -> str:
    """"4, 8 or 12"; a run of three or more in a row as a range ("1–15")."""
    runs: list[str] = []
    ordered = sorted(set(values))
    start = 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
            chunk = ordered[start:i]
            runs.extend([f"{chunk[0]}–{chunk[-1]}"] if len(chunk) >= 3 else [str(v) for v in chunk])
            start = i
    if len(runs) <= 1:
        return runs[0] if runs else ""
    return tr("list.or", head=", ".join(runs[:-1]), last=runs[-1])


def extend_length_placeholder(values: list[int]) -> str:
    return shorten(tr("controls.extend_length_placeholder", options=seconds_options(values)), 100)


def extend_unsupported(model: str) -> str:
    return tr("controls.extend_unsupported", model=safe_user_text(model))


def extend_refused(job_id: object) -> str:
    return tr("controls.extend_refused", job_id=job_id)


def extend_bad_length(given: str, values: list[int]) -> str:
    return tr("controls.extend_bad_length", given=safe_excerpt(given, 20), options=seconds_options(values))


def extend_not_a_result() -> str:
    return tr("controls.extend_not_a_result")
