"""The message catalogues (gettext `.po` files read with Babel) and per-locale number formatting.

Every word a member or a manager sees is looked up here by message id: `tr("status.sending")`.
The catalogues live in `bot/locales/<locale>/LC_MESSAGES/messages.po` and are compiled in memory
at first use (babel.messages.pofile → mofile), so an editable install, a wheel and the Docker image
all work without a build step. Placeholders are `str.format` names: `tr("x", n=3)` fills `{n}`.

Which language: an explicit `locale=` wins; otherwise the context-local locale that the bot sets
for each interaction (`use(interaction.locale)`, the member's client language for private answers).
Public messages (status, result, failures in the channel) pass the server's locale explicitly.

Adding a language: see README "Languages" (pybabel extract / init / update; no compile step).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from contextvars import ContextVar
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT = "en"
SUPPORTED = ("en", "zh_CN")  # our catalogue names; Discord calls zh_CN "zh-CN"
_BABEL = {"en": "en_US", "zh_CN": "zh_Hans_CN"}  # the CLDR locale numbers and money are formatted in
# Discord locale tags (discord.Locale values) → our catalogue; anything unlisted reads English.
_DISCORD = {"zh-CN": "zh_CN"}
NAMES = {"en": "English", "zh_CN": "简体中文"}  # shown by /sora-admin language

_current: ContextVar[str] = ContextVar("sora_locale", default=DEFAULT)


def normalize(tag: object) -> str:
    """A Discord locale (`discord.Locale`, "zh-CN", "en-US"), one of ours ("zh_CN") or None → ours."""
    text = str(getattr(tag, "value", tag) or "").strip()
    if text in SUPPORTED:
        return text
    return _DISCORD.get(text.replace("_", "-"), DEFAULT)


def discord_tag(locale: str) -> str:
    """Ours → the Discord locale tag ("zh_CN" → "zh-CN", "en" → "en-US")."""
    return {"en": "en-US"}.get(locale, locale.replace("_", "-"))


def current() -> str:
    return _current.get()


def set_current(tag: object) -> str:
    """Make `tag` the locale of the running task (an interaction's handler); returns ours."""
    locale = normalize(tag)
    _current.set(locale)
    return locale


@contextlib.contextmanager
def use(tag: object) -> Iterator[str]:
    token = _current.set(normalize(tag))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def resolve(locale: str | None) -> str:
    return current() if locale is None else normalize(locale)


def po_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(locale: str):
    """The `.po` of `locale` as a babel Catalog (for tests and tools)."""
    with po_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


@cache
def translations(locale: str) -> Translations:
    """The compiled catalogue of `locale`, English behind it for an id a translation lacks."""
    buffer = io.BytesIO()
    write_mo(buffer, read_catalog(locale), use_fuzzy=False)
    buffer.seek(0)
    found = Translations(buffer, domain=DOMAIN)
    if locale != DEFAULT:
        found.add_fallback(translations(DEFAULT))
    return found


def tr(msgid: str, locale: str | None = None, /, **params: object) -> str:
    """The text of message `msgid` in `locale` (None: the context's), placeholders filled."""
    text = translations(resolve(locale)).gettext(msgid)
    return text.format(**params) if params else text


def ntr(singular: str, plural: str, count: int, locale: str | None = None, /, **params: object) -> str:
    """A message that depends on a count (English "1 video" / "2 videos"); `{n}` is the count."""
    loc = resolve(locale)
    text = translations(loc).ngettext(singular, plural, count)
    return text.format(n=number(count, loc), **params)


# --- numbers and money per locale -----------------------------------------------------------------

def babel_locale(locale: str | None = None) -> str:
    return _BABEL[resolve(locale)]


def number(value: float | int | Decimal, locale: str | None = None, *, pattern: str | None = None) -> str:
    """`1234.5` → "1,234.5" (en) or "1,234.5" (zh); `pattern` e.g. "0.0" for one decimal."""
    return format_decimal(value, format=pattern, locale=babel_locale(locale))


def money_usd(value: Decimal, locale: str | None = None, *, exact: bool = False) -> str:
    """US dollars in the locale's way: "$0.80" (en), "US$0.80" (zh); `exact` keeps every digit."""
    return format_currency(value, "USD", locale=babel_locale(locale), currency_digits=not exact,
                           decimal_quantization=not exact)


def lookup(msgid: str, locale: str) -> str | None:
    """The text of `msgid` in exactly `locale`'s catalogue (no English fallback), or None."""
    found = translations(locale)._catalog.get(msgid)  # gettext's parsed catalogue
    return found if isinstance(found, str) and found else None
