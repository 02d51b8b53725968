"""The one table of first-frame image types: sniffing, extensions, and reading a stored file's type."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot import media_types
from bot.images import sniff_image_type
from bot.sora.validate import image_mime


def _picture(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "mime", "extension"), [
    ("JPEG", "image/jpeg", ".jpg"), ("PNG", "image/png", ".png"), ("WEBP", "image/webp", ".webp")])
def test_each_type_is_sniffed_named_and_read_back_the_same_way_everywhere(fmt, mime, extension):
    data = _picture(fmt)
    found = media_types.sniff(data)
    assert found is not None and (found.mime, found.extension, found.pillow_format) == (mime, extension, fmt)
    assert sniff_image_type(data) == image_mime(data) == mime  # the upload check and the decoder agree
    assert media_types.extension_for(mime) == extension
    assert media_types.mime_of_path(f"/data/inputs/abc{extension}") == mime  # a stored first frame
    assert media_types.mime_of_path(f"/data/inputs/ABC{extension.upper()}") == mime


def test_anything_else_is_no_image_type():
    assert media_types.sniff(b"GIF89a....") is None and media_types.sniff(b"") is None
    assert media_types.sniff(b"RIFF\x00\x00\x00\x00WAVE") is None  # RIFF, but not WebP
    assert media_types.extension_for("image/gif") == "" and media_types.extension_for(None, default=".jpg") == ".jpg"
    assert media_types.mime_of_path(None) == "image/jpeg" and media_types.mime_of_path("x.bin") == "image/jpeg"
