"""`FakeOpenRouter`: a strict loopback fake of OpenRouter's video API (specs/OPENROUTER.md A.8).

Built on `FakeRelay` (same server, faults, inspection and download streaming), with OpenRouter's own
surface under `/api/v1`:

  POST /videos                     202; JSON checked against the model's record (400 otherwise)
  GET  /videos/{id}                200; pending → in_progress → completed | failed | cancelled | expired
  GET  /videos/{id}/content?index  200 video/mp4 (bearer required; 409 not ready, 410 gone)
  GET  /videos/models              200 {data: [...]} (no key needed) from `openrouter_models.json`

Errors use OpenRouter's envelope `{error: {code, message, metadata}}`. A completed job carries
`unsigned_urls` (this fake's content endpoint), `usage.cost` and, with `signed_urls=True`, a signed
`urls[0]` on the second port (no key; refuses one) plus `expires_at`.

Construction: everything `FakeRelay` takes, plus `models` (the records; default: the fixture),
`polling` ("relative" | "absolute": how `polling_url` is written), `signed_urls`, `content_type`
(of downloads: "video/mp4" or "application/octet-stream"), `credits` (creates accepted before 402;
None: unlimited), `cost_per_second` (USD), `continuation_models` (slugs that take previous_job_id),
`webhook_secret` and `webhooks` (POST a signed `video.generation.*` event to the job's callback_url
when it ends), `allow_http_callbacks` (accept `http://127.0.0.1` callback URLs: tests only).

Knobs beyond FakeRelay's: `set_credits(n)`, `cancel_next_jobs(n)`, `expire_next_jobs(n)`,
`cancel_job(id)`, `expire_job(id)`, `moderate_next_creates(n)` (403), `send_webhook(id)`.
Inspection: `jobs[id].body` (the create body as received), `headers_seen`, `callback_deliveries` (the per-job
callback_url pushes; the relay's dashboard-style `webhook_deliveries` stay as in `FakeRelay`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from bot.sandbox.fake_providers.openrouter_webhooks import webhook_envelope, webhook_headers
from bot.sandbox.fake_providers.relay import FakeRelay, _template_regex
from bot.sandbox.fake_providers.relay_dialects import FakeJob, JobFailure, Rejected
from bot.sora import shapes
from bot.sora.openrouter_wire import CONTINUATION_MODELS

MODELS_FIXTURE = Path(__file__).with_name("openrouter_models.json")
ROUTES = {"models": ("GET", "/videos/models"), "create": ("POST", "/videos"),
          "content": ("GET", "/videos/{id}/content"), "status": ("GET", "/videos/{id}")}
_BODY_FIELDS = {"model", "prompt", "duration", "resolution", "aspect_ratio", "size", "generate_audio", "seed",
                "frame_images", "input_references", "callback_url", "provider", "creativity", "upscale_factor",
                "previous_job_id", "session_id", "trace", "user"}
CANCELLED_ERROR = "Job was cancelled"
EXPIRED_ERROR = "Job exceeded maximum time to live"
POLICY_ERROR = "Content policy violation: the request was flagged by moderation"


def load_models() -> list[dict[str, Any]]:
    return json.loads(MODELS_FIXTURE.read_text(encoding="utf-8"))["data"]


@dataclass
class OpenRouterJob(FakeJob):
    body: dict[str, Any] = field(default_factory=dict)
    ending: str | None = None  # "cancelled" | "expired": applied when the render ends
    ended_at: float | None = None  # set by cancel_job / expire_job
    cost: float = 0.0
    callback_url: str | None = None
    last_frame_mime: str | None = None
    generation_id: str = field(default_factory=lambda: f"gen-{secrets.token_hex(6)}")

    def state(self, now: float, queue_fraction: float) -> str:
        if self.ended_at is not None and now >= self.ended_at:
            return self.ending or "failed"
        word = super().state(now, queue_fraction)
        if word == "completed" and self.ending:
            return self.ending
        return {"queued": "pending", "running": "in_progress"}.get(word, word)


class FakeOpenRouter(FakeRelay):
    def __init__(self, *, api_key: str = "test-key", models: list[dict[str, Any]] | None = None,
                 polling: str = "relative", signed_urls: bool = False, content_type: str = "video/mp4",
                 credits: int | None = None, cost_per_second: float = 0.05,
                 continuation_models: frozenset[str] = CONTINUATION_MODELS, webhook_secret: str | None = None,
                 webhooks: bool = False, allow_http_callbacks: bool = True, prefix: str = "/api/v1",
                 paths: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__("openai", api_key=api_key, prefix=prefix, **kwargs)
        self.dialect = "openrouter"
        self.models = {m["id"]: m for m in (models if models is not None else load_models())}
        self.polling, self.signed_urls, self.content_type = polling, signed_urls, content_type
        self.credits, self.cost_per_second = credits, cost_per_second
        self.continuation_models = continuation_models
        self.callback_secret, self.push_callbacks = webhook_secret, webhooks
        self.allow_http_callbacks = allow_http_callbacks
        self.paths = {kind: template for kind, (_, template) in ROUTES.items()} | (paths or {})
        self._routes = [(kind, ROUTES[kind][0], _template_regex(self.paths[kind])) for kind in ROUTES]
        self._endings: list[str] = []
        self.callback_deliveries: list[tuple[str, int | str]] = []  # (event type, status or error)
        self.callback_at: dict[str, float] = {}  # job id → clock() when its first push started
        self._webhook_tasks: set[asyncio.Task[None]] = set()
        self.headers_seen: list[dict[str, str]] = []  # every request's headers, in order

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.headers_seen.append(dict(request.headers))
        return await super()._dispatch(request)

    async def stop(self) -> None:
        for task in self._webhook_tasks:
            task.cancel()
        await super().stop()

    # --- knobs -------------------------------------------------------------------------------------
    def set_credits(self, creates: int | None) -> None:
        """Accept `creates` more creates, then answer 402 (None: unlimited)."""
        self.credits = creates

    def cancel_next_jobs(self, count: int = 1) -> None:
        self._endings.extend(["cancelled"] * count)

    def expire_next_jobs(self, count: int = 1) -> None:
        self._endings.extend(["expired"] * count)

    def cancel_job(self, job_id: str) -> None:
        job = self._or_job(job_id)
        job.ending, job.ended_at = "cancelled", self.clock()

    def expire_job(self, job_id: str) -> None:
        job = self._or_job(job_id)
        job.ending, job.ended_at = "expired", self.clock()

    def moderate_next_creates(self, count: int = 1) -> None:
        self.fail_next_jobs(count, content_policy=True, at_create=True)

    def _or_job(self, job_id: str) -> OpenRouterJob:
        job = self.jobs[job_id]
        assert isinstance(job, OpenRouterJob)
        return job

    # --- protocol ----------------------------------------------------------------------------------
    def _check_auth(self, request: web.Request) -> None:
        kind, _ = self._match(request)
        if kind == "models":
            return  # works without a key in practice; the spec still allows one
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            raise Rejected(401, "Missing Authentication header")

    def _error(self, rejected: Rejected, headers: dict[str, str] | None = None) -> web.Response:
        body = {"error": {"code": rejected.status, "message": rejected.message, "metadata": None},
                "openrouter_metadata": None, "user_id": None}
        return web.json_response(body, status=rejected.status, headers=headers or self._headers())

    def _get_job(self, job_id: str | None) -> FakeJob:
        job = self.jobs.get(job_id or "")
        if job is None:
            raise Rejected(404, "Resource not found")
        return job

    def _polling_url(self, job: FakeJob) -> str:
        path = self.prefix + self.paths["status"].replace("{id}", job.id)
        return self.origin + path if self.polling == "absolute" else path

    def _job_json(self, job: FakeJob, now: float) -> dict[str, Any]:
        assert isinstance(job, OpenRouterJob)
        state = job.state(now, self.queue_fraction)
        data: dict[str, Any] = {"id": job.id, "polling_url": self._polling_url(job), "status": state}
        if state != "pending":
            data["generation_id"] = job.generation_id
        if state == "completed":
            content = self.prefix + self.paths["content"].replace("{id}", job.id)
            data["unsigned_urls"] = [f"{self.origin}{content}?index=0"]
            data["usage"] = {"cost": job.cost, "is_byok": False}
            if self.signed_urls:
                data["urls"] = [self.download_url(job)]
                data["expires_at"] = int(time.time()) + int(self.url_ttl or 3600)
        elif state == "failed":
            data["error"] = POLICY_ERROR if job.failure and job.failure.content_policy else (
                (job.failure.message if job.failure else None) or "Provider returned error")
        elif state == "cancelled":
            data["error"] = CANCELLED_ERROR
        elif state == "expired":
            data["error"] = EXPIRED_ERROR
        return data

    def _job_response(self, job: FakeJob, status: int = 200) -> web.Response:
        return web.json_response(self._job_json(job, self.clock()), status=status, headers=self._headers())

    async def _on_models(self, request: web.Request, _: str | None) -> web.Response:
        return web.json_response({"data": list(self.models.values())}, headers=self._headers())

    async def _on_create(self, request: web.Request, _: str | None) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            raise Rejected(400, "Invalid request parameters: the body must be JSON") from None
        if not isinstance(body, dict):
            raise Rejected(400, "Invalid request parameters: the body must be an object")
        fields = self._validate(body)
        if self._reject_creates:
            failure = self._reject_creates.pop(0)
            if failure.content_policy:
                raise Rejected(403, failure.message or "Request blocked by moderation: content policy violation")
            raise Rejected(400, failure.message or "Invalid request parameters")
        if self.credits is not None:
            if self.credits <= 0:
                raise Rejected(402, "Insufficient credits. Add more using https://openrouter.ai/credits")
            self.credits -= 1
        job = OpenRouterJob(id=f"gen-vid-{int(time.time())}-{secrets.token_hex(10)}", created_at=time.time(),
                            started=self.clock(), render_seconds=0.0, body=body,
                            idempotency_key=request.headers.get(self.idempotency_header), **fields)
        job.render_seconds = float(self.render_seconds(job) if callable(self.render_seconds) else self.render_seconds)
        job.cost = round(self.cost_per_second * job.seconds, 4)
        if self._job_failures:
            job.failure = self._job_failures.pop(0)
        if self._endings:
            job.ending = self._endings.pop(0)
        self.jobs[job.id] = job
        self.create_count += 1
        if self.push_callbacks and job.callback_url:
            task = asyncio.create_task(self._webhook_when_done(job))
            self._webhook_tasks.add(task)
            task.add_done_callback(self._webhook_tasks.discard)
        return self._job_response(job, status=202)

    def _validate(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: C901 (the spec's checks, in its order)
        unknown = sorted(set(body) - _BODY_FIELDS)
        if unknown:
            raise Rejected(400, f"Invalid request parameters: unknown field '{unknown[0]}'")
        slug = body.get("model")
        if not isinstance(slug, str) or not slug:
            raise Rejected(400, "Invalid request parameters: 'model' is required")
        model = self.models.get(slug)
        if model is None:
            raise Rejected(400, f"Invalid request parameters: model '{slug}' is not a video model")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            if not body.get("frame_images"):
                raise Rejected(400, "Invalid request parameters: 'prompt' is required for this model")
            prompt = ""
        duration = body.get("duration")
        durations = model.get("supported_durations")
        if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int) or duration < 1
                                     or (durations and duration not in durations)):
            raise Rejected(400, f"Invalid request parameters: duration {duration!r} is not supported by {slug}")
        for name, key in (("resolution", "supported_resolutions"), ("aspect_ratio", "supported_aspect_ratios"),
                          ("size", "supported_sizes")):
            value, allowed = body.get(name), model.get(key)
            if value is not None and (not isinstance(value, str) or allowed is None or value not in allowed):
                raise Rejected(400, f"Invalid request parameters: {name} {value!r} is not supported by {slug}")
        size = body.get("size") or self._size_of(body, model)
        for flag in ("generate_audio",):
            if flag in body and not isinstance(body[flag], bool):
                raise Rejected(400, f"Invalid request parameters: {flag} must be a boolean")
        if "seed" in body and (isinstance(body["seed"], bool) or not isinstance(body["seed"], int)):
            raise Rejected(400, "Invalid request parameters: seed must be an integer")
        mimes = self._frames(body.get("frame_images"), model, slug)
        callback = body.get("callback_url")
        if callback is not None:
            ok = isinstance(callback, str) and (callback.startswith("https://") or (
                self.allow_http_callbacks and callback.startswith("http://127.0.0.1")))
            if not ok:
                raise Rejected(400, "Invalid request parameters: callback_url must be an https URL")
        previous = body.get("previous_job_id")
        parent: FakeJob | None = None
        if previous is not None:
            parent = self.jobs.get(previous) if isinstance(previous, str) else None
            if parent is None or parent.state(self.clock(), self.queue_fraction) != "completed":
                raise Rejected(400, "Invalid request parameters: previous_job_id must name a completed job")
            if slug != parent.model:
                raise Rejected(400, "Invalid request parameters: a continuation runs on the same model")
            if slug not in self.continuation_models:
                raise Rejected(400, f"Invalid request parameters: {slug} does not support previous_job_id")
        seconds = duration or (parent.seconds if parent is not None else min(durations or [5]))
        return {"prompt": prompt, "model": slug, "size": size, "seconds": seconds,
                "image_mime": mimes.get("first_frame"), "last_frame_mime": mimes.get("last_frame"),
                "remixed_from": previous, "callback_url": callback}

    @staticmethod
    def _size_of(body: dict[str, Any], model: dict[str, Any]) -> str:
        resolution = body.get("resolution") or (model.get("supported_resolutions") or ["720p"])[0]
        aspect = body.get("aspect_ratio") or (model.get("supported_aspect_ratios") or ["16:9"])[0]
        return shapes.size_for(resolution, aspect)

    @staticmethod
    def _frames(frames: Any, model: dict[str, Any], slug: str) -> dict[str, str]:
        if frames is None:
            return {}
        if not isinstance(frames, list) or len(frames) > 2:
            raise Rejected(400, "Invalid request parameters: frame_images must be a list of at most two")
        allowed, mimes = model.get("supported_frame_images") or [], {}
        for frame in frames:
            if not isinstance(frame, dict) or frame.get("type") != "image_url":
                raise Rejected(400, "Invalid request parameters: each frame image needs type 'image_url'")
            url = (frame.get("image_url") or {}).get("url") if isinstance(frame.get("image_url"), dict) else None
            kind = frame.get("frame_type")
            if not isinstance(url, str) or kind not in ("first_frame", "last_frame") or kind in mimes:
                raise Rejected(400, "Invalid request parameters: a frame image needs a url and one frame_type")
            if kind not in allowed:
                raise Rejected(400, f"Invalid request parameters: {slug} does not support {kind}")
            found = re.fullmatch(r"data:(image/[\w+.-]+);base64,(.+)", url, re.DOTALL)
            if found is None:
                raise Rejected(400, "Invalid request parameters: frame image urls must be data: URLs here")
            try:
                base64.b64decode(found.group(2), validate=True)
            except ValueError:
                raise Rejected(400, "Invalid request parameters: the frame image is not valid base64") from None
            mimes[kind] = found.group(1)
        return mimes

    async def _on_status(self, request: web.Request, job_id: str | None) -> web.Response:
        return self._job_response(self._get_job(job_id))

    async def _on_content(self, request: web.Request, job_id: str | None) -> web.StreamResponse:
        job = self._get_job(job_id)
        if request.query.get("index", "0") != "0":
            raise Rejected(404, "Resource not found: no output with that index")
        if job.state(self.clock(), self.queue_fraction) != "completed":
            raise Rejected(409, "The job has not completed")
        if job.content_gone or self._ttl_passed(job):
            raise Rejected(410, "The output is no longer available")
        response = await self._stream_video(request, job)
        return response

    async def _stream_video(self, request: web.Request, job: FakeJob) -> web.StreamResponse:
        if self.content_type == "video/mp4":
            return await super()._stream_video(request, job)
        mp4 = await self._mp4(job)
        return web.Response(body=mp4.read_bytes(), headers={**self._headers(), "Content-Type": self.content_type})

    # --- webhooks ------------------------------------------------------------------------------------
    async def _webhook_when_done(self, job: OpenRouterJob) -> None:
        while job.state(self.clock(), self.queue_fraction) in ("pending", "in_progress"):
            await asyncio.sleep(0.05)
        await self.send_webhook(job.id)

    async def send_webhook(self, job_id: str) -> int | str:
        """POST the job's terminal event to its callback_url (signed when `webhook_secret` is set);
        returns the receiver's HTTP status, or the transport error's name."""
        job = self._or_job(job_id)
        state = job.state(self.clock(), self.queue_fraction)
        data = self._job_json(job, self.clock())
        data["model"] = job.model
        envelope = webhook_envelope(state, data)
        raw = json.dumps(envelope, separators=(",", ":")).encode()
        headers = webhook_headers(job.id, state, raw, secret=self.callback_secret)
        assert job.callback_url
        self.callback_at.setdefault(job.id, self.clock())
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                answer = await client.post(job.callback_url, content=raw, headers=headers)
            outcome: int | str = answer.status_code
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        self.callback_deliveries.append((envelope["type"], outcome))
        return outcome


__all__ = ["FakeOpenRouter", "JobFailure", "OpenRouterJob", "load_models"]
