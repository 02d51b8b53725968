"""OpenRouter's video wire format (specs/OPENROUTER.md), as pure functions: the create body from a
`CreateVideo` and the model's record, a job answer into `Video`, the models list validated, and
HTTP error answers into typed errors. `openrouter.py` is the provider that sends them.

Answers are untrusted: every field is checked for type and bounds, anything unreadable is dropped
(or, for the models list, refused as a whole with a typed error).
"""

from __future__ import annotations

import base64
import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from bot.i18n import tr
from bot.logs import scrub
from bot.sora import shapes
from bot.sora.dialects import OPENROUTER, DialectProfile
from bot.sora.errors import (
    ContentPolicyRejected,
    ContinuationUnsupported,
    InsufficientCredits,
    InvalidRequest,
    SoraError,
)
from bot.sora.models import CreateVideo, Video, VideoError, VideoState
from bot.sora.parse import _detail, _error_fields, error_from_response, parse_video, policy_words, request_id

log = logging.getLogger(__name__)

MAX_MODELS = 500  # more records than this in /videos/models is not a models list we trust
MAX_MODELS_BYTES = 4 * 1024 * 1024
MAX_COST_USD = 10_000.0  # a single video billed above this is a misread, not a charge
_FRAME_TYPES = ("first_frame", "last_frame")

# Models that accept `previous_job_id` (continue or edit a completed job). The API marks this nowhere
# (specs/OPENROUTER.md A.1.1: "only models that support continuation accept it"), so this is a
# built-in guess that OPENROUTER_CONTINUATION_MODELS replaces. [inferred]
CONTINUATION_MODELS: frozenset[str] = frozenset({
    "openai/sora-2-pro", "google/veo-3.1", "google/veo-3.1-fast", "google/veo-3.1-lite",
    "x-ai/grok-imagine-video", "runway/aleph-2",
})

# Plain words for the endings that are not render errors (shown after "The video service said:").
CANCELLED_WORDS = "The job was cancelled at the video service before it finished."
EXPIRED_WORDS = "The job ran past the video service's time limit and was dropped before it finished."


def _refuse(code: str, user_message: str) -> InvalidRequest:
    return InvalidRequest(f"request refused before sending: {code}", code=code, user_message=user_message)


def _words(values: Iterable[object]) -> str:
    items = [str(v) for v in values]
    if not items:
        return tr("provider.nothing")
    return items[0] if len(items) == 1 else tr("list.or", head=", ".join(items[:-1]), last=items[-1])


def _str_list(value: Any) -> list[str] | None:
    """A list of strings from an untrusted record; None when absent or not such a list."""
    if not isinstance(value, list):
        return None
    return [v for v in value if isinstance(v, str)][:200]


def _int_list(value: Any) -> list[int] | None:
    if not isinstance(value, list):
        return None
    return [v for v in value if isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 3600][:200]


def model_sizes(record: Mapping[str, Any]) -> list[str]:
    """Every canonical "WxH" size the model takes: its `supported_sizes` plus each resolution ×
    aspect pair it lists (sorted, no duplicates)."""
    sizes: set[str] = set()
    for size in _str_list(record.get("supported_sizes")) or []:
        try:
            sizes.add("x".join(str(n) for n in shapes.parse_size(size)))
        except ValueError:
            continue
    for resolution in _str_list(record.get("supported_resolutions")) or []:
        for aspect in _str_list(record.get("supported_aspect_ratios")) or []:
            try:
                sizes.add(shapes.size_for(resolution, aspect))
            except ValueError:
                continue
    return sorted(sizes, key=lambda s: shapes.parse_size(s))


def encode_shape(size: str, record: Mapping[str, Any]) -> dict[str, str]:
    """`size` the way the model asks for it: `size` when its `supported_sizes` lists it, else the
    `resolution` + `aspect_ratio` pair from its lists that gives it. Refused (naming what it takes)
    when neither does. A model that lists no shapes at all gets `size` as asked."""
    sizes = _str_list(record.get("supported_sizes"))
    resolutions = _str_list(record.get("supported_resolutions"))
    aspects = _str_list(record.get("supported_aspect_ratios"))
    if sizes and size in sizes:
        return {"size": size}
    if resolutions:
        pair = shapes.resolution_and_aspect(size, resolutions, aspects if aspects else None)
        if pair is not None:
            return {"resolution": pair[0], "aspect_ratio": pair[1]}
    elif aspects:  # no resolution list (e.g. an editing model): send only the ratio it takes
        pair = shapes.resolution_and_aspect(size, None, aspects)
        if pair is not None:
            return {"aspect_ratio": pair[1]}
    if not sizes and not resolutions and not aspects:
        return {"size": size}
    name = record.get("name") if isinstance(record.get("name"), str) else record.get("id")
    raise _refuse("size_unavailable",
                  tr("provider.size_unavailable", model=name, size=shapes.label(size),
                     sizes=_words(shapes.label(s) for s in model_sizes(record)[:12])))


def _data_url(data: bytes, mime: str | None) -> str:
    return f"data:{mime or 'image/png'};base64,{base64.b64encode(data).decode('ascii')}"


def create_body(request: CreateVideo, slug: str, record: Mapping[str, Any], *,
                callback_url: str | None = None, continuation_models: Iterable[str] = CONTINUATION_MODELS,
                ) -> dict[str, Any]:
    """The JSON body of `POST /videos` for `request` on model `slug`, checked against the model's
    record (`GET /videos/models`). Raises `InvalidRequest` (nothing sent) for a choice the model lacks."""
    name = record.get("name") if isinstance(record.get("name"), str) else slug
    body: dict[str, Any] = {"model": slug, "prompt": request.prompt}
    durations = _int_list(record.get("supported_durations"))
    if durations and request.seconds not in durations:
        raise _refuse("seconds_unavailable",
                      tr("provider.seconds_unavailable", model=name, seconds=request.seconds,
                         options=_words(tr("unit.seconds", n=s) for s in sorted(durations))))
    body["duration"] = request.seconds
    body.update(encode_shape(request.size, record))
    audio = record.get("generate_audio")
    if request.generate_audio is not None and audio is not False:
        body["generate_audio"] = request.generate_audio
    if request.seed is not None and record.get("seed") is True:
        body["seed"] = request.seed
    frames = _str_list(record.get("supported_frame_images")) or []
    frame_images = []
    for frame_type, data, mime in (("first_frame", request.image, request.image_mime),
                                   ("last_frame", request.last_frame, request.last_frame_mime)):
        if data is None:
            continue
        if frame_type not in frames:
            which = tr("provider.first_image") if frame_type == "first_frame" else tr("provider.last_image")
            raise _refuse("image_unsupported", tr("provider.image_unsupported", model=name, which=which))
        frame_images.append({"type": "image_url", "image_url": {"url": _data_url(data, mime)},
                             "frame_type": frame_type})
    if frame_images:
        body["frame_images"] = frame_images
    if request.previous_job_id:
        if slug not in set(continuation_models):
            raise ContinuationUnsupported(f"{slug} does not take previous_job_id", code="continuation_unsupported",
                                          user_message=continuation_refusal(str(name)))
        body["previous_job_id"] = request.previous_job_id
    if callback_url:
        body["callback_url"] = callback_url
    return body


def continuation_refusal(model_name: str, *, sent: bool = False) -> str:
    """Why a continuation (remix) was refused: by our list before sending, or by the service."""
    if sent:
        return tr("provider.continuation_refused_sent", model=model_name)
    return tr("provider.continuation_refused", model=model_name)


# --- answers -------------------------------------------------------------------------------------

def cost_of(usage: Any) -> float | None:
    """`usage.cost` in USD when it is a finite, non-negative, plausible number; else None."""
    if not isinstance(usage, Mapping):
        return None
    cost = usage.get("cost")
    if isinstance(cost, bool) or not isinstance(cost, int | float):
        return None
    cost = float(cost)
    if not math.isfinite(cost) or cost < 0 or cost > MAX_COST_USD:
        log.warning("ignoring an implausible usage.cost from openrouter: %r", cost)
        return None
    return round(cost, 6)


def _first_url(value: Any) -> str | None:
    urls = _str_list(value)
    for url in urls or []:
        if url.startswith(("https://", "http://", "/")) and len(url) <= 4096:
            return url
    return None


def parse_job(data: Any, *, profile: DialectProfile = OPENROUTER, headers: Mapping[str, str] | None = None,
              secrets: Iterable[str] = ()) -> tuple[Video, str | None]:
    """A `VideoGenerationResponse` as (`Video`, its `polling_url` or None). `cancelled` and
    `expired` become failed videos whose error says so plainly (`ending`)."""
    video = parse_video(data, profile, headers=headers, secrets=secrets)
    assert isinstance(data, Mapping)  # parse_video refuses anything else
    status = data.get("status")
    word = status.strip().lower() if isinstance(status, str) else ""
    changes: dict[str, Any] = {}
    if word in ("cancelled", "canceled", "expired"):
        ending: Literal["expired", "cancelled"] = "expired" if word == "expired" else "cancelled"
        detail = video.error.message if video.error and video.error.message != "" else None
        plain = EXPIRED_WORDS if ending == "expired" else CANCELLED_WORDS
        message = plain if not detail or detail == plain else f"{plain} ({detail})"
        changes["state"] = VideoState.FAILED
        # Codes distinct from our own "expired" (a download link that lapsed before we fetched it).
        changes["error"] = VideoError(code=f"job_{ending}", message=_detail(message), ending=ending)
    if video.state is VideoState.COMPLETED or changes.get("state") is VideoState.COMPLETED:
        # Signed `urls` need no key; `unsigned_urls` are OpenRouter's own (the client sends the key
        # only when such a URL is on the API's origin).
        changes["download_url"] = _first_url(data.get("urls")) or _first_url(data.get("unsigned_urls"))
    changes["cost_usd"] = cost_of(data.get("usage"))
    polling = data.get("polling_url")
    polling_url = polling.strip() if isinstance(polling, str) and 0 < len(polling) <= 2048 else None
    return video.model_copy(update=changes), polling_url


def models_records(data: Any, *, size: int = 0) -> list[dict[str, Any]]:
    """The `data` records of `GET /videos/models`, checked: a list (at most `MAX_MODELS`) of JSON
    objects, each with a string `id`. Anything else is a `SoraError`."""
    if size > MAX_MODELS_BYTES:
        raise SoraError(f"the openrouter models list is too large ({size} bytes)")
    records = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(records, list):
        raise SoraError("the openrouter models list has no `data` list")
    if len(records) > MAX_MODELS:
        raise SoraError(f"the openrouter models list has too many records ({len(records)})")
    checked = []
    for record in records:
        if not isinstance(record, dict):
            raise SoraError("the openrouter models list holds something other than JSON objects")
        model_id = record.get("id")
        if not isinstance(model_id, str) or not model_id.strip() or len(model_id) > 200:
            raise SoraError("the openrouter models list holds a record without an id")
        checked.append(record)
    return checked


def error_for(status: int, body: bytes, headers: Mapping[str, str] | None, *, creating: bool,
              continuing: bool = False, model: str | None = None, secrets: Sequence[str] = ()) -> SoraError:
    """OpenRouter's error envelope `{error: {code, message, metadata}}` as a typed error: 402 is
    out of credit, a 403 on create is a moderation or guardrail refusal, a 400 on a continuation is
    the model refusing to continue; the rest as every dialect reads them."""
    message, code = _error_fields(body)
    message = _detail(scrub(message, secrets)) if message else None
    common: dict[str, Any] = {"status_code": status, "code": code, "request_id": request_id(headers)}
    if status == 402:
        return InsufficientCredits(message or "Payment Required", **common)
    if status == 403 and creating:
        return ContentPolicyRejected(
            message or "Forbidden",
            user_message=policy_words(message), **common)
    if status == 400 and continuing:
        return ContinuationUnsupported(message or "Bad Request",
                                       user_message=continuation_refusal(model or "this video's model", sent=True),
                                       **common)
    return error_from_response(status, body, headers, secrets=secrets)


def parse_json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        raise SoraError("the openrouter provider answered with something other than JSON") from None
