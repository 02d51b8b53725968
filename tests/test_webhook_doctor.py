"""`doctor`'s webhook checks against real sockets: a live receiver, a free port, a foreign server."""

from __future__ import annotations

import socket

from aiohttp import web

from bot.doctor import Status, _secrets, render
from bot.settings import Settings
from bot.webhooks.checks import check_webhook_receiver, check_webhook_url
from bot.webhooks.receiver import WebhookReceiver
from db.database import open_store
from db.repository import Repository
from tests.pgtools import database_url

SECRET = "whsec_c29yYS1ib3Qtd2ViaG9vay10ZXN0LXNlY3JldC0zMmJ5dGVz"


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **{"SORA_PROVIDER": "openai", "SORA_API_KEY": "k", **values})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Idle:
    def nudge(self, job_id: int) -> None:
        raise AssertionError("nothing is delivered in these tests")


async def test_off_by_default():
    check = await check_webhook_receiver(settings())
    assert check.status is Status.OK and "off" in check.detail
    assert (await check_webhook_url(settings(), check)).status is Status.OK


async def test_public_url_without_a_secret_fails_naming_the_secret():
    check = await check_webhook_receiver(settings(WEBHOOK_PUBLIC_URL="https://bot.example.com"))
    assert check.status is Status.FAIL and "SORA_WEBHOOK_SECRET" in check.detail and check.fix
    check = await check_webhook_receiver(settings(WEBHOOK_PORT=str(free_port())))
    assert check.status is Status.FAIL and "SORA_WEBHOOK_SECRET" in check.detail


async def test_openai_needs_a_whsec_secret_and_a_provider_without_webhooks_is_a_warning():
    bad = await check_webhook_receiver(settings(WEBHOOK_PORT=str(free_port()), SORA_WEBHOOK_SECRET="dev_secret"))
    assert bad.status is Status.FAIL and "whsec_" in bad.detail
    simulated = await check_webhook_receiver(settings(SORA_PROVIDER="simulated", WEBHOOK_PORT=str(free_port()),
                                                      SORA_WEBHOOK_SECRET="dev_secret"))
    assert simulated.status is Status.WARN and "sends no webhooks" in simulated.detail


async def test_a_free_port_is_a_warning_the_bot_is_not_running():
    check = await check_webhook_receiver(settings(WEBHOOK_PORT=str(free_port()), SORA_WEBHOOK_SECRET=SECRET))
    assert check.status is Status.WARN and "not listening" in check.detail


async def test_a_live_receiver_and_a_public_url_leading_to_it(tmp_path):
    conn = await open_store(database_url(tmp_path))
    receiver = WebhookReceiver(host="127.0.0.1", port=0, secret=SECRET, repo=Repository(conn), poller=Idle(),
                               provider_name="openai")
    await receiver.start()
    try:
        s = settings(WEBHOOK_PORT=str(receiver.port), SORA_WEBHOOK_SECRET=SECRET,
                     WEBHOOK_PUBLIC_URL=f"http://127.0.0.1:{receiver.port}")
        check = await check_webhook_receiver(s)
        assert check.status is Status.OK and f"127.0.0.1:{receiver.port}" in check.detail
        url = await check_webhook_url(s, check)
        assert url.status is Status.OK and "leads to this receiver" in url.detail
        wrong = settings(WEBHOOK_PORT=str(receiver.port), SORA_WEBHOOK_SECRET=SECRET,
                         WEBHOOK_PUBLIC_URL=f"http://127.0.0.1:{free_port()}")
        assert (await check_webhook_url(wrong, check)).status is Status.WARN
        report = render([check, url], _secrets(s))
        assert SECRET not in report
    finally:
        await receiver.stop()
        await conn.close()


async def test_a_port_held_by_something_else_fails():
    app = web.Application()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        check = await check_webhook_receiver(settings(WEBHOOK_PORT=str(port), SORA_WEBHOOK_SECRET=SECRET))
        assert check.status is Status.FAIL and "something other than sora-bot" in check.detail
    finally:
        await runner.cleanup()


def test_the_webhook_secret_is_scrubbed_from_the_report():
    s = settings(SORA_WEBHOOK_SECRET="dev_secret_value")
    assert "dev_secret_value" in _secrets(s)
