# Over 400 lines on purpose: one dialect's whole contract against its fake, in one file.
"""The OpenRouter provider against its strict loopback fake: how a create is encoded per model, the
models list, polling URLs, where the key goes, downloads, 402/403, cancelled/expired, usage.cost,
attribution headers, callback_url, continuation; plus the pure wire functions and the fake itself."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from PIL import Image

from bot.sandbox.fake_providers.openrouter import FakeOpenRouter, load_models
from bot.sandbox.fake_providers.openrouter_webhooks import sign, webhook_envelope
from bot.settings import Settings
from bot.sora import openrouter_wire as wire
from bot.sora.errors import (
    ContentPolicyRejected,
    ContinuationUnsupported,
    InsufficientCredits,
    InvalidRequest,
    SoraError,
)
from bot.sora.models import CreateVideo, VideoState
from bot.sora.openrouter import OpenRouterProvider
from bot.sora.retry import RetryPolicy

KEY = "sk-or-v1-test-key-0123456789abcdef"
FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.2) as fake:
        yield fake


def provider_for(fake: FakeOpenRouter, **options) -> OpenRouterProvider:
    # The fake's signed-URL host is plain http on loopback: trusted here as an operator would list it
    # (SORA_TRUSTED_ORIGINS); the key still goes to the base URL's origin only.
    options.setdefault("trusted_origins", [fake.cdn_origin])
    return OpenRouterProvider(base_url=fake.base_url, api_key=KEY, retry=FAST, sleep=_no_sleep, **options)


async def done(provider: OpenRouterProvider, video, timeout: float = 10.0):
    async with asyncio.timeout(timeout):
        while not video.finished:
            await asyncio.sleep(0.05)
            video = await provider.retrieve(video.id)
    return video


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(out, format="PNG")
    return out.getvalue()


def creates(fake: FakeOpenRouter) -> list:
    return [r for r in fake.requests if r.kind == "create"]


# --- encoding per model ------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "size", "seconds", "expected"), [
    ("google/veo-3.1", "1280x720", 8, {"size": "1280x720"}),  # veo lists sizes
    ("google/veo-3.1", "720x1280", 4, {"size": "720x1280"}),
    ("alibaba/wan-2.6", "1280x720", 5, {"resolution": "720p", "aspect_ratio": "16:9"}),  # no size list
    ("alibaba/wan-2.6", "1080x1920", 10, {"resolution": "1080p", "aspect_ratio": "9:16"}),
    ("kwaivgi/kling-v3.0-pro", "720x720", 3, {"resolution": "720p", "aspect_ratio": "1:1"}),
])
async def test_each_model_gets_the_shape_it_lists(fake, model, size, seconds, expected):
    async with provider_for(fake) as provider:
        video = await provider.create(CreateVideo(prompt="a kite", model=model, size=size, seconds=seconds))
        body = fake.jobs[video.id].body
        assert {k: body[k] for k in ("size", "resolution", "aspect_ratio") if k in body} == expected
        assert body["model"] == model and body["duration"] == seconds and body["prompt"] == "a kite"
        assert fake.jobs[video.id].size == size
        finished = await done(provider, video)
        assert finished.state is VideoState.COMPLETED and finished.model == model


async def test_a_shape_or_length_the_model_lacks_is_refused_before_sending_naming_its_choices(fake):
    async with provider_for(fake) as provider:
        with pytest.raises(InvalidRequest) as caught:
            await provider.create(CreateVideo(prompt="a kite", model="google/veo-3.1", size="1080x1080"))
        assert caught.value.code == "size_unavailable"
        assert "Google: Veo 3.1" in caught.value.user_message and "1280×720" in caught.value.user_message
        with pytest.raises(InvalidRequest) as caught:
            await provider.create(CreateVideo(prompt="a kite", model="alibaba/wan-2.6", seconds=4))
        assert caught.value.code == "seconds_unavailable" and "5 s or 10 s" in caught.value.user_message
        with pytest.raises(InvalidRequest) as caught:
            await provider.create(CreateVideo(prompt="a kite", model="no-such/model"))
        assert caught.value.code == "model_unavailable"
    assert creates(fake) == [], "nothing was sent"


async def test_audio_seed_and_frames_go_only_where_the_model_takes_them(fake):
    async with provider_for(fake) as provider:
        veo = await provider.create(CreateVideo(
            prompt="a kite", model="google/veo-3.1", seconds=4, generate_audio=False, seed=7,
            image=png(1280, 720), last_frame=png(1280, 720)))
        body = fake.jobs[veo.id].body
        assert body["generate_audio"] is False and body["seed"] == 7
        assert [f["frame_type"] for f in body["frame_images"]] == ["first_frame", "last_frame"]
        assert body["frame_images"][0]["image_url"]["url"].startswith("data:image/png;base64,")
        assert fake.jobs[veo.id].last_frame_mime == "image/png"
        kling = await provider.create(CreateVideo(prompt="a kite", model="kwaivgi/kling-v3.0-pro", seconds=5, seed=7))
        assert "seed" not in fake.jobs[kling.id].body, "kling takes no seed"
        plain = await provider.create(CreateVideo(prompt="a kite", model="google/veo-3.1", seconds=4))
        assert set(fake.jobs[plain.id].body) == {"model", "prompt", "duration", "size"}
        sent = len(creates(fake))
        with pytest.raises(InvalidRequest) as caught:
            await provider.create(CreateVideo(prompt="a kite", model="alibaba/wan-2.6", seconds=5,
                                              last_frame=png(1280, 720)))
        assert caught.value.code == "image_unsupported" and "ending image" in caught.value.user_message
        assert len(creates(fake)) == sent


async def test_the_fake_refuses_what_the_model_lacks(fake):
    async with httpx.AsyncClient(base_url=fake.base_url, headers={"Authorization": f"Bearer {KEY}"}) as client:
        for wrong in ({"duration": 5}, {"resolution": "480p"}, {"aspect_ratio": "1:1"}, {"size": "1024x1024"},
                      {"frame_images": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="},
                                         "frame_type": "last_frame"}]}, {"bogus": 1}, {"callback_url": "http://x"}):
            body = {"model": "alibaba/wan-2.6" if "frame_images" in wrong else "google/veo-3.1", "prompt": "a",
                    **wrong}
            answer = await client.post("/videos", json=body)
            assert answer.status_code == 400, wrong
            assert answer.json()["error"]["code"] == 400
        assert (await client.post("/videos", json={"model": "google/veo-3.1", "prompt": "a"})).status_code == 202
    assert fake.create_count == 1


# --- models list ----------------------------------------------------------------------------------

async def test_list_models_returns_the_raw_records_and_feeds_the_encoder(fake):
    async with provider_for(fake) as provider:
        records = await provider.list_models()
        assert records == load_models()
        assert {r["id"] for r in records} >= {"google/veo-3.1", "alibaba/wan-2.6", "kwaivgi/kling-v3.0-pro"}
        await provider.create(CreateVideo(prompt="a", model="google/veo-3.1"))
        assert [r.kind for r in fake.requests] == ["models", "create"], "the cached list is used"


async def test_a_models_list_without_a_key_works_on_the_fake(fake):
    async with httpx.AsyncClient() as client:
        answer = await client.get(fake.base_url + "/videos/models")
    assert answer.status_code == 200 and len(answer.json()["data"]) == len(load_models())


@pytest.mark.parametrize("data", [[], {"data": "x"}, {"data": [1, 2]}, {"data": [{"name": "no id"}]},
                                  {"data": [{"id": ""}]}, {"data": [{"id": str(n)} for n in range(501)]}])
def test_a_models_list_that_is_not_a_list_of_records_is_a_typed_error(data):
    with pytest.raises(SoraError):
        wire.models_records(data)


def test_veo_is_the_full_record_from_the_spec():
    [veo] = [m for m in load_models() if m["id"] == "google/veo-3.1"]
    assert veo["canonical_slug"] == "google/veo-3.1-20260320" and veo["created"] == 1774277148
    assert veo["pricing_skus"]["duration_seconds_with_audio"] == "0.40"
    assert wire.model_sizes(veo)[:2] == ["720x1280", "1080x1920"]


# --- polling, downloads and the key ---------------------------------------------------------------

@pytest.mark.parametrize("polling", ["relative", "absolute"])
async def test_polls_follow_the_polling_url(tmp_path, polling):
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.2, polling=polling,
                              paths={"status": "/jobs/{id}/poll"}) as fake, provider_for(fake) as provider:
        finished = await done(provider, await provider.create(CreateVideo(prompt="a", model="google/veo-3.1")))
        polls = [r for r in fake.requests if r.kind == "status"]
        assert polls and all(r.path.endswith("/poll") for r in polls), "the default path is never used"
        assert await provider.download(finished, tmp_path / "v.mp4") > 0


async def test_a_polling_url_on_another_host_is_ignored(fake):
    async with provider_for(fake) as provider:
        video = await provider.create(CreateVideo(prompt="a", model="google/veo-3.1"))
        provider._remember(video.id, polling_url="https://evil.example/api/v1/videos/x")
        await provider.retrieve(video.id)
        assert fake.requests[-1].kind == "status" and fake.requests[-1].path.endswith(video.id)


async def test_content_needs_the_key_and_unsigned_urls_get_it(fake, tmp_path):
    async with provider_for(fake) as provider:
        finished = await done(provider, await provider.create(CreateVideo(prompt="a", model="google/veo-3.1")))
        assert finished.download_url.startswith(fake.origin) and finished.download_url.endswith("?index=0")
        async with httpx.AsyncClient() as client:
            assert (await client.get(finished.download_url)).status_code == 401
        assert await provider.download(finished, tmp_path / "v.mp4") > 1000
        content = fake.requests[-1]
        assert content.kind == "content" and content.authorization == f"Bearer {KEY}"
        assert content.query == {"index": "0"}


async def test_signed_urls_need_no_key_and_never_get_it(tmp_path):
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.1, signed_urls=True) as fake, \
            provider_for(fake) as provider:
        finished = await done(provider, await provider.create(CreateVideo(prompt="a", model="google/veo-3.1")))
        assert finished.download_url.startswith(fake.cdn_origin) and finished.expires_at is not None
        assert await provider.download(finished, tmp_path / "v.mp4") > 1000
        assert fake.requests[-1].kind == "file" and fake.requests[-1].authorization is None


async def test_an_unsigned_url_on_another_host_does_not_get_the_key(fake, tmp_path):
    async with provider_for(fake) as provider:
        finished = await done(provider, await provider.create(CreateVideo(prompt="a", model="google/veo-3.1")))
        elsewhere = finished.model_copy(update={"download_url": finished.download_url.replace(
            fake.origin, fake.cdn_origin)})
        assert await provider.download(elsewhere, tmp_path / "v.mp4") > 1000
        first, second = [r for r in fake.requests if r.kind == "content"]
        assert first.authorization is None, "the key never leaves the API's origin"
        assert second.authorization == f"Bearer {KEY}", "then the content endpoint on the API host"


async def test_octet_stream_downloads_are_accepted(tmp_path):
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.1, content_type="application/octet-stream") as fake, \
            provider_for(fake) as provider:
        finished = await done(provider, await provider.create(CreateVideo(prompt="a", model="google/veo-3.1")))
        dest = tmp_path / "v.mp4"
        assert await provider.download(finished, dest) > 1000 and dest.read_bytes()[4:8] == b"ftyp"


# --- outcomes ----------------------------------------------------------------------------------------

async def test_402_is_insufficient_credits_and_nothing_is_made(fake):
    fake.set_credits(0)
    async with provider_for(fake) as provider:
        with pytest.raises(InsufficientCredits) as caught:
            await provider.create(CreateVideo(prompt="a", model="google/veo-3.1"))
    assert caught.value.status_code == 402 and "credit" in caught.value.user_message
    assert fake.create_count == 0 and len(creates(fake)) == 1, "not retried"


async def test_403_moderation_is_a_content_policy_refusal(fake):
    fake.moderate_next_creates()
    async with provider_for(fake) as provider:
        with pytest.raises(ContentPolicyRejected) as caught:
            await provider.create(CreateVideo(prompt="a", model="google/veo-3.1"))
    assert caught.value.status_code == 403 and "safety" in caught.value.user_message


@pytest.mark.parametrize(("knob", "ending", "words"), [("cancel_next_jobs", "cancelled", "cancelled"),
                                                       ("expire_next_jobs", "expired", "time limit")])
async def test_cancelled_and_expired_jobs_fail_in_plain_words(fake, knob, ending, words):
    getattr(fake, knob)()
    async with provider_for(fake) as provider:
        finished = await done(provider, await provider.create(CreateVideo(prompt="a", model="google/veo-3.1")))
    assert finished.state is VideoState.FAILED and finished.error is not None
    assert finished.error.ending == ending and finished.error.code == f"job_{ending}"
    assert words in finished.error.message and not finished.error.content_policy


async def test_usage_cost_is_the_real_charge(fake):
    fake.cost_per_second = 0.4
    async with provider_for(fake) as provider:
        video = await provider.create(CreateVideo(prompt="a", model="google/veo-3.1", seconds=8))
        assert video.cost_usd is None
        assert (await done(provider, video)).cost_usd == pytest.approx(3.2)


@pytest.mark.parametrize(("usage", "cost"), [({"cost": 0.25}, 0.25), ({"cost": 0}, 0.0), ({"cost": None}, None),
                                             ({"cost": -1}, None), ({"cost": float("nan")}, None),
                                             ({"cost": 1e9}, None), ({"cost": True}, None), ({"cost": "0.2"}, None),
                                             (None, None), ("x", None)])
def test_cost_is_bounded_and_validated(usage, cost):
    assert wire.cost_of(usage) == cost


async def test_attribution_headers_and_callback_url(fake):
    async with provider_for(fake, callback_url="https://bot.example/webhooks/openrouter",
                            referer="https://example.org/bot", title="Our Bot") as provider:
        video = await done(provider, await provider.create(CreateVideo(prompt="a", model="google/veo-3.1")))
    assert fake.jobs[video.id].body["callback_url"] == "https://bot.example/webhooks/openrouter"
    assert fake.headers_seen and all(h.get("HTTP-Referer") == "https://example.org/bot"
                                     and h.get("X-OpenRouter-Title") == "Our Bot" for h in fake.headers_seen)
    async with provider_for(fake, referer=None, title=None) as bare:
        await bare.list_models()
    assert "HTTP-Referer" not in fake.headers_seen[-1] and "X-OpenRouter-Title" not in fake.headers_seen[-1]


# --- continuation ------------------------------------------------------------------------------------

async def test_continuation_on_the_same_model(fake):
    async with provider_for(fake) as provider:
        parent = await done(provider, await provider.create(CreateVideo(prompt="a boat", model="google/veo-3.1")))
        child = await provider.create(CreateVideo(prompt="at dusk", model="google/veo-3.1",
                                                  previous_job_id=parent.id))
        assert fake.jobs[child.id].body["previous_job_id"] == parent.id and child.remixed_from == parent.id
        assert (await done(provider, child)).state is VideoState.COMPLETED
        again = await provider.remix(parent.id, "at night")
        assert fake.jobs[again.id].remixed_from == parent.id and fake.jobs[again.id].model == "google/veo-3.1"


async def test_a_model_without_continuation_is_refused_before_or_by_the_service(fake):
    async with provider_for(fake) as provider:
        parent = await done(provider, await provider.create(CreateVideo(prompt="a", model="alibaba/wan-2.6",
                                                                        seconds=5)))
        assert not provider.can_continue("alibaba/wan-2.6") and provider.can_continue("google/veo-3.1")
        sent = len(creates(fake))
        with pytest.raises(ContinuationUnsupported):
            await provider.create(CreateVideo(prompt="b", model="alibaba/wan-2.6", seconds=5,
                                              previous_job_id=parent.id))
        assert len(creates(fake)) == sent
    async with provider_for(fake, continuation_models=["alibaba/wan-2.6"]) as optimist:
        optimist.seed_models(load_models())
        with pytest.raises(ContinuationUnsupported) as caught:  # the fake (like the service) says 400
            await optimist.create(CreateVideo(prompt="b", model="alibaba/wan-2.6", seconds=5,
                                              previous_job_id=parent.id))
        assert caught.value.status_code == 400 and "nothing was sent" not in caught.value.user_message
        assert "says Alibaba: Wan 2.6 can't continue" in caught.value.user_message


def test_the_settings_default_continuation_list_is_the_built_in_one():
    assert set(Settings(_env_file=None).openrouter_continuation_models) == wire.CONTINUATION_MODELS


# --- webhooks (the fake's sender) ----------------------------------------------------------------------

def test_signature_matches_the_spec_test_vector():
    body = (b'{"type":"video.generation.completed","created_at":"2026-04-24T12:00:00.000Z","data":{"id":"job_test",'
            b'"status":"completed","unsigned_urls":["https://example.com/video.mp4"]}}')
    assert sign("dev_secret", body, 1777032000) == (
        "t=1777032000,v1=0b8fb8bcea38083148099586664ccc98915e2ba9c59ecd2c2989477f95137e44")


def test_failed_like_events_carry_no_urls_or_usage():
    event = webhook_envelope("expired", {"id": "j", "status": "expired", "error": "e", "usage": {"cost": 1}})
    assert event["type"] == "video.generation.expired" and "usage" not in event["data"]
    assert event["created_at"].endswith("Z") and len(event["created_at"]) == 24
    with pytest.raises(ValueError):
        webhook_envelope("pending", {})


async def test_the_fake_posts_a_signed_event_to_the_callback_url_when_a_job_ends():
    received: list[tuple[bytes, dict[str, str]]] = []

    async def receiver(request: web.Request) -> web.Response:
        received.append((await request.read(), dict(request.headers)))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/webhooks/openrouter", receiver)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with FakeOpenRouter(api_key=KEY, render_seconds=0.1, webhooks=True, webhook_secret="dev_secret") as fake:
            async with provider_for(fake, callback_url=f"http://127.0.0.1:{port}/webhooks/openrouter") as provider:
                video = await provider.create(CreateVideo(prompt="a", model="google/veo-3.1"))
            async with asyncio.timeout(5):
                while not fake.callback_deliveries:
                    await asyncio.sleep(0.05)
            assert fake.callback_deliveries == [("video.generation.completed", 204)]
    finally:
        await runner.cleanup()
    [(raw, headers)] = received
    event = json.loads(raw)
    assert event["data"]["id"] == video.id and event["data"]["model"] == "google/veo-3.1"
    assert event["data"]["usage"]["cost"] > 0
    assert headers["X-OpenRouter-Idempotency-Key"] == f"{video.id}-completed"
    t = headers["X-OpenRouter-Signature"].split(",")[0].removeprefix("t=")
    assert headers["X-OpenRouter-Signature"] == sign("dev_secret", raw, int(t))


async def test_concurrent_first_creates_share_one_models_fetch(fake):
    async with provider_for(fake) as provider:
        await asyncio.gather(*(provider.create(CreateVideo(prompt=f"a {n}", model="google/veo-3.1"))
                               for n in range(5)))
    assert fake.count("models") == 1 and fake.create_count == 5


async def test_the_metered_wrapper_offers_list_models_only_where_the_provider_has_it(fake):
    from bot.metrics import Metrics
    from bot.sora.client import HttpVideoProvider
    from bot.sora.dialects import OPENAI
    from bot.sora.metered import MeteredProvider

    async with provider_for(fake) as provider:
        metered = MeteredProvider(provider, Metrics())
        assert (await metered.list_models()) == load_models()
        assert metered.continues_by_create and not metered.can_continue("alibaba/wan-2.6")
    plain = MeteredProvider(HttpVideoProvider(base_url="http://127.0.0.1:9/v1", api_key="k", profile=OPENAI),
                            Metrics())
    assert getattr(plain, "list_models", None) is None and getattr(plain, "can_continue", None) is None
    assert not plain.continues_by_create
    await plain.aclose()


def test_the_status_message_says_plainly_that_credit_ran_out():
    from bot.texts import JobView, status_text

    view = JobView(job_id="7", user_id=1, prompt="a kite", model="google/veo-3.1", size="1280x720", seconds=8)
    text = status_text(view, state="requested", queue_position=2, credit_paused=True)
    assert "video credit has run out" in text and "nothing has been charged" in text and "#2" not in text
    assert "video credit" not in status_text(view, state="requested", queue_position=2)
