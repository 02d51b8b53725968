"""The job engine on the OpenRouter provider and its loopback fake (real SQLite, recording
publisher): the ledger settles at usage.cost, a 402 pauses every submission and resumes on its own,
cancelled/expired/moderated jobs end in plain words with a refund, remixes are continuations, and
a create whose answer was lost is never sent again."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.sandbox.fake_providers.openrouter import FakeOpenRouter
from bot.sandbox.recording import member
from bot.sora.openrouter import OpenRouterProvider
from bot.sora.retry import RetryPolicy
from tests.engine_harness import Harness, make_settings

KEY = "sk-or-v1-engine-test"
MODELS = "google/veo-3.1,alibaba/wan-2.6,kwaivgi/kling-v3.0-pro"
PRICES = '{"google/veo-3.1": "0.40", "alibaba/wan-2.6": "0.10", "kwaivgi/kling-v3.0-pro": "0.20"}'


def settings_for(tmp_path, **overrides):
    return make_settings(tmp_path, SORA_ALLOWED_MODELS=MODELS, QUOTA_DEFAULT_MODELS=MODELS,
                         SORA_ALLOWED_SECONDS="4,5,8,10", QUOTA_DEFAULT_SECONDS="4,5,8,10",
                         SORA_DEFAULT_MODEL="google/veo-3.1", PRICE_PER_SECOND=PRICES, **overrides)


@pytest.fixture
async def world(tmp_path):
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.3) as fake:
        provider = OpenRouterProvider(base_url=fake.base_url, api_key=KEY,
                                      retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02))
        settings = settings_for(tmp_path)
        async with Harness(settings, provider, credit_recheck=20.0, credit_recheck_max=80.0) as h:
            yield fake, h
        await provider.aclose()


async def ledger(h, job_id):
    return await h.repo.ledger_entry(job_id)


async def test_three_models_deliver_and_settle_at_the_real_charge(world):
    fake, h = world
    fake.cost_per_second = 0.37  # the "real" charge differs from the 0.40/0.10/0.20 estimates
    jobs = []
    for model, seconds in (("google/veo-3.1", 8), ("alibaba/wan-2.6", 5), ("kwaivgi/kling-v3.0-pro", 4)):
        outcome = await h.service.request_video(member(), prompt=f"a kite by {model}", model=model, seconds=seconds)
        assert outcome.accepted, outcome.message
        jobs.append((outcome.job.id, model, seconds))
    for job_id, model, seconds in jobs:
        job = await h.wait_for(job_id, "delivered")
        entry = await ledger(h, job_id)
        assert entry["status"] == "settled" and entry["usd"] == pytest.approx(round(0.37 * seconds, 4))
        assert job.provider_cost_usd == pytest.approx(round(0.37 * seconds, 4))
        [posted] = [r for r in h.publisher.results if r.job_id == job_id]
        assert model in posted.text, "the caption names the model that made it"
    bodies = {fake.jobs[j.provider_id].model: fake.jobs[j.provider_id].body
              for j in [await h.repo.get_job(i) for i, _, _ in jobs]}
    assert bodies["google/veo-3.1"]["size"] == "1280x720"
    assert (bodies["alibaba/wan-2.6"]["resolution"], bodies["alibaba/wan-2.6"]["aspect_ratio"]) == ("720p", "16:9")


async def test_402_pauses_everything_tells_plainly_and_resumes_without_a_second_charge(world, caplog):
    fake, h = world
    fake.set_credits(0)
    caplog.set_level(logging.INFO)
    first = await h.service.request_video(member(user_id=1), prompt="first while broke")
    second = await h.service.request_video(member(user_id=2), prompt="second while broke")
    assert first.accepted and second.accepted
    async with asyncio.timeout(10):
        while await h.repo.submission_pause("openrouter") is None:
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    for job_id in (first.job.id, second.job.id):
        job = await h.repo.get_job(job_id)
        assert job.state.value == "requested" and job.provider_id is None
        assert (await ledger(h, job_id))["status"] == "reserved", "kept, not refunded, not settled"
        texts = [p.text for p in h.publisher.progress if p.job_id == job_id]
        assert "video credit has run out" in texts[-1] and "nothing has been charged" in texts[-1]
    assert h.publisher.failures == [], "no refusal, no failure: they wait"
    third = await h.service.request_video(member(user_id=3), prompt="third while broke")
    assert "video credit has run out" in third.message
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "out of credit" in r.getMessage()]
    assert len(warnings) == 1, "one warning for the operator, not one per job"
    refused = fake.count("create")
    assert refused <= 2, "one probe at a time"
    fake.set_credits(None)  # the owner adds credit
    for outcome in (first, second, third):
        await h.wait_for(outcome.job.id, "delivered", timeout=30)
        assert (await ledger(h, outcome.job.id))["status"] == "settled"
    assert fake.create_count == 3, "each video made once"
    assert await h.repo.submission_pause("openrouter") is None
    assert any("submissions resumed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("knob", "words"), [
    ("cancel_next_jobs", "cancelled it before it was finished"),
    ("expire_next_jobs", "took too long and dropped it"),
    ("moderate_next_creates", "content policy"),
])
async def test_cancelled_expired_and_moderated_jobs_end_in_plain_words_refunded(world, knob, words):
    fake, h = world
    getattr(fake, knob)()
    outcome = await h.service.request_video(member(), prompt="a kite")
    job = await h.wait_for(outcome.job.id, "failed")
    assert (await ledger(h, job.id))["status"] == "refunded"
    assert job.error_code in ("job_cancelled", "job_expired", "ContentPolicyRejected", "403")
    [failure] = h.publisher.failures
    assert words in failure.text and "does not count against your quota" in failure.text
    assert h.publisher.results == []


async def test_remix_is_a_continuation_on_the_same_model(world):
    fake, h = world
    first = await h.service.request_video(member(), prompt="a lighthouse", seconds=4)
    parent = await h.wait_for(first.job.id, "delivered")
    outcome = await h.service.request_remix(member(user_id=2), parent, "make it night")
    assert outcome.accepted, outcome.message
    child = await h.wait_for(outcome.job.id, "delivered")
    sent = fake.jobs[child.provider_id]
    assert sent.body["previous_job_id"] == parent.provider_id and sent.model == "google/veo-3.1"
    assert (await ledger(h, child.id))["status"] == "settled"
    assert f"remix of `{parent.id}`" in h.publisher.results[-1].text


async def test_remix_of_a_model_that_cannot_continue_is_refused_privately(world):
    fake, h = world
    first = await h.service.request_video(member(), prompt="a field", model="alibaba/wan-2.6", seconds=5)
    parent = await h.wait_for(first.job.id, "delivered")
    before = fake.count("create")
    outcome = await h.service.request_remix(member(), parent, "add snow")
    assert not outcome.accepted and outcome.refusal == "remix_unsupported"
    assert "can't be remixed" in outcome.message and "alibaba/wan-2.6" in outcome.message
    assert fake.count("create") == before


async def test_a_continuation_the_service_refuses_is_refunded_with_words(tmp_path):
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.2, continuation_models=frozenset()) as fake:
        provider = OpenRouterProvider(base_url=fake.base_url, api_key=KEY)
        async with Harness(settings_for(tmp_path), provider) as h:
            first = await h.service.request_video(member(), prompt="a boat", seconds=4)
            parent = await h.wait_for(first.job.id, "delivered")
            outcome = await h.service.request_remix(member(), parent, "at dusk")
            job = await h.wait_for(outcome.job.id, "failed")
            assert (await ledger(h, job.id))["status"] == "refunded"
            assert "can't continue or remix" in h.publisher.failures[-1].text
        await provider.aclose()


async def test_a_lost_create_answer_is_never_resent(world):
    fake, h = world
    fake.fail_next_create_after_recording(status=502)
    outcome = await h.service.request_video(member(), prompt="a kite")
    job = await h.wait_for(outcome.job.id, "failed", timeout=20)
    assert job.error_code == "unknown_outcome"
    assert fake.create_count == 1 and fake.count("create") == 1, "made once upstream, never sent again"
    assert (await ledger(h, job.id))["status"] == "refunded"
    assert "could not confirm" in h.publisher.failures[-1].text


async def test_a_pause_in_the_database_holds_submissions_after_a_restart(tmp_path):
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.2) as fake:
        provider = OpenRouterProvider(base_url=fake.base_url, api_key=KEY)
        settings = settings_for(tmp_path)
        async with Harness(settings, provider) as h:  # an earlier run left the bot paused
            await h.repo.pause_submissions("openrouter", until=h.repo.clock() + 1.0, reason="402")
            outcome = await h.service.request_video(member(), prompt="after the restart")
            assert "video credit has run out" in outcome.message
            await asyncio.sleep(0.6)
            assert (await h.repo.get_job(outcome.job.id)).state.value == "requested"
            assert fake.count("create") == 0
            await h.wait_for(outcome.job.id, "delivered", timeout=20)  # the probe after `until` succeeds
            assert await h.repo.submission_pause("openrouter") is None and fake.create_count == 1
        await provider.aclose()


async def test_an_undelivered_render_stays_in_the_spend_at_the_real_charge(tmp_path):
    """Rendered upstream, never delivered: the member is refunded, the server's spend records what
    OpenRouter really charged (usage.cost), not the estimate."""
    from bot.engine.ports import DeliveryRejected
    from bot.sandbox.recording import RecordingPublisher

    class Undeliverable(RecordingPublisher):
        async def publish_result(self, job, video, caption):
            raise DeliveryRejected("the channel no longer exists")

    async with FakeOpenRouter(api_key=KEY, render_seconds=0.2, cost_per_second=0.37) as fake:
        provider = OpenRouterProvider(base_url=fake.base_url, api_key=KEY)
        async with Harness(settings_for(tmp_path), provider, publisher=Undeliverable()) as h:
            out = await h.service.request_video(member(), prompt="into the void", model="google/veo-3.1", seconds=8)
            assert out.accepted, out.message
            job = await h.wait_for(out.job.id, "failed")
            assert job.error_code == "undeliverable" and job.provider_cost_usd == pytest.approx(2.96)
            entry = await ledger(h, job.id)
            assert entry["status"] == "refunded" and entry["usd"] == pytest.approx(3.2)  # the estimate, 0.40/s
            assert entry["charged_usd"] == pytest.approx(2.96)
            usage = await h.service.usage(member())
            assert usage.user_entries == () and float(usage.guild_month_usd) == pytest.approx(2.96)
        await provider.aclose()
