"""Model words: /sora-models, a server's default model, refusals of what a model does not take."""

from __future__ import annotations

from decimal import Decimal

from bot.i18n import tr
from bot.texts.base import MAX_CONTENT, discord_len, safe_user_text, shorten, usd

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
