# Over 400 lines on purpose: one fake server of every relay dialect (their data: relay_dialects.py).
"""`FakeRelay`: a working fake of the Sora relays, a real aiohttp server on 127.0.0.1 (random ports).

It speaks one dialect per instance (`dialect="openai" | "juheapi" | "xingchaoyiqing"`) with that
relay's paths, state words, JSON and error shapes (see `relay_dialects.py`), and validates requests
the way the real services do: the API key (401), required fields and allowed values (400), the
first-frame image's type and dimensions. Jobs go queued → running (progress rising; xingchaoyiqing
reports none) → completed over their render time; downloads are real playable MP4s of the job's
seconds (tiny resolution, same aspect), streamed.

    async with FakeRelay(dialect="openai", api_key="k", render_seconds=1.5) as relay:
        provider = HttpVideoProvider(base_url=relay.base_url, api_key="k", profile=OPENAI)
        relay.rate_limit(count=2, retry_after=1, kind="create")
        ...
        assert relay.create_count == 1

Construction: `render_seconds` (float seconds, or a function of the `FakeJob`, e.g.
`lambda job: job.seconds * 0.1`), `queue_fraction` (share of it spent queued), `clock` (a monotonic
clock to scale time), `paths` (override an endpoint, e.g. `{"status": "/result/{id}"}`: the default
is then not served), `url_ttl` (downloads expire that long after completion), `download_bytes`
(every job's MP4 padded to exactly this size, generated while streaming), `poll_after_ms` (the
`openai-poll-after-ms` hint), `files_on_api_host`, `prefix` (default "/v1"), `webhook_url` and
`webhook_secret` (openai/juheapi: signed `video.completed`/`video.failed` POSTed there when a job
ends, see `relay_webhooks.py`; also settable later with `send_webhooks`).

Knobs (a `kind` or `method` narrows a knob to those requests; None means any):
  rate_limit(count, retry_after=, retry_after_ms=, kind=)    429 with Retry-After / retry-after-ms
  server_error(count, status=500, kind=, after_processing=)  5xx, before or after taking effect
  hang(count, seconds=, kind=, after_processing=True)        answer only after `seconds`
  fail_next_create_after_recording(count, status=500)        the job is made, the answer is a 5xx
  fail_next_jobs(count, content_policy=, message=, at_create=)  failures in the relay's own words
  fail_job(id, ...), complete_job(id), set_render_seconds(id, s), set_download_bytes(id, n)
  truncate_downloads(count, keep_fraction=0.5)               drop the connection mid-body
  expire_urls(id=None), expire_content(id=None)              403 on direct URLs / 404 on /content
  send_webhooks(url, secret, retries=0), drop_webhooks(count)  signed events when jobs end; lose some
Inspection: `requests` (method, path, kind, time, query, authorization, idempotency key, in order),
`count(kind, method)`, `create_count`, `remix_count`, `jobs` / `job(id)`, `webhook_deliveries`.

Extensions (openai, juheapi): `POST /videos/extensions` with {video: {id}, prompt, seconds} as JSON,
validated like the schema (the source must be a completed video, seconds "4", "8" or "12"); the new
job's `seconds` is the stitched total, its MP4 that long. `extend_count` counts them.

Request kinds: create, status, remix, extend, list, delete, content (`/videos/{id}/content`) and file (a
direct download URL: juheapi's `meta_data.url`, xingchaoyiqing's `video_url`). Direct URLs live on a
second port (`cdn_origin`): another origin that, like S3, refuses a request carrying an
`Authorization` header. With `files_on_api_host=True` they live on the API's origin and need the key.
A create or remix with an `Idempotency-Key` header seen before returns the first job.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.sandbox.fake_providers import media
from bot.sandbox.fake_providers.relay_dialects import (
    CONTENT_VARIANTS,
    DIALECTS,
    METHODS,
    PATHS,
    FakeJob,
    JobFailure,
    Rejected,
    error_body,
    job_json,
    new_job_id,
    read_create,
    read_extension,
)
from bot.sandbox.fake_providers.relay_webhooks import WebhookDelivery, WebhookSender


@dataclass
class RecordedRequest:
    method: str
    path: str
    kind: str | None  # None: matched no endpoint (answered 404)
    at: float  # the relay's clock
    query: dict[str, str]
    authorization: str | None  # the header as received, for asserting where the key went
    idempotency_key: str | None


@dataclass
class Fault:
    """Answer the next `count` requests matching `kind`/`method` abnormally: wait `delay` seconds
    (cut short when the relay stops), then answer `status` (None: answer normally). With
    `after_processing` the request takes effect first, so the client cannot know the outcome."""

    count: int = 1
    status: int | None = 500
    kind: str | None = None
    method: str | None = None
    delay: float = 0.0
    after_processing: bool = False
    retry_after: float | str | None = None
    retry_after_ms: int | None = None

    def matches(self, kind: str | None, method: str) -> bool:
        return (self.count > 0 and self.kind in (None, kind)
                and (self.method is None or self.method.upper() == method))


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(template).replace(re.escape("{id}"), "(?P<id>[^/]+)") + "$")


class FakeRelay:
    """See the module docstring. Every knob is a plain method; everything seen is in `requests`."""

    def __init__(
        self,
        dialect: str = "openai",
        *,
        api_key: str = "test-key",
        render_seconds: float | Callable[[FakeJob], float] = 1.0,
        queue_fraction: float = 0.1,
        prefix: str = "/v1",
        paths: dict[str, str] | None = None,
        url_ttl: float | None = None,
        download_bytes: int | None = None,
        poll_after_ms: int | None = None,
        video_scale: int = 8,
        media_dir: Path | None = None,
        files_on_api_host: bool = False,
        idempotency_header: str = "Idempotency-Key",
        clock: Callable[[], float] = time.monotonic,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}; choose one of {DIALECTS}")
        self.dialect = dialect
        self.api_key = api_key
        self.render_seconds = render_seconds
        self.queue_fraction = queue_fraction
        self.prefix = prefix.rstrip("/")
        self.url_ttl = url_ttl
        self.download_bytes = download_bytes
        self.poll_after_ms = poll_after_ms
        self.video_scale = video_scale
        self.media_dir = media_dir
        self.files_on_api_host = files_on_api_host
        self.idempotency_header = idempotency_header
        self.clock = clock
        self.paths = {**PATHS[dialect], **(paths or {})}
        self._routes = [(kind, METHODS[kind], _template_regex(t)) for kind, t in self.paths.items()]
        self.jobs: dict[str, FakeJob] = {}
        self.requests: list[RecordedRequest] = []
        self.create_count = 0  # jobs created by the create endpoint (remixes are `remix_count`)
        self.remix_count = 0
        self.extend_count = 0
        self._faults: list[Fault] = []
        self._job_failures: list[JobFailure] = []
        self._reject_creates: list[JobFailure] = []
        self._truncate = (0, 0.5)
        self._by_idempotency_key: dict[str, str] = {}
        self._media_locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._ports: tuple[int, int] = (0, 0)
        self.webhooks = WebhookSender(self)
        if webhook_url is not None:
            self.webhooks.configure(webhook_url, webhook_secret or "")

    # --- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> FakeRelay:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        api, cdn = web.TCPSite(self._runner, "127.0.0.1", 0), web.TCPSite(self._runner, "127.0.0.1", 0)
        await api.start()
        await cdn.start()
        self._ports = (api._server.sockets[0].getsockname()[1],  # type: ignore[union-attr]
                       cdn._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._stopping.set()  # releases hanging handlers
        await self.webhooks.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._ports[0]}"

    @property
    def cdn_origin(self) -> str:
        return f"http://127.0.0.1:{self._ports[1]}"

    @property
    def base_url(self) -> str:
        """What SORA_BASE_URL would be: the origin plus the version prefix."""
        return self.origin + self.prefix

    # --- knobs -----------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def rate_limit(self, count: int = 1, *, retry_after: float | str | None = 1, retry_after_ms: int | None = None,
                   kind: str | None = None, method: str | None = None) -> Fault:
        """The next `count` matching requests get 429 with `Retry-After` (and `retry-after-ms`)."""
        return self.add_fault(Fault(count, 429, kind, method, retry_after=retry_after,
                                    retry_after_ms=retry_after_ms))

    def server_error(self, count: int = 1, *, status: int = 500, kind: str | None = None,
                     method: str | None = None, after_processing: bool = False) -> Fault:
        return self.add_fault(Fault(count, status, kind, method, after_processing=after_processing))

    def hang(self, count: int = 1, *, seconds: float = 3600.0, kind: str | None = None,
             method: str | None = None, after_processing: bool = True) -> Fault:
        """The next `count` matching requests answer only after `seconds` (past any client timeout).
        By default the request takes effect first: a create hung this way did create a job."""
        return self.add_fault(Fault(count, None, kind, method, delay=seconds, after_processing=after_processing))

    def fail_next_create_after_recording(self, count: int = 1, *, status: int = 500) -> Fault:
        """The next create makes its job, then answers `status`: the client cannot know it worked."""
        return self.server_error(count, status=status, kind="create", after_processing=True)

    def fail_next_jobs(self, count: int = 1, *, content_policy: bool = False, message: str | None = None,
                       code: str | None = None, at_create: bool = False) -> None:
        """The next `count` created jobs fail when their render ends, in the dialect's words (a
        content-policy rejection when asked). With `at_create` the create itself is refused with 400."""
        queue = self._reject_creates if at_create else self._job_failures
        queue.extend(JobFailure(content_policy, message, code) for _ in range(count))

    def fail_job(self, job_id: str, *, content_policy: bool = False, message: str | None = None,
                 code: str | None = None) -> None:
        """Fail `job_id` now."""
        job = self.jobs[job_id]
        job.failure, job.failed_at = JobFailure(content_policy, message, code), self.clock()

    def complete_job(self, job_id: str) -> None:
        """Finish `job_id`'s render now."""
        job = self.jobs[job_id]
        job.render_seconds = self.clock() - job.started

    def set_render_seconds(self, job_id: str, seconds: float) -> None:
        self.jobs[job_id].render_seconds = seconds

    def set_download_bytes(self, job_id: str, total_bytes: int) -> None:
        """Serve `job_id` as an MP4 of exactly `total_bytes` bytes, generated while streaming."""
        self.jobs[job_id].download_bytes = total_bytes

    def send_webhooks(self, url: str, secret: str, *, retries: int = 0, retry_delay: float = 0.0) -> None:
        """From now on, POST a signed event to `url` when a job ends (jobs still rendering included)."""
        self.webhooks.configure(url, secret, retries=retries, retry_delay=retry_delay)

    def drop_webhooks(self, count: int = 1) -> None:
        """The next `count` events are lost: never sent."""
        self.webhooks.drop(count)

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        return self.webhooks.deliveries

    def truncate_downloads(self, count: int = 1, *, keep_fraction: float = 0.5) -> None:
        """The next `count` downloads announce the full Content-Length, send `keep_fraction` of it,
        then drop the connection."""
        self._truncate = (count, keep_fraction)

    def expire_urls(self, job_id: str | None = None) -> None:
        """Direct download URLs (of `job_id`, or of every job) answer 403 from now on."""
        for job in [self.jobs[job_id]] if job_id else self.jobs.values():
            job.urls_expired = True

    def expire_content(self, job_id: str | None = None) -> None:
        """The content endpoint (of `job_id`, or of every job) answers 404 from now on."""
        for job in [self.jobs[job_id]] if job_id else self.jobs.values():
            job.content_gone = True

    # --- inspection ------------------------------------------------------------------------------

    def count(self, kind: str | None = None, method: str | None = None) -> int:
        return sum(1 for r in self.requests
                   if (kind is None or r.kind == kind) and (method is None or r.method == method.upper()))

    def job(self, job_id: str) -> FakeJob:
        return self.jobs[job_id]

    def download_url(self, job: FakeJob) -> str:
        return f"{self.origin if self.files_on_api_host else self.cdn_origin}/files/{job.token}.mp4"

    # --- request handling ------------------------------------------------------------------------

    def _match(self, request: web.Request) -> tuple[str | None, str | None]:
        if request.path.startswith("/files/"):
            return "file", request.path.removeprefix("/files/").removesuffix(".mp4")
        if not request.path.startswith(self.prefix + "/"):
            return None, None
        path = request.path.removeprefix(self.prefix)
        for kind, method, pattern in self._routes:
            found = pattern.match(path)
            if found and request.method == method:
                return kind, found.groupdict().get("id")
        return None, None

    def _take_fault(self, kind: str | None, method: str) -> Fault | None:
        fault = next((f for f in self._faults if f.matches(kind, method)), None)
        if fault is not None:
            fault.count -= 1
        return fault

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        kind, ident = self._match(request)
        self.requests.append(RecordedRequest(
            request.method, request.path, kind, self.clock(), dict(request.query),
            request.headers.get("Authorization"), request.headers.get(self.idempotency_header)))
        fault = self._take_fault(kind, request.method)
        try:
            if fault is not None and not fault.after_processing:
                await self._wait(fault.delay)
                if fault.status is not None:
                    return self._fault_response(fault)
            if kind is None:
                raise Rejected(404, f"Invalid URL ({request.method} {request.path})", type_="not_found")
            if kind != "file" or self._on_api_port(request):
                self._check_auth(request)
            response = await getattr(self, f"_on_{kind}")(request, ident)
        except Rejected as rejected:
            response = self._error(rejected)
        if fault is not None and fault.after_processing:
            await self._wait(fault.delay)
            if fault.status is not None:
                return self._fault_response(fault)
        return response

    def _on_api_port(self, request: web.Request) -> bool:
        assert request.transport is not None
        return request.transport.get_extra_info("sockname")[1] == self._ports[0]

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    def _check_auth(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            if self.dialect == "xingchaoyiqing":  # its gateway answers in plain text
                raise Rejected(401, "Unauthorized: invalid or missing API key", plain_text=True)
            raise Rejected(401, "Incorrect API key provided.", code="invalid_api_key",
                           type_="invalid_request_error")

    def _headers(self) -> dict[str, str]:
        return {"x-request-id": f"req_{secrets.token_hex(8)}"}

    def _error(self, rejected: Rejected, headers: dict[str, str] | None = None) -> web.Response:
        headers = headers or self._headers()
        if rejected.plain_text:
            return web.Response(status=rejected.status, text=rejected.message, headers=headers)
        return web.json_response(error_body(self.dialect, rejected), status=rejected.status, headers=headers)

    def _fault_response(self, fault: Fault) -> web.Response:
        assert fault.status is not None
        headers = self._headers()
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if fault.retry_after_ms is not None:
            headers["retry-after-ms"] = str(fault.retry_after_ms)
        message = "Rate limit reached for requests" if fault.status == 429 else "The server had an error"
        kind = "rate_limit_exceeded" if fault.status == 429 else "server_error"
        return self._error(Rejected(fault.status, message, type_=kind), headers)

    def _get_job(self, job_id: str | None) -> FakeJob:
        job = self.jobs.get(job_id or "")
        if job is None or job.deleted:
            raise Rejected(404, f"Video with id '{job_id}' not found.", code="video_not_found",
                           type_="invalid_request_error")
        return job

    # --- endpoints -------------------------------------------------------------------------------

    async def _on_create(self, request: web.Request, _: str | None) -> web.Response:
        replay = self._replayed(request)
        if replay is not None:
            return replay
        fields = await read_create(self.dialect, request)
        if self._reject_creates:
            code, message = self._reject_creates.pop(0).words(self.dialect)
            raise Rejected(400, message, code=code)
        job = self._new_job(request, **fields)
        self.create_count += 1
        return self._job_response(job)

    async def _on_remix(self, request: web.Request, source_id: str | None) -> web.Response:
        source = self._get_job(source_id)
        replay = self._replayed(request)
        if replay is not None:
            return replay
        try:
            body = await request.json()
        except ValueError:
            raise Rejected(400, "Expected a JSON body.") from None
        prompt = body.get("prompt") if isinstance(body, dict) else None
        if not isinstance(prompt, str) or not prompt.strip():
            raise Rejected(400, "Missing required parameter: 'prompt'.", code="missing_required_parameter",
                           param="prompt")
        if source.state(self.clock(), self.queue_fraction) != "completed":
            raise Rejected(400, "Only completed videos can be remixed.", code="invalid_video_state")
        job = self._new_job(request, prompt=prompt, model=source.model, size=source.size,
                            seconds=source.seconds, remixed_from=source.id)
        self.remix_count += 1
        return self._job_response(job)

    async def _on_extend(self, request: web.Request, _: str | None) -> web.Response:
        replay = self._replayed(request)
        if replay is not None:
            return replay
        source_id, prompt, seconds = await read_extension(request, strict=self.dialect == "openai")
        source = self._get_job(source_id)
        if source.state(self.clock(), self.queue_fraction) != "completed":
            raise Rejected(400, "Only completed videos can be extended.", code="invalid_video_state")
        job = self._new_job(request, prompt=prompt, model=source.model, size=source.size,
                            seconds=source.seconds + seconds)  # the stitched total
        job.extended_from = source.id
        self.extend_count += 1
        return self._job_response(job)

    async def _on_status(self, request: web.Request, job_id: str | None) -> web.Response:
        return self._job_response(self._get_job(job_id))

    async def _on_list(self, request: web.Request, _: str | None) -> web.Response:
        try:
            limit = int(request.query.get("limit", "20"))
        except ValueError:
            raise Rejected(400, "limit must be an integer", param="limit") from None
        order = request.query.get("order", "desc")
        if not 0 <= limit <= 100 or order not in ("asc", "desc"):
            raise Rejected(400, "Invalid limit or order.", param="limit" if order in ("asc", "desc") else "order")
        jobs = [j for j in self.jobs.values() if not j.deleted]  # in creation order
        if order == "desc":
            jobs.reverse()
        after = request.query.get("after")
        if after:
            ids = [j.id for j in jobs]
            jobs = jobs[ids.index(after) + 1:] if after in ids else []
        page, now = jobs[:limit], self.clock()
        return web.json_response({
            "object": "list", "data": [self._job_json(j, now) for j in page],
            "first_id": page[0].id if page else None, "last_id": page[-1].id if page else None,
            "has_more": len(jobs) > limit,
        }, headers=self._headers())

    async def _on_delete(self, request: web.Request, job_id: str | None) -> web.Response:
        job = self._get_job(job_id)
        if job.state(self.clock(), self.queue_fraction) not in ("completed", "failed"):
            raise Rejected(400, "Only completed or failed videos can be deleted.", code="invalid_video_state")
        job.deleted = True
        return web.json_response({"id": job.id, "object": "video.deleted", "deleted": True},
                                 headers=self._headers())

    async def _on_content(self, request: web.Request, job_id: str | None) -> web.StreamResponse:
        job = self._get_job(job_id)
        variant = request.query.get("variant", "video")
        if variant not in CONTENT_VARIANTS[self.dialect]:
            raise Rejected(400, f"Invalid variant '{variant}'.", param="variant")
        if job.state(self.clock(), self.queue_fraction) != "completed":
            raise Rejected(400, "Video is not ready yet.", code="video_not_ready")
        if job.content_gone or self._ttl_passed(job):
            raise Rejected(404, "Video content has expired.", code="video_expired")
        if variant == "thumbnail":
            return web.Response(body=media.thumbnail(job.size, self.video_scale), content_type="image/webp")
        if variant == "spritesheet":
            return web.Response(body=media.spritesheet(job.size, self.video_scale), content_type="image/jpeg")
        return await self._stream_video(request, job)

    async def _on_file(self, request: web.Request, token: str | None) -> web.StreamResponse:
        if not self._on_api_port(request) and "Authorization" in request.headers:
            return web.Response(status=400, content_type="application/xml", text=(
                "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>"))
        job = next((j for j in self.jobs.values() if j.token == token), None)
        if job is None or job.urls_expired or job.deleted or self._ttl_passed(job):
            return web.Response(status=403, content_type="application/xml", text=(
                "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"))
        return await self._stream_video(request, job)

    # --- helpers ---------------------------------------------------------------------------------

    def _replayed(self, request: web.Request) -> web.Response | None:
        key = request.headers.get(self.idempotency_header)
        if key and key in self._by_idempotency_key:
            return self._job_response(self.jobs[self._by_idempotency_key[key]])
        return None

    def _new_job(self, request: web.Request, *, prompt: str, model: str, size: str, seconds: int,
                 image_mime: str | None = None, remixed_from: str | None = None) -> FakeJob:
        job = FakeJob(id=new_job_id(self.dialect), prompt=prompt, model=model, size=size, seconds=seconds,
                      created_at=time.time(), started=self.clock(), render_seconds=0.0,
                      remixed_from=remixed_from, image_mime=image_mime,
                      idempotency_key=request.headers.get(self.idempotency_header),
                      download_bytes=self.download_bytes)
        job.render_seconds = float(self.render_seconds(job) if callable(self.render_seconds)
                                   else self.render_seconds)
        if self._job_failures:
            job.failure = self._job_failures.pop(0)
        self.jobs[job.id] = job
        if job.idempotency_key:
            self._by_idempotency_key[job.idempotency_key] = job.id
        self.webhooks.watch(job)
        return job

    def _job_response(self, job: FakeJob) -> web.Response:
        headers = self._headers()
        if self.poll_after_ms is not None and self.dialect == "openai":
            headers["openai-poll-after-ms"] = str(self.poll_after_ms)
        return web.json_response(self._job_json(job, self.clock()), headers=headers)

    def _ttl_passed(self, job: FakeJob) -> bool:
        if self.url_ttl is None:
            return False
        return self.clock() - job.started - job.render_seconds > self.url_ttl

    def _job_json(self, job: FakeJob, now: float) -> dict[str, Any]:
        return job_json(self.dialect, job, now=now, queue_fraction=self.queue_fraction,
                        download_url=self.download_url(job), url_ttl=self.url_ttl)

    async def _mp4(self, job: FakeJob) -> Path:
        """The small real MP4 of the job's seconds and aspect (generated once, then from the cache)."""
        key = (job.seconds, job.size)
        async with self._media_locks.setdefault(key, asyncio.Lock()):
            return await asyncio.to_thread(media.make_mp4, job.seconds, job.size, scale=self.video_scale,
                                           cache_dir=self.media_dir)

    async def _stream_video(self, request: web.Request, job: FakeJob) -> web.StreamResponse:
        mp4 = await self._mp4(job)
        total = job.download_bytes or mp4.stat().st_size
        chunks: Iterator[bytes] = media.padded_mp4_chunks(mp4, total)
        count, keep = self._truncate
        cut = int(total * keep) if count > 0 else None
        if cut is not None:
            self._truncate = (count - 1, keep)
        response = web.StreamResponse(headers={**self._headers(), "Content-Type": "video/mp4"})
        response.content_length = total
        await response.prepare(request)
        sent = 0
        for chunk in chunks:
            if cut is not None and sent + len(chunk) >= cut:
                await response.write(chunk[: cut - sent])
                assert request.transport is not None
                request.transport.close()  # the client sees fewer bytes than Content-Length
                return response
            await response.write(chunk)
            sent += len(chunk)
        await response.write_eof()
        return response

