"""Checks on a member's request before anything is sent upstream, with words a member can act on.

Every refusal is an `InvalidRequest` whose `user_message` says what to change and whose `code` names
the check (`prompt_empty`, `prompt_too_long`, `model_unavailable`, `size_unavailable`,
`seconds_unavailable`, `image_empty`, `image_type`, `image_too_large`). An image's type is read from
its first bytes, never from its name or the type the uploader claimed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot import media_types
from bot.i18n import tr
from bot.sora.errors import InvalidRequest
from bot.sora.models import CreateVideo

if TYPE_CHECKING:
    from bot.settings import Settings

MIB = 1024 * 1024
def image_mime(data: bytes) -> str | None:
    """The image type from its magic bytes: image/jpeg, image/png, image/webp, or None."""
    return media_types.sniff_mime(data)


def _choices(values: Sequence[object], unit: str = "") -> str:
    words = [f"{v}{unit}" for v in values]
    return words[0] if len(words) == 1 else tr("list.or", head=", ".join(words[:-1]), last=words[-1])


def _megabytes(size: int) -> str:
    return f"{size / MIB:.1f} MB"


def _refuse(code: str, user_message: str) -> InvalidRequest:
    return InvalidRequest(f"request refused before sending: {code}", code=code, user_message=user_message)


def validate_prompt(prompt: str, *, max_prompt_chars: int, empty_message: str) -> str:
    text = prompt.strip()
    if not text:
        raise _refuse("prompt_empty", empty_message)
    if len(text) > max_prompt_chars:
        raise _refuse("prompt_too_long",
                      tr("validate.prompt_too_long", length=f"{len(text):,}", limit=f"{max_prompt_chars:,}"))
    return text


def validate_remix_prompt(prompt: str, *, max_prompt_chars: int = 32000) -> str:
    """The change a member asked for, stripped; refused when blank or too long."""
    return validate_prompt(prompt, max_prompt_chars=max_prompt_chars,
                           empty_message=tr("validate.remix_empty"))


def validate_image(image: bytes, *, max_image_bytes: int) -> str:
    """The image's MIME type, read from its bytes; refused when empty, of another type, or too big."""
    if not image:
        raise _refuse("image_empty", tr("validate.image_empty"))
    mime = image_mime(image)
    if mime is None:
        raise _refuse("image_type", tr("validate.image_type"))
    if len(image) > max_image_bytes:
        limit = (f"{max_image_bytes / MIB:g} MB" if max_image_bytes >= MIB
                 else tr("validate.bytes", n=f"{max_image_bytes:,}"))
        raise _refuse("image_too_large", tr("validate.image_too_large", size=_megabytes(len(image)), limit=limit))
    return mime


def validate_request(
    req: CreateVideo,
    *,
    allowed_models: Collection[str] | None,
    allowed_sizes: Collection[str] | None,
    allowed_seconds: Collection[int] | None,
    max_prompt_chars: int,
    max_image_bytes: int,
) -> CreateVideo:
    """The request with its prompt stripped and its image type read from the bytes, or
    `InvalidRequest`. An `allowed_*` of None accepts any value."""
    prompt = validate_prompt(req.prompt, max_prompt_chars=max_prompt_chars,
                             empty_message=tr("validate.prompt_empty"))
    if allowed_models is not None and req.model not in allowed_models:
        raise _refuse("model_unavailable",
                      tr("validate.model", model=req.model, options=_choices(list(allowed_models))))
    if allowed_sizes is not None and req.size not in allowed_sizes:
        raise _refuse("size_unavailable",
                      tr("validate.size", size=req.size, options=_choices(list(allowed_sizes))))
    if allowed_seconds is not None and req.seconds not in allowed_seconds:
        raise _refuse("seconds_unavailable",
                      tr("validate.seconds", seconds=req.seconds, options=_choices(list(allowed_seconds))))
    if req.seconds <= 0:
        raise _refuse("seconds_unavailable", tr("validate.too_short"))
    mime = None if req.image is None else validate_image(req.image, max_image_bytes=max_image_bytes)
    return req.model_copy(update={"prompt": prompt, "image_mime": mime})


@dataclass(frozen=True)
class RequestLimits:
    """The bounds `validate_request` applies, as one value (built from Settings by the factory)."""

    allowed_models: tuple[str, ...] | None = None
    allowed_sizes: tuple[str, ...] | None = None
    allowed_seconds: tuple[int, ...] | None = None
    max_prompt_chars: int = 32000
    max_image_bytes: int = 20 * MIB

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestLimits:
        return cls(
            allowed_models=tuple(settings.sora_allowed_models),
            allowed_sizes=tuple(settings.sora_allowed_sizes),
            allowed_seconds=tuple(settings.sora_allowed_seconds),
            max_prompt_chars=settings.sora_max_prompt_chars,
            max_image_bytes=settings.sora_max_image_bytes,
        )

    def check(self, req: CreateVideo) -> CreateVideo:
        return validate_request(
            req, allowed_models=self.allowed_models, allowed_sizes=self.allowed_sizes,
            allowed_seconds=self.allowed_seconds, max_prompt_chars=self.max_prompt_chars,
            max_image_bytes=self.max_image_bytes)

    def check_remix_prompt(self, prompt: str) -> str:
        return validate_remix_prompt(prompt, max_prompt_chars=self.max_prompt_chars)
