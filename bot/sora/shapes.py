"""Video shapes: one canonical form, "WIDTHxHEIGHT", and its (resolution, aspect ratio) spelling.

Jobs, media fitting and first-frame cropping all speak "WxH". Providers such as OpenRouter describe
a model's shapes as `resolution` ("720p") × `aspect_ratio` ("16:9") lists, sometimes beside a
`size` list. `size_for` turns a (resolution, aspect) pair into the canonical size and
`resolution_and_aspect` turns a size back, so a member picks one "size" whatever the dialect, and the
dialect encodes it the way the model asks. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from fractions import Fraction

# The short side, in pixels, of each resolution name the providers use.
SHORT_SIDE: dict[str, int] = {
    "360p": 360, "480p": 480, "720p": 720, "768p": 768, "1080p": 1080,
    "1K": 1024, "2K": 1440, "4K": 2160,
}
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21")

_SIZE_RE = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")
_ASPECT_RE = re.compile(r"^\s*(\d{1,3})\s*:\s*(\d{1,3})\s*$")


def parse_size(size: str) -> tuple[int, int]:
    """"1280x720" → (1280, 720). Raises ValueError on anything else (or a zero side)."""
    match = _SIZE_RE.match(size or "")
    if not match:
        raise ValueError(f"not a WIDTHxHEIGHT size: {size!r}")
    width, height = int(match.group(1)), int(match.group(2))
    if width <= 0 or height <= 0:
        raise ValueError(f"not a WIDTHxHEIGHT size: {size!r}")
    return width, height


def _ratio(aspect: str) -> Fraction:
    match = _ASPECT_RE.match(aspect or "")
    if not match or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        raise ValueError(f"not an aspect ratio: {aspect!r}")
    return Fraction(int(match.group(1)), int(match.group(2)))


def _even(value: Fraction) -> int:
    return max(2, 2 * round(value / 2))


def size_for(resolution: str, aspect: str) -> str:
    """("720p", "16:9") → "1280x720"; ("720p", "9:16") → "720x1280"; ("1080p", "1:1") → "1080x1080".
    The resolution names the short side; the long side is rounded to an even number of pixels."""
    try:
        short = SHORT_SIDE[resolution.strip()]
    except KeyError:
        raise ValueError(f"unknown resolution: {resolution!r}") from None
    ratio = _ratio(aspect)
    if ratio >= 1:
        return f"{_even(short * ratio)}x{short}"
    return f"{short}x{_even(short / ratio)}"


def resolution_and_aspect(size: str, resolutions: tuple[str, ...] | list[str] | None = None,
                          aspects: tuple[str, ...] | list[str] | None = None) -> tuple[str, str] | None:
    """The (resolution, aspect) pair whose `size_for` is exactly `size`, searched among `resolutions`
    and `aspects` (all known names when None); None when no pair gives that size."""
    try:
        parse_size(size)
    except ValueError:
        return None
    canonical = "x".join(str(n) for n in parse_size(size))
    for resolution in resolutions if resolutions is not None else SHORT_SIDE:
        if resolution not in SHORT_SIDE:
            continue
        for aspect in aspects if aspects is not None else ASPECT_RATIOS:
            try:
                if size_for(resolution, aspect) == canonical:
                    return resolution, aspect
            except ValueError:
                continue
    return None


def label(size: str) -> str:
    """A member-facing name for a size: "1280x720" → "1280×720 (16:9 · 720p)", or just "1280×720"."""
    try:
        width, height = parse_size(size)
    except ValueError:
        return size
    pair = resolution_and_aspect(size)
    text = f"{width}×{height}"
    return f"{text} ({pair[1]} · {pair[0]})" if pair else text
