"""A loopback server that answers like a compromised relay: bombs, lies, trickles and redirects.

It listens on two ports of 127.0.0.1: `origin` (use `base_url` as SORA_BASE_URL: trusted) and
`other` (another origin: what a provider answer might point at). Every request is recorded as
(port, path, headers) in `requests`.

Routes (on both ports):
  /v1/videos/{id}          a completed video, JSON; `video_json` overrides the body, `json_gzip` gzips it
  /v1/videos/{id}/content  the MP4 `payload` (Range supported when `ranges` is on)
  /files/ok                the MP4 `payload`
  /files/gzip              `gzip_inflated` bytes of zeros, gzip-encoded (small on the wire)
  /files/length-lie        claims `claimed_length` bytes in Content-Length, sends a few
  /files/endless           chunked, never ends until the client goes away
  /files/trickle           1 KiB every 0.2 s, for ever
  /files/resumable         the MP4 `payload`; the first GET breaks off half way (Range supported)
  /files/error400          400 with a JSON error body quoting `error_text`
  /files/error400-gzip     400 whose gzip body inflates to `gzip_inflated` bytes
  /redirect?to=URL         302 to URL
  POST /v1/videos          a 200 whose body breaks off (the create's answer is lost)
"""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from dataclasses import dataclass, field

from aiohttp import web

ZERO_CHUNK = bytes(64 * 1024)


def gzip_of_zeros(total: int) -> bytes:
    """A gzip stream that inflates to `total` zero bytes, built without holding them."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts, left = [], total
    while left > 0:
        n = min(left, len(ZERO_CHUNK))
        parts.append(compressor.compress(ZERO_CHUNK[:n]))
        left -= n
    parts.append(compressor.flush())
    return b"".join(parts)


@dataclass
class Seen:
    port: int
    path: str
    headers: dict[str, str] = field(default_factory=dict)


class HostileServer:
    def __init__(self, payload: bytes = b"", *, gzip_inflated: int = 32 * 1024 * 1024) -> None:
        self.payload = payload
        self.gzip_inflated = gzip_inflated
        self.claimed_length = 600 * 1024 * 1024
        self.error_text = "visit http://evil.example/pay to get your video"
        self.video_json: dict | None = None
        self.json_gzip = False
        self.ranges = True
        self.requests: list[Seen] = []
        self._broke_once = False
        self._runner: web.AppRunner | None = None
        self._ports = (0, 0)
        self._gzip_cache: bytes | None = None

    async def __aenter__(self) -> HostileServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        sites = [web.TCPSite(self._runner, "127.0.0.1", 0) for _ in range(2)]
        for site in sites:
            await site.start()
        self._ports = tuple(s._server.sockets[0].getsockname()[1] for s in sites)  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._ports[0]}"

    @property
    def other(self) -> str:
        return f"http://127.0.0.1:{self._ports[1]}"

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"

    def seen(self, port_of: str) -> list[Seen]:
        port = int(port_of.rsplit(":", 1)[1])
        return [r for r in self.requests if r.port == port]

    def _gzip(self) -> bytes:
        if self._gzip_cache is None:
            self._gzip_cache = gzip_of_zeros(self.gzip_inflated)
        return self._gzip_cache

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        port = request.transport.get_extra_info("sockname")[1] if request.transport else 0
        self.requests.append(Seen(port, request.path_qs, dict(request.headers)))
        path = request.path
        if path == "/redirect":
            raise web.HTTPFound(request.query["to"])
        if path == "/v1/videos" and request.method == "POST":
            return await self._broken_answer(request)
        if path.startswith("/v1/videos/") and path.endswith("/content"):
            return await self._file(request, self.payload)
        if path.startswith("/v1/videos/"):
            return self._video(path.rsplit("/", 1)[1])
        handler = {
            "/files/ok": lambda: self._file(request, self.payload),
            "/files/gzip": lambda: self._gzip_file(request),
            "/files/length-lie": lambda: self._length_lie(request),
            "/files/endless": lambda: self._endless(request),
            "/files/trickle": lambda: self._trickle(request),
            "/files/resumable": lambda: self._resumable(request),
            "/files/error400": lambda: self._error400(),
            "/files/error400-gzip": lambda: self._error400_gzip(),
        }.get(path)
        if handler is None:
            raise web.HTTPNotFound()
        return await handler()

    def _video(self, video_id: str) -> web.Response:
        body = self.video_json or {"id": video_id, "object": "video", "status": "completed", "progress": 100,
                                   "model": "sora-2", "size": "1280x720", "seconds": "4"}
        data = json.dumps(body).encode()
        if self.json_gzip:
            return web.Response(body=gzip.compress(data), headers={"Content-Encoding": "gzip",
                                                                   "Content-Type": "application/json"})
        return web.Response(body=data, content_type="application/json")

    async def _file(self, request: web.Request, data: bytes) -> web.StreamResponse:
        headers = {"Content-Type": "video/mp4"}
        if self.ranges:
            headers["Accept-Ranges"] = "bytes"
        status, start = 200, 0
        wanted = request.headers.get("Range", "")
        if self.ranges and wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[6:-1])
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        return web.Response(status=status, body=data[start:], headers=headers)

    async def _resumable(self, request: web.Request) -> web.StreamResponse:
        if self._broke_once or "Range" in request.headers:
            return await self._file(request, self.payload)
        self._broke_once = True
        response = web.StreamResponse(headers={"Content-Type": "video/mp4",
                                               **({"Accept-Ranges": "bytes"} if self.ranges else {})})
        response.content_length = len(self.payload)
        await response.prepare(request)
        half = len(self.payload) // 2
        for start in range(0, half, 16 * 1024):
            await response.write(self.payload[start:min(half, start + 16 * 1024)])
        await response.drain()
        await asyncio.sleep(0.1)  # let the half reach the client before the connection drops
        assert request.transport is not None
        request.transport.close()
        return response

    async def _broken_answer(self, request: web.Request) -> web.StreamResponse:
        """A 200 whose JSON body breaks off: the create was received, its answer lost."""
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b'{"id": "video_')
        await response.drain()
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.close()
        return response

    async def _gzip_file(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=self._gzip(), headers={"Content-Encoding": "gzip", "Content-Type": "video/mp4"})

    async def _length_lie(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = self.claimed_length
        await response.prepare(request)
        try:
            await response.write(ZERO_CHUNK)
            await asyncio.sleep(5)
        except (ConnectionError, asyncio.CancelledError):
            pass
        return response

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        await response.prepare(request)
        try:
            for _ in range(100_000):
                await response.write(ZERO_CHUNK)
        except (ConnectionError, asyncio.CancelledError, RuntimeError):
            pass
        return response

    async def _trickle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        await response.prepare(request)
        try:
            for _ in range(10_000):
                await response.write(ZERO_CHUNK[:1024])
                await asyncio.sleep(0.2)
        except (ConnectionError, asyncio.CancelledError, RuntimeError):
            pass
        return response

    async def _error400(self) -> web.Response:
        return web.json_response({"error": {"message": self.error_text, "code": "bad"}}, status=400)

    async def _error400_gzip(self) -> web.Response:
        return web.Response(status=400, body=self._gzip(), headers={"Content-Encoding": "gzip",
                                                                    "Content-Type": "application/json"})
