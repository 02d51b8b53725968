"""The extension create path on each dialect that has one, against the loopback fakes:
`POST /videos/extensions` (openai; juheapi when SORA_PATHS switches it on), OpenRouter's
`previous_job_id` (continuation models only), and the simulated provider (a real, longer MP4).
Dialects without it refuse before anything is sent."""

from __future__ import annotations

import httpx
import pytest

from bot import media
from bot.sora.client import HttpVideoProvider
from bot.sora.dialects import EXTENSION_SECONDS, profile_for
from bot.sora.errors import ContinuationUnsupported, InvalidRequest, OperationUnsupported
from bot.sora.models import CreateVideo, VideoState
from bot.sora.openrouter import OpenRouterProvider
from bot.sora.simulated import SimulatedProvider
from tests.fakes.openrouter import FakeOpenRouter, load_models
from tests.fakes.relay import FakeRelay
from tests.test_provider_contract import FAST, KEY, LIMITS, finished

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def client(relay: FakeRelay, **paths: str) -> HttpVideoProvider:
    return HttpVideoProvider(base_url=relay.base_url, api_key=KEY, retry=FAST, limits=LIMITS,
                             profile=profile_for(relay.dialect, paths), trusted_origins=[relay.cdn_origin])


async def duration_of(provider, video, path) -> float:
    await provider.download(video, path)
    return (await media.probe(path)).duration


@pytest.mark.parametrize(("dialect", "paths"), [("openai", {}), ("juheapi", {"extend": "/videos/extensions"})])
async def test_an_extension_is_a_new_video_of_the_stitched_length(dialect, paths, tmp_path):
    async with FakeRelay(dialect=dialect, api_key=KEY, render_seconds=0.3) as relay:
        provider = client(relay, **paths)
        try:
            assert provider.can_extend("sora-2") and provider.extension_seconds("sora-2") == EXTENSION_SECONDS
            source, _ = await finished(provider, await provider.create(CreateVideo(prompt="a kite", seconds=4)))
            extension = await provider.extend(source.id, "  it climbs into the clouds ", 8, idempotency_key="k-1")
            assert extension.id != source.id
            done, _ = await finished(provider, extension)
            assert done.state is VideoState.COMPLETED and done.seconds == 12  # 4 + 8, as the schema says
            job = relay.jobs[done.id]
            assert (job.extended_from, job.prompt, job.model, job.size) == (source.id, "it climbs into the clouds",
                                                                            "sora-2", "1280x720")
            assert abs(await duration_of(provider, done, tmp_path / "x.mp4") - 12) < 0.5
            [sent] = [r for r in relay.requests if r.kind == "extend"]
            assert sent.method == "POST" and sent.path == "/v1/videos/extensions"
            assert relay.extend_count == 1 and relay.create_count == 1
        finally:
            await provider.aclose()


@pytest.mark.parametrize("dialect", ["juheapi", "xingchaoyiqing"])
async def test_dialects_without_extensions_refuse_before_sending(dialect):
    async with FakeRelay(dialect=dialect, api_key=KEY) as relay:
        provider = client(relay)
        try:
            assert not provider.can_extend("sora-2")
            with pytest.raises(OperationUnsupported):
                await provider.extend("video_123", "then it rains", 4)
            assert relay.requests == []
        finally:
            await provider.aclose()


async def test_an_extension_the_schema_does_not_allow_is_refused_before_sending():
    async with FakeRelay(dialect="openai", api_key=KEY) as relay:
        provider = client(relay)
        try:
            with pytest.raises(InvalidRequest) as caught:
                await provider.extend("video_123", "then it rains", 5)
            assert "4, 8 or 12" in caught.value.user_message
            with pytest.raises(InvalidRequest):
                await provider.extend("video_123", "   ", 4)
            assert relay.requests == []
        finally:
            await provider.aclose()


async def test_the_fake_relay_validates_extensions_like_the_schema():
    async with FakeRelay(dialect="openai", api_key=KEY, render_seconds=30) as relay:
        headers = {"Authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(base_url=relay.base_url, headers=headers) as http:
            made = (await http.post("/videos", files={"prompt": (None, "a boat"), "seconds": (None, "4")})).json()

            async def extend(body):
                return await http.post("/videos/extensions", json=body)

            unfinished = await extend({"video": {"id": made["id"]}, "prompt": "more", "seconds": "4"})
            assert unfinished.status_code == 400 and unfinished.json()["error"]["code"] == "invalid_video_state"
            relay.complete_job(made["id"])
            for body, param in [({"video": {"id": made["id"]}, "prompt": "more", "seconds": "5"}, "seconds"),
                                ({"video": {"id": made["id"]}, "prompt": "more", "seconds": 4}, "seconds"),
                                ({"prompt": "more", "seconds": "4"}, "video"),
                                ({"video": made["id"], "prompt": "more", "seconds": "4"}, "video"),
                                ({"video": {"id": made["id"]}, "prompt": "", "seconds": "4"}, "prompt"),
                                ({"video": {"id": made["id"]}, "prompt": "m", "seconds": "4", "x": 1}, "x")]:
                answer = await extend(body)
                assert answer.status_code == 400 and answer.json()["error"]["param"] == param, body
            missing = await extend({"video": {"id": "video_nope"}, "prompt": "more", "seconds": "4"})
            assert missing.status_code == 404
            ok = await extend({"video": {"id": made["id"]}, "prompt": "more", "seconds": "12"})
            assert ok.status_code == 200 and ok.json()["seconds"] == "16"
            assert relay.extend_count == 1


async def test_openrouter_extends_continuation_models_with_previous_job_id():
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.3) as fake:
        provider = OpenRouterProvider(base_url=fake.base_url, api_key=KEY, retry=FAST, models=load_models())
        try:
            assert provider.can_extend("google/veo-3.1") and not provider.can_extend("alibaba/wan-2.6")
            assert provider.extension_seconds("google/veo-3.1") is None  # the model's own durations
            source, _ = await finished(provider, await provider.create(
                CreateVideo(prompt="a fox", model="google/veo-3.1", size="1280x720", seconds=8)))
            extension = await provider.create(CreateVideo(prompt="it runs off", model="google/veo-3.1",
                                                          size="1280x720", seconds=4, previous_job_id=source.id))
            job = fake.jobs[extension.id]
            assert (job.remixed_from, job.seconds, job.body["duration"]) == (source.id, 4, 4)
            assert (await finished(provider, extension))[0].state is VideoState.COMPLETED
        finally:
            await provider.aclose()


async def test_openrouter_refuses_previous_job_id_on_other_models():
    """Our list says which models continue; a model the service won't continue answers 400, read as
    ContinuationUnsupported (and the engine refunds it)."""
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.3) as fake:
        lying = OpenRouterProvider(base_url=fake.base_url, api_key=KEY, retry=FAST, models=load_models(),
                                   continuation_models={"alibaba/wan-2.6"})
        try:
            source, _ = await finished(lying, await lying.create(
                CreateVideo(prompt="a fox", model="alibaba/wan-2.6", size="1280x720", seconds=5)))
            with pytest.raises(ContinuationUnsupported):
                await lying.create(CreateVideo(prompt="on", model="alibaba/wan-2.6", size="1280x720", seconds=5,
                                               previous_job_id=source.id))
            assert fake.create_count == 1
        finally:
            await lying.aclose()


async def test_simulated_extension_is_a_real_longer_mp4(tmp_path):
    provider = SimulatedProvider(tmp_path, render_seconds=0.2)
    source, _ = await finished(provider, await provider.create(CreateVideo(prompt="a kite", size="720x1280",
                                                                           seconds=4)))
    with pytest.raises(InvalidRequest):
        await provider.extend(source.id, "   ", 4)
    extension = await provider.extend(source.id, "it climbs", 8, idempotency_key="same")
    assert await provider.extend(source.id, "it climbs", 8, idempotency_key="same") == extension  # replayed
    done, _ = await finished(provider, extension)
    assert done.seconds == 12
    info = await media.probe(tmp_path / "x.mp4") if await provider.download(done, tmp_path / "x.mp4") else None
    assert info is not None and abs(info.duration - 12) < 0.5 and (info.width, info.height) == (720, 1280)
    assert [p.name for p in (tmp_path / "renders").iterdir() if "_next" in p.name or "concat" in p.name] == []
