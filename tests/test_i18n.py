"""The catalogues: every message id the code uses is in every language, none is empty, the
placeholders agree, and the texts keep the 2,000-character and mention rules in each language."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from bot import admin, i18n, texts
from bot import texts_controls as controls
from bot.quota import WINDOW_IDS
from bot.sora.dialects import extension_lengths_text
from bot.texts import FailureKind, JobView
from cogs.account import _STATE_WORDS
from cogs.common import NEEDED

ROOT = Path(__file__).resolve().parent.parent
LOCALES = i18n.SUPPORTED
HUGE = ("@everyone look at <@123456789012345678> and <@&987654321098765432> **bold** `code` "
        "[link](https://evil.example) ~~x~~ ||spoiler|| \\ \n# heading\n> quote 🎬🎬 ") * 300
WHEN = datetime(2026, 12, 1, 12, tzinfo=UTC)


def ids_in_code() -> set[str]:
    """The literal ids passed to tr()/ntr()/N_() in bot/ and cogs/, found the way `pybabel extract` does
    (see babel.cfg and README "Languages")."""
    found: set[str] = set()
    for folder in ("bot", "cogs"):
        for _file, _line, message, _comments, _context in extract_from_dir(
                ROOT / folder, method_map=[("**.py", "python")], keywords={"tr": None, "ntr": (1, 2), "N_": None}):
            found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


def ids_in_tables() -> set[str]:
    """Ids the code picks from a table at run time (not literal at the call)."""
    return ({f"field.{f}" for f in (*admin.NUMBER_FIELDS, *admin.LIST_FIELDS)}
            | {f"failure.{kind.value}" for kind in FailureKind}
            | set(_STATE_WORDS.values()) | set(NEEDED.values()) | set(texts.SIZE_LABELS.values())
            | {"shape.square"} | set(WINDOW_IDS.values()))


def catalog_ids(locale: str) -> dict[str, object]:
    return {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in i18n.read_catalog(locale) if m.id}


def test_the_extraction_finds_the_code_s_ids():
    found = ids_in_code()
    assert {"status.head", "accepted.tail", "quota.user_videos", "quota.user_videos_plural",
            "admin.language_set", "jobs.title", "perm.missing"} <= found
    assert len(found) > 120


@pytest.mark.parametrize("locale", LOCALES)
def test_every_id_the_code_uses_is_in_every_catalogue_and_no_other(locale):
    known = catalog_ids(locale)
    plural_ids = {m.id[1] for m in i18n.read_catalog(locale) if m.id and not isinstance(m.id, str)}
    missing = sorted((ids_in_code() | ids_in_tables()) - set(known) - plural_ids)
    assert missing == [], f"missing in {locale}: {missing}"
    stale = sorted(set(known) - ids_in_code())
    assert stale == [], f"in {locale} but neither in the code nor in bot/message_ids.py: {stale}"


def test_the_ids_picked_from_tables_are_listed_for_the_extractor():
    assert ids_in_tables() - ids_in_code() == set()


@pytest.mark.parametrize("locale", LOCALES)
def test_no_translation_is_empty_or_fuzzy(locale):
    for message in i18n.read_catalog(locale):
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert strings and all(s.strip() for s in strings), f"{locale}: {message.id!r} has an empty translation"
        assert not message.fuzzy, f"{locale}: {message.id!r} is fuzzy"


def test_chinese_is_complete_and_its_placeholders_match_english():
    english, chinese = catalog_ids("en"), catalog_ids("zh_CN")
    assert set(chinese) == set(english)

    def names(text: object) -> set[str]:
        texts_ = text if isinstance(text, tuple) else (text,)
        return {name for t in texts_ for _, name, _, _ in string.Formatter().parse(str(t)) if name}

    for msgid, text in english.items():
        assert names(chinese[msgid]) <= names(text), msgid  # a translation may drop a plural's count, no more
        assert names(text) - {"n"} <= names(chinese[msgid]), msgid
        if msgid not in ("size.label",):
            assert chinese[msgid] != text or not re.search(r"[a-z]{3}", str(text)), f"{msgid} is not translated"


def test_a_missing_id_is_caught_by_the_test_not_shown_as_blank():
    assert i18n.lookup("no.such.id", "zh_CN") is None
    assert i18n.tr("no.such.id", "zh_CN") == "no.such.id"  # gettext's fallback: the id, never ""


def test_discord_locales_map_to_ours():
    assert i18n.normalize("zh-CN") == "zh_CN" and i18n.normalize("zh_CN") == "zh_CN"
    assert i18n.normalize("en-US") == i18n.normalize("en-GB") == i18n.normalize("fr") == "en"
    assert i18n.normalize(None) == "en" and i18n.normalize("") == "en"
    with i18n.use("zh-CN"):
        assert i18n.current() == "zh_CN" and texts.human_duration(3) == "几秒钟"
    assert i18n.current() == "en"


def test_numbers_money_and_durations_per_locale():
    assert texts.usd(Decimal("0.80"), locale="en") == "$0.80"
    assert texts.usd(Decimal("0.80"), locale="zh_CN") == "US$0.80"
    assert texts.usd(Decimal("1234.5"), locale="zh_CN") == "US$1,234.50"
    assert texts.usd(Decimal("0.004"), locale="zh_CN") == "US$0.004"
    assert texts.human_duration(200, locale="zh_CN") == "约 3 分钟"
    assert texts.human_duration(4800, locale="zh_CN") == "约 1 小时 20 分钟"
    assert texts.human_bytes(31_200_000, locale="zh_CN") == "31.2 MB"
    assert texts.size_label("1280x720", locale="zh_CN") == "横屏 1280×720"
    assert texts.refused_user_videos(1, 1, None, locale="en").startswith("You've used 1 of 1 video for")
    assert texts.refused_user_videos(2, 3, None, locale="en").startswith("You've used 2 of 3 videos for")
    assert texts.refused_user_videos(2, 3, None, locale="zh_CN").startswith("你今天已用 2 个视频（共 3 个）")


def job(prompt: str = HUGE, **kw) -> JobView:
    return JobView(**{"job_id": "j7Hq2", "user_id": 4242, "prompt": prompt, "model": "sora-2", "size": "1280x720",
                      "seconds": 8, **kw})


def all_outputs(view: JobView, locale: str) -> list[str]:
    out = [texts.status_text(view, state=state, queue_position=3, progress=42, eta_seconds=200, locale=locale)
           for state in ("requested", "submitting", "queued", "running", "completed", "delivered", "failed")]
    out.append(texts.status_text(view, state="requested", credit_paused=True, locale=locale))
    out.append(texts.result_caption(view, actual_seconds=7.96, original_size="1792x1024",
                                    original_bytes=31_200_000, locale=locale))
    out += [texts.failure_text(view, kind, detail=HUGE, error_id="err-1", locale=locale) for kind in FailureKind]
    out.append(texts.accepted_text(view, eta_seconds=170, queue_position=2, cost=Decimal("0.80"), locale=locale))
    out.append(texts.refused_model(HUGE[:500], ["sora-2"], locale=locale))
    out.append(texts.refused_guild_budget(Decimal(9), Decimal(10), Decimal(2), WHEN, locale=locale))
    out.append(texts.continuation_unsupported(HUGE[:500], locale=locale))
    with i18n.use(locale):  # the Extend answers are private: the context's language
        out += [controls.extend_unsupported(HUGE[:500]), controls.extend_refused("j7Hq2"),
                controls.extend_bad_length(HUGE, [*range(1, 16), 20, 30]), controls.extend_not_a_result(),
                extension_lengths_text([4, 8, 12])]
    out += texts.models_pages([texts.model_summary(
        f"{HUGE[:80]} {n}", f"m{n}", seconds=[4, 8, 12], sizes=["1280x720"] * 12, audio=None, first_frame=True,
        last_frame=False, usd_per_second=Decimal("0.1"), locale=locale) for n in range(200)], locale=locale)
    return out


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("remix_of", "extension_of"), [(None, None), ("a1b2c", None), (None, "a1b2c")])
def test_every_output_fits_one_message_in_each_language(locale, remix_of, extension_of):
    for output in all_outputs(job(remix_of=remix_of, extension_of=extension_of), locale):
        assert texts.discord_len(output) <= texts.MAX_CONTENT
        assert len(output) > 20


@pytest.mark.parametrize("locale", LOCALES)
def test_prompts_cannot_ping_anyone_in_any_language(locale):
    for output in all_outputs(job(), locale):
        found = re.findall(r"@everyone|@here|<@[!&]?\d+>", output)
        assert set(found) <= {"<@4242>"}, found


def test_an_extension_says_so_in_each_language():
    view = job("then it rains", extension_of="41", locale="zh_CN")
    assert "延长自 `41`" in texts.result_caption(view, actual_seconds=16)
    assert "extension of `41`" in texts.status_text(job("then it rains", extension_of="41"), state="queued")
    with i18n.use("zh-CN"):
        assert controls.extend_length_placeholder([4, 8, 12]).endswith("12 秒")
    assert controls.seconds_options([4, 8, 12]) == "4, 8 or 12"
    assert controls.seconds_options([1, 2, 3, 4, 5, 8]) == "1–5 or 8"
    assert controls.extend_length_placeholder(list(range(1, 16))) == "1–15 seconds"


def test_the_public_job_messages_speak_the_job_s_language_private_ones_the_context_s():
    view = job("a cat", locale="zh_CN")
    assert "你的视频好了" in texts.result_caption(view)
    assert "视频服务" in texts.failure_text(view, FailureKind.FAILED)
    assert "已在视频服务排队" in texts.status_text(view, state="queued")
    assert "accepted" in texts.accepted_text(view, eta_seconds=60)  # private: the member's (here English)
    with i18n.use("zh-CN"):
        assert "已受理" in texts.accepted_text(job("a cat"), eta_seconds=60)
        assert "Video" in texts.status_text(job("a cat", locale="en"), state="queued")


def test_chinese_failures_put_no_latin_space_after_a_full_width_mark():
    from bot.texts import FailureKind, JobView, failure_text

    for loc, joined in (("zh_CN", "没能生成。视频服务"), ("en", "could not be made. The video service")):
        view = JobView(job_id=42, user_id=7, prompt="p", model="m", size="1280x720", seconds=4, locale=loc)
        text = failure_text(view, FailureKind.CANCELLED)
        assert joined in text, text
        assert "。 " not in text and "： " not in text
