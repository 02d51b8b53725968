"""The shared part of the texts: JobView, limits of a Discord message, safe user text, formatters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from bot.i18n import money_usd, number, tr
from bot.sora import shapes

MAX_CONTENT = 2000
ELLIPSIS = "…"
ZWSP = "\u200b"

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
    extension_of: str | None = None  # our job id of the video an extension continues
    locale: str | None = None  # the server's language: public job messages (status, result, failure) speak it


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
    """Discord timestamp markup (`<t:UNIX:R>` renders "in 3 hours" in each reader's own zone and language)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"<t:{int(moment.timestamp())}:{style}>"


def human_duration(seconds: float, *, locale: str | None = None) -> str:
    """Rough words for a wait: "a few seconds", "about 40 s", "about 3 min", "about 1 h 20 min"."""
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return tr("duration.few_seconds", locale)
    if seconds < 55:
        return tr("duration.about_seconds", locale, n=number(int(5 * round(seconds / 5)), locale))
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return tr("duration.about_minutes", locale, n=number(minutes, locale))
    hours, rest = divmod(minutes, 60)
    if rest:
        return tr("duration.about_hours_minutes", locale, h=number(hours, locale), m=number(rest, locale))
    return tr("duration.about_hours", locale, h=number(hours, locale))


def human_bytes(size: int, *, locale: str | None = None) -> str:
    """`31.2 MB` (decimal units, like file managers show)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            shown = number(int(value), locale) if unit == "B" else number(value, locale, pattern="#,##0.0")
            return f"{shown} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def usd(amount: Decimal | float, *, locale: str | None = None) -> str:
    """`$0.80`, or `$0.0125` when cents would round a non-zero amount to nothing (per locale: `US$0.80`)."""
    value = Decimal(str(amount))
    cents = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if cents == 0 and value != 0:
        return money_usd(value.normalize(), locale, exact=True)
    return money_usd(cents, locale)


# size → the message id of its shape word
SIZE_LABELS = {
    "720x1280": "shape.portrait",
    "1280x720": "shape.landscape",
    "1024x1792": "shape.tall_portrait",
    "1792x1024": "shape.wide_landscape",
}


def size_label(size: str, *, locale: str | None = None) -> str:
    """`1280x720` → "landscape 1280×720"; unknown sizes are named by their orientation."""
    try:
        w, h = shapes.parse_size(size)
    except ValueError:
        return safe_user_text(size)
    shape = SIZE_LABELS.get(size) or (
        "shape.landscape" if w > h else "shape.portrait" if w < h else "shape.square")
    return tr("size.label", locale, shape=tr(shape, locale), w=w, h=h)


def seconds_label(seconds: float, *, locale: str | None = None) -> str:
    shown = f"{seconds:g}" if float(seconds) != int(seconds) else f"{int(seconds)}"
    return tr("unit.seconds", locale, n=shown)


def _spec(job: JobView, locale: str | None) -> str:
    return f"{job.model} · {size_label(job.size, locale=locale)} · {seconds_label(job.seconds, locale=locale)}"


def _remix_of(job: JobView, locale: str | None) -> str:
    """" · remix of `12`" or " · extension of `12`" after a job's spec, or nothing."""
    if job.extension_of:
        return tr("job.extension_of", locale, parent=job.extension_of)
    return tr("job.remix_of", locale, parent=job.remix_of) if job.remix_of else ""


def progress_bar(progress: int | None, width: int = 20, *, locale: str | None = None) -> str:
    """`█████████▌░░░░░░░░░░ 48%`; None (no progress reported) gives an indeterminate bar."""
    width = max(1, width)
    if progress is None:
        return "▒" * width + " " + tr("progress.working", locale)
    progress = min(100, max(0, int(progress)))
    eighths = round(progress * width * 8 / 100)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part].strip()
    bar = "█" * full + partial
    return bar + "░" * (width - len(bar)) + f" {progress}%"
