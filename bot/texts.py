"""Every message a member sees, as pure functions of plain values (str, int, datetime, Decimal).

The words themselves are message ids looked up in the catalogues (bot/i18n.py, bot/locales/):
every function takes `locale=` (None: the context's locale, which the bot sets per interaction to
the member's client language). Nothing here touches Discord or the database: the cogs and the job
engine build a `JobView` from their own records and call these functions. Two rules hold for every output:

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from bot.i18n import money_usd, ntr, number, tr
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


# --- models: /sora-models, refusals of what a model does not take ---------------------------------

def catalog_empty(*, locale: str | None = None) -> str:
    return tr("models.catalog_empty", locale)


def refused_first_frame(model_name: str, *, locale: str | None = None) -> str:
    return tr("models.no_first_frame", locale, model=safe_user_text(model_name))


def _runs(values: list[int], locale: str | None) -> str:
    """[2, 3, 4, 5, 8, 10] → "2–5, 8, 10 s"."""
    parts, start = [], None
    for index, value in enumerate(values):
        if start is None:
            start = value
        if index + 1 == len(values) or values[index + 1] != value + 1:
            parts.append(str(start) if start == value else f"{start}–{value}")
            start = None
    return tr("unit.seconds", locale, n=", ".join(parts))


def model_summary(name: str, model_id: str, *, seconds: list[int], sizes: list[str], audio: bool | None,
                  first_frame: bool, last_frame: bool, usd_per_second: Decimal | None,
                  default: bool = False, locale: str | None = None) -> str:
    """One model in /sora-models: name and id, price, lengths, shapes, frames and audio."""
    head = f"**{safe_user_text(name)}**" + (f" (`{model_id}`)" if model_id != name else "")
    if default:
        head += " · " + tr("models.default", locale)
    price = (tr("models.price_per_second", locale, price=usd(usd_per_second, locale=locale))
             if usd_per_second is not None else tr("models.price_unlisted", locale))
    if first_frame and last_frame:
        frames = tr("models.frames_both", locale)
    else:
        frames = tr("models.frames_first", locale) if first_frame else tr("models.frames_none", locale)
    sound = {True: tr("models.audio", locale), False: tr("models.no_audio", locale),
             None: tr("models.audio_unknown", locale)}[audio]
    shown = sizes[:8]
    more = " " + tr("models.more_sizes", locale, n=len(sizes) - len(shown)) if len(sizes) > len(shown) else ""
    shapes = ", ".join(shown) + more
    return f"{head} — {price}\n  {_runs(seconds, locale)} · {shapes} · {frames} · {sound}"


def models_pages(entries: list[str], *, limit: int = MAX_CONTENT, max_pages: int = 5,
                 locale: str | None = None) -> list[str]:
    """The /sora-models answer cut into messages of at most `limit`; beyond `max_pages` the last page
    says how many models are not shown."""
    if not entries:
        return [tr("models.none_enabled", locale)]
    pages: list[str] = []
    current = tr("models.title", locale)
    for index, entry in enumerate(entries):
        entry = shorten(entry, limit - 40)
        if discord_len(current) + 1 + discord_len(entry) <= limit:
            current += "\n" + entry
            continue
        if len(pages) + 1 == max_pages:
            more = "\n" + tr("models.not_shown", locale, n=len(entries) - index)
            pages.append(shorten(current, limit - discord_len(more)) + more)
            return pages
        pages.append(current)
        current = entry
    pages.append(current)
    return pages


def default_model_set(model: str | None, *, locale: str | None = None) -> str:
    if model is None:
        return tr("admin.default_model_cleared", locale)
    return tr("admin.default_model_set", locale, model=safe_user_text(model))


def default_model_not_allowed(model: str, *, locale: str | None = None) -> str:
    return tr("admin.default_model_not_allowed", locale, model=safe_user_text(model))


def _options(values: list, locale: str | None) -> str:
    return ", ".join(values) or tr("list.none", locale)


def unknown_model(model: str, known: list[str], *, locale: str | None = None) -> str:
    return tr("models.unknown", locale, model=safe_user_text(model),
              options=_options([f"`{m}`" for m in known[:30]], locale))


# --- quota words (used by bot.quota) ---------------------------------------------------------------

def _when(moment: datetime | None, locale: str | None) -> str:
    return discord_time(moment) if moment is not None else tr("time.later", locale)


def refused_model(model: str, allowed: list[str], *, locale: str | None = None) -> str:
    return tr("quota.model", locale, model=safe_user_text(model),
              options=_options([f"`{m}`" for m in allowed], locale))


def refused_size(size: str, allowed: list[str], *, locale: str | None = None) -> str:
    return tr("quota.size", locale, size=size_label(size, locale=locale),
              options=_options([size_label(s, locale=locale) for s in allowed], locale))


def refused_seconds(seconds: int, allowed: list[int], max_seconds: int | None, *, locale: str | None = None) -> str:
    choices = [s for s in allowed if max_seconds is None or s <= max_seconds]
    if allowed:
        options = ", ".join(tr("unit.seconds", locale, n=s) for s in choices)
    else:
        options = tr("quota.up_to_seconds", locale, n=max_seconds)
    return tr("quota.seconds", locale, seconds=seconds, options=options or tr("list.none", locale))


def refused_cooldown(until: datetime, *, locale: str | None = None) -> str:
    return tr("quota.cooldown", locale, when=discord_time(until))


def refused_user_videos(used: int, limit: int, resets_at: datetime | None, *, locale: str | None = None) -> str:
    if limit == 0:
        return tr("quota.videos_disabled", locale)
    return ntr("quota.user_videos", "quota.user_videos_plural", limit, locale, used=number(used, locale),
               when=_when(resets_at, locale))


def refused_user_seconds(used: float, limit: int, requested: int, resets_at: datetime | None,
                         *, locale: str | None = None) -> str:
    if requested > limit:
        return tr("quota.user_seconds_too_long", locale, requested=requested, limit=limit)
    return tr("quota.user_seconds", locale, used=number(used, locale), limit=limit, requested=requested,
              when=_when(resets_at, locale))


def refused_guild_seconds(used: float, limit: int, requested: int, resets_at: datetime,
                          *, locale: str | None = None) -> str:
    return tr("quota.guild_seconds", locale, used=number(used, locale), limit=limit, requested=requested,
              when=discord_time(resets_at))


def refused_guild_budget(spent: Decimal, limit: Decimal, cost: Decimal, resets_at: datetime,
                         *, locale: str | None = None) -> str:
    return tr("quota.guild_budget", locale, spent=usd(spent, locale=locale), limit=usd(limit, locale=locale),
              cost=usd(cost, locale=locale), when=discord_time(resets_at))


def refused_unpriced(model: str, size: str, *, locale: str | None = None) -> str:
    return tr("quota.unpriced", locale, model=safe_user_text(model), size=size_label(size, locale=locale))


def quota_window_line(label: str, used: str, limit: str | None, left: str | None,
                      resets_at: datetime | None, *, locale: str | None = None) -> str:
    """One line of /sora-quota: `**Videos today:** 2 of 3 used, 1 left · resets <t:…:R>`."""
    if limit is None:
        return tr("quota.line_unlimited", locale, label=label, used=used)
    line = tr("quota.line", locale, label=label, used=used, limit=limit, left=left)
    if resets_at is not None:
        line += " · " + tr("quota.line_resets", locale, when=discord_time(resets_at))
    return line


def wait_for_slot(*, own: bool, locale: str | None = None) -> str:
    """An accepted job that waits locally for a concurrency slot."""
    return tr("quota.wait_own", locale) if own else tr("quota.wait_server", locale)


def quota_extras_line(*, active: int, concurrent_limit: int | None, cooldown_until: datetime | None,
                      models: tuple[str, ...] | None, locale: str | None = None) -> str:
    """The last facts of /sora-quota: videos in progress, cooldown, models the member may use."""
    at_a_time = " " + tr("quota.at_a_time", locale, n=concurrent_limit) if concurrent_limit else ""
    parts = [tr("quota.in_progress", locale, n=active) + at_a_time]
    if cooldown_until is not None:
        parts.append(tr("quota.next_allowed", locale, when=discord_time(cooldown_until)))
    if models is not None:
        parts.append(tr("quota.models", locale, models=_options([f"`{m}`" for m in models], locale)))
    return " · ".join(parts)


def typical_cost_line(model: str, size: str, seconds: int, cost: Decimal, *, locale: str | None = None) -> str:
    return tr("quota.typical_cost", locale, model=model, size=size_label(size, locale=locale), seconds=seconds,
              cost=usd(cost, locale=locale))


# --- hard limits and refusals of untrusted requests (see README "Security") -------------------------

def listing(items: Iterable[str], *, locale: str | None = None) -> str:
    """`items` as one run of text, separated the locale's way ("a, b" / "a、b")."""
    return tr("list.separator", locale).join(items)


def channel_mentions(channel_ids: Iterable[int], *, locale: str | None = None) -> str:
    return listing((f"<#{c}>" for c in channel_ids), locale=locale)


def tier_line(role_id: int, tier: str, *, locale: str | None = None) -> str:
    """One role tier in `/sora-admin show`."""
    return tr("admin.tier_line", locale, role=f"<@&{role_id}>", tier=tier)


def price_list(prices: Mapping[str, str], *, locale: str | None = None) -> str:
    """A server's prices per second, by model (or model@size), in `/sora-admin show`."""
    return listing((tr("admin.price_item", locale, key=k, price=v) for k, v in sorted(prices.items())),
                   locale=locale)


def admin_only(*, locale: str | None = None) -> str:
    return tr("admin.only_managers", locale)


def guild_not_allowed(*, locale: str | None = None) -> str:
    return tr("guild.not_allowed", locale)


ADMIN_ONLY = tr("admin.only_managers", "en")  # the English words, kept for callers that compare
GUILD_NOT_ALLOWED = tr("guild.not_allowed", "en")


def remix_refused(job_id: object, *, locale: str | None = None) -> str:
    """The one answer to a remix that can't go ahead (unknown id, another server, not finished, a
    channel the member can't see): the same words whatever the reason, so ids can't be probed."""
    return tr("remix.refused", locale, job_id=job_id)


def leaving_guild_text(*, locale: str | None = None) -> str:
    """Posted (where the bot can) before it leaves a server that DISCORD_ALLOWED_GUILD_IDS does not list."""
    return tr("guild.leaving", locale)


def refused_bot_budget(resets_at: datetime, *, locale: str | None = None) -> str:
    """The bot-wide monthly ceiling (BOT_USD_PER_MONTH) is reached: nobody can make videos until it renews."""
    return tr("quota.bot_budget", locale, when=discord_time(resets_at, "f"))
