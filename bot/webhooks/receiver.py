"""The webhook receiver: providers POST "this video is done" and the engine polls that job at once.

Off unless `WEBHOOK_PORT` (and `SORA_WEBHOOK_SECRET`) are set. It is its own aiohttp server, not a
route on the health server (bot/health.py), on purpose: this one is meant to be reachable from the
internet (through a reverse proxy or a tunnel), while `/healthz` and `/metrics` are for the operator
and must stay private. Two ports keep "what is exposed" a one-line proxy rule, and each server can
be on or off by itself.

    POST /webhooks/openai      Standard Webhooks (OpenAI's `video.completed` / `video.failed`)
    POST /webhooks/openrouter  OpenRouter's `video.generation.*` with `X-OpenRouter-Signature`
    GET  /webhooks/healthz     "a sora-bot receiver is listening here" (for `doctor`)

Each delivery, in this order, and the first failure answers 4xx with nothing changed and one log
line (never the body, the headers or the secret): content type must be JSON (415); the body is read
only up to 64 KiB (413); the signature and its timestamp (±300 s) are verified (401); the JSON must
be an event with a job id (400); the job must be ours (404: the provider retries, and if it never
learns of it, polling does). Then the delivery's idempotency key (`webhook-id`, or
`X-OpenRouter-Idempotency-Key`) is recorded and the job made due now, in one transaction; a key seen
before answers 200 and does nothing. Events of other types answer 200 and are ignored.

A verified event never writes job state from its payload: the job is only made due, and the poller
confirms with one status request, then downloads and delivers as usual. So the worst a replayed or
forged-but-signed event can do is one extra status request.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from bot.health import serve_app
from bot.metrics import Metrics, NullMetrics
from bot.settings import NO_WEBHOOK_PROVIDERS, Settings
from bot.webhooks.signatures import OPENROUTER_SIGNATURE, SignatureRefused, StandardWebhooksVerifier, verify_openrouter
from db.repository import Repository
from db.webhooks import WebhookLog

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
KEEP_KEYS_SECONDS = 7 * 86400  # dedupe keys outlive every provider's retries (OpenAI: 72 h)
PRUNE_EVERY_SECONDS = 3600.0
MAX_ID_CHARS = 200
SOURCES = ("openai", "openrouter")
OPENAI_EVENTS = frozenset({"video.completed", "video.failed"})
OPENROUTER_EVENT_PREFIX = "video.generation."
OPENROUTER_IDEMPOTENCY = "X-OpenRouter-Idempotency-Key"


class Wakeable(Protocol):
    """What the receiver needs of the poller (bot/engine/poller.py)."""

    def nudge(self, job_id: int) -> None: ...


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Event:
    upstream_id: str | None  # None: an event type that is not about a finished video (ignored)
    key: str  # the idempotency key, namespaced by source
    kind: str


def _json_object(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "malformed JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "the event is not a JSON object")
    return data


def _video_id(data: dict) -> str:
    inner = data.get("data")
    video_id = inner.get("id") if isinstance(inner, dict) else None
    if not isinstance(video_id, str) or not video_id.strip() or len(video_id) > MAX_ID_CHARS:
        raise Refused(400, "the event names no job id")
    return video_id


def parse_openai(body: bytes, webhook_id: str) -> Event:
    data = _json_object(body)
    kind = data.get("type")
    if not isinstance(kind, str):
        raise Refused(400, "the event has no type")
    upstream = _video_id(data) if kind in OPENAI_EVENTS else None
    return Event(upstream, f"openai:{webhook_id[:MAX_ID_CHARS]}", kind)


def parse_openrouter(body: bytes, headers: Mapping[str, str]) -> Event:
    data = _json_object(body)
    kind = data.get("type")
    if not isinstance(kind, str):
        raise Refused(400, "the event has no type")
    if not kind.startswith(OPENROUTER_EVENT_PREFIX):
        return Event(None, "", kind)
    upstream = _video_id(data)
    key = headers.get(OPENROUTER_IDEMPOTENCY, "").strip()
    if not key:  # the documented key is "<job id>-<status>": rebuild it when the header is missing
        status = data["data"].get("status")
        key = f"{upstream}-{status if isinstance(status, str) else kind.removeprefix(OPENROUTER_EVENT_PREFIX)}"
    return Event(upstream, f"openrouter:{key[:MAX_ID_CHARS]}", kind)


class WebhookReceiver:
    """`await start()` to listen (port 0 picks a free one: `port` after start), `await stop()`."""

    def __init__(self, *, host: str, port: int, secret: str, repo: Repository, poller: Wakeable,
                 provider_name: str, clock: Callable[[], float] = time.time,
                 max_body: int = MAX_BODY_BYTES, metrics: Metrics | None = None) -> None:
        self.host = host
        self.requested_port = port
        self.repo = repo
        self.log = WebhookLog(repo)
        self.poller = poller
        self.provider_name = provider_name
        self.clock = clock
        self.max_body = max_body
        self.metrics: Metrics = metrics if metrics is not None else NullMetrics()
        self._secret = secret
        self._openai: StandardWebhooksVerifier | None = None
        self._openai_problem = ""
        try:
            self._openai = StandardWebhooksVerifier(secret)
        except ValueError as exc:
            self._openai_problem = str(exc)
        self.port: int | None = None
        self.outcomes: Counter[str] = Counter()  # "accepted", "duplicate", "ignored", "refused 401", …
        self._runner: web.AppRunner | None = None
        self._pruned_at = 0.0

    # --- lifecycle -------------------------------------------------------------------------------
    def _app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body)
        app.router.add_post("/webhooks/openai", self._on_openai)
        app.router.add_post("/webhooks/openrouter", self._on_openrouter)
        app.router.add_get("/webhooks/healthz", self._on_healthz)
        return app

    async def start(self) -> None:
        if self._runner is not None:
            return
        if self._openai is None:
            log.warning("SORA_WEBHOOK_SECRET is not a Standard Webhooks secret (%s): /webhooks/openai refuses "
                        "every delivery (fine when only OpenRouter calls this bot)", self._openai_problem)
        await self._prune()
        self._runner, self.port = await serve_app(self._app(), self.host, self.requested_port, shutdown_timeout=1.0)
        log.info("webhook receiver listening on http://%s:%d (/webhooks/openai, /webhooks/openrouter)",
                 self.host, self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            log.info("webhook receiver stopped")

    def url(self, source: str) -> str:
        """The local URL of `source`'s route (tests, and a reverse proxy's upstream)."""
        return f"http://{self.host}:{self.port}/webhooks/{source}"

    # --- routes ----------------------------------------------------------------------------------
    async def _on_healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "service": "sora-bot webhooks"})

    async def _on_openai(self, request: web.Request) -> web.Response:
        return await self._handle(request, "openai")

    async def _on_openrouter(self, request: web.Request) -> web.Response:
        return await self._handle(request, "openrouter")

    async def _handle(self, request: web.Request, source: str) -> web.Response:
        try:
            body = await self._read(request)
            event = self._verify_and_parse(source, body, request.headers)
            if event.upstream_id is None:
                return self._answer(200, "ignored", source, f"event type {event.kind!r} is not about a video")
            job = await self.repo.job_by_provider_id(self.provider_name, event.upstream_id)
            if job is None:
                raise Refused(404, "unknown job id")
        except Refused as refused:
            return self._answer(refused.status, f"refused {refused.status}", source, refused.reason)
        now = self.clock()
        fresh = await self.log.accept(event.key, source=source, job_id=job.id, now=now)
        if not fresh:
            log.info("webhook %s: replayed delivery ignored", source, extra=job.log_extra())
            return self._answer(200, "duplicate", source)
        self.poller.nudge(job.id)
        log.info("webhook %s: %s, job made due now", source, event.kind, extra=job.log_extra())
        if now - self._pruned_at >= PRUNE_EVERY_SECONDS:
            await self._prune()
        return self._answer(200, "accepted", source)

    def _answer(self, status: int, outcome: str, source: str, reason: str | None = None) -> web.Response:
        self.outcomes[outcome] += 1
        self.metrics.webhook(source, outcome.replace(" ", "_"))
        if status >= 400:
            log.warning("webhook %s refused (%d): %s", source, status, reason)
        elif reason:
            log.info("webhook %s %s: %s", source, outcome, reason)
        body: dict[str, object] = {"ok": status < 400, "outcome": outcome.split()[0]}
        if status >= 400:
            body["error"] = reason
        return web.json_response(body, status=status)

    # --- the checks, in order --------------------------------------------------------------------
    async def _read(self, request: web.Request) -> bytes:
        """The raw body, never more than `max_body` bytes read: refused early when it says it is
        bigger, or as soon as it turns out to be."""
        if request.content_type != "application/json":
            raise Refused(415, "content type must be application/json")
        if request.content_length is not None and request.content_length > self.max_body:
            raise Refused(413, f"body larger than {self.max_body} bytes")
        chunks, size = [], 0
        while chunk := await request.content.read(16 * 1024):
            size += len(chunk)
            if size > self.max_body:
                raise Refused(413, f"body larger than {self.max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _verify_and_parse(self, source: str, body: bytes, headers: Mapping[str, str]) -> Event:
        try:
            if source == "openai":
                if self._openai is None:
                    raise SignatureRefused("SORA_WEBHOOK_SECRET is not a whsec_ secret")
                webhook_id = self._openai.verify(body, headers)
                return parse_openai(body, webhook_id)
            verify_openrouter(body, headers.get(OPENROUTER_SIGNATURE), self._secret, now=self.clock())
            return parse_openrouter(body, headers)
        except SignatureRefused as exc:
            raise Refused(401, exc.reason) from None

    async def _prune(self) -> None:
        self._pruned_at = self.clock()
        removed = await self.log.prune(self._pruned_at - KEEP_KEYS_SECONDS)
        if removed:
            log.info("forgot %d webhook delivery key(s) older than %d days", removed, KEEP_KEYS_SECONDS // 86400)


def webhook_receiver_from_settings(settings: Settings, repo: Repository, poller: Wakeable,
                                   provider_name: str, metrics: Metrics | None = None) -> WebhookReceiver | None:
    """The receiver the settings ask for; None when WEBHOOK_PORT is unset (the default), when the
    provider sends no webhooks, or when SORA_WEBHOOK_SECRET is missing (logged: unsigned deliveries
    are never trusted). Built exactly when `settings.webhooks_enabled`."""
    if settings.webhook_port is None:
        return None
    if settings.sora_provider.value in NO_WEBHOOK_PROVIDERS:
        log.warning("WEBHOOK_PORT is set but SORA_PROVIDER=%s sends no webhooks: the receiver stays off",
                    settings.sora_provider.value)
        return None
    secret = settings.webhook_secret
    if secret is None:
        log.error("WEBHOOK_PORT is set but SORA_WEBHOOK_SECRET is not: the webhook receiver stays off "
                  "(polling works as before)")
        return None
    return WebhookReceiver(host=settings.webhook_host, port=settings.webhook_port, secret=secret, repo=repo,
                           poller=poller, provider_name=provider_name, metrics=metrics)
