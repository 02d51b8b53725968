# Over 400 lines on purpose: ffmpeg's runner, the MP4 probe and the fitter share the slot and MediaInfo.
"""Video files: find ffmpeg, run it without blocking the event loop, probe an MP4, fit it under a size limit.

`probe` checks that a downloaded file is a playable MP4 (walks the MP4 boxes to catch truncation, then
parses `ffmpeg -i`; there is no ffprobe here). `fit_to_limit` transcodes to H.264 + AAC at a bitrate
computed from the limit (`plan_encode`, pure) when the file is too big for Discord (the engine fits
again to a smaller target after a 413). Every ffmpeg that does real work takes a slot of one
process-wide cap (`set_ffmpeg_concurrency`), runs niced as an asyncio subprocess, and is killed on
timeout or cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import re
import shutil
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.sora.errors import FfmpegMissing, SoraError

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 2
# Share of the byte budget kept for the MP4 container and encoder overshoot, plus the overshoot of
# x264's rate control in the first frames, which weighs more in a short clip (measured: ~0.25 s worth).
CONTAINER_HEADROOM = 0.06
ENCODER_WARMUP_SECONDS = 0.25
# Below this many bits per pixel per frame H.264 turns to mush: fewer pixels look better than that.
MIN_BITS_PER_PIXEL = 0.07
MIN_SHORT_SIDE = 240
MIN_VIDEO_BITRATE = 64_000
AUDIO_BITRATE = 96_000
LOW_AUDIO_BITRATE = 48_000
TINY_AUDIO_BITRATE = 32_000


class MediaError(SoraError):
    """A file that is not a playable video, or an ffmpeg run that failed or timed out."""

    user_message = "The finished video couldn't be processed. It will be tried again."


# --- ffmpeg: where it is, how it runs ----------------------------------------------------------------


def ffmpeg_path() -> str:
    """`FFMPEG_BINARY` if set, else the binary bundled by imageio-ffmpeg, else `ffmpeg` on PATH."""
    configured = os.environ.get("FFMPEG_BINARY", "").strip()
    if configured:
        found = shutil.which(configured)
        if found:
            return found
        raise FfmpegMissing(f"FFMPEG_BINARY={configured!r} is not an executable file")
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # the package raises RuntimeError when its binary is absent
        log.debug("imageio-ffmpeg has no binary: %s", exc)
    found = shutil.which("ffmpeg")
    if found:
        return found
    raise FfmpegMissing("ffmpeg not found: install imageio-ffmpeg, put ffmpeg on PATH, or set FFMPEG_BINARY")


_concurrency = DEFAULT_CONCURRENCY
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def set_ffmpeg_concurrency(limit: int) -> None:
    """How many heavy ffmpeg processes (transcodes, simulated renders) may run at once."""
    global _concurrency
    if limit < 1:
        raise ValueError("ffmpeg concurrency must be at least 1")
    _concurrency = limit
    _slots.clear()


@contextlib.asynccontextmanager
async def ffmpeg_slot() -> AsyncIterator[None]:
    """Hold one of the process-wide ffmpeg slots (one semaphore per event loop)."""
    loop = asyncio.get_running_loop()
    slot = _slots.get(loop)
    if slot is None:
        slot = _slots[loop] = asyncio.Semaphore(_concurrency)
    async with slot:
        yield


@functools.cache
def _nice_prefix() -> list[str]:
    nice = shutil.which("nice")
    return [nice, "-n", "10"] if nice else []


# Every file ffmpeg reads is a local file of a named format, opened through the `file` protocol only:
# a download that is really an HLS playlist (or a concat list, or anything with its own references)
# must not make ffmpeg open other local files or the network. `-f lavfi` inputs are generated.
VIDEO_DEMUXER = "mov"  # ffmpeg's demuxer of mov, mp4, m4a, 3gp, 3g2 and mj2


def file_input(path: Path | str, fmt: str = VIDEO_DEMUXER) -> list[str]:
    """The ffmpeg arguments that open `path`: `-protocol_whitelist file -f FMT -i PATH`."""
    return ["-protocol_whitelist", "file", "-f", fmt, "-i", str(path)]


def check_inputs(args: Sequence[str]) -> None:
    """Raise ValueError unless every `-i` is generated (`-f lavfi`) or carries a protocol whitelist
    and a forced format since the previous input (see `file_input`)."""
    start = 0
    for index, arg in enumerate(args):
        if arg != "-i":
            continue
        options = list(args[start:index])
        fmt = options[options.index("-f") + 1] if "-f" in options[:-1] else None
        if fmt != "lavfi" and (fmt is None or "-protocol_whitelist" not in options):
            raise ValueError(f"ffmpeg input {args[index + 1] if index + 1 < len(args) else '?'!r} is opened "
                             "without -protocol_whitelist and -f: use media.file_input()")
        start = index + 2


# The `timeout` parameters below are per ffmpeg run: on expiry the process is killed and the caller gets
# a MediaError (a retryable job state), which a caller-side asyncio.timeout would not give.
async def run_ffmpeg(args: Sequence[str], *, timeout: float, what: str,  # noqa: ASYNC109
                     heavy: bool = True) -> tuple[int, str]:
    """Run ffmpeg with `args`; return (exit code, stderr). Kill it on timeout (→ MediaError) or cancel.

    `heavy` runs take a concurrency slot and a lower CPU priority so the bot stays responsive."""
    check_inputs(args)
    cmd = [*(_nice_prefix() if heavy else []), ffmpeg_path(), "-hide_banner", "-nostdin", *args]
    async with ffmpeg_slot() if heavy else contextlib.nullcontext():
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        try:
            _, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            raise MediaError(f"ffmpeg took longer than {timeout:g} s to {what}; stopped it") from None
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    return proc.returncode or 0, err.decode("utf-8", "replace")


# --- probe ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    size_bytes: int
    duration: float  # seconds
    width: int
    height: int
    video_codec: str
    audio_codec: str | None
    container: str  # ffmpeg's demuxer names, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    bitrate: int | None  # bits per second, whole file
    fps: float | None = None
    audio_bitrate: int | None = None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def resolution(self) -> str:
        return f"{self.width}x{self.height}"


def _box_header(header: bytes, offset: int, file_size: int) -> tuple[bytes, int]:
    """The (type, size) of the MP4 box whose header (8 or 16 bytes) is `header`."""
    if len(header) < 8:
        raise MediaError(f"the video file is truncated (incomplete box header at byte {offset})")
    size = int.from_bytes(header[:4], "big")
    kind = header[4:8]
    if not re.fullmatch(rb"[\x20-\x7e]{4}", kind):
        raise MediaError("the file is not an MP4 video (no valid MP4 box structure)")
    if size == 1:  # a 64-bit size follows the type
        if len(header) < 16:
            raise MediaError("the video file is truncated (incomplete box header)")
        size = int.from_bytes(header[8:16], "big")
    elif size == 0:  # the box runs to the end of the file
        size = file_size - offset
    return kind, size


def check_mp4_boxes(head: bytes, file_size: int, read_at) -> None:
    """Walk the top-level MP4 boxes; raise MediaError when the file is not an MP4 or is cut short.

    `read_at(offset, n)` returns up to n bytes at offset (so only box headers are read)."""
    if file_size == 0:
        raise MediaError("the video file is empty")
    if head.lstrip()[:1] in (b"<", b"{"):
        raise MediaError("the download is a web page or JSON, not a video (likely an error page)")
    offset, seen = 0, set()
    while offset < file_size:
        header = head[offset:offset + 16] if offset + 16 <= len(head) else read_at(offset, 16)
        kind, size = _box_header(header, offset, file_size)
        if size < 8:
            raise MediaError("the file is not an MP4 video (invalid box size)")
        if offset + size > file_size:
            raise MediaError(
                f"the video file is truncated: box {kind.decode()!r} needs {offset + size} bytes, "
                f"the file has {file_size}")
        seen.add(kind)
        offset += size
    if b"moov" not in seen:
        raise MediaError("the file is not a playable MP4 (no 'moov' index)")
    if b"mdat" not in seen:
        raise MediaError("the MP4 file holds no media data ('mdat' missing)")


def _check_file(path: Path) -> int:
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)

        def read_at(offset: int, n: int) -> bytes:
            fh.seek(offset)
            return fh.read(n)

        check_mp4_boxes(head, size, read_at)
    return size


_INPUT = re.compile(r"^Input #0, (?P<fmt>.+?), from ", re.M)
_DURATION = re.compile(r"Duration: (?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)")
_BITRATE = re.compile(r"Duration: .*?bitrate: (?P<kbps>\d+) kb/s")
_STREAM = re.compile(r"^\s*Stream #0:\d+\S*: (?P<kind>Video|Audio): (?P<codec>\w+)(?P<rest>.*)$", re.M)
_DIMS = re.compile(r"(?<![\w.])(?P<w>\d{2,5})x(?P<h>\d{2,5})(?![\w.])")
_FPS = re.compile(r"(?P<fps>\d+(?:\.\d+)?) fps")
_KBPS = re.compile(r"(?P<kbps>\d+) kb/s")


def parse_ffmpeg_info(stderr: str, path: Path, size_bytes: int) -> MediaInfo:
    """Read what `ffmpeg -i FILE` prints into a MediaInfo; raise MediaError when it isn't playable."""
    container = _INPUT.search(stderr)
    if container is None:
        raise MediaError("ffmpeg can't read the file as a video (invalid or unsupported data)")
    fmt = container["fmt"]
    if "mp4" not in fmt and "mov" not in fmt:
        raise MediaError(f"the file is not an MP4 video (ffmpeg sees {fmt!r})")
    duration_match = _DURATION.search(stderr)
    duration = 0.0
    if duration_match:
        duration = int(duration_match["h"]) * 3600 + int(duration_match["m"]) * 60 + float(duration_match["s"])
    if duration <= 0:
        raise MediaError("the video has no duration")
    video = audio = None
    for stream in _STREAM.finditer(stderr):
        if stream["kind"] == "Video" and video is None and "(attached pic)" not in stream["rest"]:
            video = stream
        elif stream["kind"] == "Audio" and audio is None:
            audio = stream
    if video is None:
        raise MediaError("the file has no video stream")
    dims = _DIMS.search(video["rest"])
    if dims is None or re.search(r",\s*none\s*,", video["rest"]):
        raise MediaError("the video stream is unreadable (no picture size or pixel format)")
    fps = _FPS.search(video["rest"])
    bitrate = _BITRATE.search(stderr)
    audio_kbps = _KBPS.search(audio["rest"]) if audio else None
    return MediaInfo(
        path=path, size_bytes=size_bytes, duration=duration,
        width=int(dims["w"]), height=int(dims["h"]), video_codec=video["codec"],
        audio_codec=audio["codec"] if audio else None, container=fmt,
        bitrate=int(bitrate["kbps"]) * 1000 if bitrate else None,
        fps=float(fps["fps"]) if fps else None,
        audio_bitrate=int(audio_kbps["kbps"]) * 1000 if audio_kbps else None,
    )


async def probe(path: Path, *, decode: bool = False, timeout: float = 60.0) -> MediaInfo:  # noqa: ASYNC109
    """Describe a video file, or raise MediaError when it is not a playable MP4.

    `decode=True` also decodes every frame (slower, catches corrupt data inside a well-formed file)."""
    path = Path(path)
    try:
        size = await asyncio.to_thread(_check_file, path)
    except FileNotFoundError:
        raise MediaError(f"the video file {path.name} does not exist") from None
    _, stderr = await run_ffmpeg(file_input(path), timeout=timeout, what="read the video", heavy=False)
    info = parse_ffmpeg_info(stderr, path, size)
    if decode:
        code, errors = await run_ffmpeg(
            ["-v", "error", "-xerror", *file_input(path), "-f", "null", "-"],
            timeout=timeout, what="decode the video")
        if code != 0 or errors.strip():
            raise MediaError(f"the video does not decode cleanly: {_last_line(errors)}")
    return info


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no details"


# --- fit under a size limit --------------------------------------------------------------------------


@dataclass(frozen=True)
class EncodePlan:
    video_bitrate: int  # bits per second
    audio_bitrate: int | None  # None: the output has no audio
    width: int
    height: int
    scaled: bool


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def plan_encode(*, limit_bytes: int, duration: float, width: int, height: int, fps: float | None,
                has_audio: bool, headroom: float | None = None,
                min_bits_per_pixel: float = MIN_BITS_PER_PIXEL) -> EncodePlan:
    """Bitrates and picture size that make `duration` seconds fit in `limit_bytes`.

    The resolution is kept unless the bits per pixel would drop below the quality floor; then both
    sides shrink by the same factor (even numbers, short side at least MIN_SHORT_SIDE)."""
    if duration <= 0 or limit_bytes <= 0:
        raise MediaError("can't plan a transcode without a duration and a size limit")
    if headroom is None:
        headroom = min(0.2, CONTAINER_HEADROOM + ENCODER_WARMUP_SECONDS / duration)
    total = limit_bytes * 8 * (1 - headroom) / duration
    audio = AUDIO_BITRATE if has_audio else 0
    if has_audio and total < 9 * AUDIO_BITRATE:  # tight budget: the picture matters more than the sound
        audio = LOW_AUDIO_BITRATE if total >= 4 * LOW_AUDIO_BITRATE else TINY_AUDIO_BITRATE
    video = int(total - audio)
    if video < MIN_VIDEO_BITRATE:
        raise MediaError(
            f"a {duration:.1f} s video can't be made to fit in {limit_bytes} bytes at a watchable quality")
    frame_rate = fps or 30.0
    out_w, out_h = width, height
    if video / (width * height * frame_rate) < min_bits_per_pixel:
        factor = math.sqrt(video / (min_bits_per_pixel * frame_rate * width * height))
        short = min(width, height)
        factor = min(1.0, max(factor, MIN_SHORT_SIDE / short)) if short > MIN_SHORT_SIDE else 1.0
        out_w, out_h = _even(width * factor), _even(height * factor)
    return EncodePlan(video_bitrate=video, audio_bitrate=audio or None, width=out_w, height=out_h,
                      scaled=(out_w, out_h) != (width, height))


def encode_args(src: Path, dest: Path, plan: EncodePlan, *, preset: str = "veryfast") -> list[str]:
    """ffmpeg arguments for one H.264 + AAC transcode following `plan` (web-ready: faststart)."""
    video = plan.video_bitrate
    args = ["-y", *file_input(src), "-map", "0:v:0", "-c:v", "libx264", "-preset", preset,
            "-b:v", str(video), "-maxrate", str(int(video * 1.2)), "-bufsize", str(video),
            "-pix_fmt", "yuv420p"]
    if plan.scaled:
        args += ["-vf", f"scale={plan.width}:{plan.height}:flags=bicubic"]
    if plan.audio_bitrate:
        args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", str(plan.audio_bitrate)]
    else:
        args += ["-an"]
    return [*args, "-movflags", "+faststart", "-v", "error", "-f", "mp4", str(dest)]


@dataclass(frozen=True)
class FitResult:
    path: Path
    size_bytes: int
    width: int
    height: int
    compressed: bool
    original_path: Path
    original_size_bytes: int
    original_width: int
    original_height: int
    duration: float


async def fit_to_limit(src: Path, limit_bytes: int, dest_dir: Path, *,
                       timeout: float = 300.0,  # noqa: ASYNC109
                       target_ratio: float = 1.0, preset: str = "veryfast",
                       info: MediaInfo | None = None) -> FitResult:
    """Return `src` itself when it is within `limit_bytes × target_ratio`, else a transcoded copy in
    `dest_dir` that is (checked by probing it). One retry with a smaller target; the original stays."""
    if not 0 < target_ratio <= 1:
        raise ValueError("target_ratio must be in (0, 1]")
    src = Path(src)
    info = info or await probe(src)
    budget = int(limit_bytes * target_ratio)
    if info.size_bytes <= budget:
        return FitResult(path=src, size_bytes=info.size_bytes, width=info.width, height=info.height,
                         compressed=False, original_path=src, original_size_bytes=info.size_bytes,
                         original_width=info.width, original_height=info.height, duration=info.duration)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / f"{src.stem}.fit.mp4"
    partial = final.with_name(final.name + ".part")
    attempt_budget = budget
    for attempt in (1, 2):
        plan = plan_encode(limit_bytes=attempt_budget, duration=info.duration, width=info.width,
                           height=info.height, fps=info.fps, has_audio=info.has_audio)
        log.info("transcoding %s (%d bytes, %s) to fit %d bytes: attempt %d, video %d b/s, %dx%d",
                 src.name, info.size_bytes, info.resolution, budget, attempt, plan.video_bitrate,
                 plan.width, plan.height)
        try:
            code, errors = await run_ffmpeg(encode_args(src, partial, plan, preset=preset),
                                            timeout=timeout, what="compress the video")
            if code != 0:
                raise MediaError(f"ffmpeg could not compress the video: {_last_line(errors)}")
            out = await probe(partial)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        _check_output(info, out)
        if out.size_bytes <= budget:
            partial.replace(final)
            log.info("fitted %s: %d → %d bytes, %s → %s", src.name, info.size_bytes, out.size_bytes,
                     info.resolution, out.resolution)
            return FitResult(path=final, size_bytes=out.size_bytes, width=out.width, height=out.height,
                             compressed=True, original_path=src, original_size_bytes=info.size_bytes,
                             original_width=info.width, original_height=info.height,
                             duration=out.duration)
        log.warning("transcode of %s gave %d bytes, over %d: retrying smaller", src.name,
                    out.size_bytes, budget)
        attempt_budget = int(attempt_budget * budget / out.size_bytes * 0.92)
    partial.unlink(missing_ok=True)
    raise MediaError(f"the video is still over {budget} bytes after two compressions")


def _check_output(src: MediaInfo, out: MediaInfo) -> None:
    if out.video_codec != "h264" or (src.has_audio and out.audio_codec != "aac"):
        raise MediaError(f"the compressed video has unexpected codecs {out.video_codec}/{out.audio_codec}")
    if abs(out.duration - src.duration) > 0.5:
        raise MediaError(f"the compressed video lasts {out.duration:.2f} s instead of {src.duration:.2f} s")
