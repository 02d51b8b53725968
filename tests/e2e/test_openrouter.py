"""`/sora` on `SORA_PROVIDER=openrouter`, through the fake Discord and the loopback OpenRouter fake:
three models with different capability sets generate and deliver, a remix is a continuation, and a
402, a 403 moderation, a cancelled and an expired job each end with plain words and the ledger right."""

from __future__ import annotations

import asyncio

import pytest

from bot.sandbox.fake_discord import FakeDiscord
from bot.sandbox.fake_providers.openrouter import FakeOpenRouter
from bot.sandbox.product import running_product
from tests.e2e.product import is_result, job_id_of, product_settings
from tests.e2e.test_remix import fill_in, remix_result_of

KEY = "sk-or-v1-e2e"
MODELS = "google/veo-3.1,alibaba/wan-2.6,kwaivgi/kling-v3.0-pro"
TIMEOUT = 30


def openrouter_settings(tmp_path, fake: FakeDiscord, router: FakeOpenRouter, **overrides):
    return product_settings(
        tmp_path, fake, SORA_PROVIDER="openrouter", SORA_BASE_URL=router.base_url, SORA_API_KEY=KEY,
        SORA_ALLOWED_MODELS=MODELS, QUOTA_DEFAULT_MODELS=MODELS, SORA_ALLOWED_SECONDS="4,5,8,10",
        QUOTA_DEFAULT_SECONDS="4,5,8,10",
        PRICE_PER_SECOND='{"google/veo-3.1": "0.40", "alibaba/wan-2.6": "0.10", "kwaivgi/kling-v3.0-pro": "0.20"}',
        **overrides)


async def settled(product, job_id: int) -> dict:
    """The ledger row once delivery has recorded it (the post lands a moment before the record)."""
    async def entry():
        row = await product.bot.repo.ledger_entry(job_id)
        return row if row is not None and row["status"] != "reserved" else None
    async with asyncio.timeout(TIMEOUT):
        while (row := await entry()) is None:
            await asyncio.sleep(0.05)
    return row


async def status_of(fake: FakeDiscord, job_id: int, words: str):
    def found():
        return [m for m in fake.messages("general")
                if m.author_id == fake.bot.id and f"`{job_id}`" in m.content and words in m.content]
    return (await fake.wait_until(found, timeout=TIMEOUT))[0]


@pytest.mark.parametrize(("model", "seconds", "size"), [
    ("google/veo-3.1", 4, "1280x720"),  # sizes listed, audio, seed, first+last frame
    ("alibaba/wan-2.6", 5, "720x1280"),  # resolution x aspect only, first frame only, 5 or 10 s
    ("kwaivgi/kling-v3.0-pro", 5, "1280x720"),  # 720p only, no seed
])
async def test_sora_generates_and_delivers_on_three_models(fake, tmp_path, model, seconds, size):
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.5, cost_per_second=0.03) as router:
        settings = openrouter_settings(tmp_path, fake, router, SORA_DEFAULT_MODEL=model,
                                       SORA_DEFAULT_SECONDS=seconds, SORA_DEFAULT_SIZE=size)
        async with running_product(fake, settings) as product:
            h = await fake.slash("alice", "general", "sora", {"prompt": "a red kite over hills"})
            reply = await h.followup()
            assert reply.ephemeral and "accepted" in reply.content, reply.content
            job_id = job_id_of(reply.content)
            result = await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=TIMEOUT)
            assert model in result.content, "the caption says which model made it"
            assert result.attachments[0].data[4:8] == b"ftyp"
            job = await product.bot.repo.get_job(job_id)
            upstream = router.jobs[job.provider_id]
            assert upstream.model == model and upstream.seconds == seconds and upstream.size == size
            entry = await settled(product, job_id)
            assert entry["status"] == "settled" and entry["usd"] == pytest.approx(0.03 * seconds)


async def test_remix_button_continues_the_video_on_the_same_model(fake, tmp_path):
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.4) as router:
        settings = openrouter_settings(tmp_path, fake, router, SORA_DEFAULT_MODEL="google/veo-3.1")
        async with running_product(fake, settings) as product:
            h = await fake.slash("alice", "general", "sora", {"prompt": "a paper boat"})
            parent_id = job_id_of((await h.followup()).content)
            parent = await fake.wait_for_message(lambda m: is_result(m, parent_id), channel="general",
                                                 timeout=TIMEOUT)
            click = await fake.click("alice", parent, f"sora:remix:{parent_id}")
            answer = await fill_in(fake, "alice", "general", click, "make it night")
            assert "accepted" in answer.content
            post = await remix_result_of(fake, parent, job_id_of(answer.content))
            assert "google/veo-3.1" in post.content and f"remix of `{parent_id}`" in post.content
            child = await product.bot.repo.get_job(job_id_of(answer.content))
            parent_job = await product.bot.repo.get_job(parent_id)
            body = router.jobs[child.provider_id].body
            assert body["previous_job_id"] == parent_job.provider_id and body["model"] == "google/veo-3.1"


async def test_402_pauses_says_so_plainly_and_the_video_follows_once_credit_is_back(fake, tmp_path):
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.3, credits=0) as router:
        settings = openrouter_settings(tmp_path, fake, router, SORA_DEFAULT_MODEL="google/veo-3.1",
                                       CREDIT_RECHECK_SECONDS=30)
        async with running_product(fake, settings) as product:
            h = await fake.slash("alice", "general", "sora", {"prompt": "a lantern"})
            reply = await h.followup()
            assert "accepted" in reply.content
            job_id = job_id_of(reply.content)
            await status_of(fake, job_id, "video credit has run out")
            assert (await product.bot.repo.ledger_entry(job_id))["status"] == "reserved"
            assert [m for m in fake.messages("general") if "could not be made" in m.content] == []
            router.set_credits(None)
            await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=TIMEOUT)
            assert router.create_count == 1
            assert (await settled(product, job_id))["status"] == "settled"


@pytest.mark.parametrize(("knob", "words"), [
    ("moderate_next_creates", "content policy"),
    ("cancel_next_jobs", "cancelled it before it was finished"),
    ("expire_next_jobs", "took too long and dropped it"),
])
async def test_refusals_and_lost_jobs_end_in_plain_words_refunded(fake, tmp_path, knob, words):
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.3) as router:
        getattr(router, knob)()
        settings = openrouter_settings(tmp_path, fake, router, SORA_DEFAULT_MODEL="google/veo-3.1")
        async with running_product(fake, settings) as product:
            h = await fake.slash("alice", "general", "sora", {"prompt": "a kite"})
            job_id = job_id_of((await h.followup()).content)
            alice = fake.user("alice")
            told = await fake.wait_for_message(
                lambda m: m.author_id == fake.bot.id and f"`{job_id}` could not be made" in m.content,
                channel="general", timeout=TIMEOUT)
            assert words in told.content and told.mentions == [alice.id]
            assert "does not count against your quota" in told.content
            assert (await settled(product, job_id))["status"] == "refunded"


async def test_choices_come_from_the_live_model_list_and_a_picked_model_delivers(fake, tmp_path):
    """No static lists: `/sora` offers what the OpenRouter fake's `/videos/models` says, and a member's
    picks (a model that lists no sizes, so the shape goes as resolution + aspect_ratio; priced by
    PRICE_PER_SECOND as its record has no per-second SKU) reach it."""
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.4, cost_per_second=0.05) as router:
        settings = product_settings(tmp_path, fake, SORA_PROVIDER="openrouter", SORA_BASE_URL=router.base_url,
                                    SORA_API_KEY=KEY, PRICE_PER_SECOND='{"alibaba/wan-2.6": "0.10"}')
        async with running_product(fake, settings) as product:
            await asyncio.wait_for(product.bot.catalog.refreshed.wait(), TIMEOUT)
            models = {c["value"]: c["name"] for c in
                      await fake.autocomplete("alice", "general", "sora", {"prompt": "x"}, focused="model")}
            assert models["google/veo-3.1"].startswith("Google: Veo 3.1") and "alibaba/wan-2.6" in models
            sizes = [c["value"] for c in await fake.autocomplete(
                "alice", "general", "sora", {"model": "alibaba/wan-2.6"}, focused="size")]
            assert "1280x720" in sizes and "720x1280" in sizes and "3840x2160" not in sizes
            seconds = [c["value"] for c in await fake.autocomplete(
                "alice", "general", "sora", {"model": "alibaba/wan-2.6"}, focused="seconds")]
            assert seconds == [5, 10]
            h = await fake.slash("alice", "general", "sora", {"prompt": "a paper boat", "model": "alibaba/wan-2.6",
                                                              "size": "1280x720", "seconds": 10})
            reply = await h.followup()
            assert reply.ephemeral and "accepted" in reply.content, reply.content
            job_id = job_id_of(reply.content)
            result = await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=TIMEOUT)
            assert "alibaba/wan-2.6" in result.content
            job = await product.bot.repo.get_job(job_id)
            body = router.jobs[job.provider_id].body
            assert body["model"] == "alibaba/wan-2.6" and body["duration"] == 10
            assert body.get("resolution") == "720p" and body.get("aspect_ratio") == "16:9" and "size" not in body
            entry = await settled(product, job_id)
            assert entry["status"] == "settled" and entry["usd"] == pytest.approx(0.05 * 10)
