"""Member-facing texts: limits, escaping, shortening, labels and wording."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot import texts
from bot.texts import FailureKind, JobView

HUGE_PROMPT = ("@everyone look at <@123456789012345678> and <@&987654321098765432> **bold** `code` "
               "[link](https://evil.example) ~~x~~ ||spoiler|| \\ \n# heading\n> quote 🎬🎬 ") * 300
assert len(HUGE_PROMPT) >= 32000


def job(prompt: str = "a cat surfing a wave at sunset", **kw) -> JobView:
    values = dict(job_id="j7Hq2", user_id=4242, prompt=prompt, model="sora-2", size="1280x720", seconds=8)
    values.update(kw)
    return JobView(**values)


def all_outputs(view: JobView) -> list[str]:
    out = [
        texts.status_text(view, state=state, queue_position=3, progress=42, eta_seconds=200)
        for state in ("requested", "submitting", "queued", "running", "completed", "delivered", "failed")
    ]
    out.append(texts.result_caption(view, actual_seconds=7.96, original_size="1792x1024",
                                    original_bytes=31_200_000))
    out += [texts.failure_text(view, kind, detail=HUGE_PROMPT, error_id="err-1") for kind in FailureKind]
    out.append(texts.accepted_text(view, eta_seconds=170, queue_position=2, cost=Decimal("0.80")))
    return out


def mentions_in(text: str) -> list[str]:
    """What Discord would parse as a mention (or ping) in this text."""
    return re.findall(r"@everyone|@here|<@[!&]?\d+>", text)


@pytest.mark.parametrize("remix_of", [None, "a1b2c"])
def test_every_output_fits_one_message_even_for_a_huge_prompt(remix_of):
    for output in all_outputs(job(HUGE_PROMPT, remix_of=remix_of)):
        assert texts.discord_len(output) <= texts.MAX_CONTENT
        assert len(output) > 50


def test_prompts_cannot_ping_anyone_but_our_own_mention_stays():
    for output in all_outputs(job(HUGE_PROMPT)):
        found = mentions_in(output)
        assert set(found) <= {"<@4242>"}, found


def test_safe_user_text_escapes_mentions_and_markdown():
    safe = texts.safe_user_text("@everyone @here <@12345678901234567> <@!12345678901234567> "
                                "<@&12345678901234567> **b** `c` [x](y) ||s||")
    assert mentions_in(safe) == []
    assert "@\u200beveryone" in safe and "<@\u200b!12345678901234567>" in safe
    assert "\\*\\*b\\*\\*" in safe and "\\`c\\`" in safe and "\\[x\\](y)" in safe and "\\|\\|s\\|\\|" in safe
    # line-start markup (headings, quotes, lists) is neutralised when newlines are kept
    multi = texts.safe_user_text("# big\n> quote\n- item\nplain", one_line=False)
    assert multi.split("\n") == ["\\# big", "\\> quote", "\\- item", "plain"]
    # one line: newlines collapse, so "#" mid-line is plain text; only a leading one is escaped
    assert texts.safe_user_text("line one\n\n# two") == "line one # two"
    assert texts.safe_user_text("  # two") == "\\# two"


def test_shorten_keeps_short_text_and_cuts_long_text_with_an_ellipsis():
    assert texts.shorten("short", 10) == "short"
    cut = texts.shorten("word " * 100, 50)
    assert len(cut) <= 50 and cut.endswith("…") and not cut.endswith(" …")
    assert cut[:-1].split(" ")[-1] == "word"  # cut at a word boundary
    assert texts.shorten("abc", 0) == ""


def test_shorten_never_cuts_markup_in_half():
    escaped = texts.safe_user_text("*" * 40)  # "\*" pairs
    for limit in range(2, 40):
        cut = texts.shorten(escaped, limit)
        body = cut[:-1] if cut.endswith("…") else cut
        trailing = len(body) - len(body.rstrip("\\"))
        assert trailing % 2 == 0, (limit, cut)
    timestamp = "see " + texts.discord_time(datetime(2026, 1, 1, tzinfo=UTC)) + " later"
    for limit in range(5, len(timestamp)):
        cut = texts.shorten(timestamp, limit)
        assert cut.count("<") == cut.count(">"), cut


def test_length_is_counted_in_utf16_units():
    emoji = "🎬" * 1500  # 1,500 code points, 3,000 UTF-16 units
    assert texts.discord_len(emoji) == 3000
    assert texts.discord_len(texts.shorten(emoji, 2000)) <= 2000
    for output in all_outputs(job(emoji * 10)):
        assert texts.discord_len(output) <= 2000


def test_size_labels():
    assert texts.size_label("720x1280") == "portrait 720×1280"
    assert texts.size_label("1280x720") == "landscape 1280×720"
    assert texts.size_label("1024x1792") == "tall portrait 1024×1792"
    assert texts.size_label("1792x1024") == "wide landscape 1792×1024"
    assert texts.size_label("1024x1024") == "square 1024×1024"
    assert texts.size_label("640x480") == "landscape 640×480"


@pytest.mark.parametrize(("seconds", "words"), [
    (3, "a few seconds"), (42, "about 40 s"), (58, "about 1 min"), (170, "about 3 min"),
    (3599, "about 1 h"), (80 * 60, "about 1 h 20 min"), (-5, "a few seconds"),
])
def test_human_duration(seconds, words):
    assert texts.human_duration(seconds) == words


def test_small_formatters():
    assert texts.human_bytes(31_200_000) == "31.2 MB"
    assert texts.human_bytes(999) == "999 B"
    assert texts.usd(Decimal("0.8")) == "$0.80"
    assert texts.usd(Decimal("1234.5")) == "$1,234.50"
    assert texts.usd(Decimal("0.004")) == "$0.004"
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert texts.discord_time(moment) == f"<t:{int(moment.timestamp())}:R>"
    assert texts.discord_time(moment.replace(tzinfo=None), "f") == f"<t:{int(moment.timestamp())}:f>"


def test_progress_bar():
    assert texts.progress_bar(0) == "░" * 20 + " 0%"
    assert texts.progress_bar(100) == "█" * 20 + " 100%"
    half = texts.progress_bar(50)
    assert half == "█" * 10 + "░" * 10 + " 50%"
    partial = texts.progress_bar(42, width=10)  # 4.2 cells: 4 full and a partial block
    assert partial.startswith("████▎") and partial.endswith(" 42%") and len(partial.split(" ")[0]) == 10
    assert texts.progress_bar(250) == texts.progress_bar(100)
    assert texts.progress_bar(-3) == texts.progress_bar(0)
    indeterminate = texts.progress_bar(None)
    assert "%" not in indeterminate and len(indeterminate.split(" ")[0]) == 20
    for p in range(101):  # the bar has the same width at every step
        assert len(texts.progress_bar(p).split(" ")[0]) == 20


def test_status_text_shows_line_position_or_progress():
    waiting = texts.status_text(job(), state="requested", queue_position=3, eta_seconds=400)
    assert "#3" in waiting and "about 7 min" in waiting and "`j7Hq2`" in waiting
    running = texts.status_text(job(), state="running", progress=42, eta_seconds=90)
    assert "42%" in running and "about 2 min left" in running and "landscape 1280×720" in running
    soon = texts.status_text(job(), state="running", progress=99, eta_seconds=2)
    assert "any moment now" in soon
    done = texts.status_text(job(), state="delivered")
    assert "Done" in done


def test_result_caption_names_everything_and_compression():
    caption = texts.result_caption(job(remix_of="a1b2c"), actual_seconds=7.96, original_size="1792x1024",
                                   original_bytes=31_200_000)
    assert caption.startswith("<@4242>")
    for part in ("`j7Hq2`", "a cat surfing", "sora-2", "landscape 1280×720", "8 s", "remix of `a1b2c`",
                 "compressed to fit: original 1792×1024, 31.2 MB"):
        assert part in caption, part
    plain = texts.result_caption(job())
    assert "compressed" not in plain and "remix of" not in plain and "8 s" in plain


def test_failure_texts_speak_plainly():
    policy = texts.failure_text(job(), FailureKind.CONTENT_POLICY, detail="Your request was blocked",
                                refunded=True)
    assert "content policy" in policy and "does not count against your quota" in policy
    assert "Your request was blocked" in policy
    expired = texts.failure_text(job(), FailureKind.EXPIRED, refunded=True)
    assert "expired" in expired
    down = texts.failure_text(job(), FailureKind.UNAVAILABLE, refunded=False)
    assert "unavailable" in down and "quota" not in down
    oops = texts.failure_text(job(), FailureKind.UNEXPECTED, detail="Traceback secret", error_id="E42")
    assert "`E42`" in oops and "Traceback" not in oops


def test_accepted_text_and_hints():
    accepted = texts.accepted_text(job(), eta_seconds=170, queue_position=2, cost=Decimal("0.8"))
    assert "`j7Hq2`" in accepted and "about 3 min" in accepted and "#2" in accepted and "$0.80" in accepted
    hint = texts.reply_without_text_hint()
    assert "Remix" in hint and "Apps" in hint
    assert "`abc`" in texts.error_id_text("abc")


def test_quota_words():
    when = datetime(2026, 3, 1, tzinfo=UTC)
    text = texts.refused_user_videos(3, 3, when)
    assert text == f"You've used 3 of 3 videos for today. Your next one frees up <t:{int(when.timestamp())}:R>."
    assert "isn't enabled" in texts.refused_user_videos(0, 0, None)
    assert "shorter" in texts.refused_user_seconds(0, 8, 12, None)
    line = texts.quota_window_line("Videos", "2", "3", "1", when)
    assert line.startswith("**Videos:** 2 of 3 used, 1 left · resets <t:")
    assert texts.quota_window_line("Videos", "2", None, None, None).endswith("no limit")


def test_lists_and_admin_lines_are_worded_by_the_catalogue_in_each_language():
    from bot.texts import channel_mentions, job_line, price_list, tier_line

    assert channel_mentions([1, 2]) == "<#1>, <#2>"
    assert channel_mentions([1, 2], locale="zh_CN") == "<#1>、<#2>"
    assert price_list({"sora-2": "0.1", "a@1280x720": "0.3"}) == "a@1280x720 $0.3, sora-2 $0.1"
    assert tier_line(5, "x", locale="zh_CN") == "• <@&5>：x"
    line = job_line(7, "done", "a cat\nin a hat", link="https://discord.com/channels/1/2/3")
    assert line.startswith("`7` done · [open](https://discord.com/channels/1/2/3) — ") and "\n" not in line
    bar = texts.progress_bar(40, width=10)
    assert job_line(7, "rendering", "x", rendering=True, progress=40) == f"`7` rendering {bar} — x"
    assert bar not in line
