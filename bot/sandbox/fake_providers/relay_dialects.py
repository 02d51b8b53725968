"""What differs between the relays the fake imitates: paths, state words, JSON shapes, error shapes,
failure wording, and how each one validates a create request. `relay.py` is the server around it.

Written from the seeds and the OpenAI schema, independently of `bot/sora/dialects.py`, so that the
contract tests compare the client with a second reading of the same documents.
"""

from __future__ import annotations

import base64
import io
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image

DIALECTS = ("openai", "juheapi", "xingchaoyiqing")
SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
SECONDS = (4, 8, 12)
OPENAI_MODELS = ("sora-2", "sora-2-pro", "sora-2-2025-10-06", "sora-2-pro-2025-10-06", "sora-2-2025-12-08")
XING_MODELS = ("openAiSora2Plus", "openAiSora2Pro")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
PATHS = {
    "openai": {"create": "/videos", "status": "/videos/{id}", "remix": "/videos/{id}/remix",
               "list": "/videos", "delete": "/videos/{id}", "content": "/videos/{id}/content",
               "extend": "/videos/extensions"},
    "xingchaoyiqing": {"create": "/sora/videos", "status": "/videos/{id}"},
}
PATHS["juheapi"] = PATHS["openai"]
METHODS = {"create": "POST", "status": "GET", "remix": "POST", "list": "GET", "delete": "DELETE", "content": "GET",
           "extend": "POST"}
EXTENSION_SECONDS = ("4", "8", "12")  # the schema's VideoSeconds: a string
CONTENT_VARIANTS = {"openai": ("video", "thumbnail", "spritesheet"), "juheapi": ("video",), "xingchaoyiqing": ()}
_RUNNING_WORD = {"openai": "in_progress", "juheapi": "processing", "xingchaoyiqing": "processing"}
# How each relay words a content-policy rejection, and an ordinary failure: (code, message).
_POLICY = {"openai": ("moderation_blocked", "Your request was blocked by our moderation system."),
           "juheapi": ("content_policy_violation",
                       "The request was rejected because it may violate OpenAI's usage policies."),
           "xingchaoyiqing": (None, "Content moderation failed: the prompt was rejected by the safety system.")}
_FAILURE = {"openai": ("internal_error", "Video generation failed due to an internal error."),
            "juheapi": ("generation_failed", "Video generation failed upstream."),
            "xingchaoyiqing": (None, "Generation failed: upstream error.")}


class Rejected(Exception):
    """Raised inside a handler: answer `status` in the dialect's error shape."""

    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None,
                 type_: str = "invalid_request_error", plain_text: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.type_ = status, message, code, param, type_
        self.plain_text = plain_text


@dataclass
class JobFailure:
    content_policy: bool = False
    message: str | None = None  # None: the relay's usual words
    code: str | None = None

    def words(self, dialect: str) -> tuple[str | None, str]:
        code, message = (_POLICY if self.content_policy else _FAILURE)[dialect]
        return self.code or code, self.message or message


@dataclass
class FakeJob:
    id: str
    prompt: str
    model: str  # as the dialect names it
    size: str
    seconds: int
    created_at: float  # unix seconds
    started: float  # the relay's clock
    render_seconds: float
    remixed_from: str | None = None
    extended_from: str | None = None  # the source video of an extension
    image_mime: str | None = None
    idempotency_key: str | None = None
    failure: JobFailure | None = None  # applied when the render ends
    failed_at: float | None = None  # set by fail_job: failed from then on
    download_bytes: int | None = None  # None: the small real MP4
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    urls_expired: bool = False
    content_gone: bool = False
    deleted: bool = False
    _completed_wall: float | None = None

    def state(self, now: float, queue_fraction: float) -> str:
        if self.failed_at is not None and now >= self.failed_at:
            return "failed"
        elapsed = now - self.started
        if elapsed >= self.render_seconds:
            return "failed" if self.failure else "completed"
        return "queued" if elapsed < self.render_seconds * queue_fraction else "running"

    def progress(self, now: float, queue_fraction: float) -> int:
        state = self.state(now, queue_fraction)
        if state == "completed":
            return 100
        queued_for = self.render_seconds * queue_fraction
        if state != "running" or self.render_seconds <= queued_for:
            return 0
        done = (now - self.started - queued_for) / (self.render_seconds - queued_for)
        return max(1, min(99, int(done * 100)))

    def completed_wall(self, now: float) -> float:
        """Unix time of completion (fixed the first time it is asked, once completed)."""
        if self._completed_wall is None:
            self._completed_wall = time.time() - max(0.0, now - self.started - self.render_seconds)
        return self._completed_wall


def new_job_id(dialect: str) -> str:
    return "sora_" + secrets.token_hex(6) if dialect == "xingchaoyiqing" else "video_" + secrets.token_hex(24)


def error_body(dialect: str, rejected: Rejected) -> Any:
    if dialect == "xingchaoyiqing":
        return {"error": rejected.message}
    if dialect == "juheapi":
        return {"error": {"message": rejected.message, "type": rejected.type_, "code": rejected.code}}
    return {"error": {"message": rejected.message, "type": rejected.type_, "param": rejected.param,
                      "code": rejected.code}}


def job_json(dialect: str, job: FakeJob, *, now: float, queue_fraction: float, download_url: str,
             url_ttl: float | None) -> dict[str, Any]:
    """The job as the dialect's status endpoint shows it."""
    state = job.state(now, queue_fraction)
    word = _RUNNING_WORD[dialect] if state == "running" else state
    error: Any = None
    if state == "failed":
        code, message = (job.failure or JobFailure()).words(dialect)
        error = message if dialect == "xingchaoyiqing" else {"code": code, "message": message}
    if dialect == "xingchaoyiqing":
        data: dict[str, Any] = {"id": job.id, "object": "video.generation", "created": int(job.created_at),
                                "model": job.model, "status": word}
        if state == "completed":
            data.update(video_url=download_url, actualDuration=job.seconds)
        if error is not None:
            data["error"] = error
        return data
    completed = int(job.completed_wall(now)) if state == "completed" else None
    data = {
        "id": job.id, "object": "video", "model": job.model, "status": word,
        "progress": job.progress(now, queue_fraction), "created_at": int(job.created_at),
        "completed_at": completed, "expires_at": completed + int(url_ttl or 3600) if completed else None,
        "prompt": job.prompt, "size": job.size, "seconds": str(job.seconds),
        "remixed_from_video_id": job.remixed_from, "error": error,
    }
    if dialect == "juheapi":
        data["meta_data"] = {"url": download_url} if state == "completed" else None
    return data


async def read_create(dialect: str, request: web.Request) -> dict[str, Any]:
    """The create request's fields (prompt, model, size, seconds, image_mime), or `Rejected` as the
    relay would refuse it."""
    if dialect == "xingchaoyiqing":
        return await _xingchaoyiqing_create(request)
    return await _openai_create(request, strict=dialect == "openai")


async def _openai_create(request: web.Request, *, strict: bool) -> dict[str, Any]:  # noqa: C901 (JSON or form, then the checks)
    image: bytes | None = None
    image_mime = None
    if request.content_type == "application/json":
        form: dict[str, Any] = await request.json()
    elif request.content_type == "multipart/form-data":
        form = {}
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                if name != "input_reference":
                    raise Rejected(400, f"Unexpected file field '{name}'.", param=name)
                image, image_mime = value.file.read(), value.content_type
            else:
                form[name] = value
    else:
        raise Rejected(400, "Expected multipart/form-data or application/json.")
    unknown = set(form) - {"model", "prompt", "size", "seconds", "input_reference"}
    if strict and unknown:
        name = sorted(unknown)[0]
        raise Rejected(400, f"Unknown parameter: '{name}'.", code="unknown_parameter", param=name)
    prompt = form.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise Rejected(400, "Missing required parameter: 'prompt'.", code="missing_required_parameter",
                       param="prompt")
    if len(prompt) > 32000:
        raise Rejected(400, "Prompt is too long (max 32000 characters).", param="prompt")
    model, size, seconds = form.get("model", "sora-2"), form.get("size", "720x1280"), form.get("seconds", "4")
    if model not in OPENAI_MODELS:
        raise Rejected(400, f"Invalid value: '{model}'. Supported values are: {OPENAI_MODELS}.",
                       code="invalid_value", param="model")
    if size not in SIZES:
        raise Rejected(400, f"Invalid value: '{size}'. Supported values are: {SIZES}.",
                       code="invalid_value", param="size")
    if str(seconds) not in {str(s) for s in SECONDS}:
        raise Rejected(400, f"Invalid value: '{seconds}'. Supported values are: '4', '8', and '12'.",
                       code="invalid_value", param="seconds")
    if image is not None:
        check_image(image, image_mime, size, param="input_reference")
    return {"prompt": prompt, "model": model, "size": size, "seconds": int(seconds), "image_mime": image_mime}


async def _xingchaoyiqing_create(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise Rejected(400, "request body must be JSON") from None
    if not isinstance(body, dict):
        raise Rejected(400, "request body must be a JSON object")
    prompt, model = body.get("prompt"), body.get("model")
    if not isinstance(prompt, str) or not prompt.strip():
        raise Rejected(400, "prompt is required")
    if model not in XING_MODELS:
        raise Rejected(400, f"model must be one of {', '.join(XING_MODELS)}")
    duration = body.get("duration", body.get("seconds", 4))
    if isinstance(duration, bool) or not isinstance(duration, int) or duration not in SECONDS:
        raise Rejected(400, "duration must be an integer: 4, 8 or 12")
    size = body.get("size") or {"16:9": "1280x720", "9:16": "720x1280"}.get(body.get("aspect_ratio", ""))
    if size not in SIZES:
        raise Rejected(400, f"size must be one of {', '.join(SIZES)}")
    image_mime = None
    images = body.get("image_urls") or []
    if not isinstance(images, list) or not all(isinstance(u, str) for u in images):
        raise Rejected(400, "image_urls must be a list of URLs")
    for url in images[:1]:
        found = re.fullmatch(r"data:([\w/+.-]+);base64,(.+)", url, re.DOTALL)
        if found:
            try:
                data = base64.b64decode(found.group(2), validate=True)
            except ValueError:
                raise Rejected(400, "image_urls[0] is not valid base64") from None
            image_mime = found.group(1)
            check_image(data, image_mime, size, param="image_urls")
        elif not url.startswith(("http://", "https://")):
            raise Rejected(400, "image_urls must be http(s) or data: URLs")
    return {"prompt": prompt, "model": model, "size": size, "seconds": duration, "image_mime": image_mime}


async def read_extension(request: web.Request, *, strict: bool) -> tuple[str, str, int]:
    """`POST /videos/extensions` (CreateVideoExtendJsonBody): (source video id, prompt, seconds added),
    or `Rejected` as the relay would refuse it. The source's state is checked by the caller."""
    if request.content_type != "application/json":
        raise Rejected(400, "Expected application/json.")
    try:
        body = await request.json()
    except ValueError:
        raise Rejected(400, "We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise Rejected(400, "The body must be a JSON object.")
    unknown = set(body) - {"video", "prompt", "seconds"}
    if strict and unknown:
        name = sorted(unknown)[0]
        raise Rejected(400, f"Unknown parameter: '{name}'.", code="unknown_parameter", param=name)
    for name in ("video", "prompt", "seconds"):
        if name not in body:
            raise Rejected(400, f"Missing required parameter: '{name}'.", code="missing_required_parameter",
                           param=name)
    video = body["video"]
    if not isinstance(video, dict) or not isinstance(video.get("id"), str) or not video["id"]:
        raise Rejected(400, "Invalid type for 'video': expected an object with an 'id'.", code="invalid_type",
                       param="video")
    prompt = body["prompt"]
    if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > 32000:
        raise Rejected(400, "Invalid 'prompt': a string of 1 to 32000 characters.", code="invalid_value",
                       param="prompt")
    seconds = body["seconds"]
    if not isinstance(seconds, str) or seconds not in EXTENSION_SECONDS:
        raise Rejected(400, f"Invalid value: {seconds!r}. Supported values are: '4', '8', and '12'.",
                       code="invalid_value", param="seconds")
    return video["id"], prompt, int(seconds)


def check_image(data: bytes, mime: str | None, size: str, *, param: str) -> None:
    """Like OpenAI: a JPEG, PNG or WebP exactly the size of the video."""
    if mime not in IMAGE_TYPES:
        raise Rejected(400, f"Invalid file type {mime!r}: supported are {', '.join(IMAGE_TYPES)}.",
                       code="invalid_image_format", param=param)
    try:
        width, height = Image.open(io.BytesIO(data)).size
    except Exception:  # any decoding failure is the client's bad image
        raise Rejected(400, "The image could not be decoded.", code="invalid_image", param=param) from None
    if f"{width}x{height}" != size:
        raise Rejected(400, f"Inpaint image must match the requested width and height ({size}); "
                       f"got {width}x{height}.", code="invalid_image_dimensions", param=param)
