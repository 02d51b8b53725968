"""Images are decoded only for requests that may go ahead, under a pixel cap, two at a time
(issue 12, item 6)."""

from __future__ import annotations

import asyncio
import io
import struct
import threading
import time
import zlib

import pytest
from PIL import Image

from bot import images
from bot.engine import service as service_module
from bot.sandbox.recording import member
from bot.sora.errors import InvalidRequest
from bot.sora.simulated import SimulatedProvider
from tests.engine_harness import Harness, make_settings


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's calling card)."""
    out = io.BytesIO()
    Image.new("RGB", (1, 1)).save(out, format="PNG")
    data = bytearray(out.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr:ihdr + 17]))
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, format="JPEG", quality=80)
    return out.getvalue()


def test_a_header_over_the_pixel_cap_is_refused_before_decoding():
    with pytest.raises(InvalidRequest) as caught:
        images.fit_first_frame(png_claiming(7000, 7000), "1280x720")
    assert "too large" in caught.value.user_message


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(monkeypatch):
    loaded: list[tuple[int, int]] = []
    real_open = images._open

    def spy(data, *target):
        image = real_open(data, *target)
        loaded.append(image.size)
        return image

    monkeypatch.setattr(images, "_open", spy)
    fitted, mime = images.fit_first_frame(jpeg(5120, 2880), "1280x720")
    assert mime == "image/jpeg" and Image.open(io.BytesIO(fitted)).size == (1280, 720)
    assert loaded == [(2560, 1440)], "draft() decoded the JPEG at half scale, still covering the frame"


async def test_at_most_two_images_are_decoded_at_once(monkeypatch):
    active, peak, lock = 0, 0, threading.Lock()
    real_open = images._open

    def slow_open(data, *target):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            time.sleep(0.1)
            return real_open(data, *target)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(images, "_open", slow_open)
    picture = jpeg(64, 36)
    results = await asyncio.gather(*(images.fit_first_frame_async(picture, "1280x720") for _ in range(6)))
    assert len(results) == 6 and peak == images.MAX_PARALLEL_DECODES == 2


@pytest.mark.parametrize("refusal", ["over_quota", "cooldown"])
async def test_the_image_is_not_decoded_when_the_quota_refuses(tmp_path, monkeypatch, refusal):
    decoded: list[int] = []

    async def recording_fit(data, size, mode="crop", **kw):
        decoded.append(len(data))
        return data, "image/jpeg"

    monkeypatch.setattr(service_module, "fit_first_frame_async", recording_fit)
    overrides = {"QUOTA_USER_VIDEOS_PER_DAY": "0"} if refusal == "over_quota" else {
        "QUOTA_USER_COOLDOWN_SECONDS": "3600"}
    settings = make_settings(tmp_path, **overrides)
    async with Harness(settings, SimulatedProvider(settings.data_dir / "sim", render_seconds=0.1)) as h:
        if refusal == "cooldown":
            first = await h.service.request_video(member(), prompt="the first, without an image")
            assert first.accepted
        out = await h.service.request_video(member(), prompt="with a picture", image=jpeg(64, 36))
        assert not out.accepted
        assert decoded == [], "a refused request never decodes its image"
