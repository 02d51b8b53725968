"""Reading provider answers without trusting their size: the ONE place any dialect reads a body.

- `read_body`: a JSON answer or an error body, read raw (undecoded) up to `MAX_BODY_BYTES`, then cut;
  a gzip/deflate body is inflated by us with the same ceiling on the output, so a small compressed
  answer can never become a large one in memory (httpx's own decoding has no such ceiling).
- `stream_to_file`: a download, written chunk by chunk through `dest.part`. It refuses a compressed
  body (we ask for `identity`: a gzip answer is not decoded, it is refused), checks the byte cap
  (`DownloadLimits.max_bytes`, and never more than the free disk under the destination minus
  `disk_reserve_bytes`) against Content-Length before the first byte and against the bytes actually
  written, and gives up at a deadline.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.sora.errors import DownloadFailed

MAX_BODY_BYTES = 1024 * 1024
MiB = 1024 * 1024


@dataclass(frozen=True)
class DownloadLimits:
    max_bytes: int = 512 * MiB  # far above the largest real Sora video (~100 MB for 12 s of 1792x1024)
    disk_reserve_bytes: int = 256 * MiB  # left free under DATA_DIR whatever the download
    deadline_seconds: float = 900.0  # one download, all its resumes and redirects included
    max_resumes: int = 3  # Range requests after a connection broke mid-body

    def cap_for(self, folder: Path) -> int:
        """The most bytes one download may write into `folder` now."""
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return self.max_bytes
        return max(0, min(self.max_bytes, free - self.disk_reserve_bytes))


def _encoding(response: httpx.Response) -> str:
    return response.headers.get("content-encoding", "").strip().lower()


async def read_body(response: httpx.Response, limit: int = MAX_BODY_BYTES) -> bytes:
    """At most `limit` bytes of the (decoded) body of a streamed response; the rest is not read.
    The response is closed. An encoding other than identity, gzip or deflate gives b""."""
    raw = bytearray()
    try:
        async for chunk in response.aiter_raw():
            raw += chunk
            if len(raw) >= limit:
                del raw[limit:]
                break
    finally:
        await response.aclose()
    encoding = _encoding(response)
    if encoding in ("", "identity"):
        return bytes(raw)
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(wbits=47 if encoding != "deflate" else 15)
        try:
            return inflater.decompress(bytes(raw), limit)
        except zlib.error:
            return b""
    return b""


def _length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


def content_range_start(response: httpx.Response) -> int | None:
    """The first byte of a 206 answer (`Content-Range: bytes START-END/TOTAL`)."""
    value = response.headers.get("content-range", "").strip().lower()
    if not value.startswith("bytes ") or "-" not in value:
        return None
    start = value[6:].split("-", 1)[0].strip()
    return int(start) if start.isdigit() else None


class BrokenOff(DownloadFailed):
    """The connection broke mid-body; `written` bytes are in the partial file (resumable)."""

    def __init__(self, message: str, *, written: int) -> None:
        super().__init__(message)
        self.written = written


async def _admit(response: httpx.Response, partial: Path, limits: DownloadLimits,
                 offset: int) -> tuple[int, int | None]:
    """Refuse a body that is encoded or announces more than the cap; (the cap, the announced length)."""
    encoding = _encoding(response)
    if encoding not in ("", "identity"):
        raise DownloadFailed(f"the download came {encoding}-encoded although identity was asked; refused")
    await asyncio.to_thread(partial.parent.mkdir, parents=True, exist_ok=True)
    cap = limits.cap_for(partial.parent)
    length = _length(response)
    if length is not None and offset + length > cap:
        raise DownloadFailed(f"the download announces {offset + length} bytes; the cap is {cap}")
    return cap, length


async def stream_to_file(response: httpx.Response, partial: Path, *, limits: DownloadLimits, deadline: float,
                         offset: int = 0, chunk_size: int = 256 * 1024) -> int:
    """Append the body of `response` to `partial` from byte `offset` (0: start afresh); return the
    file's size. Raises `DownloadFailed` (refused, too large, too slow) or `BrokenOff` (resumable).
    `deadline` is a `time.monotonic()` instant."""
    cap, length = await _admit(response, partial, limits, offset)
    written = offset
    handle = await asyncio.to_thread(partial.open, "r+b" if offset else "wb")
    try:
        if offset:
            await asyncio.to_thread(handle.truncate, offset)
            await asyncio.to_thread(handle.seek, offset)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DownloadFailed("the download ran out of time")
        pending = bytearray()  # what the network gave, written in chunk_size pieces (and kept on a break)
        try:
            async with asyncio.timeout(remaining):
                async for piece in response.aiter_raw():
                    written += len(piece)
                    if written > cap:
                        raise DownloadFailed(f"the download passed the cap of {cap} bytes; stopped")
                    pending += piece
                    if len(pending) >= chunk_size:
                        await asyncio.to_thread(handle.write, bytes(pending))
                        pending.clear()
        except TimeoutError:
            raise DownloadFailed(f"the download took longer than {limits.deadline_seconds:g} s; stopped "
                                 f"after {written} bytes") from None
        except httpx.TransportError as exc:
            raise BrokenOff(f"the download broke off after {written} bytes"
                            + (f" of {offset + length}" if length is not None else "")
                            + f" ({type(exc).__name__})", written=written) from exc
        finally:
            if pending and written <= cap:  # bytes received before a break are kept for the resume
                await asyncio.to_thread(handle.write, bytes(pending))
    finally:
        await asyncio.to_thread(handle.close)
    if length is not None and written != offset + length:
        raise BrokenOff(f"the download ended after {written} of {offset + length} bytes", written=written)
    if written == 0:
        raise DownloadFailed("the download was empty")
    return written

