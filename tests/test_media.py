"""Media: probing real MP4s made by ffmpeg, refusing broken ones, fitting under a size limit.

The sources are generated once per session with the bundled ffmpeg; the big one (~30 MB of noisy
1280x720) is what a Sora video at 1792x1024 looks like to the upload limit.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import time
from pathlib import Path

import pytest

from bot import media
from bot.media import (
    FitResult,
    MediaError,
    check_mp4_boxes,
    ffmpeg_path,
    fit_to_limit,
    parse_ffmpeg_info,
    plan_encode,
    probe,
    run_ffmpeg,
)
from bot.sora.errors import FfmpegMissing

MIB = 1024 * 1024


def make_video(dest: Path, *, size: str, seconds: float, fps: int = 24, noise: bool = False,
               video_bitrate: str | None = None, audio: bool = True, extra: tuple[str, ...] = ()) -> Path:
    source = f"testsrc2=size={size}:rate={fps}" + (",noise=alls=40:allf=t" if noise else "")
    args = [ffmpeg_path(), "-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i", source]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100"]
    args += ["-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if video_bitrate:
        args += ["-b:v", video_bitrate, "-maxrate", video_bitrate, "-bufsize", video_bitrate]
    if audio:
        args += ["-c:a", "aac", "-b:a", "128k"]
    subprocess.run([*args, *extra, str(dest)], check=True, timeout=60)
    return dest


@pytest.fixture(scope="session")
def sources(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media-sources")
    return {
        "small": make_video(root / "small.mp4", size="320x240", seconds=1.5),
        "medium": make_video(root / "medium.mp4", size="640x360", seconds=2, video_bitrate="2M"),
        "silent": make_video(root / "silent.mp4", size="160x120", seconds=1, audio=False),
    }


@pytest.fixture(scope="session")
def big_source(tmp_path_factory) -> Path:
    """~30 MB: 4 s of noisy 1280x720 at 60 Mbit/s (noise does not compress, like detailed footage)."""
    dest = tmp_path_factory.mktemp("media-big") / "big.mp4"
    return make_video(dest, size="1280x720", seconds=4, fps=30, noise=True, video_bitrate="60M")


def ffmpeg_processes_mentioning(fragment: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "ffmpeg" in cmdline and fragment in cmdline:
                found.append(int(entry.name))
    return found


# --- ffmpeg location ------------------------------------------------------------------------------

def test_ffmpeg_path_finds_the_bundled_binary(monkeypatch):
    monkeypatch.delenv("FFMPEG_BINARY", raising=False)
    assert os.access(ffmpeg_path(), os.X_OK)


def test_ffmpeg_binary_setting_is_honoured(monkeypatch, tmp_path):
    monkeypatch.delenv("FFMPEG_BINARY", raising=False)
    real = ffmpeg_path()
    monkeypatch.setenv("FFMPEG_BINARY", real)
    assert ffmpeg_path() == real
    monkeypatch.setenv("FFMPEG_BINARY", str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(FfmpegMissing) as exc:
        ffmpeg_path()
    assert "FFMPEG_BINARY" in str(exc.value)
    assert "ffmpeg is missing" in exc.value.user_message


# --- probe ------------------------------------------------------------------------------------------

async def test_probe_describes_a_good_file(sources):
    info = await probe(sources["small"], decode=True)
    assert (info.width, info.height) == (320, 240)
    assert info.resolution == "320x240"
    assert abs(info.duration - 1.5) < 0.1
    assert info.video_codec == "h264" and info.audio_codec == "aac" and info.has_audio
    assert "mp4" in info.container
    assert info.size_bytes == sources["small"].stat().st_size
    assert info.bitrate and info.bitrate > 0
    assert info.fps == 24


async def test_probe_of_a_silent_video(sources):
    info = await probe(sources["silent"])
    assert not info.has_audio and info.audio_codec is None


@pytest.mark.parametrize(("content", "words"), [
    (b"", "empty"),
    (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "web page"),
    (b'{"error": {"message": "expired"}}', "web page or JSON"),
    (bytes(random.Random(7).randrange(256) for _ in range(5000)), "not an MP4"),
])
async def test_probe_refuses_what_is_not_a_video(tmp_path, content, words):
    path = tmp_path / "download.mp4"
    path.write_bytes(content)
    with pytest.raises(MediaError) as exc:
        await probe(path)
    assert words in str(exc.value)


@pytest.mark.parametrize("keep", [0.5, 0.999])
async def test_probe_refuses_a_truncated_download(sources, tmp_path, keep):
    data = sources["medium"].read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(MediaError) as exc:
        await probe(path)
    assert "truncated" in str(exc.value)


async def test_probe_refuses_other_containers_and_audio_only(tmp_path):
    mkv = make_video(tmp_path / "clip.mkv", size="160x120", seconds=1, audio=False)
    with pytest.raises(MediaError):
        await probe(mkv)
    audio_only = tmp_path / "audio.mp4"
    subprocess.run([ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "sine", "-t", "1", "-c:a", "aac",
                    str(audio_only)], check=True, timeout=30)
    with pytest.raises(MediaError) as exc:
        await probe(audio_only)
    assert "no video stream" in str(exc.value)


async def test_decode_check_catches_corrupt_frames(sources, tmp_path):
    data = bytearray(sources["medium"].read_bytes())
    rng = random.Random(1)
    start = len(data) // 3
    data[start:start + 20000] = bytes(rng.randrange(256) for _ in range(20000))
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(bytes(data))
    await probe(path)  # the structure is intact...
    with pytest.raises(MediaError) as exc:
        await probe(path, decode=True)  # ...the pictures are not
    assert "decode" in str(exc.value)


async def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="does not exist"):
        await probe(tmp_path / "nope.mp4")


def test_box_walk_handles_large_and_open_ended_boxes():
    ftyp = (16).to_bytes(4, "big") + b"ftypisom" + b"\0" * 4
    moov = (8).to_bytes(4, "big") + b"moov"
    big_mdat = (1).to_bytes(4, "big") + b"mdat" + (24).to_bytes(8, "big") + b"\0" * 8
    whole = ftyp + moov + big_mdat
    check_mp4_boxes(whole, len(whole), lambda off, n: whole[off:off + n])
    to_end = ftyp + moov + (0).to_bytes(4, "big") + b"mdat" + b"\0" * 100
    check_mp4_boxes(to_end, len(to_end), lambda off, n: to_end[off:off + n])
    with pytest.raises(MediaError, match="moov"):
        no_index = ftyp + big_mdat
        check_mp4_boxes(no_index, len(no_index), lambda off, n: no_index[off:off + n])


def test_parse_skips_cover_art_and_reads_the_real_stream(tmp_path):
    stderr = (
        "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x.mp4':\n"
        "  Duration: 00:00:08.04, start: 0.000000, bitrate: 5120 kb/s\n"
        "  Stream #0:0[0x1](und): Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), "
        "600x600, 90k tbr, 90k tbn (attached pic)\n"
        "  Stream #0:1[0x2](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), "
        "1792x1024 [SAR 1:1 DAR 7:4], 5000 kb/s, 30 fps, 30 tbr, 15360 tbn (default)\n"
        "  Stream #0:2[0x3](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 96 kb/s\n"
    )
    info = parse_ffmpeg_info(stderr, tmp_path / "x.mp4", 5_000_000)
    assert (info.width, info.height, info.video_codec) == (1792, 1024, "h264")
    assert info.duration == pytest.approx(8.04)
    assert info.bitrate == 5_120_000 and info.audio_bitrate == 96_000 and info.fps == 30


# --- the pure planner ---------------------------------------------------------------------------------

def test_plan_keeps_resolution_when_the_budget_allows():
    plan = plan_encode(limit_bytes=10 * MIB, duration=12, width=1792, height=1024, fps=30, has_audio=True)
    assert not plan.scaled and (plan.width, plan.height) == (1792, 1024)
    total_bytes = (plan.video_bitrate + plan.audio_bitrate) * 12 / 8
    assert 0.90 * 10 * MIB < total_bytes < 0.96 * 10 * MIB  # headroom for the container, no waste


def test_plan_scales_down_only_below_the_quality_floor():
    # 1 MiB for 12 s of 1792x1024: ~0.01 bit per pixel, far under the floor, so fewer pixels.
    plan = plan_encode(limit_bytes=MIB, duration=12, width=1792, height=1024, fps=30, has_audio=True)
    assert plan.scaled and plan.width < 1792
    assert plan.width % 2 == 0 and plan.height % 2 == 0
    assert plan.width / plan.height == pytest.approx(1792 / 1024, rel=0.02)
    assert min(plan.width, plan.height) >= media.MIN_SHORT_SIDE
    assert plan.audio_bitrate == media.LOW_AUDIO_BITRATE  # tight budget: the picture comes first
    bpp = plan.video_bitrate / (plan.width * plan.height * 30)
    assert bpp >= media.MIN_BITS_PER_PIXEL * 0.95 or min(plan.width, plan.height) == media.MIN_SHORT_SIDE
    # The floor itself: just above it the picture is untouched, just below it shrinks.
    headroom = media.CONTAINER_HEADROOM + media.ENCODER_WARMUP_SECONDS / 4
    floor_bytes = 1280 * 720 * 24 * media.MIN_BITS_PER_PIXEL * 4 / 8 / (1 - headroom)
    above = plan_encode(limit_bytes=int(floor_bytes * 1.01), duration=4, width=1280, height=720, fps=24,
                        has_audio=False)
    assert not above.scaled and above.audio_bitrate is None
    below = plan_encode(limit_bytes=int(floor_bytes * 0.95), duration=4, width=1280, height=720, fps=24,
                        has_audio=False)
    assert below.scaled and 1200 < below.width < 1280


def test_short_clips_keep_more_headroom():
    # x264 overshoots most in the first frames, which weigh more in a short clip.
    short = plan_encode(limit_bytes=10 * MIB, duration=4, width=1280, height=720, fps=30, has_audio=False)
    long = plan_encode(limit_bytes=10 * MIB, duration=12, width=1280, height=720, fps=30, has_audio=False)
    assert short.video_bitrate * 4 / (10 * MIB * 8) < long.video_bitrate * 12 / (10 * MIB * 8) < 0.95


def test_tiny_budgets_give_up_sound_quality_then_pixels():
    # ~200 KB for 8 s (a test channel's limit): thin audio, a small picture, but still a video.
    plan = plan_encode(limit_bytes=200_000, duration=8, width=1280, height=720, fps=12, has_audio=True)
    assert plan.audio_bitrate == media.TINY_AUDIO_BITRATE
    assert plan.video_bitrate >= media.MIN_VIDEO_BITRATE
    assert plan.scaled and plan.height >= media.MIN_SHORT_SIDE


def test_plan_refuses_the_impossible():
    with pytest.raises(MediaError, match="can't be made to fit"):
        plan_encode(limit_bytes=20_000, duration=12, width=1280, height=720, fps=30, has_audio=True)


# --- fitting -----------------------------------------------------------------------------------------

async def test_a_file_under_the_limit_is_left_alone(sources, tmp_path):
    result = await fit_to_limit(sources["small"], 10 * MIB, tmp_path)
    assert result == FitResult(
        path=sources["small"], size_bytes=sources["small"].stat().st_size, width=320, height=240,
        compressed=False, original_path=sources["small"], original_size_bytes=sources["small"].stat().st_size,
        original_width=320, original_height=240, duration=result.duration)
    assert not result.compressed
    assert list(tmp_path.iterdir()) == []


async def test_big_file_fits_under_10_mib_without_blocking_the_loop(big_source, tmp_path):
    original_size = big_source.stat().st_size
    assert original_size > 25 * MIB
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.02)
            lags.append(time.perf_counter() - before - 0.02)

    watch = asyncio.create_task(ticker())
    started = time.perf_counter()
    try:
        result = await fit_to_limit(big_source, 10 * MIB, tmp_path / "out")
    finally:
        stop.set()
        await watch
    elapsed = time.perf_counter() - started
    assert result.compressed and result.path != big_source
    assert big_source.exists() and big_source.stat().st_size == original_size
    out = await probe(result.path)
    assert out.size_bytes == result.size_bytes <= 10 * MIB
    assert abs(out.duration - 4.0) <= 0.5
    assert (out.video_codec, out.audio_codec) == ("h264", "aac")
    assert (out.width, out.height) == (1280, 720)  # plenty of bits per pixel: no scaling
    assert (result.original_width, result.original_height, result.original_size_bytes) == (1280, 720, original_size)
    assert len(lags) > elapsed / 0.1  # the loop kept ticking the whole time
    assert max(lags) < 0.5
    assert not list((tmp_path / "out").glob("*.part"))


async def test_tight_limit_scales_down_and_refit_goes_smaller(sources, tmp_path):
    src = sources["medium"]  # 640x360, 2 s, ~500 KB
    result = await fit_to_limit(src, 120_000, tmp_path)
    assert result.compressed and result.size_bytes <= 120_000
    assert result.width < 640 and result.width / result.height == pytest.approx(640 / 360, rel=0.02)
    again = await fit_to_limit(result.original_path, int(result.size_bytes * 0.75), tmp_path)  # as after a 413
    assert again.size_bytes <= 0.75 * result.size_bytes and again.original_path == src
    assert (await probe(again.path)).duration == pytest.approx(2.0, abs=0.5)


async def test_a_failed_transcode_raises_and_leaves_nothing(sources, tmp_path):
    with pytest.raises(MediaError, match="could not compress"):
        await fit_to_limit(sources["medium"], 100_000, tmp_path, preset="no-such-preset")
    assert list(tmp_path.iterdir()) == []
    assert sources["medium"].exists()


async def test_timeout_kills_ffmpeg_and_raises(big_source, tmp_path):
    out_dir = tmp_path / "slow-out"
    with pytest.raises(MediaError, match=r"longer than 0\.3 s to compress the video"):
        await fit_to_limit(big_source, 5 * MIB, out_dir, timeout=0.3)
    assert ffmpeg_processes_mentioning(str(out_dir)) == []
    assert not list(out_dir.glob("*"))  # the partial output is removed


async def test_cancelling_kills_ffmpeg(tmp_path):
    marker = str(tmp_path / "never.mp4")
    task = asyncio.create_task(run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=size=320x240", "-f", "mp4", "-y", marker], timeout=30, what="test"))
    for _ in range(100):
        await asyncio.sleep(0.02)
        if ffmpeg_processes_mentioning(marker):
            break
    assert ffmpeg_processes_mentioning(marker)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ffmpeg_processes_mentioning(marker) == []


async def test_concurrency_cap_holds():
    media.set_ffmpeg_concurrency(1)
    try:
        running, peak = 0, 0

        async def job() -> None:
            nonlocal running, peak
            async with media.ffmpeg_slot():
                running += 1
                peak = max(peak, running)
                await asyncio.sleep(0.02)
                running -= 1

        await asyncio.gather(*(job() for _ in range(4)))
        assert peak == 1
    finally:
        media.set_ffmpeg_concurrency(media.DEFAULT_CONCURRENCY)
