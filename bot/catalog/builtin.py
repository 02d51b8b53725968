"""The built-in capability profile of the dialects that have no models endpoint (openai, juheapi,
xingchaoyiqing, simulated), written as provider records so it goes through the same parser as a
live `/videos/models` answer: every allowed model (SORA_ALLOWED_MODELS) takes every allowed size
(SORA_ALLOWED_SIZES) and duration (SORA_ALLOWED_SECONDS) and a first-frame image, and is priced by
PRICE_PER_SECOND. Members see exactly what they saw before the catalog existed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings


def builtin_records(settings: Settings) -> list[dict[str, Any]]:
    return [{
        "id": model, "name": model,
        "supported_sizes": list(settings.sora_allowed_sizes),
        "supported_durations": list(settings.sora_allowed_seconds),
        "supported_frame_images": ["first_frame"],
        "generate_audio": None, "seed": None, "pricing_skus": None,
    } for model in settings.sora_allowed_models]
