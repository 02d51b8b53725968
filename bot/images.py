"""First-frame images for `/sora image:`: check the upload, turn it upright, fit it to the video size.

Only JPEG, PNG and WebP are accepted, recognized by their bytes (not the file name or the declared
type). The image is rotated as its EXIF orientation says, cropped to fill WIDTHxHEIGHT (or padded with
black), and re-encoded without any metadata (EXIF, GPS, ICC, comments). Pillow is CPU-bound, so async
callers use `fit_first_frame_async`, which runs in a worker thread.

Decoding is bounded: the pixel count is read from the header and refused above `MAX_PIXELS` (the
largest output is 1792x1024, so ~24 MP leaves room for any real photo), a JPEG is decoded at a
reduced scale (`draft`) just large enough for the output, a big picture is `reduce`d before
resampling, and at most `MAX_PARALLEL_DECODES` images are decoded at once in the whole process.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from typing import Literal

from PIL import Image, ImageOps, UnidentifiedImageError

from bot import media_types
from bot.i18n import tr
from bot.sora import shapes
from bot.sora.errors import InvalidRequest

log = logging.getLogger(__name__)

WRONG_TYPE = tr("images.wrong_type", "en")  # the English words (tests compare); members get their own
MAX_PIXELS = 24_000_000  # ~6000x4000; bigger uploads are refused from their header, before decoding
MAX_PARALLEL_DECODES = 2
_DECODE_SLOTS = threading.BoundedSemaphore(MAX_PARALLEL_DECODES)

FitMode = Literal["crop", "pad"]
OutputFormat = Literal["auto", "png", "jpeg"]


def sniff_image_type(data: bytes) -> str | None:
    """The MIME type of a JPEG, PNG or WebP file judged by its first bytes, else None."""
    return media_types.sniff_mime(data)


def parse_size(size: str) -> tuple[int, int]:
    """"1280x720" → (1280, 720) (bot.sora.shapes parses it), refused as a member's bad input."""
    try:
        return shapes.parse_size(size)
    except ValueError:
        raise InvalidRequest(f"bad size {size!r}", user_message=tr("images.bad_size")) from None


def _open(data: bytes, target: tuple[int, int] | None = None) -> Image.Image:
    mime = sniff_image_type(data)
    if mime is None:
        raise InvalidRequest("image of an unaccepted type", user_message=tr("images.wrong_type"))
    damaged = InvalidRequest("image could not be decoded",
                             user_message=tr("images.damaged"))
    too_large = InvalidRequest("image has too many pixels",
                               user_message=tr("images.too_many_pixels"))
    try:
        image = Image.open(io.BytesIO(data), formats=tuple(t.pillow_format for t in media_types.IMAGE_TYPES))
        if image.width * image.height > MAX_PIXELS:  # checked from the header, before decoding
            raise too_large
        if target is not None and image.format == "JPEG":
            side = max(target)  # either orientation (EXIF may turn it) still covers the frame
            image.draft("RGB", (side, side))  # decode at 1/2, 1/4 or 1/8 scale when that is enough
        image.load()
    except InvalidRequest:
        raise
    except Image.DecompressionBombError:
        raise too_large from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise damaged from None
    return image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB pixels only; transparency becomes black (the padding colour)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def fit_first_frame(data: bytes, size: str, mode: FitMode = "crop", *,
                    output: OutputFormat = "auto") -> tuple[bytes, str]:
    """Return (image bytes, MIME type) of `data` fitted to `size`, upright and without metadata.

    `crop` fills the frame and trims the overflow around the centre; `pad` keeps the whole picture
    and adds black bars. `auto` writes PNG for PNG uploads and JPEG (quality 92) otherwise."""
    width, height = parse_size(size)
    if mode not in ("crop", "pad"):
        raise ValueError(f"unknown fit mode {mode!r}")
    with _DECODE_SLOTS:
        return _fit(data, width, height, mode, output)


def _fit(data: bytes, width: int, height: int, mode: FitMode, output: OutputFormat) -> tuple[bytes, str]:
    source = _open(data, (width, height))
    source_format = source.format
    try:
        upright = ImageOps.exif_transpose(source)
    except Exception:  # a broken EXIF block is no reason to refuse the picture
        log.debug("ignoring an unreadable EXIF orientation", exc_info=True)
        upright = source
    factor = min(upright.width // width, upright.height // height)
    if factor >= 2:  # a cheap integer downscale first (still covering the frame): resampling 24 MP is slow
        upright = upright.reduce(factor)
    pixels = _flatten(upright)
    if mode == "crop":
        fitted = ImageOps.fit(pixels, (width, height), method=Image.Resampling.LANCZOS)
    else:
        fitted = ImageOps.pad(pixels, (width, height), method=Image.Resampling.LANCZOS, color=(0, 0, 0))
    # A fresh image carries pixels only: no info dict, no EXIF, no ICC profile.
    clean = Image.new("RGB", fitted.size)
    clean.paste(fitted)
    fmt = ("png" if source_format == "PNG" else "jpeg") if output == "auto" else output
    out = io.BytesIO()
    if fmt == "png":
        clean.save(out, format=media_types.PNG.pillow_format, optimize=False)
        return out.getvalue(), media_types.PNG.mime
    clean.save(out, format=media_types.JPEG.pillow_format, quality=92, optimize=True)
    return out.getvalue(), media_types.JPEG.mime


async def fit_first_frame_async(data: bytes, size: str, mode: FitMode = "crop", *,
                                output: OutputFormat = "auto") -> tuple[bytes, str]:
    """`fit_first_frame` in a worker thread, so the event loop keeps running."""
    return await asyncio.to_thread(fit_first_frame, data, size, mode, output=output)


PREVIEW_MAX_SIDE = 320  # the small copy of the fitted frame shown with the acceptance message


def crop_trims(data: bytes, size: str) -> bool:
    """Whether cropping `data` (already accepted by `fit_first_frame`) to `size` trims part of the
    picture: its upright shape differs from the video's by more than 1 %. Reads the header only."""
    width, height = parse_size(size)
    with Image.open(io.BytesIO(data), formats=("JPEG", "PNG", "WEBP")) as image:
        w, h = image.size
        try:
            orientation = image.getexif().get(0x0112, 1)
        except Exception:  # an unreadable EXIF block: the fit ignored it too
            orientation = 1
    if orientation in (5, 6, 7, 8):  # turned a quarter: the upright picture is h×w
        w, h = h, w
    return abs(w * height - h * width) > 0.01 * max(w * height, h * width)


def preview_frame(fitted: bytes, max_side: int = PREVIEW_MAX_SIDE) -> bytes:
    """A small PNG of the fitted frame (same shape), for the member to see what the video starts from."""
    with _DECODE_SLOTS, Image.open(io.BytesIO(fitted), formats=("JPEG", "PNG")) as image:
        small = image.convert("RGB")
        small.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=False)
        return out.getvalue()


async def cropped_preview_async(data: bytes, fitted: bytes, size: str) -> bytes | None:
    """The preview of `fitted` when the crop trimmed `data`, else None (off the event loop)."""
    def work() -> bytes | None:
        return preview_frame(fitted) if crop_trims(data, size) else None

    return await asyncio.to_thread(work)
