"""The whole product with webhooks on: a member's /sora through the fake Discord, the fake relay
(openai dialect) pushing a signed `video.completed` to the receiver built from the settings, and the
video posted in the channel after one status request, well before the first safety-net poll."""

from __future__ import annotations

import socket
import time

from bot.sandbox.fake_discord import FakeDiscord
from bot.sandbox.fake_providers.relay import FakeRelay
from bot.sandbox.product import running_product
from bot.webhooks.receiver import webhook_receiver_from_settings
from tests.e2e.product import is_result, job_id_of, product_settings

SECRET = "whsec_c29yYS1ib3Qtd2ViaG9vay10ZXN0LXNlY3JldC0zMmJ5dGVz"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_member_gets_the_video_on_the_webhook(tmp_path):
    async with FakeDiscord() as fake, FakeRelay(dialect="openai", api_key="k", render_seconds=0.3) as relay:
        settings = product_settings(tmp_path, fake, SORA_PROVIDER="openai", SORA_BASE_URL=relay.base_url,
                                    SORA_API_KEY="k", WEBHOOK_PORT=free_port(), SORA_WEBHOOK_SECRET=SECRET)
        assert settings.webhooks_enabled
        async with running_product(fake, settings, time_scale=0.05) as product:  # safety net: first poll ~8 s
            assert product.bot.engine_ctx.config.webhooks
            receiver = webhook_receiver_from_settings(settings, product.bot.repo, product.bot.poller,
                                                      product.resources.provider.name, product.bot.metrics)
            assert receiver is not None
            await receiver.start()
            try:
                relay.send_webhooks(receiver.url("openai"), SECRET)
                started = time.monotonic()
                handle = await fake.slash("alice", "general", "sora", {"prompt": "a harbour at dawn"})
                job_id = job_id_of((await handle.followup()).content)
                await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=10)
                assert time.monotonic() - started < 6
                assert relay.count("status") == 1
                assert receiver.outcomes["accepted"] == 1
                text = product.bot.metrics.render().decode()
                assert 'sora_bot_webhooks_total{outcome="accepted",source="openai"} 1.0' in text
            finally:
                await receiver.stop()


def test_no_receiver_without_a_secret_or_for_a_provider_that_never_pushes(tmp_path, caplog):
    def receiver(**values):
        settings = product_settings(tmp_path, **values)
        made = webhook_receiver_from_settings(settings, None, None, "x")  # type: ignore[arg-type]
        assert (made is not None) == settings.webhooks_enabled
        return made

    assert receiver(SORA_PROVIDER="openai", SORA_API_KEY="k", WEBHOOK_PORT=free_port()) is None
    assert any("SORA_WEBHOOK_SECRET" in r.getMessage() for r in caplog.records)
    assert receiver(WEBHOOK_PORT=free_port(), SORA_WEBHOOK_SECRET=SECRET) is None  # simulated
    assert any("sends no webhooks" in r.getMessage() for r in caplog.records)
    assert receiver() is None
    assert receiver(SORA_PROVIDER="openai", SORA_API_KEY="k", WEBHOOK_PORT=free_port(),
                    SORA_WEBHOOK_SECRET=SECRET) is not None
