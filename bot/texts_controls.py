"""Member-facing words of the controls: Cancel, Again, the gallery, the report chart, the fitted frame.

Plain English strings, like bot/texts.py (kept apart so the localisation work can route them
through the catalogue after merging). Every text stays within Discord's 2,000 characters and
escapes what members typed.
"""

from __future__ import annotations

from bot.texts import MAX_CONTENT, JobView, discord_len, safe_excerpt, seconds_label, shorten, size_label

CANCEL_LABEL = "Cancel"
AGAIN_LABEL = "Again"
GALLERY_PREVIOUS = "Previous"
GALLERY_NEXT = "Next"

# States in which the create has (or may have) reached the provider but the video isn't back yet.
_SENT = frozenset({"submitting", "unknown", "queued", "running"})


def cannot_stop_note() -> str:
    return "🔒 Already sent to the video service: it can't be stopped now (the service has no cancel)."


def status_with_controls(job: JobView, state: str, base: str) -> str:
    """The status message as the controls see it: `base` (texts.status_text), with a note once the
    job can no longer be cancelled, or the cancelled words for a cancelled job."""
    if state == "cancelled":
        return cancelled_status(job)
    if state not in _SENT:
        return base
    note = "\n" + cannot_stop_note()
    if discord_len(base) + discord_len(note) <= MAX_CONTENT:
        return base + note
    return shorten(base, MAX_CONTENT - discord_len(note)) + note


def cancelled_status(job: JobView) -> str:
    head = (f"🎬 Video `{job.job_id}` for <@{job.user_id}> — {job.model} · {size_label(job.size)} · "
            f"{seconds_label(job.seconds)}\n> ")
    tail = "\n🛑 Cancelled before it was sent. Nothing was charged."
    budget = MAX_CONTENT - discord_len(head) - discord_len(tail)
    return shorten(head + safe_excerpt(job.prompt, max(budget, 20)) + tail, MAX_CONTENT)


def cancel_done(job_id: object) -> str:
    return f"🛑 Video `{job_id}` is cancelled. It was never sent, so nothing was charged: your quota is back."


def cancel_too_late(job_id: object) -> str:
    return (f"Video `{job_id}` was already sent to the video service, so it can't be stopped now: the service "
            "has no way to cancel a video once it has started.")


def cancel_already_over(job_id: object) -> str:
    return f"Video `{job_id}` isn't waiting any more, so there's nothing to cancel."


def cancel_not_allowed(job_id: object) -> str:
    return f"Only the member who asked for video `{job_id}` (or a server manager) can cancel it."


def again_unknown(job_id: object) -> str:
    return f"I can't find video `{job_id}` in this server, so I can't make it again."


def again_frame_gone(job_id: object) -> str:
    return (f"The first-frame image of video `{job_id}` is no longer kept, so it can't be made again as it was. "
            "Use `/sora` with the image to start over.")


def gallery_empty(*, own: bool) -> str:
    return ("You have no finished videos in this server yet. Make one with `/sora`." if own
            else "That member has no finished videos in this server yet.")


def gallery_others_refused() -> str:
    return "Only server managers (Manage Server) can look at another member's videos."


def gallery_page(entries: list[tuple[int, str, str]], *, page: int, pages: int, total: int,
                 user_id: int, own: bool) -> str:
    """One page: (job id, prompt, link to the result message) per video, newest first."""
    whose = "Your videos" if own else f"Videos of <@{user_id}>"
    head = f"🎞️ **{whose}** in this server — {total} in all · page {page} of {pages}"
    lines = [head]
    budget = max(20, (MAX_CONTENT - discord_len(head)) // max(1, len(entries)) - 40)
    for job_id, prompt, link in entries:
        lines.append(f"`{job_id}` [{safe_excerpt(prompt, min(budget, 90))}]({link})")
    return shorten("\n".join(lines), MAX_CONTENT)


def gallery_not_yours() -> str:
    return "These buttons belong to the member who opened this gallery. Use `/sora-gallery` for your own."


def first_frame_note(size: str) -> str:
    return f"🖼️ Your image was cropped to {size_label(size)}: the video will start from the frame attached."


def report_chart_name() -> str:
    return "usage-this-month.png"


def chart_titles() -> dict[str, str]:
    return {"videos": "Videos per day", "spend": "Spend per day (USD)", "top": "Top members (USD)",
            "day": "Day of the month", "none": "No videos yet this month"}
