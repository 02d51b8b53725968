"""Small real media for the fakes: a playable MP4 of the asked duration (generated once with the
imageio-ffmpeg binary, then cached), a WebP thumbnail, a JPEG spritesheet, and an MP4 padded to any
byte size that is produced chunk by chunk, never held whole in memory.

The MP4 keeps the aspect of the asked size at 1/`scale` of its resolution (1280x720 → 160x90 at the
default scale of 8) so that generating it takes a fraction of a second.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import imageio_ffmpeg
from PIL import Image, ImageDraw

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "sora-bot-fake-media"
_ZEROS = bytes(64 * 1024)


def scaled_dimensions(size: str, scale: int = 8) -> tuple[int, int]:
    """`size` ("WxH") divided by `scale`, rounded to even numbers (H.264 wants them), at least 16."""
    width, height = (int(part) for part in size.lower().split("x"))
    def even(value: int) -> int:
        return max(16, (value // scale) // 2 * 2)
    return even(width), even(height)


def make_mp4(seconds: float, size: str = "1280x720", *, scale: int = 8, cache_dir: Path | None = None) -> Path:
    """A playable H.264/AAC MP4 lasting `seconds`, cached under `cache_dir`. Blocking: call it from
    a thread in async code. Safe when several processes ask for the same file at once."""
    width, height = scaled_dimensions(size, scale)
    directory = cache_dir or DEFAULT_CACHE
    path = directory / f"testsrc_{width}x{height}_{seconds:g}s.mp4"
    if path.exists():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex}.mp4"
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate=12:duration={seconds:g}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=22050:duration={seconds:g}",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "38", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "24k", "-ac", "1", "-shortest", "-movflags", "+faststart",
        str(partial),
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=120)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


@cache
def _image(kind: str, size: str, scale: int) -> bytes:
    width, height = scaled_dimensions(size, scale)
    if kind == "spritesheet":
        width, height = width * 4, height * 2
    picture = Image.new("RGB", (width, height), (40, 90, 160))
    ImageDraw.Draw(picture).rectangle((2, 2, width - 3, height - 3), outline=(250, 200, 40), width=2)
    out = io.BytesIO()
    picture.save(out, format="WEBP" if kind == "thumbnail" else "JPEG")
    return out.getvalue()


def thumbnail(size: str = "1280x720", scale: int = 8) -> bytes:
    """A small WebP picture (what OpenAI's `variant=thumbnail` serves)."""
    return _image("thumbnail", size, scale)


def spritesheet(size: str = "1280x720", scale: int = 8) -> bytes:
    """A small JPEG grid (what OpenAI's `variant=spritesheet` serves)."""
    return _image("spritesheet", size, scale)


def padded_mp4_chunks(mp4: Path, total_bytes: int, chunk_size: int = len(_ZEROS)) -> Iterator[bytes]:
    """`mp4` followed by one top-level `free` box so the whole is `total_bytes` long: still a valid,
    playable MP4, produced in chunks of at most `chunk_size` bytes."""
    head = mp4.read_bytes()
    padding = total_bytes - len(head)
    if padding == 0:
        yield head
        return
    if padding < 16:
        raise ValueError(f"total_bytes must be the MP4's size ({len(head)}) or at least 16 bytes more")
    # A box size over 32 bits goes in a 64-bit "largesize" field after the type.
    box = (struct.pack(">I4s", padding, b"free") if padding <= 0xFFFFFFFF
           else struct.pack(">I4sQ", 1, b"free", padding))
    yield head + box
    remaining = padding - len(box)
    zeros = _ZEROS if chunk_size == len(_ZEROS) else bytes(chunk_size)
    while remaining > 0:
        piece = min(remaining, chunk_size)
        yield zeros if piece == chunk_size else zeros[:piece]
        remaining -= piece
