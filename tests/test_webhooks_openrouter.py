"""OpenRouter's push end to end on loopback: the real OpenRouter provider sends `callback_url` with
every create, the OpenRouter fake POSTs its signed `video.generation.*` event there when the render
ends, and the real receiver makes the job due: one status request, delivered long before the
safety-net poll. A replayed push does nothing twice; a dead receiver only makes delivery slower."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

import httpx

from bot.sandbox.fake_providers.openrouter import FakeOpenRouter
from bot.sandbox.recording import member
from bot.sora.factory import build_provider
from bot.webhooks.receiver import WebhookReceiver
from tests.engine_harness import Harness, make_settings

KEY = "sk-or-v1-webhooks"
SECRET = "whsec_" + "c29yYS1ib3Qtd2ViaG9vay10ZXN0LXNlY3JldC0zMmJ5dGVz"  # one secret for both routes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def world(tmp_path, *, render: float = 0.3) -> AsyncIterator[tuple[FakeOpenRouter, Harness, WebhookReceiver]]:
    port = free_port()
    async with FakeOpenRouter(api_key=KEY, render_seconds=render, webhooks=True, webhook_secret=SECRET) as router:
        settings = make_settings(tmp_path, SORA_PROVIDER="openrouter", SORA_BASE_URL=router.base_url,
                                 SORA_API_KEY=KEY, SORA_DEFAULT_MODEL="google/veo-3.1")
        provider = build_provider(settings, callback_url=f"http://127.0.0.1:{port}/webhooks/openrouter")
        async with Harness(settings, provider, time_scale=0.05, webhooks=True) as h:
            receiver = WebhookReceiver(host="127.0.0.1", port=port, secret=SECRET, repo=h.repo, poller=h.poller,
                                       provider_name=h.provider.name)
            await receiver.start()
            try:
                yield router, h, receiver
            finally:
                await receiver.stop()


async def request(h: Harness) -> int:
    out = await h.service.request_video(member(), prompt="a lantern on a lake")
    assert out.accepted, out.message
    return out.job.id


async def test_the_push_gets_the_video_delivered_with_one_status_request(tmp_path):
    async with world(tmp_path) as (router, h, receiver):
        job_id = await request(h)
        started = time.monotonic()
        job = await h.wait_for(job_id, "delivered", timeout=6)
        assert time.monotonic() - started < 5, "delivered on the push, not on a safety-net poll (~10 s)"
        assert router.jobs[job.provider_id].callback_url == receiver.url("openrouter")
        assert router.callback_deliveries == [("video.generation.completed", 200)]
        assert router.count("status") == 1
        assert receiver.outcomes["accepted"] == 1
        assert [r.job_id for r in h.publisher.results] == [job_id]


async def test_a_replayed_push_does_nothing_twice(tmp_path):
    async with world(tmp_path) as (router, h, receiver):
        job_id = await request(h)
        job = await h.wait_for(job_id, "delivered", timeout=6)
        for _ in range(2):
            assert await router.send_webhook(job.provider_id) == 200  # same idempotency key
        await asyncio.sleep(0.3)
        assert router.count("status") == 1 and len(h.publisher.results) == 1
        assert receiver.outcomes == {"accepted": 1, "duplicate": 2}


async def test_a_dead_receiver_only_makes_delivery_slower(tmp_path):
    async with world(tmp_path, render=0.2) as (router, h, receiver):
        await receiver.stop()
        job_id = await request(h)
        job = await h.wait_for(job_id, "delivered", timeout=30)  # by the safety-net poll
        assert router.callback_deliveries and router.callback_deliveries[0][1] != 200
        assert len(h.publisher.results) == 1 and (await h.repo.ledger_entry(job.id))["status"] == "settled"
        async with httpx.AsyncClient() as http:  # nothing listens any more
            try:
                await http.get(receiver.url("openrouter"), timeout=1)
                raise AssertionError("the receiver still answers")
            except httpx.ConnectError:
                pass


async def test_with_webhooks_on_an_unknown_model_is_not_polled_early(tmp_path):
    """No progress and no history would mean early, doubling polls (8, 16, 32 s …); with the push
    on, polls are only the stretched safety net: one status request, after the push."""
    async with world(tmp_path, render=1.5) as (router, h, _receiver):  # ~30 s unscaled at 1/20
        job_id = await request(h)
        await h.wait_for(job_id, "delivered", timeout=10)
        assert router.count("status") == 1
