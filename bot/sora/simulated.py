"""The free `simulated` provider: no network, no key, real MP4s rendered locally with ffmpeg.

It implements `VideoProvider` exactly, so the bot, the demo and the tests run the whole flow for free.
Each job is a small JSON file under `data_dir` (so jobs survive a restart); its state is derived from
its creation time: queued for the first 10 % of `render_seconds`, then running with a rising
progress, then completed. A prompt with the word "forbidden" fails as a content-policy refusal.

The video is rendered when first downloaded and cached: a moving gradient (or the first-frame image)
with the prompt drawn on it by Pillow (the bundled ffmpeg may have no fonts), a sine tone as sound,
H.264 + AAC at the requested size and length.

It extends videos like OpenAI's `POST /videos/extensions`: `extend` makes a new video whose `seconds`
is the stitched total, and its MP4 is the source video's followed by a new segment showing the
extension's prompt (joined without re-encoding: both come from the same encoder settings).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import secrets
import shutil
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw, ImageFont

from bot import media, media_types
from bot.i18n import tr
from bot.sora import shapes
from bot.sora.errors import (
    DownloadExpired,
    DownloadFailed,
    InvalidRequest,
    NotFound,
    OperationUnsupported,
)
from bot.sora.models import CreateVideo, Variant, Video, VideoError, VideoState

log = logging.getLogger(__name__)

QUEUED_SHARE = 0.10
RENDER_FPS = 12
MAX_SECONDS = 60
MAX_CAPTION_LINES = 8
_FORBIDDEN = re.compile(r"\bforbidden\b", re.IGNORECASE)


def _size(size: str) -> tuple[int, int]:
    """A size the fake renderer can draw: even sides of 10 to 9999 pixels."""
    try:
        width, height = shapes.parse_size(size)
    except ValueError:
        width = height = 0
    if not (10 <= width <= 9999 and 10 <= height <= 9999) or width % 2 or height % 2:
        raise InvalidRequest(f"invalid size {size!r}", status_code=400,
                             user_message=tr("simulated.size"))
    return width, height


def caption_png(prompt: str, width: int, height: int, header: str) -> bytes:
    """A transparent WIDTHxHEIGHT PNG: a header line at the top, the wrapped prompt in a dark band."""
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    small = ImageFont.load_default(size=max(12, height // 40))
    font_px = max(14, height // 24)
    font = ImageFont.load_default(size=font_px)
    margin = max(8, width // 40)
    draw.text((margin, margin), header, font=small, fill=(255, 255, 255, 230),
              stroke_width=2, stroke_fill=(0, 0, 0, 200))
    per_line = max(10, int((width - 2 * margin) / max(1.0, font.getlength("abcdefghij") / 10)))
    lines = textwrap.wrap(" ".join(prompt.split()), per_line) or [""]
    if len(lines) > MAX_CAPTION_LINES:
        lines = [*lines[:MAX_CAPTION_LINES - 1], lines[MAX_CAPTION_LINES - 1][: per_line - 1] + "…"]
    line_height = int(font_px * 1.25)
    band_top = height - margin - line_height * len(lines) - margin
    draw.rectangle((0, band_top, width, height), fill=(0, 0, 0, 150))
    for i, line in enumerate(lines):
        draw.text((margin, band_top + margin // 2 + i * line_height), line, font=font, fill=(255, 255, 255, 255))
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


class SimulatedProvider:
    name = "simulated"
    supports_remix = True
    supports_extend = True
    supports_list = True
    supports_idempotency = True

    def __init__(self, data_dir: Path, render_seconds: float = 20.0, *,
                 clock: Callable[[], float] = time.time, render_timeout: float = 120.0) -> None:
        self.data_dir = Path(data_dir)
        self.render_seconds = max(0.0, render_seconds)
        self.render_timeout = render_timeout
        self._clock = clock
        self._jobs = self.data_dir / "jobs"
        self._renders = self.data_dir / "renders"
        self._create_lock = asyncio.Lock()
        self._render_locks: dict[str, asyncio.Lock] = {}

    # --- storage (small files; run in a thread) -------------------------------------------------

    def _job_path(self, video_id: str) -> Path:
        if not re.fullmatch(r"sim_[0-9a-f]{8,64}", video_id):
            raise NotFound(f"no simulated video {video_id!r}", status_code=404)
        return self._jobs / f"{video_id}.json"

    def _write(self, record: dict[str, Any]) -> None:
        self._jobs.mkdir(parents=True, exist_ok=True)
        path = self._job_path(record["id"])
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)

    def _read(self, video_id: str) -> dict[str, Any]:
        try:
            return json.loads(self._job_path(video_id).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFound(f"no simulated video {video_id!r}", status_code=404) from None

    def _read_all(self) -> list[dict[str, Any]]:
        records = []
        for path in self._jobs.glob("sim_*.json") if self._jobs.exists() else ():
            try:
                records.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                log.warning("skipping unreadable simulated job file %s", path.name)
        return records

    async def _load(self, video_id: str) -> dict[str, Any]:
        return await asyncio.to_thread(self._read, video_id)

    # --- state, derived from the clock -----------------------------------------------------------

    def _video(self, record: dict[str, Any]) -> Video:
        created = float(record["created_at"])
        span = self.render_seconds
        share = 1.0 if span <= 0 else (self._clock() - created) / span
        forbidden = bool(_FORBIDDEN.search(record["prompt"]))
        common = dict(id=record["id"], created_at=datetime.fromtimestamp(created, UTC), model=record["model"],
                      size=record["size"], seconds=float(record["seconds"]) + float(record.get("added") or 0),
                      prompt=record["prompt"], remixed_from=record.get("remixed_from"))
        if forbidden and share >= QUEUED_SHARE:
            return Video(state=VideoState.FAILED, progress=0,
                         completed_at=datetime.fromtimestamp(created + span * QUEUED_SHARE, UTC),
                         error=VideoError(code="moderation_blocked", content_policy=True,
                                          message="This prompt was refused under the content policy "
                                                  "(the simulated provider refuses the word 'forbidden')."),
                         **common)
        if share >= 1.0:
            return Video(state=VideoState.COMPLETED, progress=100,
                         completed_at=datetime.fromtimestamp(created + span, UTC), **common)
        hint = max(0.5, min(10.0, span / 10))
        if share < QUEUED_SHARE:
            return Video(state=VideoState.QUEUED, progress=0, poll_after_seconds=hint, **common)
        return Video(state=VideoState.RUNNING, progress=min(99, max(1, int(share * 100))),
                     poll_after_seconds=hint, **common)

    # --- the VideoProvider interface -------------------------------------------------------------

    async def create(self, request: CreateVideo, *, idempotency_key: str | None = None) -> Video:
        if not request.prompt.strip():
            raise InvalidRequest("empty prompt", status_code=400, user_message=tr("simulated.empty_prompt"))
        _size(request.size)
        if not 1 <= request.seconds <= MAX_SECONDS:
            raise InvalidRequest(f"seconds={request.seconds}", status_code=400,
                                 user_message=tr("simulated.length", max=MAX_SECONDS))
        image = None
        if request.image is not None:
            image = (request.image, media_types.extension_for(request.image_mime, default=media_types.PNG.extension))
        return await self._new_job(prompt=request.prompt, model=request.model, size=request.size,
                                   seconds=request.seconds, remixed_from=None, image=image,
                                   idempotency_key=idempotency_key)

    async def retrieve(self, video_id: str) -> Video:
        return self._video(await self._load(video_id))

    async def remix(self, video_id: str, prompt: str, *, idempotency_key: str | None = None) -> Video:
        if not prompt.strip():
            raise InvalidRequest("empty remix prompt", status_code=400,
                                 user_message=tr("simulated.empty_change"))
        parent = await self._load(video_id)
        if self._video(parent).state is not VideoState.COMPLETED:
            raise InvalidRequest(f"video {video_id} is not completed", status_code=400,
                                 user_message=tr("simulated.not_finished"))
        image = None
        if parent.get("image_file"):
            image_path = self.data_dir / "images" / parent["image_file"]
            if image_path.exists():
                image = (await asyncio.to_thread(image_path.read_bytes), image_path.suffix)
        return await self._new_job(prompt=f"{parent['prompt']} + {prompt.strip()}", model=parent["model"],
                                   size=parent["size"], seconds=parent["seconds"], remixed_from=video_id,
                                   image=image, idempotency_key=idempotency_key)

    def can_extend(self, model: str) -> bool:
        return True

    def extension_seconds(self, model: str) -> tuple[int, ...] | None:
        return None  # the model's own durations

    async def extend(self, video_id: str, prompt: str, seconds: int, *, idempotency_key: str | None = None) -> Video:
        """`seconds` more of the completed `video_id`, directed by `prompt`: a new video of the total length."""
        if not prompt.strip():
            raise InvalidRequest("empty extension prompt", status_code=400, user_message=tr("simulated.empty_change"))
        parent = await self._load(video_id)
        if self._video(parent).state is not VideoState.COMPLETED:
            raise InvalidRequest(f"video {video_id} is not completed", status_code=400,
                                 user_message=tr("simulated.not_finished"))
        total = int(parent["seconds"]) + int(parent.get("added") or 0) + seconds
        if seconds < 1 or total > MAX_SECONDS:
            raise InvalidRequest(f"extension to {total} s", status_code=400,
                                 user_message=tr("simulated.length", max=MAX_SECONDS))
        return await self._new_job(prompt=prompt.strip(), model=parent["model"], size=parent["size"],
                                   seconds=seconds, remixed_from=None, image=None,
                                   idempotency_key=idempotency_key, extends=video_id,
                                   added=total - seconds)

    async def _new_job(self, *, prompt: str, model: str, size: str, seconds: int, remixed_from: str | None,
                       image: tuple[bytes, str] | None, idempotency_key: str | None, extends: str | None = None,
                       added: int = 0) -> Video:
        async with self._create_lock:
            if idempotency_key:
                for record in await asyncio.to_thread(self._read_all):
                    if record.get("idempotency_key") == idempotency_key:
                        log.info("idempotent replay of simulated job %s", record["id"])
                        return self._video(record)
            video_id = f"sim_{secrets.token_hex(12)}"
            image_file = None
            if image is not None:
                image_file = f"{video_id}{image[1]}"
                images = self.data_dir / "images"
                await asyncio.to_thread(images.mkdir, parents=True, exist_ok=True)
                await asyncio.to_thread((images / image_file).write_bytes, image[0])
            record = {"id": video_id, "prompt": prompt, "model": model, "size": size, "seconds": seconds,
                      "created_at": self._clock(), "remixed_from": remixed_from,
                      "idempotency_key": idempotency_key, "image_file": image_file}
            if extends:  # `seconds` is the new segment; `added` the source's length before it
                record.update(extends=extends, added=added)
            await asyncio.to_thread(self._write, record)
        log.info("simulated job %s created (%s, %s s%s)", video_id, size, seconds,
                 f", remix of {remixed_from}" if remixed_from else "")
        return self._video(record)

    async def list(self, *, limit: int = 100) -> list[Video]:
        records = await asyncio.to_thread(self._read_all)
        records.sort(key=lambda r: (float(r["created_at"]), r["id"]), reverse=True)
        return [self._video(r) for r in records[:limit]]

    async def delete(self, video_id: str) -> None:
        record = await self._load(video_id)

        def remove() -> None:
            self._job_path(video_id).unlink(missing_ok=True)
            for path in self._renders.glob(f"{video_id}.*") if self._renders.exists() else ():
                path.unlink(missing_ok=True)
            if record.get("image_file"):
                (self.data_dir / "images" / record["image_file"]).unlink(missing_ok=True)

        await asyncio.to_thread(remove)
        log.info("simulated job %s deleted", video_id)

    async def download(self, video: Video, dest: Path, *, variant: Variant = Variant.VIDEO) -> int:
        variant = Variant(variant)
        if variant is Variant.SPRITESHEET:
            raise OperationUnsupported("the simulated provider makes no spritesheets")
        try:
            record = await self._load(video.id)
        except NotFound:
            raise DownloadExpired(f"simulated video {video.id} was deleted", status_code=404) from None
        current = self._video(record)
        if current.state is not VideoState.COMPLETED:
            raise DownloadFailed(f"simulated video {video.id} is {current.state.value}, not completed",
                                 status_code=404)
        source = await self._render(record)
        if variant is Variant.THUMBNAIL:
            source = await self._thumbnail(record, source)
        dest = Path(dest)
        await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.copyfile, source, dest)
        return dest.stat().st_size

    async def aclose(self) -> None:
        self._render_locks.clear()

    # --- rendering ---------------------------------------------------------------------------------

    async def _render(self, record: dict[str, Any]) -> Path:
        if record.get("extends"):
            return await self._render_extension(record)
        video_id = record["id"]
        final = self._renders / f"{video_id}.mp4"
        lock = self._render_locks.setdefault(video_id, asyncio.Lock())
        async with lock:
            if final.exists():
                return final
            width, height = _size(record["size"])
            seconds = int(record["seconds"])
            await asyncio.to_thread(self._renders.mkdir, parents=True, exist_ok=True)
            header = f"SIMULATED SORA · {video_id} · {record['model']} · {record['size']} · {seconds} s"
            caption = self._renders / f"{video_id}.caption.png"
            png = await asyncio.to_thread(caption_png, record["prompt"], width, height, header)
            await asyncio.to_thread(caption.write_bytes, png)
            seed = int(video_id[4:12], 16)
            image = self.data_dir / "images" / record["image_file"] if record.get("image_file") else None
            if image is not None and image.exists():
                background = ["-loop", "1", "-framerate", str(RENDER_FPS), *media.file_input(image, "image2")]
                first = (f"[0:v]scale={width}:{height}:force_original_aspect_ratio=increase,"
                         f"crop={width}:{height},setsar=1[bg]")
            else:
                background = ["-f", "lavfi", "-i",
                              f"gradients=s={width}x{height}:r={RENDER_FPS}:n=3:c0=0x1d2b64:c1=0x2f9e8f:"
                              "c2=0xe0a458:speed=0.03:seed=7"]
                first = "[0:v]null[bg]"
            partial = final.with_name(final.name + ".part")
            args = [
                "-y", *background, *media.file_input(caption, "image2"),
                "-f", "lavfi", "-i", f"sine=frequency={220 + seed % 440}:sample_rate=44100",
                "-filter_complex", f"{first};[bg][1:v]overlay=0:0,format=yuv420p[v]",
                "-map", "[v]", "-map", "2:a", "-t", str(seconds), "-r", str(RENDER_FPS),
                "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23",
                "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", "-v", "error", "-f", "mp4",
                str(partial),
            ]
            started = time.perf_counter()
            try:
                code, errors = await media.run_ffmpeg(args, timeout=self.render_timeout,
                                                      what="render the simulated video")
                if code != 0:
                    raise media.MediaError(f"ffmpeg could not render the simulated video: {errors.strip()[-300:]}")
                await asyncio.to_thread(partial.replace, final)
            finally:
                partial.unlink(missing_ok=True)
                caption.unlink(missing_ok=True)
            log.info("simulated job %s rendered in %.2f s (%d bytes)", video_id,
                     time.perf_counter() - started, final.stat().st_size)
            return final

    async def _render_extension(self, record: dict[str, Any]) -> Path:
        """The source video's MP4 followed by a segment of the extension's prompt, as one file."""
        video_id = record["id"]
        final = self._renders / f"{video_id}.mp4"
        async with self._render_locks.setdefault(video_id, asyncio.Lock()):
            if final.exists():
                return final
            source = await self._render(await self._load(record["extends"]))
            segment = await self._render({**record, "id": f"{video_id}_next", "extends": None, "image_file": None})
            listing = self._renders / f"{video_id}.concat.txt"
            await asyncio.to_thread(listing.write_text, "".join(
                f"file '{path.resolve()}'\n" for path in (source, segment)), encoding="utf-8")
            partial = final.with_name(final.name + ".part")
            try:
                code, errors = await media.run_ffmpeg(
                    ["-y", "-safe", "0", *media.file_input(listing, "concat"), "-c", "copy",
                     "-movflags", "+faststart", "-v", "error", "-f", "mp4", str(partial)],
                    timeout=self.render_timeout, what="join the simulated extension")
                if code != 0:
                    raise media.MediaError(f"ffmpeg could not join the extension: {errors.strip()[-300:]}")
                await asyncio.to_thread(partial.replace, final)
            finally:
                partial.unlink(missing_ok=True)
                listing.unlink(missing_ok=True)
                segment.unlink(missing_ok=True)
            return final

    async def _thumbnail(self, record: dict[str, Any], video: Path) -> Path:
        thumb = self._renders / f"{record['id']}.thumb.png"
        if not thumb.exists():
            at = min(1.0, float(record["seconds"]) / 2)
            partial = thumb.with_name(thumb.name + ".part")
            code, errors = await media.run_ffmpeg(
                ["-y", "-ss", f"{at:.2f}", *media.file_input(video), "-frames:v", "1", "-c:v", "png", "-v", "error",
                 "-f", "image2", str(partial)], timeout=self.render_timeout, what="grab a thumbnail",
                heavy=False)
            if code != 0:
                partial.unlink(missing_ok=True)
                raise media.MediaError(f"ffmpeg could not grab a thumbnail: {errors.strip()[-300:]}")
            await asyncio.to_thread(partial.replace, thumb)
        return thumb


if TYPE_CHECKING:  # the type checker proves the class implements the port
    from bot.sora.base import VideoProvider

    _implements: type[VideoProvider] = SimulatedProvider
