"""Every message a member sees, as pure functions of plain values (str, int, datetime, Decimal).

Nothing here touches Discord or the database: the cogs and the job engine build a `JobView` from
their own records and call these functions. Two rules hold for every output:

- it fits in one Discord message (`MAX_CONTENT` = 2,000 characters, counted in UTF-16 units so the
  count is safe whichever way Discord measures): the prompt is the part that gets shortened;
- user text (prompts, provider error messages) goes through `safe_user_text` first, so it cannot
  ping `@everyone`, a role or a member, and cannot fake our formatting.

Usage sketch::

    job = JobView(job_id="j7Hq2", user_id=42, prompt=prompt, model="sora-2", size="1280x720", seconds=8)
    await channel.send(status_text(job, state="queued", queue_position=3, progress=None, eta_seconds=200))
    await channel.send(result_caption(job, actual_seconds=8.0), file=..., allowed_mentions=only(user))
    await interaction.followup.send(accepted_text(job, eta_seconds=180), ephemeral=True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

MAX_CONTENT = 2000
ELLIPSIS = "…"
ZWSP = "\u200b"

SIZE_LABELS = {
    "720x1280": "portrait 720×1280",
    "1280x720": "landscape 1280×720",
    "1024x1792": "tall portrait 1024×1792",
    "1792x1024": "wide landscape 1792×1024",
}

# @everyone, @here, <@123>, <@!123>, <@&123> (the digits part of user and role mentions).
_MENTION = re.compile(r"@(everyone|here|[!&]?\d{15,21})")
# Characters that change Discord's rendering: bold/italics, strike, spoiler, code, escapes, masked links.
_MARKDOWN = re.compile(r"([\\*_~|`\[\]])")
_LINE_START_MARKUP = re.compile(r"^(\s*)(#{1,3}\s|-#\s|>\s?|[-*+]\s|\d+\.\s)")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class JobView:
    """The plain facts about a job that messages mention; built by the caller from its own record."""

    job_id: str
    user_id: int
    prompt: str
    model: str
    size: str
    seconds: int | float
    remix_of: str | None = None  # our job id of the source video, for remixes


class FailureKind(StrEnum):
    CONTENT_POLICY = "content_policy"  # the provider refused the prompt or the image
    FAILED = "failed"  # the provider said the render failed, for another reason
    EXPIRED = "expired"  # the finished video's link expired before we could fetch it
    UNAVAILABLE = "unavailable"  # the provider was down or kept refusing us
    TIMED_OUT = "timed_out"  # the render never finished
    DELIVERY = "delivery"  # we had the video but could not post it
    UNEXPECTED = "unexpected"  # a bug on our side: show the error id
    CANCELLED = "cancelled"  # the provider cancelled the job before it finished (OpenRouter)
    UPSTREAM_EXPIRED = "upstream_expired"  # the job outlived the provider's time limit unfinished (OpenRouter)


# --- measuring and cutting -------------------------------------------------------------------------

def discord_len(text: str) -> int:
    """Length in UTF-16 code units: never less than the code-point count, so a safe budget."""
    return len(text.encode("utf-16-le")) // 2


def _prefix_within(text: str, budget: int) -> int:
    """The number of code points of the longest prefix of `text` whose discord_len is <= budget."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > budget:
            return index
    return len(text)


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` (UTF-16 units), ending in "…" when cut.

    Prefers a word boundary near the end; never cuts inside markup: not between a backslash and
    the character it escapes, not inside `<…>` (mentions, timestamps) and not after a lone "@"."""
    if limit <= 0:
        return ""
    if discord_len(text) <= limit:
        return text
    if limit == 1:
        return ELLIPSIS
    cut = _prefix_within(text, limit - 1)
    head = text[:cut]
    space = head.rfind(" ")
    if space >= max(1, int(cut * 0.8)):
        head = head[:space]
    opened = head.rfind("<")
    if opened > head.rfind(">"):
        head = head[:opened]
    trailing_backslashes = len(head) - len(head.rstrip("\\"))
    if trailing_backslashes % 2:
        head = head[:-1]
    head = head.rstrip()
    if head.endswith("@"):
        head = head[:-1]
    return head + ELLIPSIS


def safe_user_text(text: str, *, one_line: bool = True) -> str:
    """User text made inert: no mentions (a zero-width space after "@"), markdown escaped, and by
    default whitespace (including newlines) collapsed so it cannot start headings or quotes."""
    if one_line:
        text = _WHITESPACE.sub(" ", text).strip()
    text = _MARKDOWN.sub(r"\\\1", text)
    text = _MENTION.sub("@" + ZWSP + r"\1", text)
    lines = [_LINE_START_MARKUP.sub(lambda m: m.group(1) + "\\" + m.group(2), line)
             for line in text.split("\n")]
    return "\n".join(lines)


def safe_excerpt(text: str, limit: int) -> str:
    """User text shortened to `limit` after escaping, never ending in a half escape."""
    return shorten(safe_user_text(text), limit)


def _fit(parts_before: str, user_text: str, parts_after: str, *, minimum: int = 0) -> str:
    """`before + escaped user text + after`, the user text shortened so the whole fits MAX_CONTENT."""
    budget = MAX_CONTENT - discord_len(parts_before) - discord_len(parts_after)
    excerpt = safe_excerpt(user_text, max(budget, minimum))
    return shorten(parts_before + excerpt + parts_after, MAX_CONTENT)


# --- small formatters ------------------------------------------------------------------------------

def discord_time(moment: datetime, style: str = "R") -> str:
    """Discord timestamp markup (`<t:UNIX:R>` renders "in 3 hours" in each reader's own zone)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"<t:{int(moment.timestamp())}:{style}>"


def human_duration(seconds: float) -> str:
    """Rough words for a wait: "a few seconds", "about 40 s", "about 3 min", "about 1 h 20 min"."""
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return "a few seconds"
    if seconds < 55:
        return f"about {int(5 * round(seconds / 5))} s"
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"about {minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"about {hours} h {rest} min" if rest else f"about {hours} h"


def human_bytes(size: int) -> str:
    """`31.2 MB` (decimal units, like file managers show)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def usd(amount: Decimal | float) -> str:
    """`$0.80`, or `$0.0125` when cents would round a non-zero amount to nothing."""
    value = Decimal(str(amount))
    cents = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if cents == 0 and value != 0:
        return f"${value.normalize():f}"
    return f"${cents:,.2f}"


def size_label(size: str) -> str:
    """`1280x720` → "landscape 1280×720"; unknown sizes are named by their orientation."""
    if size in SIZE_LABELS:
        return SIZE_LABELS[size]
    width, _, height = size.lower().partition("x")
    if not (width.isdigit() and height.isdigit()):
        return safe_user_text(size)
    w, h = int(width), int(height)
    shape = "landscape" if w > h else "portrait" if w < h else "square"
    return f"{shape} {w}×{h}"


def seconds_label(seconds: float) -> str:
    return f"{seconds:g} s" if float(seconds) != int(seconds) else f"{int(seconds)} s"


def _spec(job: JobView) -> str:
    return f"{job.model} · {size_label(job.size)} · {seconds_label(job.seconds)}"


def progress_bar(progress: int | None, width: int = 20) -> str:
    """`█████████▌░░░░░░░░░░ 48%`; None (no progress reported) gives an indeterminate bar."""
    width = max(1, width)
    if progress is None:
        return "▒" * width + " working…"
    progress = min(100, max(0, int(progress)))
    eighths = round(progress * width * 8 / 100)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part].strip()
    bar = "█" * full + partial
    return bar + "░" * (width - len(bar)) + f" {progress}%"


# --- job messages ----------------------------------------------------------------------------------

def _eta_words(eta_seconds: float | None) -> str:
    if eta_seconds is None:
        return ""
    if eta_seconds <= 5:
        return " · any moment now"
    return f" · {human_duration(eta_seconds)} left"


def status_text(
    job: JobView,
    *,
    state: str,
    queue_position: int | None = None,
    progress: int | None = None,
    eta_seconds: float | None = None,
    credit_paused: bool = False,
) -> str:
    """The public status message edited while a job runs (state is our job state's value).
    `credit_paused`: submissions wait because the provider account is out of credit (402)."""
    head = f"🎬 Video `{job.job_id}` for <@{job.user_id}> — {_spec(job)}"
    if job.remix_of:
        head += f" · remix of `{job.remix_of}`"
    if state in ("requested", "submitting") and credit_paused:
        line = "⏸️ " + credit_paused_note()
    elif state in ("requested", "submitting") and queue_position:
        line = f"⏳ Waiting in line: you are #{queue_position}{_eta_words(eta_seconds)}"
    elif state in ("requested", "submitting"):
        line = "📨 Sending your request…"
    elif state == "queued":
        where = f" (#{queue_position} in line)" if queue_position else ""
        line = f"⏳ Queued at the video service{where}{_eta_words(eta_seconds)}"
    elif state == "running":
        line = f"{progress_bar(progress)}{_eta_words(eta_seconds)}"
    elif state in ("completed", "downloading", "delivering"):
        line = f"{progress_bar(100)} · finishing up, the video is on its way."
    elif state == "delivered":
        line = "✅ Done — the video is posted below."
    elif state in ("failed", "expired"):
        line = "❌ This video could not be made. See the message below."
    else:
        line = f"State: {safe_user_text(state)}"
    return _fit(head + "\n> ", job.prompt, "\n" + line, minimum=20)


def result_caption(
    job: JobView,
    *,
    actual_seconds: float | None = None,
    original_size: str | None = None,
    original_bytes: int | None = None,
) -> str:
    """The message that carries the MP4: requester, job id, prompt, model, size, seconds, and a note
    when the file was compressed to fit the upload limit (pass the original size and byte count)."""
    seconds = actual_seconds if actual_seconds is not None else job.seconds
    spec = f"{job.model} · {size_label(job.size)} · {seconds_label(round(float(seconds), 1))}"
    head = f"<@{job.user_id}> your video is ready! 🎬 `{job.job_id}` — {spec}"
    if job.remix_of:
        head += f" · remix of `{job.remix_of}`"
    tail = ""
    if original_size or original_bytes:
        bits = [b for b in (original_size and original_size.replace("x", "×"),
                            original_bytes and human_bytes(original_bytes)) if b]
        tail += f"\n-# compressed to fit: original {', '.join(bits)}"
    tail += "\n-# Reply to this message with a change to remix it, or use the Remix button."
    return _fit(head + "\n> ", job.prompt, tail, minimum=20)


def failure_text(
    job: JobView,
    kind: FailureKind,
    *,
    detail: str | None = None,
    refunded: bool = True,
    error_id: str | None = None,
) -> str:
    """Why a job ended without a video, in plain words. `detail` is the provider's message, shown
    escaped and shortened; `refunded` says the reservation was given back to the member's quota."""
    head = f"<@{job.user_id}> your video `{job.job_id}` could not be made. "
    reason = {
        FailureKind.CONTENT_POLICY: "The video service refused it under its content policy. "
        "Try rewording the prompt (or using another image).",
        FailureKind.FAILED: "The video service reported that the render failed.",
        FailureKind.EXPIRED: "It finished, but its download link expired before the bot could fetch it.",
        FailureKind.UNAVAILABLE: "The video service is unavailable right now. Please try again later.",
        FailureKind.TIMED_OUT: "The video service never finished it.",
        FailureKind.DELIVERY: "It finished, but the bot could not post it here.",
        FailureKind.UNEXPECTED: "Something went wrong inside the bot.",
        FailureKind.CANCELLED: "The video service cancelled it before it was finished, so there is no video.",
        FailureKind.UPSTREAM_EXPIRED: "The video service took too long and dropped it before it was finished, "
        "so there is no video. Please try again.",
    }[kind]
    tail = ""
    if refunded:
        tail += "\nIt does not count against your quota."
    if error_id:
        tail += "\n" + error_id_text(error_id)
    prompt_part = "\n> " + safe_excerpt(job.prompt, 300)
    if detail and kind is not FailureKind.UNEXPECTED:
        return _fit(head + reason + prompt_part + "\nService said: ", detail, tail)
    return shorten(head + reason + prompt_part + tail, MAX_CONTENT)


def accepted_text(
    job: JobView,
    *,
    eta_seconds: float,
    queue_position: int | None = None,
    cost: Decimal | None = None,
) -> str:
    """The private reply once a job is accepted: its id, what was asked, and when to expect it."""
    wait = f"Expected in {human_duration(eta_seconds)}"
    if queue_position:
        wait = f"You are #{queue_position} in line. " + wait
    extra = f" Estimated cost: {usd(cost)}." if cost is not None else ""
    head = f"✅ Job `{job.job_id}` accepted — {_spec(job)}"
    if job.remix_of:
        head += f" · remix of `{job.remix_of}`"
    tail = f"\n{wait}; I'll post it in this channel and mention you.{extra}"
    return _fit(head + "\n> ", job.prompt, tail, minimum=20)


def credit_paused_note() -> str:
    """Submissions are paused bot-wide: the provider said the account is out of credit (402)."""
    return ("This server's video credit has run out, so new videos are paused. Yours is kept in line "
            "and starts by itself when the bot's owner adds credit; nothing has been charged.")


def continuation_unsupported(model: str) -> str:
    """A remix asked of a video whose model cannot continue one (checked before anything is sent)."""
    return (f"Videos made with `{safe_user_text(model)}` can't be remixed: that model can't continue an "
            "existing video. Nothing was charged. Try a new /sora prompt instead.")


def reply_without_text_hint() -> str:
    """When a reply to a result arrives without its text (no message content intent)."""
    return ("I couldn't read your reply's text, so I can't tell what to change. Use the **Remix** "
            "button on the video, or right-click the video → Apps → **Remix with Sora**.")


def error_id_text(error_id: str) -> str:
    """For an unexpected error: an id the member can hand to an admin, who finds it in the logs."""
    return (f"Something went wrong on the bot's side (error id `{safe_user_text(error_id)}`). "
            "A server admin can look it up in the bot's logs.")


# --- models: /sora-models, refusals of what a model does not take ---------------------------------

def catalog_empty() -> str:
    return ("No video model is available right now: the provider's model list couldn't be read yet. "
            "Please try again in a few minutes.")


def refused_first_frame(model_name: str) -> str:
    return (f"{safe_user_text(model_name)} can't start from an image. Leave the image out, or choose a "
            "model that takes a first frame (see /sora-models).")


def _runs(values: list[int]) -> str:
    """[2, 3, 4, 5, 8, 10] → "2–5, 8, 10 s"."""
    parts, start = [], None
    for index, value in enumerate(values):
        if start is None:
            start = value
        if index + 1 == len(values) or values[index + 1] != value + 1:
            parts.append(str(start) if start == value else f"{start}–{value}")
            start = None
    return ", ".join(parts) + " s"


def model_summary(name: str, model_id: str, *, seconds: list[int], sizes: list[str], audio: bool | None,
                  first_frame: bool, last_frame: bool, usd_per_second: Decimal | None,
                  default: bool = False) -> str:
    """One model in /sora-models: name and id, price, lengths, shapes, frames and audio."""
    head = f"**{safe_user_text(name)}**" + (f" (`{model_id}`)" if model_id != name else "")
    if default:
        head += " · default"
    price = f"about {usd(usd_per_second)}/s" if usd_per_second is not None else "price not listed"
    frames = "first and last frame" if first_frame and last_frame else "first frame" if first_frame else "no image"
    sound = {True: "audio", False: "no audio", None: "audio unknown"}[audio]
    shown = sizes[:8]
    shapes = ", ".join(shown) + (f" +{len(sizes) - len(shown)} more" if len(sizes) > len(shown) else "")
    return f"{head} — {price}\n  {_runs(seconds)} · {shapes} · {frames} · {sound}"


def models_pages(entries: list[str], *, limit: int = MAX_CONTENT, max_pages: int = 5) -> list[str]:
    """The /sora-models answer cut into messages of at most `limit`; beyond `max_pages` the last page
    says how many models are not shown."""
    if not entries:
        return ["No model is enabled on this server. Ask a server admin (/sora-admin allow)."]
    pages: list[str] = []
    current = "**Models you can use** (pick one with `/sora model:`)"
    for index, entry in enumerate(entries):
        entry = shorten(entry, limit - 40)
        if discord_len(current) + 1 + discord_len(entry) <= limit:
            current += "\n" + entry
            continue
        if len(pages) + 1 == max_pages:
            left = len(entries) - index
            more = f"\n… and {left} more not shown; ask with `/sora model:` to see a model's choices."
            pages.append(shorten(current, limit - discord_len(more)) + more)
            return pages
        pages.append(current)
        current = entry
    pages.append(current)
    return pages


def default_model_set(model: str | None) -> str:
    if model is None:
        return "✅ This server's default model is the bot's default again."
    return f"✅ /sora now uses `{safe_user_text(model)}` when a member doesn't choose a model."


def default_model_not_allowed(model: str) -> str:
    return (f"Note: `{safe_user_text(model)}` isn't in this server's allowed models, so members will be "
            "told to pick another; add it with /sora-admin allow.")


def unknown_model(model: str, known: list[str]) -> str:
    options = ", ".join(f"`{m}`" for m in known[:30]) or "none"
    return f"`{safe_user_text(model)}` isn't a model this bot offers. Available: {options}."


# --- quota words (used by bot.quota) ---------------------------------------------------------------

def _when(moment: datetime | None) -> str:
    return discord_time(moment) if moment is not None else "later"


def refused_model(model: str, allowed: list[str]) -> str:
    options = ", ".join(f"`{m}`" for m in allowed) or "none"
    return f"The model `{safe_user_text(model)}` isn't enabled on this server. Available: {options}."


def refused_size(size: str, allowed: list[str]) -> str:
    options = ", ".join(size_label(s) for s in allowed) or "none"
    return f"The size {size_label(size)} isn't enabled on this server. Available: {options}."


def refused_seconds(seconds: int, allowed: list[int], max_seconds: int | None) -> str:
    choices = [s for s in allowed if max_seconds is None or s <= max_seconds]
    options = ", ".join(f"{s} s" for s in choices) if allowed else f"up to {max_seconds} s"
    return f"{seconds} s videos aren't enabled for you on this server. Available: {options or 'none'}."


def refused_cooldown(until: datetime) -> str:
    return f"Please wait a moment between videos. You can start the next one {discord_time(until)}."


def refused_user_videos(used: int, limit: int, resets_at: datetime | None) -> str:
    if limit == 0:
        return "Video generation isn't enabled for you on this server."
    noun = "video" if limit == 1 else "videos"
    return (f"You've used {used} of {limit} {noun} for today. "
            f"Your next one frees up {_when(resets_at)}.")


def refused_user_seconds(used: float, limit: int, requested: int, resets_at: datetime | None) -> str:
    if requested > limit:
        return (f"A {requested} s video is longer than your daily allowance of {limit} s. "
                "Choose a shorter one.")
    return (f"You've used {used:g} of your {limit} s of video for today, and this one needs "
            f"{requested} s. Enough frees up {_when(resets_at)}.")


def refused_guild_seconds(used: float, limit: int, requested: int, resets_at: datetime) -> str:
    return (f"This server has used {used:g} of its {limit} s of video for this month, and this one "
            f"needs {requested} s. The allowance renews {discord_time(resets_at)}.")


def refused_guild_budget(spent: Decimal, limit: Decimal, cost: Decimal, resets_at: datetime) -> str:
    return (f"This server's video budget for the month is nearly spent ({usd(spent)} of {usd(limit)}), "
            f"and this video would cost about {usd(cost)}. The budget renews {discord_time(resets_at)}; "
            "a shorter or cheaper video may still fit.")


def refused_unpriced(model: str, size: str) -> str:
    return (f"`{safe_user_text(model)}` at {size_label(size)} has no price set, so the server's budget "
            "can't cover it. Please ask a server admin.")


def quota_window_line(label: str, used: str, limit: str | None, left: str | None,
                      resets_at: datetime | None) -> str:
    """One line of /sora-quota: `**Videos today:** 2 of 3 used, 1 left · resets <t:…:R>`."""
    if limit is None:
        return f"**{label}:** {used} used · no limit"
    line = f"**{label}:** {used} of {limit} used, {left} left"
    if resets_at is not None:
        line += f" · resets {discord_time(resets_at)}"
    return line


def wait_for_slot(*, own: bool) -> str:
    """An accepted job that waits locally for a concurrency slot."""
    if own:
        return "You already have videos rendering; this one starts as soon as one of them finishes."
    return "The server's video slots are busy; this one starts as soon as a slot frees up."


def quota_extras_line(*, active: int, concurrent_limit: int | None, cooldown_until: datetime | None,
                      models: tuple[str, ...] | None) -> str:
    """The last facts of /sora-quota: videos in progress, cooldown, models the member may use."""
    parts = [f"**In progress:** {active}" + (f" of {concurrent_limit} at a time" if concurrent_limit else "")]
    if cooldown_until is not None:
        parts.append(f"next video allowed {discord_time(cooldown_until)}")
    if models is not None:
        parts.append("models: " + (", ".join(f"`{m}`" for m in models) or "none"))
    return " · ".join(parts)


def typical_cost_line(model: str, size: str, seconds: int, cost: Decimal) -> str:
    return f"A typical video ({model}, {size_label(size)}, {seconds} s) costs the server about {usd(cost)}."


# --- hard limits and refusals of untrusted requests (see README "Security") -------------------------

ADMIN_ONLY = "Only server managers (Manage Server or Administrator) can use `/sora-admin`."
GUILD_NOT_ALLOWED = "This bot isn't enabled for this server."


def remix_refused(job_id: object) -> str:
    """The one answer to a remix that can't go ahead (unknown id, another server, not finished, a
    channel the member can't see): the same words whatever the reason, so ids can't be probed."""
    return f"I can't remix `{job_id}` here. Pick a finished video from this server that you can see."


def leaving_guild_text() -> str:
    """Posted (where the bot can) before it leaves a server that DISCORD_ALLOWED_GUILD_IDS does not list."""
    return ("This Sora bot is private: its operator has enabled it only for some servers, and this isn't one "
            "of them. I'm leaving now; nothing was charged.")


def refused_bot_budget(resets_at: datetime) -> str:
    """The bot-wide monthly ceiling (BOT_USD_PER_MONTH) is reached: nobody can make videos until it renews."""
    return (f"The bot has reached its monthly spending limit, so no new videos can be made until "
            f"{discord_time(resets_at, 'f')}.")
