"""What one video model accepts, parsed tolerantly from a provider's model record.

The record shape is OpenRouter's `GET /videos/models` `VideoModel` (specs/OPENROUTER.md A.4); the
dialects without such an endpoint describe their built-in profile in the same shape
(`bot.catalog.builtin`), so every provider goes through `parse_models`. Records are untrusted: counts
and string lengths are capped, malformed values are dropped, a malformed record is skipped, and
nothing here raises on junk. Pure, no I/O.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.sora import shapes

MAX_MODELS = 200
MAX_LIST = 64  # entries kept of any one list (durations, sizes, resolutions, ...)
MAX_SKUS = 32
MAX_ID_CHARS = 100  # a Discord choice value holds at most 100 characters
MAX_NAME_CHARS = 80
MAX_DURATION = 600
MAX_USD_PER_SECOND = Decimal("100")  # anything dearer is junk, not a price
FRAME_TYPES = ("first_frame", "last_frame")

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")
_SKU_RE = re.compile(r"^[a-z0-9_]{1,64}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ModelCapabilities:
    """One model's choices. `sizes` are canonical "WxH" (the provider's `supported_sizes`, which
    `listed_sizes` keeps apart, then every resolution × aspect ratio pair); `durations` are sorted
    seconds; `audio` and `seed` are None when the provider does not say. `pricing_skus` are the raw
    SKU → decimal string pairs kept for the estimate (`price_per_second`)."""

    id: str
    name: str
    durations: tuple[int, ...] = ()
    sizes: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    aspect_ratios: tuple[str, ...] = ()
    frame_images: tuple[str, ...] = ()
    audio: bool | None = None
    seed: bool | None = None
    pricing_skus: tuple[tuple[str, str], ...] = ()
    listed_sizes: tuple[str, ...] = ()

    @property
    def first_frame(self) -> bool:
        return "first_frame" in self.frame_images

    @property
    def last_frame(self) -> bool:
        return "last_frame" in self.frame_images

    @property
    def usable(self) -> bool:
        """A member can ask this model for something: at least one duration and one size."""
        return bool(self.durations and self.sizes)

    def resolution_of(self, size: str) -> str | None:
        """The resolution name ("720p", "4K") a canonical size has for this model, if any."""
        return _resolution(size, self.resolutions, self.aspect_ratios)

    def price_per_second(self, size: str, *, audio: bool | None = None, image: bool = False) -> Decimal | None:
        """USD per second from the `duration_seconds*` SKU families, or None (then the caller falls
        back to PRICE_PER_SECOND). `audio` None means the model's default (with audio where it has
        audio). Other families (cents, tokens, per image) are not priced here."""
        skus = dict(self.pricing_skus)
        if not skus:
            return None
        with_audio = self.audio is True if audio is None else audio
        resolution = self.resolution_of(size)
        res_parts = ([f"_{resolution.lower()}"] if resolution else []) + [""]
        audio_parts = ["_with_audio" if with_audio else "_without_audio", ""]
        mode = "image_to_video_" if image else "text_to_video_"
        for prefix in ("", mode):
            for audio_part in audio_parts:
                for res_part in res_parts:
                    value = skus.get(f"{prefix}duration_seconds{audio_part}{res_part}")
                    if value is not None:
                        return _usd(value)
        return None

    def to_record(self) -> dict[str, Any]:
        """The capabilities in the provider's record shape (what the database stores; parses back equal)."""
        return {
            "id": self.id, "name": self.name,
            "supported_durations": list(self.durations), "supported_sizes": list(self.listed_sizes),
            "supported_resolutions": list(self.resolutions), "supported_aspect_ratios": list(self.aspect_ratios),
            "supported_frame_images": list(self.frame_images) or None,
            "generate_audio": self.audio, "seed": self.seed,
            "pricing_skus": dict(self.pricing_skus) or None,
        }


@functools.lru_cache(maxsize=4096)
def _resolution(size: str, resolutions: tuple[str, ...], aspects: tuple[str, ...]) -> str | None:
    pair = shapes.resolution_and_aspect(size, resolutions or None, aspects or None)
    if pair is None:
        pair = shapes.resolution_and_aspect(size)
    if pair is not None:
        return pair[0]
    try:
        width, height = shapes.parse_size(size)
    except ValueError:
        return None
    short = min(width, height)
    return next((name for name, side in shapes.SHORT_SIDE.items() if side == short), None)


def _usd(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or value < 0 or value > MAX_USD_PER_SECOND:
        return None
    return value


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    text = _CONTROL_RE.sub(" ", value).strip()
    if not text or len(text) > limit:
        return None
    return text


def _items(value: Any) -> list[Any]:
    """The first MAX_LIST entries of a list (anything else: none)."""
    return list(value[:MAX_LIST]) if isinstance(value, list | tuple) else []


def _unique(values: Iterable[Any]) -> tuple[Any, ...]:
    seen: dict[Any, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return tuple(seen)


def _durations(value: Any) -> tuple[int, ...]:
    found = []
    for item in _items(value):
        if isinstance(item, bool):
            continue
        if isinstance(item, float) and (not math.isfinite(item) or item != int(item)):
            continue
        if isinstance(item, int | float) and 1 <= item <= MAX_DURATION:
            found.append(int(item))
    return tuple(sorted(set(found)))


def _canonical_size(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 16:
        return None
    try:
        width, height = shapes.parse_size(value)
    except ValueError:
        return None
    return f"{width}x{height}" if width <= 8192 and height <= 8192 else None


def _names(value: Any, allowed: Iterable[str]) -> tuple[str, ...]:
    known = set(allowed)
    return _unique(v.strip() for v in _items(value) if isinstance(v, str) and v.strip() in known)


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _skus(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        return ()
    kept = []
    for key, amount in list(value.items())[:MAX_SKUS]:
        if isinstance(key, str) and _SKU_RE.match(key) and isinstance(amount, str | int | float) \
                and not isinstance(amount, bool):
            text = str(amount)
            if len(text) <= 24 and _usd(text) is not None:
                kept.append((key, text))
    return tuple(kept)


def parse_model(record: Any) -> ModelCapabilities | None:
    """One record → capabilities, or None when it has no usable id. Never raises."""
    try:
        return _parse_model(record)
    except Exception:  # untrusted input: a surprise in one record must not lose the others
        return None


def _parse_model(record: Any) -> ModelCapabilities | None:
    if not isinstance(record, Mapping):
        return None
    model_id = _text(record.get("id"), MAX_ID_CHARS)
    if model_id is None or not _ID_RE.match(model_id):
        return None
    name = _text(record.get("name"), MAX_NAME_CHARS) or model_id
    resolutions = _names(record.get("supported_resolutions"), shapes.SHORT_SIDE)
    aspects = _names(record.get("supported_aspect_ratios"), shapes.ASPECT_RATIOS)
    listed = _unique(s for s in (_canonical_size(v) for v in _items(record.get("supported_sizes"))) if s)
    sizes = list(listed)
    for resolution in resolutions:
        for aspect in aspects:
            sizes.append(shapes.size_for(resolution, aspect))
    return ModelCapabilities(
        id=model_id, name=name, durations=_durations(record.get("supported_durations")),
        sizes=_unique(sizes)[:MAX_LIST], resolutions=resolutions, aspect_ratios=aspects,
        frame_images=_names(record.get("supported_frame_images"), FRAME_TYPES),
        audio=_flag(record.get("generate_audio")), seed=_flag(record.get("seed")),
        pricing_skus=_skus(record.get("pricing_skus")), listed_sizes=listed)


def parse_models(data: Any) -> list[ModelCapabilities]:
    """A `/videos/models` answer (`{"data": [...]}`) or a bare list of records → the usable models, in
    order, first of each id kept, at most MAX_MODELS. Junk gives an empty list, never an exception."""
    records = data.get("data") if isinstance(data, Mapping) else data
    if not isinstance(records, list | tuple):
        return []
    found: dict[str, ModelCapabilities] = {}
    for record in records[: MAX_MODELS * 4]:
        model = parse_model(record)
        if model is not None and model.usable and model.id not in found:
            found[model.id] = model
            if len(found) >= MAX_MODELS:
                break
    return list(found.values())
