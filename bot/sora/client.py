# Over 400 lines on purpose: the one HTTP client of every dialect; dialects/parse/retry hold the rest.
"""`HttpVideoProvider`: one async httpx client that speaks every relay dialect through its profile.

What differs between relays lives in `dialects.py` (data); how answers are read lives in `parse.py`;
when to send again is decided by `retry.py`. This file sends requests and streams downloads.

The API key goes only into the `Authorization` header of requests to the base URL's origin: never
into a log line or an error, and never to a download host elsewhere (pre-signed URLs carry their own
authorization, and some storage services refuse a request that carries two).

Provider answers are untrusted: every body is read through `bounded.read_body` (at most ~1 MiB,
never inflated beyond it), every download through `bounded.stream_to_file` (byte cap, free-disk
reserve, identity encoding only, a deadline, Range resume), and every download URL and redirect hop
through `safety.DownloadGuard` with connections pinned to the checked address (`guarded_client`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bot import media_types
from bot.sora.bounded import BrokenOff, DownloadLimits, content_range_start, read_body, stream_to_file
from bot.sora.dialects import EXTENSION_SECONDS, CreateEncoding, DialectProfile, extension_lengths_text
from bot.sora.errors import (
    DownloadExpired,
    DownloadFailed,
    InvalidRequest,
    NotFound,
    OperationUnsupported,
    ProviderUnavailable,
    SoraError,
    UnknownOutcome,
)
from bot.sora.models import CreateVideo, Variant, Video
from bot.sora.parse import error_from_response, parse_video, parse_video_list, request_id
from bot.sora.retry import Action, Failure, RetryPolicy
from bot.sora.safety import DownloadGuard, RefusedURL, Resolver, guarded_client
from bot.sora.validate import RequestLimits

log = logging.getLogger(__name__)

USER_AGENT = "sora-bot/0.1 (+https://github.com/)"
_LIST_PAGE_MAX = 100
# A pre-signed URL that no longer works answers one of these (S3 and most CDNs say 403).
_EXPIRED_DIRECT = frozenset({401, 403, 404, 410})
_EXPIRED_CONTENT = frozenset({404, 410})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
# Compressed API answers only in encodings `read_body` inflates with a ceiling.
_API_ENCODINGS = "gzip, deflate"


def _failure_of(exc: httpx.HTTPError) -> Failure | None:
    """How far a request got before `exc`; None for an error that retrying cannot mend."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ProxyError):
        return Failure.CONNECT
    if isinstance(exc, httpx.TimeoutException):
        return Failure.TIMEOUT
    if isinstance(exc, httpx.TransportError) and not isinstance(
            exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return Failure.BROKEN
    return None


def _port(url: httpx.URL) -> int | None:
    return url.port or {"http": 80, "https": 443}.get(url.scheme)


_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


async def _buffered(response: httpx.Response) -> httpx.Response:
    """`response` with its body read through `read_body` (bounded, inflated by us), as a plain
    response whose `.content` / `.json()` work. Raises httpx errors when the body breaks off."""
    body = await read_body(response)
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _BODY_HEADERS]
    return httpx.Response(response.status_code, headers=headers, content=body, request=response.request,
                          extensions={k: v for k, v in response.extensions.items() if k != "network_stream"})


class HttpVideoProvider:
    """A `VideoProvider` over HTTP. Give it an `httpx.AsyncClient` to share a connection pool (it is
    then not closed by `aclose`), or let it build its own."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        profile: DialectProfile,
        http: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        limits: RequestLimits | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        chunk_size: int = 256 * 1024,
        trusted_origins: Sequence[str] = (),
        download_limits: DownloadLimits | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL, e.g. https://api.openai.com/v1")
        if not api_key:
            raise ValueError("an API key is required")
        self._base = base_url.rstrip("/")
        self._base_url = httpx.URL(self._base)
        self._api_key = api_key
        self._secrets = (api_key,)
        self._profile = profile
        self._timeout = httpx.Timeout(timeout)
        self._retry = retry or RetryPolicy()
        self._limits = limits or RequestLimits()
        self._sleep = sleep
        self._chunk_size = chunk_size
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=self._timeout)
        # Downloads (any URL a provider hands us, and the content endpoint) go through the guard.
        self.download_guard = DownloadGuard([self._base, *trusted_origins], resolver=resolver)
        self._downloads = guarded_client(self.download_guard, timeout=self._timeout)
        self._download_limits = download_limits or DownloadLimits()
        self.name = profile.name
        self.supports_remix = profile.has("remix")
        self.supports_extend = profile.has("extend")
        self.supports_list = profile.has("list")
        self.supports_idempotency = profile.idempotency_header is not None

    @property
    def profile(self) -> DialectProfile:
        return self._profile

    async def __aenter__(self) -> HttpVideoProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._downloads.aclose()
        if self._owns_http:
            await self._http.aclose()

    # --- the transport: one request, retried per the policy ------------------------------------

    def _same_origin(self, url: httpx.URL) -> bool:
        base = self._base_url
        return (url.scheme, url.host, _port(url)) == (base.scheme, base.host, _port(base))

    def _describe(self, method: str, url: httpx.URL) -> str:
        """For logs and errors: the path on our API, only the host for a (signed) download URL."""
        if self._same_origin(url):
            return f"{method} {url.path}"
        return f"{method} {url.host}/…"

    async def _send(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        replay_safe: bool,
        auth: bool = True,
        stream: bool = False,
        client: httpx.AsyncClient | None = None,
        idempotency_key: str | None = None,
        **request: Any,
    ) -> httpx.Response:
        """Send with retries; return the final response, whatever its status. Its body is read
        through `read_body` (at most ~1 MiB, `.content` ready) unless `stream=True` (then read it
        with `stream_to_file` or `read_body`). Raises `ProviderUnavailable`/`RateLimited` when
        retries are spent, `UnknownOutcome` when a request that is not safe to replay may have
        taken effect (an answer that broke off mid-body included)."""
        url = httpx.URL(url)
        http = client or self._http
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": _API_ENCODINGS, **request.pop("headers", {})}
        if auth:
            headers["Authorization"] = f"Bearer {self._api_key}"
        if idempotency_key and self._profile.idempotency_header:
            headers[self._profile.idempotency_header] = idempotency_key
        what = self._describe(method, url)
        attempt = 0
        while True:
            attempt += 1
            built = http.build_request(method, url, headers=headers, timeout=self._timeout, **request)
            response: httpx.Response | None = None
            failure: Failure | None = None
            cause: httpx.HTTPError | None = None
            try:
                sent = await http.send(built, stream=True, follow_redirects=False)
                response = sent if stream else await _buffered(sent)  # a broken body: no response
            except httpx.HTTPError as exc:
                failure = _failure_of(exc)
                if failure is None:
                    raise SoraError(f"{what}: {type(exc).__name__}") from exc
                cause = exc
            if response is not None:
                decision = self._retry.decide(attempt, status=response.status_code, headers=response.headers,
                                              replay_safe=replay_safe)
                if decision.action is Action.ACCEPT:
                    return response
                body = await self._error_body(response)
                reason = f"HTTP {response.status_code}"
            else:
                decision = self._retry.decide(attempt, failure=failure, replay_safe=replay_safe)
                reason = str(failure)
            if decision.action is Action.RETRY:
                log.warning("sora %s %s: %s; attempt %d of %d, next in %.2fs", self.name, what, reason,
                            attempt, self._retry.max_attempts, decision.delay)
                await self._sleep(decision.delay)
                continue
            if decision.action is Action.UNKNOWN_OUTCOME:
                log.error("sora %s %s: %s after sending; outcome unknown, not resending", self.name, what,
                          reason)
                status = response.status_code if response is not None else None
                raise UnknownOutcome(f"{what}: {reason} after the request was sent; it may have taken effect",
                                     status_code=status,
                                     request_id=request_id(response.headers) if response is not None else None)
            # GIVE_UP
            if response is not None:
                raise error_from_response(response.status_code, body, response.headers, secrets=self._secrets)
            raise ProviderUnavailable(f"{what}: {reason} after {attempt} attempts") from cause

    @staticmethod
    async def _error_body(response: httpx.Response) -> bytes:
        """The body of an error answer (at most ~1 MiB), read and closed; empty if the connection broke."""
        try:
            return response.content  # already read (and bounded) by `_send`
        except httpx.ResponseNotRead:
            pass
        try:
            return await read_body(response)
        except httpx.HTTPError:
            return b""

    def _api_url(self, path: str) -> str:
        return self._base + path

    async def _call(self, method: str, path: str, *, replay_safe: bool, **request: Any) -> httpx.Response:
        """An API call whose answer must be a success (its body read, at most ~1 MiB); an error
        answer becomes the typed error."""
        response = await self._send(method, self._api_url(path), replay_safe=replay_safe, **request)
        if not response.is_success:
            raise error_from_response(response.status_code, response.content, response.headers,
                                      secrets=self._secrets)
        return response

    def _json(self, response: httpx.Response) -> Any:
        try:
            return json.loads(response.content)
        except ValueError:  # also a body cut at the size ceiling
            raise SoraError(f"the {self.name} provider answered with something other than JSON",
                            status_code=response.status_code, request_id=request_id(response.headers)) from None

    def _video(self, response: httpx.Response) -> Video:
        return parse_video(self._json(response), self._profile, headers=response.headers, secrets=self._secrets)

    # --- the VideoProvider interface -----------------------------------------------------------

    def _create_body(self, request: CreateVideo) -> dict[str, Any]:
        fields = self._profile.create_fields
        model = self._profile.provider_model(request.model)
        mime = request.image_mime or "image/png"
        if self._profile.create_encoding is CreateEncoding.JSON:
            body: dict[str, Any] = {fields["model"]: model, fields["prompt"]: request.prompt,
                                    fields["size"]: request.size, fields["seconds"]: request.seconds}
            if request.image is not None:
                data_url = f"data:{mime};base64,{base64.b64encode(request.image).decode('ascii')}"
                body[fields["image"]] = [data_url]
            return {"json": body}
        # Multipart even without an image (a (None, value) part is a plain form field), as OpenAI documents.
        parts: list[tuple[str, tuple[str | None, Any] | tuple[str, bytes, str]]] = [
            (fields["model"], (None, model)), (fields["prompt"], (None, request.prompt)),
            (fields["size"], (None, request.size)), (fields["seconds"], (None, str(request.seconds))),
        ]
        if request.image is not None:
            parts.append((fields["image"], (f"first_frame{media_types.extension_for(mime)}", request.image, mime)))
        return {"files": parts}

    def _replay_safe(self, idempotency_key: str | None) -> bool:
        return bool(idempotency_key) and self.supports_idempotency

    async def create(self, request: CreateVideo, *, idempotency_key: str | None = None) -> Video:
        request = self._limits.check(request)  # raises before anything is sent
        path = self._profile.path("create")
        response = await self._call("POST", path, replay_safe=self._replay_safe(idempotency_key),
                                    idempotency_key=idempotency_key, **self._create_body(request))
        return self._video(response)

    async def retrieve(self, video_id: str) -> Video:
        return self._video(await self._call("GET", self._profile.path("status", video_id), replay_safe=True))

    async def remix(self, video_id: str, prompt: str, *, idempotency_key: str | None = None) -> Video:
        path = self._profile.path("remix", video_id)  # RemixUnsupported first: nothing to check then
        prompt = self._limits.check_remix_prompt(prompt)
        response = await self._call("POST", path, replay_safe=self._replay_safe(idempotency_key),
                                    idempotency_key=idempotency_key, json={"prompt": prompt})
        return self._video(response)

    def can_extend(self, model: str) -> bool:
        """Whether a finished video of `model` can be continued: the relay serves /videos/extensions."""
        return self.supports_extend

    def extension_seconds(self, model: str) -> tuple[int, ...] | None:
        """The lengths an extension may add (None: the model's own durations)."""
        return EXTENSION_SECONDS

    async def extend(self, video_id: str, prompt: str, seconds: int, *, idempotency_key: str | None = None) -> Video:
        """Continue the completed video `video_id` by `seconds` more, directed by `prompt`. The answer
        is a new video whose `seconds` is the stitched total."""
        path = self._profile.path("extend")  # OperationUnsupported first: nothing to check then
        prompt = self._limits.check_remix_prompt(prompt)
        if seconds not in EXTENSION_SECONDS:
            raise InvalidRequest(f"an extension of {seconds} s is not offered", code="invalid_seconds",
                                 user_message=extension_lengths_text(EXTENSION_SECONDS))
        body = {"video": {"id": video_id}, "prompt": prompt, "seconds": str(seconds)}
        response = await self._call("POST", path, replay_safe=self._replay_safe(idempotency_key),
                                    idempotency_key=idempotency_key, json=body)
        return self._video(response)

    async def list(self, *, limit: int = 100) -> list[Video]:
        path = self._profile.path("list")
        videos: list[Video] = []
        after: str | None = None
        while len(videos) < limit:
            params: dict[str, Any] = {"limit": min(_LIST_PAGE_MAX, limit - len(videos)), "order": "desc"}
            if after:
                params["after"] = after
            response = await self._call("GET", path, replay_safe=True, params=params)
            page, has_more = parse_video_list(self._json(response), self._profile, secrets=self._secrets)
            videos.extend(page)
            if not has_more or not page:
                break
            after = page[-1].id
        return videos[:limit]

    async def delete(self, video_id: str) -> None:
        await self._call("DELETE", self._profile.path("delete", video_id), replay_safe=True)

    async def download(self, video: Video, dest: Path, *, variant: Variant = Variant.VIDEO) -> int:
        variant = Variant(variant)
        if variant is not Variant.VIDEO:
            if variant not in self._profile.content_variants:
                raise OperationUnsupported(f"the {self.name} dialect serves no {variant} download",
                                           code="unsupported")
            return await self._fetch_content(video.id, dest, variant)
        url = video.download_url
        if url is None and not self._profile.has("content"):
            video = await self._refreshed(video)  # the caller's copy may predate the URL
            url = video.download_url
        if url is None:
            if self._profile.has("content"):
                return await self._fetch_content(video.id, dest, variant)
            raise DownloadFailed(f"the {self.name} provider gave no download URL for {video.id} "
                                 f"(state {video.state})")
        try:
            return await self._fetch_direct(url, dest)
        except DownloadExpired:
            if self._profile.has("content"):
                log.info("sora %s: the download URL of %s expired; using the content endpoint",
                         self.name, video.id)
                return await self._fetch_content(video.id, dest, variant)
            fresh = await self._refreshed(video)  # some relays hand out a new URL on each status call
            if not fresh.download_url or fresh.download_url == url:
                raise
            return await self._fetch_direct(fresh.download_url, dest)

    async def _refreshed(self, video: Video) -> Video:
        try:
            return await self.retrieve(video.id)
        except NotFound as exc:
            raise DownloadExpired(f"{video.id} is gone at the provider", status_code=exc.status_code,
                                  request_id=exc.request_id) from exc

    # --- downloads -----------------------------------------------------------------------------

    async def _fetch_content(self, video_id: str, dest: Path, variant: Variant) -> int:
        params = {} if variant is Variant.VIDEO else {"variant": variant.value}
        url = httpx.URL(self._api_url(self._profile.path("content", video_id)), params=params)
        return await self.fetch_to_file(url, dest, expired=_EXPIRED_CONTENT)

    async def _fetch_direct(self, url: str, dest: Path) -> int:
        absolute = self._base_url.join(url)  # a relative URL is on the API's host
        return await self.fetch_to_file(absolute, dest, expired=_EXPIRED_DIRECT)

    async def _fetch(self, url: str | httpx.URL, dest: Path, *, auth: bool | None = None,
                     expired: frozenset[int] = _EXPIRED_DIRECT, params: dict[str, str] | None = None) -> int:
        """The older name of `fetch_to_file`, kept for dialect subclasses: `auth` is ignored (the
        key goes to the base URL's origin and nowhere else), `params` are added to the URL."""
        return await self.fetch_to_file(httpx.URL(str(url), params=params) if params else url, dest,
                                        expired=expired)

    async def fetch_to_file(self, url: str | httpx.URL, dest: Path, *,
                            expired: frozenset[int] = _EXPIRED_DIRECT) -> int:
        """Download a provider-supplied URL to `dest`, hostile-input safe (see the module docstring):
        the key only on the base URL's origin, every hop checked by the guard, the body bounded,
        resumed with Range when the server accepts ranges. Returns the bytes written. Raises
        `DownloadExpired` for an `expired` status, `RefusedURL` / `DownloadFailed` otherwise, with
        member-facing words that never quote the download host."""
        limits = self._download_limits
        deadline = time.monotonic() + limits.deadline_seconds
        partial = dest.with_name(dest.name + ".part")
        offset, resumes, ranged = 0, 0, False
        try:
            while True:
                response = await self._open_download(httpx.URL(url), offset)
                try:
                    ranged = ranged or response.headers.get("accept-ranges", "").strip().lower() == "bytes"
                    if offset and not (response.status_code == 206 and content_range_start(response) == offset):
                        offset = 0  # the server sent the whole file again (or a range we did not ask for)
                        if response.status_code == 206:
                            raise DownloadFailed("the download host answered a range that was not asked for")
                    if not response.is_success:
                        await self._download_error(response, expired)
                    try:
                        size = await stream_to_file(response, partial, limits=limits, deadline=deadline,
                                                    offset=offset, chunk_size=self._chunk_size)
                    except BrokenOff as exc:
                        if not ranged or resumes >= limits.max_resumes or exc.written == 0:
                            raise
                        resumes += 1
                        offset = exc.written
                        log.info("sora %s: %s; resuming at byte %d", self.name, exc.message, offset)
                        continue
                finally:
                    await response.aclose()
                await asyncio.to_thread(partial.replace, dest)
                return size
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    async def _open_download(self, url: httpx.URL, offset: int) -> httpx.Response:
        """GET `url` through the guarded client, following redirects hop by hop (each one checked)."""
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        for _ in range(_MAX_REDIRECTS + 1):
            self.download_guard.check_url(url)
            try:
                response = await self._send("GET", url, replay_safe=True, auth=self._same_origin(url), stream=True,
                                            client=self._downloads, headers=dict(headers))
            except (RefusedURL, DownloadFailed):
                raise
            except SoraError as exc:  # retries spent: words from the host never reach a member
                raise DownloadFailed(f"{self._describe('GET', url)}: {exc.message}",
                                     status_code=exc.status_code) from exc
            if response.status_code not in _REDIRECTS or "location" not in response.headers:
                return response
            location = response.headers["location"]
            await response.aclose()
            url = url.join(location)
        raise DownloadFailed(f"the download was redirected more than {_MAX_REDIRECTS} times")

    async def _download_error(self, response: httpx.Response, expired: frozenset[int]) -> None:
        """Raise for a failed download. The host's own words go to the log only (and only the API's:
        another host's body is not even read)."""
        url = response.request.url
        what = self._describe("GET", url)
        detail = f"HTTP {response.status_code}"
        if self._same_origin(url):
            body = await self._error_body(response)
            error = error_from_response(response.status_code, body, response.headers, secrets=self._secrets)
            detail = str(error)
        log.warning("sora %s: download %s failed: %s", self.name, what, detail)
        cls = DownloadExpired if response.status_code in expired else DownloadFailed
        raise cls(f"{what}: HTTP {response.status_code}", status_code=response.status_code,
                  request_id=request_id(response.headers))


if TYPE_CHECKING:  # the type checker proves the class implements the port
    from bot.sora.base import VideoProvider

    _implements: type[VideoProvider] = HttpVideoProvider
