"""The one table of the image types a first frame may be: MIME type, file extension, the name
members read, the Pillow format and the magic bytes that identify it. Everything that maps one of
these to another (sniffing an upload, naming a stored or uploaded file, reading a stored file's
type back) asks here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageType:
    mime: str
    extension: str  # with the dot: how a stored or uploaded file of this type is named
    name: str  # what members read ("JPEG, PNG or WebP")
    pillow_format: str  # `PIL.Image.open(formats=...)`'s name

    def matches(self, data: bytes) -> bool:
        """Whether `data` starts like a file of this type."""
        if self.mime == "image/jpeg":
            return data[:3] == b"\xff\xd8\xff"
        if self.mime == "image/png":
            return data[:8] == b"\x89PNG\r\n\x1a\n"
        return len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP"


JPEG = ImageType("image/jpeg", ".jpg", "JPEG", "JPEG")
PNG = ImageType("image/png", ".png", "PNG", "PNG")
WEBP = ImageType("image/webp", ".webp", "WebP", "WEBP")
IMAGE_TYPES = (JPEG, PNG, WEBP)
_BY_MIME = {t.mime: t for t in IMAGE_TYPES}


def sniff(data: bytes) -> ImageType | None:
    """The type of an image judged by its first bytes (never by what the sender claimed), else None."""
    return next((t for t in IMAGE_TYPES if t.matches(data)), None)


def sniff_mime(data: bytes) -> str | None:
    found = sniff(data)
    return found.mime if found is not None else None


def extension_for(mime: str | None, default: str = "") -> str:
    """".png" for "image/png"; `default` for a type not in the table."""
    found = _BY_MIME.get(mime or "")
    return found.extension if found is not None else default


def mime_of_path(path: str | None, default: str = JPEG.mime) -> str:
    """The type of a file we stored, from its extension (we named it, see `extension_for`)."""
    found = next((t for t in IMAGE_TYPES if path and path.lower().endswith(t.extension)), None)
    return found.mime if found is not None else default
