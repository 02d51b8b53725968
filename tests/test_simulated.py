"""The simulated provider: the whole lifecycle on a fake clock, real MP4s checked by probing them."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from bot.media import probe
from bot.sora.base import VideoProvider
from bot.sora.errors import DownloadExpired, DownloadFailed, InvalidRequest, NotFound, OperationUnsupported
from bot.sora.models import CreateVideo, Variant, VideoState
from bot.sora.simulated import SimulatedProvider, caption_png


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(tmp_path, clock) -> SimulatedProvider:
    return SimulatedProvider(tmp_path / "sim", render_seconds=20, clock=clock)


def test_it_is_a_video_provider(provider):
    assert isinstance(provider, VideoProvider)
    assert provider.name == "simulated"
    assert provider.supports_remix and provider.supports_list and provider.supports_idempotency


async def test_lifecycle_from_queued_to_a_playable_mp4(provider, clock, tmp_path):
    video = await provider.create(CreateVideo(prompt="a lighthouse in a storm", size="1280x720", seconds=4))
    assert re.fullmatch(r"sim_[0-9a-f]{24}", video.id)
    assert (video.state, video.progress) == (VideoState.QUEUED, 0)
    assert video.poll_after_seconds and video.size == "1280x720" and video.seconds == 4
    seen = []
    for _ in range(9):
        clock.now += 2.5
        seen.append(await provider.retrieve(video.id))
    assert [v.state for v in seen[:7]] == [VideoState.RUNNING] * 7
    progress = [v.progress for v in seen[:7]]
    assert progress == sorted(progress) and progress[0] < progress[-1] < 100
    assert seen[-1].state is VideoState.COMPLETED and seen[-1].progress == 100
    assert seen[-1].completed_at is not None and seen[-1].finished

    dest = tmp_path / "out" / "video.mp4"
    size = await provider.download(seen[-1], dest)
    assert size == dest.stat().st_size > 10_000
    info = await probe(dest, decode=True)
    assert (info.width, info.height) == (1280, 720)
    assert info.duration == pytest.approx(4.0, abs=0.25)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")


async def test_portrait_render_and_cached_second_download(provider, clock, tmp_path):
    video = await provider.create(CreateVideo(prompt="tall " * 300, size="720x1280", seconds=4))
    clock.now += 30
    await provider.download(video, tmp_path / "a.mp4")
    render = next((provider.data_dir / "renders").glob("*.mp4"))
    made = render.stat().st_mtime_ns
    await provider.download(video, tmp_path / "b.mp4")
    assert render.stat().st_mtime_ns == made  # rendered once, served twice
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()
    info = await probe(tmp_path / "b.mp4")
    assert (info.width, info.height, round(info.duration)) == (720, 1280, 4)


async def test_render_size_is_predictable(provider, clock, tmp_path):
    # Other tests pick upload limits from the size of a render: it must not depend on the random id.
    sizes = []
    for i in range(2):
        video = await provider.create(CreateVideo(prompt="same words", size="640x360", seconds=2))
        clock.now += 30
        sizes.append(await provider.download(video, tmp_path / f"{i}.mp4"))
    assert abs(sizes[0] - sizes[1]) < 0.05 * sizes[0]


async def test_thumbnail_is_an_image_and_spritesheet_is_unsupported(provider, clock, tmp_path):
    video = await provider.create(CreateVideo(prompt="thumb", size="320x180", seconds=2))
    clock.now += 30
    await provider.download(video, tmp_path / "t.png", variant=Variant.THUMBNAIL)
    with Image.open(tmp_path / "t.png") as image:
        assert image.format == "PNG" and image.size == (320, 180)
    with pytest.raises(OperationUnsupported):
        await provider.download(video, tmp_path / "s.jpg", variant=Variant.SPRITESHEET)


async def test_forbidden_prompt_fails_as_content_policy(provider, clock, tmp_path):
    video = await provider.create(CreateVideo(prompt="Show the FORBIDDEN city at night", size="320x180"))
    assert video.state is VideoState.QUEUED
    clock.now += 3
    failed = await provider.retrieve(video.id)
    assert failed.state is VideoState.FAILED and failed.finished
    assert failed.error is not None and failed.error.content_policy
    assert "content policy" in failed.error.message
    with pytest.raises(DownloadFailed):
        await provider.download(failed, tmp_path / "x.mp4")
    unrelated = await provider.create(CreateVideo(prompt="forbiddenness is not the word", size="320x180"))
    clock.now += 30
    assert (await provider.retrieve(unrelated.id)).state is VideoState.COMPLETED


async def test_jobs_survive_a_restart(tmp_path, clock):
    first = SimulatedProvider(tmp_path / "sim", render_seconds=20, clock=clock)
    video = await first.create(CreateVideo(prompt="persist me", size="320x180"))
    await first.aclose()
    clock.now += 10
    second = SimulatedProvider(tmp_path / "sim", render_seconds=20, clock=clock)
    again = await second.retrieve(video.id)
    assert again.state is VideoState.RUNNING and again.progress == 50
    assert again.prompt == "persist me" and again.created_at == video.created_at
    assert [v.id for v in await second.list()] == [video.id]


async def test_remix_with_a_first_frame_image(provider, clock, tmp_path):
    red = io.BytesIO()
    Image.new("RGB", (320, 180), (220, 0, 0)).save(red, format="PNG")
    parent = await provider.create(CreateVideo(prompt="a red room", size="320x180", seconds=2,
                                               image=red.getvalue(), image_mime="image/png"))
    with pytest.raises(InvalidRequest):  # not finished yet
        await provider.remix(parent.id, "make it blue")
    clock.now += 30
    remix = await provider.remix(parent.id, "add a window")
    assert remix.remixed_from == parent.id and remix.id != parent.id
    assert remix.prompt.startswith("a red room") and remix.prompt.endswith("add a window")
    assert (remix.size, remix.seconds, remix.model) == (parent.size, parent.seconds, parent.model)
    clock.now += 30
    await provider.download(remix, tmp_path / "r.png", variant=Variant.THUMBNAIL)
    with Image.open(tmp_path / "r.png") as frame:
        r, g, b = frame.convert("RGB").getpixel((160, 60))
    assert r > 150 and g < 60 and b < 60  # the first frame is the picture, inherited by the remix
    with pytest.raises(NotFound):
        await provider.remix("sim_00000000deadbeef", "anything")
    with pytest.raises(InvalidRequest):
        await provider.remix(parent.id, "   ")


async def test_idempotency_key_returns_the_same_job(provider):
    request = CreateVideo(prompt="once only", size="320x180")
    a = await provider.create(request, idempotency_key="job-42")
    b = await provider.create(request, idempotency_key="job-42")
    c = await provider.create(request, idempotency_key="job-43")
    assert a.id == b.id != c.id
    assert len(await provider.list()) == 2


async def test_list_is_most_recent_first_and_limited(provider, clock):
    ids = []
    for i in range(4):
        ids.append((await provider.create(CreateVideo(prompt=f"clip {i}", size="320x180"))).id)
        clock.now += 1
    assert [v.id for v in await provider.list()] == ids[::-1]
    assert [v.id for v in await provider.list(limit=2)] == ids[:1:-1]


async def test_delete_removes_the_job_and_its_files(provider, clock, tmp_path):
    video = await provider.create(CreateVideo(prompt="short-lived", size="320x180", seconds=1))
    clock.now += 30
    await provider.download(video, tmp_path / "d.mp4")
    await provider.delete(video.id)
    assert not list(provider.data_dir.rglob(f"{video.id}*"))
    with pytest.raises(NotFound):
        await provider.retrieve(video.id)
    with pytest.raises(DownloadExpired):
        await provider.download(video, tmp_path / "again.mp4")
    with pytest.raises(NotFound):
        await provider.delete(video.id)
    with pytest.raises(NotFound):
        await provider.retrieve("../../etc/passwd")


async def test_bad_requests_are_refused_before_anything_is_stored(provider):
    for request in (CreateVideo(prompt="   "), CreateVideo(prompt="x", size="1281x720"),
                    CreateVideo(prompt="x", size="huge"), CreateVideo(prompt="x", seconds=0)):
        with pytest.raises(InvalidRequest):
            await provider.create(request)
    assert await provider.list() == []


async def test_zero_render_time_completes_at_once(tmp_path, clock):
    provider = SimulatedProvider(tmp_path, render_seconds=0, clock=clock)
    video = await provider.create(CreateVideo(prompt="instant", size="320x180"))
    assert video.state is VideoState.COMPLETED and video.progress == 100


def test_caption_wraps_long_prompts_inside_the_frame():
    png = caption_png("word " * 2000, 720, 1280, "header")
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (720, 1280) and image.mode == "RGBA"
        alpha = image.getchannel("A")
        assert alpha.getpixel((360, 640)) == 0  # the middle stays see-through
        assert alpha.getpixel((360, 1270)) > 0  # the caption band is at the bottom
