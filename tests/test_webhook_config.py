"""Webhook settings, the callback-URL helper, the secret in logs, and the safety-net schedule."""

from __future__ import annotations

import io
import logging
import random

import pytest
from pydantic import ValidationError

from bot.app import engine_config
from bot.engine.context import EngineConfig, EngineContext
from bot.engine.schedule import DEFAULT_CONFIG, next_poll_delay
from bot.logs import KeyValueFormatter, SecretFilter, scrub
from bot.settings import Settings

SECRET = "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c="


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **{"SORA_PROVIDER": "openai", "SORA_API_KEY": "k", **values})


# --- settings ------------------------------------------------------------------------------------
def test_webhooks_are_off_by_default():
    s = settings()
    assert s.webhook_port is None and s.webhook_host == "127.0.0.1" and s.webhook_public_url is None
    assert s.sora_webhook_secret is None and not s.webhooks_enabled
    assert s.webhook_callback_url("openrouter") is None
    assert engine_config(s).webhooks is False


def test_webhooks_need_a_port_and_a_secret():
    assert not settings(WEBHOOK_PORT="8090").webhooks_enabled
    assert not settings(WEBHOOK_PORT="8090", SORA_WEBHOOK_SECRET="  ").webhooks_enabled
    assert not settings(SORA_WEBHOOK_SECRET=SECRET).webhooks_enabled
    on = settings(WEBHOOK_PORT="8090", SORA_WEBHOOK_SECRET=SECRET)
    assert on.webhooks_enabled and engine_config(on).webhooks is True
    for silent in ("simulated", "xingchaoyiqing"):  # they never push: polling stays as it is
        assert not settings(WEBHOOK_PORT="8090", SORA_WEBHOOK_SECRET=SECRET, SORA_PROVIDER=silent).webhooks_enabled
    assert settings(WEBHOOK_PORT="8090", SORA_WEBHOOK_SECRET=SECRET, SORA_PROVIDER="juheapi").webhooks_enabled
    assert SECRET not in repr(on) and SECRET not in str(on.model_dump())


def test_callback_url_for_a_provider():
    s = settings(WEBHOOK_PUBLIC_URL="https://bot.example.com/hooks/")
    assert s.webhook_public_url == "https://bot.example.com/hooks"
    assert s.webhook_callback_url("openrouter") == "https://bot.example.com/hooks/webhooks/openrouter"
    assert s.webhook_callback_url("openai") == "https://bot.example.com/hooks/webhooks/openai"
    assert settings(WEBHOOK_PUBLIC_URL="http://127.0.0.1:9000").webhook_callback_url("openrouter") == (
        "http://127.0.0.1:9000/webhooks/openrouter")  # plain http only on loopback (tests)


@pytest.mark.parametrize("url", ["http://bot.example.com", "ftp://x.example", "bot.example.com",
                                 "https://", "https://bot.example.com/?a=1"])
def test_public_url_must_be_https(url):
    with pytest.raises(ValidationError, match="WEBHOOK_PUBLIC_URL"):
        settings(WEBHOOK_PUBLIC_URL=url)


def test_the_secret_never_reaches_a_log_line():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretFilter([SECRET]))
    handler.setFormatter(KeyValueFormatter())
    logger = logging.getLogger("test.webhook.secret")
    logger.addHandler(handler)
    try:
        logger.warning("configured with %s", SECRET)
        logger.warning("a shape we were not told about: whsec_c2VjcmV0c2VjcmV0c2VjcmV0")
    finally:
        logger.removeHandler(handler)
    assert "whsec_" not in stream.getvalue() and "***" in stream.getvalue()
    assert "whsec_" not in scrub("key whsec_AAAAAAAAAAAAAAAAAAAA==")


# --- the safety-net schedule ----------------------------------------------------------------------
def _delay(config, elapsed, expected=100.0, progress=None, state="running", **kw):
    return next_poll_delay(elapsed=elapsed, expected=expected, progress=progress, state=state,
                           rng=random.Random(1), config=config, **kw)


def test_with_webhooks_the_first_poll_waits_one_and_a_half_times_the_expected_time():
    net = DEFAULT_CONFIG.with_webhooks()
    first = _delay(net, 0.0, expected=200.0, state="queued")
    assert 270 <= first <= 330  # 1.5 × 200 ± 10 % jitter, past max_delay (60 s)
    assert _delay(DEFAULT_CONFIG, 0.0, expected=200.0, state="queued") <= 66  # without: capped
    assert 162 <= _delay(net, 250.0, expected=200.0) <= 198  # after an early poll: an interval, not 50 s
    assert 225 <= _delay(net, 50.0, expected=200.0) <= 275  # … or the rest of the way to 1.5 × expected
    # The expected time grew since submission: a poll just short of the new first mark waits an interval.
    assert _delay(net, 290.0, expected=200.0) >= 162


def test_with_webhooks_then_every_few_minutes_whatever_the_progress():
    net = DEFAULT_CONFIG.with_webhooks()
    for progress in (None, 10, 90, 99):
        delay = _delay(net, 400.0, expected=200.0, progress=progress, previous=(300.0, 5))
        assert 162 <= delay <= 198  # 180 s ± 10 %
    assert _delay(net, 400.0, state="completed") == 0.0  # a finished job is acted on at once


def test_with_webhooks_errors_and_provider_hints_still_apply():
    net = DEFAULT_CONFIG.with_webhooks()
    assert _delay(net, 400.0, expected=200.0, retry_after=600.0) >= 600.0
    assert _delay(net, 400.0, expected=200.0, attempt_errors=9) >= 180 * 0.9


def test_the_safety_net_scales_with_the_world():
    net = DEFAULT_CONFIG.with_webhooks().scaled(0.01)
    assert net.safety_net_interval == pytest.approx(1.8)
    assert 1.6 <= _delay(net, 5.0, expected=2.0) <= 2.0
    assert DEFAULT_CONFIG.scaled(0.01).safety_net_interval is None


def test_the_engine_picks_the_safety_net_when_webhooks_are_on(tmp_path):
    def ctx(webhooks: bool) -> EngineContext:
        return EngineContext(repo=None, provider=None, publisher=None,  # type: ignore[arg-type]
                             config=EngineConfig(data_dir=tmp_path, webhooks=webhooks, time_scale=0.5))
    assert ctx(True).schedule.safety_net_interval == pytest.approx(90.0)
    assert ctx(False).schedule == DEFAULT_CONFIG.scaled(0.5)
