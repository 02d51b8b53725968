"""The health server on loopback, scraped with httpx: /healthz answers 200 or 503, /metrics the registry."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.health import HealthServer, health_server_from_settings, run_checks
from bot.metrics import Metrics
from bot.settings import Settings


def _flag(value: bool):
    async def check() -> bool:
        return value

    return check


@pytest.fixture
async def serve():
    servers: list[HealthServer] = []

    async def start(checks, metrics=None, **kw) -> str:
        server = HealthServer("127.0.0.1", 0, checks, metrics, **kw)
        await server.start()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        await server.stop()


async def test_healthz_ok_when_every_check_passes(serve):
    base = await serve({"gateway": _flag(True), "poller": _flag(True), "database": _flag(True)})
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{base}/healthz")
    assert r.status_code == 200
    assert r.json() == {"ok": True, "checks": {"gateway": True, "poller": True, "database": True}}


async def test_healthz_503_names_failing_raising_and_slow_checks(serve):
    async def boom() -> bool:
        raise RuntimeError("database is locked")

    async def slow() -> bool:
        await asyncio.sleep(5)
        return True

    base = await serve({"gateway": _flag(False), "poller": slow, "database": boom}, check_timeout=0.2)
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{base}/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["ok"] is False
    assert body["checks"] == {"gateway": False, "poller": False, "database": False}
    assert sorted(body["failing"]) == ["database", "gateway", "poller"]


async def test_healthz_reflects_state_changes(serve):
    state = {"gateway": False}

    async def gateway() -> bool:
        return state["gateway"]

    base = await serve({"gateway": gateway, "database": _flag(True)})
    async with httpx.AsyncClient() as client:
        first = await client.get(f"{base}/healthz")
        state["gateway"] = True
        second = await client.get(f"{base}/healthz")
    assert (first.status_code, first.json()["failing"]) == (503, ["gateway"])
    assert second.status_code == 200


async def test_metrics_scrape_has_counters_and_async_job_counts(serve):
    metrics = Metrics()
    counts = {"queued": 3, "running": 1}

    async def job_counts() -> dict[str, int]:
        return dict(counts)

    metrics.set_job_counts_source(job_counts)
    metrics.submitted("openai", "sora-2")
    metrics.submitted("openai", "sora-2")
    metrics.failed("content_policy")
    metrics.status_request("openai", "ok")
    metrics.quota_refused("user_videos_per_day")
    metrics.transcoded(1234)
    metrics.observe_delivery(7.5)
    with pytest.raises(ValueError), metrics.time_provider("create"):
        raise ValueError("the call failed but its latency still counts")

    base = await serve({}, metrics)
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{base}/metrics")
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = r.text
        assert 'sora_bot_jobs{state="queued"} 3.0' in text
        assert 'sora_bot_submissions_total{model="sora-2",provider="openai"} 2.0' in text
        assert 'sora_bot_failures_total{reason="content_policy"} 1.0' in text
        assert 'sora_bot_status_requests_total{outcome="ok",provider="openai"} 1.0' in text
        assert 'sora_bot_quota_refusals_total{limit="user_videos_per_day"} 1.0' in text
        assert "sora_bot_transcoded_bytes_total 1234.0" in text
        assert "sora_bot_delivery_latency_seconds_count 1.0" in text
        assert 'sora_bot_provider_latency_seconds_count{operation="create"} 1.0' in text

        # A state that empties drops to 0 instead of keeping its old value.
        counts.pop("queued")
        text = (await client.get(f"{base}/metrics")).text
        assert 'sora_bot_jobs{state="queued"} 0.0' in text
        assert 'sora_bot_jobs{state="running"} 1.0' in text


async def test_metrics_survive_a_failing_job_count_source_and_404_without_metrics(serve):
    metrics = Metrics()
    metrics.set_job_counts({"delivered": 5})

    def broken() -> dict[str, int]:
        raise RuntimeError("database closed")

    metrics.set_job_counts_source(broken)
    base = await serve({}, metrics)
    bare = await serve({})
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{base}/metrics")
        missing = await client.get(f"{bare}/metrics")
    assert r.status_code == 200
    assert 'sora_bot_jobs{state="delivered"} 5.0' in r.text
    assert missing.status_code == 404


async def test_two_metrics_do_not_share_a_registry():
    a, b = Metrics(), Metrics()
    a.submitted("openai", "sora-2")
    assert b"sora_bot_submissions_total{" in a.render()
    assert b"sora_bot_submissions_total{" not in b.render()


async def test_stop_frees_the_port_and_is_idempotent():
    server = HealthServer("127.0.0.1", 0, {"gateway": _flag(True)})
    await server.start()
    port = server.port
    assert port
    await server.stop()
    await server.stop()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/healthz")


async def test_run_checks_with_no_checks_is_ok():
    assert await run_checks({}) == {}


def test_server_only_when_health_port_is_set(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HEALTH_PORT", raising=False)
    monkeypatch.delenv("HEALTH_HOST", raising=False)
    assert health_server_from_settings(Settings(), {}) is None
    monkeypatch.setenv("HEALTH_PORT", "0")
    server = health_server_from_settings(Settings(), {})
    assert server is not None
    assert (server.host, server.requested_port) == ("127.0.0.1", 0)


async def test_each_process_names_itself_on_healthz_and_metrics(serve):
    """Several processes on one database: each endpoint says which process and shards it is."""
    metrics = Metrics(process="bot-1", shards="1")
    base = await serve({"database": _flag(True)}, metrics)
    async with httpx.AsyncClient() as client:
        health = (await client.get(f"{base}/healthz")).json()
        text = (await client.get(f"{base}/metrics")).text
    assert health == {"ok": True, "checks": {"database": True}, "process": "bot-1", "shards": "1"}
    assert 'sora_bot_process{process="bot-1",shards="1"} 1.0' in text
    assert "sora_bot_process{" not in Metrics().render().decode()  # one process: nothing new
