"""First-frame images: accepted formats by content, crop vs pad, EXIF orientation, metadata stripped."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.images import WRONG_TYPE, fit_first_frame, fit_first_frame_async, parse_size, sniff_image_type
from bot.sora.errors import InvalidRequest


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def two_halves(width: int, height: int) -> Image.Image:
    """Left half red, right half blue."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    return image


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def close_to(pixel, expected, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], expected, strict=True))


@pytest.mark.parametrize(("fmt", "mime_in", "mime_out"), [
    ("JPEG", "image/jpeg", "image/jpeg"),
    ("PNG", "image/png", "image/png"),
    ("WEBP", "image/webp", "image/jpeg"),
])
def test_each_accepted_format_is_fitted(fmt, mime_in, mime_out):
    data = encode(two_halves(640, 480), fmt)
    assert sniff_image_type(data) == mime_in
    out, mime = fit_first_frame(data, "1280x720")
    assert mime == mime_out
    image = decode(out)
    assert image.size == (1280, 720)
    assert image.format == mime_out.split("/")[1].upper()


def test_output_format_can_be_forced():
    data = encode(two_halves(64, 64), "JPEG")
    out, mime = fit_first_frame(data, "64x64", output="png")
    assert mime == "image/png" and decode(out).format == "PNG"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_image_types_are_refused_by_content(fmt):
    data = encode(Image.new("RGB", (32, 32), (10, 20, 30)), fmt)
    with pytest.raises(InvalidRequest) as exc:
        fit_first_frame(data, "1280x720")
    assert exc.value.user_message == WRONG_TYPE


def test_a_text_file_named_like_an_image_is_refused():
    with pytest.raises(InvalidRequest) as exc:
        fit_first_frame(b"<html><body>not found</body></html>", "1280x720")
    assert exc.value.user_message == WRONG_TYPE


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_corrupt_images_are_refused_clearly(fmt):
    good = encode(two_halves(300, 200), fmt)
    for damaged in (good[: len(good) // 3], good[:16] + b"\x00garbage" * 50):
        with pytest.raises(InvalidRequest) as exc:
            fit_first_frame(damaged, "1280x720")
        assert "damaged" in exc.value.user_message


def test_crop_fills_the_frame_from_the_centre():
    # 400x100: red | blue. Cropped to a square, the centre (the red/blue border) remains.
    out, _ = fit_first_frame(encode(two_halves(400, 100), "PNG"), "100x100", "crop")
    image = decode(out).convert("RGB")
    assert image.size == (100, 100)
    assert close_to(image.getpixel((5, 5)), (255, 0, 0))
    assert close_to(image.getpixel((94, 94)), (0, 0, 255))


def test_pad_keeps_the_whole_picture_with_black_bars():
    white = Image.new("RGB", (400, 200), (255, 255, 255))
    out, _ = fit_first_frame(encode(white, "PNG"), "100x100", "pad")
    image = decode(out).convert("RGB")
    assert image.size == (100, 100)
    assert close_to(image.getpixel((50, 5)), (0, 0, 0))  # bar above
    assert close_to(image.getpixel((50, 94)), (0, 0, 0))  # bar below
    assert close_to(image.getpixel((50, 50)), (255, 255, 255))
    assert close_to(image.getpixel((2, 50)), (255, 255, 255))  # full width kept


def test_exif_orientation_is_applied_then_stripped():
    # Stored landscape (red left, blue right) with orientation 6: shown rotated 90° clockwise,
    # i.e. portrait with red on top.
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS latitude
    data = encode(two_halves(200, 100), "JPEG", exif=exif.tobytes(), quality=95)
    assert b"SecretCam" in data
    out, mime = fit_first_frame(data, "100x200", "pad")
    image = decode(out)
    assert mime == "image/jpeg"
    assert image.size == (100, 200)
    assert close_to(image.convert("RGB").getpixel((50, 20)), (255, 0, 0))
    assert close_to(image.convert("RGB").getpixel((50, 180)), (0, 0, 255))
    assert len(image.getexif()) == 0
    assert b"Exif" not in out and b"SecretCam" not in out


def test_png_text_chunks_and_icc_are_stripped():
    from PIL import ImageCms, PngImagePlugin

    meta = PngImagePlugin.PngInfo()
    meta.add_text("Author", "someone@example.com")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(two_halves(80, 60), "PNG", pnginfo=meta, icc_profile=icc)
    out, _ = fit_first_frame(data, "80x60")
    image = decode(out)
    assert "Author" not in image.info and "icc_profile" not in image.info
    assert b"someone@example.com" not in out


def test_transparency_becomes_black():
    clear = Image.new("RGBA", (50, 50), (255, 255, 255, 0))
    out, _ = fit_first_frame(encode(clear, "PNG"), "50x50")
    assert close_to(decode(out).convert("RGB").getpixel((25, 25)), (0, 0, 0))


def test_sizes_are_parsed_and_bad_ones_refused():
    assert parse_size("1792x1024") == (1792, 1024)
    for bad in ("big", "0x720", "1280*720", ""):
        with pytest.raises(InvalidRequest):
            parse_size(bad)


async def test_async_variant_runs_in_a_thread():
    data = encode(two_halves(320, 240), "WEBP")
    out, mime = await fit_first_frame_async(data, "720x1280", "crop")
    assert mime == "image/jpeg"
    assert decode(out).size == (720, 1280)
