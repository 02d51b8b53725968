"""Tolerant parsing: every dialect's video object into `Video`, HTTP error bodies into typed errors.

Unknown fields are ignored and an absent field is the same as a null one. Synonyms are accepted
wherever relays disagree (`seconds`/`actualDuration`/`duration`, `created_at`/`created`,
`video_url`/`meta_data.url`/`url`, an error as text or as `{code, message}`). Model names are mapped
back to ours. Provider text that reaches an error message is scrubbed of the API key.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from bot.i18n import tr
from bot.logs import scrub
from bot.sora.dialects import DialectProfile
from bot.sora.errors import (
    AuthenticationFailed,
    ContentPolicyRejected,
    InvalidRequest,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    SoraError,
)
from bot.sora.models import Video, VideoError, VideoState
from bot.sora.retry import parse_retry_after, poll_after_seconds

log = logging.getLogger(__name__)

_POLICY_WORDS = re.compile(
    r"moderat|content[\s_-]?polic|polic(?:y|ies)|safety|violat|guardrail|nsfw|inappropriate|prohibited",
    re.IGNORECASE)
_MAX_DETAIL = 300
DEFAULT_FAILURE = tr("provider.render_failed", "en")  # the English words; readers get theirs (policy_words)
POLICY_FAILURE = tr("provider.policy", "en")


def policy_words(said: str | None) -> str:
    """The content-policy refusal in the context's language, with what the service said (if anything)."""
    return tr("provider.policy", None) + (" " + tr("provider.service_said", None, said=said) if said else "")


def is_content_policy(*texts: object) -> bool:
    return any(isinstance(t, str) and _POLICY_WORDS.search(t) for t in texts)


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != {} and value != []


def _first(data: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if _present(data.get(key)):
            return data[key]
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*(?:s|sec|seconds|%)?\s*", value, re.IGNORECASE)
        return float(match.group(1)) if match else None
    return None


def _progress(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else max(0, min(100, round(number)))


def _timestamp(value: Any) -> datetime | None:
    """Unix seconds (or milliseconds), as a number or a digit string, or an ISO 8601 string."""
    number = _number(value) if not isinstance(value, str) or value.strip().isdigit() else None
    try:
        if number is not None:
            if number <= 0:
                return None
            return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)
        if isinstance(value, str) and value.strip():
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _detail(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def video_error(raw: Any, *, secrets: Iterable[str] = ()) -> VideoError | None:
    """A failed job's error, given as text, `{code, message}`, `{error: …}`, or absent."""
    if not _present(raw):
        return None
    code: str | None = None
    message: str | None = None
    if isinstance(raw, Mapping):
        nested = raw.get("error")
        if isinstance(nested, Mapping):
            return video_error(nested, secrets=secrets)
        code = _text(raw.get("code")) or _text(raw.get("type"))
        message = _text(_first(raw, "message", "msg", "detail", "reason")) or _text(nested)
    else:
        message = _text(raw) or _text(json.dumps(raw, default=str))
    policy = is_content_policy(code, message)
    detail = _detail(scrub(message, secrets)) if message else None
    readable = policy_words(detail) if policy else detail or tr("provider.render_failed")
    return VideoError(code=code, message=readable, content_policy=policy)


def _download_url(data: Mapping[str, Any]) -> str | None:
    for holder in (data, data.get("meta_data"), data.get("metadata")):
        if isinstance(holder, Mapping):
            url = _text(_first(holder, "video_url", "url"))
            if url:
                return url
    return None


def _size(data: Mapping[str, Any]) -> str | None:
    size = _text(_first(data, "size", "resolution"))
    if size:
        return size.replace("*", "x").replace("X", "x").replace(" ", "")
    width, height = _number(data.get("width")), _number(data.get("height"))
    return f"{int(width)}x{int(height)}" if width and height else None


def _state(data: Mapping[str, Any], profile: DialectProfile, error: VideoError | None,
           download_url: str | None) -> VideoState:
    word = _text(_first(data, "status", "state"))
    state = profile.state(word) if word else None
    if state is not None:
        return state
    if error is not None:
        return VideoState.FAILED
    if word:
        log.warning("unknown %s state %r: treating it as running", profile.name, word)
        return VideoState.RUNNING
    return VideoState.COMPLETED if download_url else VideoState.QUEUED


def parse_video(data: Any, profile: DialectProfile, *, headers: Mapping[str, str] | None = None,
                now: datetime | None = None, secrets: Iterable[str] = ()) -> Video:
    """One video object of `profile`'s dialect as our `Video`. Raises `SoraError` without an id."""
    if isinstance(data, Mapping) and not _present(data.get("id")) and isinstance(data.get("data"), Mapping):
        data = data["data"]  # a relay envelope: {"code": 0, "data": {...}}
    if not isinstance(data, Mapping):
        raise SoraError(f"the {profile.name} provider answered with no video object")
    video_id = _text(_first(data, "id", "video_id", "task_id"))
    if not video_id:
        raise SoraError(f"the {profile.name} provider answered with a video object without an id")
    download_url = _download_url(data)
    error = video_error(_first(data, "error", "fail_reason", "failure_reason"), secrets=secrets)
    state = _state(data, profile, error, download_url)
    if state is VideoState.FAILED and error is None:
        error = VideoError(message=tr("provider.render_failed"))
    elif state is not VideoState.FAILED:
        error = None
    completed_at = _timestamp(_first(data, "completed_at", "finished_at"))
    expires_at = _timestamp(_first(data, "expires_at", "expired_at"))
    if expires_at is None and state is VideoState.COMPLETED and profile.url_ttl_seconds is not None:
        # Counted from when we learn of it at the latest: a late estimate only means one failed fetch.
        expires_at = (completed_at or now or datetime.now(UTC)) + timedelta(seconds=profile.url_ttl_seconds)
    model = _text(data.get("model"))
    return Video(
        id=video_id,
        state=state,
        progress=_progress(data.get("progress")),
        created_at=_timestamp(_first(data, "created_at", "created")),
        completed_at=completed_at,
        expires_at=expires_at,
        model=profile.our_model(model) if model else None,
        size=_size(data),
        seconds=_number(_first(data, "seconds", "actualDuration", "actual_duration", "duration")),
        prompt=data.get("prompt") if isinstance(data.get("prompt"), str) else None,
        remixed_from=_text(_first(data, "remixed_from_video_id", "remix_video_id", "remixed_from")),
        error=error,
        download_url=download_url,
        poll_after_seconds=poll_after_seconds(headers),
    )


def parse_video_list(data: Any, profile: DialectProfile, *, now: datetime | None = None,
                     secrets: Iterable[str] = ()) -> tuple[list[Video], bool]:
    """A list page (`{data: [...], has_more}` or a bare array) → (videos, has_more). Items that cannot
    be read are skipped with a warning rather than failing the whole page."""
    items = data.get("data") if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise SoraError(f"the {profile.name} provider answered a list request without a list")
    videos = []
    for item in items:
        try:
            videos.append(parse_video(item, profile, now=now, secrets=secrets))
        except SoraError as exc:
            log.warning("skipping an unreadable %s list item: %s", profile.name, exc)
    has_more = bool(data.get("has_more")) if isinstance(data, Mapping) else False
    return videos, has_more


def _error_fields(body: bytes) -> tuple[str | None, str | None]:
    """(message, code) from `{error:{message,type,param,code}}`, `{error:"…"}`, `{message:…}`, or text."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return (text or None), None
    if isinstance(data, str):
        return data.strip() or None, None
    if not isinstance(data, Mapping):
        return (text or None), None
    error = data.get("error")
    if isinstance(error, Mapping):
        message = _text(_first(error, "message", "msg", "detail"))
        return message, _text(error.get("code")) or _text(error.get("type"))
    message = _text(error) or _text(_first(data, "message", "msg", "detail"))
    return message, _text(data.get("code")) or _text(data.get("type"))


def request_id(headers: Mapping[str, str] | None) -> str | None:
    if not headers:
        return None
    return headers.get("x-request-id") or headers.get("request-id")


def error_from_response(status: int, body: bytes, headers: Mapping[str, str] | None = None, *,
                        secrets: Iterable[str] = ()) -> SoraError:
    """The typed error for an HTTP error answer. Nothing of the request (the key least of all) is
    quoted: the text comes from the provider's answer, scrubbed."""
    message, code = _error_fields(body)
    message = _detail(scrub(message, secrets)) if message else None
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "HTTP error"
    text = message or phrase
    common: dict[str, Any] = {"status_code": status, "code": code, "request_id": request_id(headers)}
    if status in (400, 413, 415, 422):
        if is_content_policy(code, message):
            return ContentPolicyRejected(
                text, user_message=policy_words(message), **common)
        return InvalidRequest(text, user_message=tr("provider.refused_request", text=text), **common)
    if status in (401, 403):
        return AuthenticationFailed(text, **common)
    if status in (404, 410):
        return NotFound(text, **common)
    if status == 429:
        return RateLimited(text, retry_after=parse_retry_after(headers), **common)
    if status == 408 or status >= 500:
        return ProviderUnavailable(text, **common)
    return SoraError(text, **common)
