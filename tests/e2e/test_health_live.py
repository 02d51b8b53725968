"""/healthz and /metrics of the running bot (real checks: gateway, poller, database), scraped."""

from __future__ import annotations

import asyncio

import httpx

from bot.app import health_checks
from bot.health import HealthServer
from bot.sandbox.fake_discord import FakeDiscord
from bot.sandbox.product import running_product
from tests.e2e.product import is_result, job_id_of, product_settings


async def test_health_and_metrics_of_a_running_bot(tmp_path):
    async with FakeDiscord() as fake, running_product(fake, product_settings(tmp_path, fake)) as product:
        bot = product.bot
        server = HealthServer("127.0.0.1", 0, health_checks(bot), bot.metrics)
        await server.start()
        try:
            h = await fake.slash("alice", "general", "sora", {"prompt": "metrics please"})
            job_id = job_id_of((await h.followup()).content)
            await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=30)
            for _ in range(100):  # the engine records the delivery just after Discord has the post
                if (await bot.repo.get_job(job_id)).state.value == "delivered":
                    break
                await asyncio.sleep(0.02)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
                health = await client.get("/healthz")
                assert health.status_code == 200
                assert health.json()["checks"] == {"gateway": True, "poller": True, "database": True}
                text = (await client.get("/metrics")).text
            assert 'sora_bot_jobs{state="delivered"} 1.0' in text
            assert 'sora_bot_submissions_total{model="sora-2",provider="simulated"} 1.0' in text
            assert 'sora_bot_provider_latency_seconds_count{operation="download"} 1.0' in text
            assert "sora_bot_delivery_latency_seconds_count 1.0" in text

            await bot.poller.stop(grace=1)  # a dead poller turns the endpoint unhealthy
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
                health = await client.get("/healthz")
            assert health.status_code == 503 and health.json()["checks"]["poller"] is False
        finally:
            await server.stop()
