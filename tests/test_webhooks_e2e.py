"""Webhooks end to end on loopback: the real engine (Poller + JobService on SQLite), the fake relay
(openai dialect) POSTing Standard-Webhooks-signed events to the real receiver when renders end.

A good event makes the job due at once: one status request, delivered long before the safety-net
poll. Forged, stale, oversized, wrong-type, malformed and unknown-job deliveries are refused with
the job row unchanged; replays do nothing twice; a dead receiver only makes delivery slower.
`/webhooks/openrouter` is driven with requests signed here with the scheme of specs/OPENROUTER.md A.5.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from bot.sandbox.fake_providers.relay import FakeRelay
from bot.sandbox.recording import member
from bot.sora.factory import build_provider
from bot.webhooks.receiver import WebhookReceiver
from db.webhooks import WebhookLog
from tests.engine_harness import Harness, make_settings

SECRET = "whsec_" + "c29yYS1ib3Qtd2ViaG9vay10ZXN0LXNlY3JldC0zMmJ5dGVz"  # base64 of 32 ASCII bytes
OTHER = "whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC1vdGhlci1zZWM="
JSON = {"Content-Type": "application/json"}


@dataclass
class World:
    relay: FakeRelay
    h: Harness
    receiver: WebhookReceiver
    http: httpx.AsyncClient

    async def post(self, source: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.http.post(self.receiver.url(source), content=body, headers=headers)

    async def request(self, prompt: str = "a lighthouse at dusk") -> int:
        out = await self.h.service.request_video(member(), prompt=prompt)
        assert out.accepted, out.message
        return out.job.id

    async def upstream(self, job_id: int) -> str:
        job = await self.h.wait_for(job_id, "queued", "running")
        assert job.provider_id is not None
        return job.provider_id


@contextlib.asynccontextmanager
async def world(tmp_path, *, render: float = 0.3, time_scale: float = 0.01,
                relay_sends: bool = True) -> AsyncIterator[World]:
    async with FakeRelay(dialect="openai", api_key="k", render_seconds=render) as relay:
        settings = make_settings(tmp_path, SORA_PROVIDER="openai", SORA_BASE_URL=relay.base_url, SORA_API_KEY="k")
        async with Harness(settings, build_provider(settings), time_scale=time_scale, webhooks=True) as h:
            receiver = WebhookReceiver(host="127.0.0.1", port=0, secret=SECRET, repo=h.repo, poller=h.poller,
                                       provider_name=h.provider.name)
            await receiver.start()
            try:
                if relay_sends:
                    relay.send_webhooks(receiver.url("openai"), SECRET)
                async with httpx.AsyncClient(timeout=10) as http:
                    yield World(relay, h, receiver, http)
            finally:
                await receiver.stop()


def openai_event(video_id: str, *, secret: str = SECRET, at: float | None = None, msg_id: str | None = None,
                 kind: str = "video.completed", body: bytes | None = None) -> tuple[bytes, dict[str, str]]:
    ts = int(time.time() if at is None else at)
    if body is None:
        body = json.dumps({"id": "evt_" + secrets.token_hex(6), "object": "event", "created_at": ts,
                           "type": kind, "data": {"id": video_id}}).encode()
    msg_id = msg_id or "wh_" + secrets.token_hex(8)
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, UTC), body.decode())
    return body, {**JSON, "webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def openrouter_event(video_id: str, *, secret: str = SECRET, at: float | None = None, status: str = "completed",
                     key: str | None = "default", body: bytes | None = None) -> tuple[bytes, dict[str, str]]:
    """Signed the way specs/OPENROUTER.md A.5 says, independently of bot/webhooks/signatures.py."""
    t = str(int(time.time() if at is None else at))
    if body is None:
        body = json.dumps({"type": f"video.generation.{status}", "created_at": "2026-12-01T12:00:00.000Z",
                           "data": {"id": video_id, "status": status, "generation_id": "gen-1",
                                    "model": "openai/sora-2"}}, separators=(",", ":")).encode()
    v1 = hmac.new(secret.encode(), t.encode() + b"," + body, hashlib.sha256).hexdigest()
    headers = {**JSON, "X-OpenRouter-Signature": f"t={t},v1={v1}"}
    if key is not None:
        headers["X-OpenRouter-Idempotency-Key"] = f"{video_id}-{status}" if key == "default" else key
    return body, headers


async def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


# --- the happy path ---------------------------------------------------------------------------------
async def test_a_webhook_gets_the_video_delivered_with_one_status_request(tmp_path):
    async with world(tmp_path, render=0.3, time_scale=0.05) as w:  # first safety-net poll at ~8 s
        job_id = await w.request()
        started = time.monotonic()
        job = await w.h.wait_for(job_id, "delivered", timeout=6)
        assert time.monotonic() - started < 5, "delivered on the webhook, not on a poll"
        assert w.relay.count("status") == 1
        [delivery] = w.relay.webhook_deliveries
        assert delivery.status == 200 and delivery.event_type == "video.completed"
        assert delivery.job_id == job.provider_id
        assert w.receiver.outcomes["accepted"] == 1
        assert [r.job_id for r in w.h.publisher.results] == [job_id]


async def test_a_failed_render_is_told_from_the_status_request_not_the_event(tmp_path):
    async with world(tmp_path, render=0.3, time_scale=0.05) as w:
        w.relay.fail_next_jobs(1, content_policy=True)
        job_id = await w.request()
        job = await w.h.wait_for(job_id, "failed", timeout=6)
        assert w.relay.webhook_deliveries[0].event_type == "video.failed"
        assert w.relay.count("status") == 1
        assert job.error_code == "moderation_blocked"  # from GET /videos/{id}: the event has no error
        assert (await w.h.repo.ledger_entry(job_id))["status"] == "refunded"


async def test_replayed_deliveries_do_nothing_twice(tmp_path):
    async with world(tmp_path, render=0.3, time_scale=0.05) as w:
        job_id = await w.request()
        await w.h.wait_for(job_id, "delivered", timeout=6)
        [first] = w.relay.webhook_deliveries
        answers = await asyncio.gather(*(w.post("openai", first.body, first.headers) for _ in range(3)))
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert all(a.json()["outcome"] == "duplicate" for a in answers)
        await asyncio.sleep(0.3)
        assert w.relay.count("status") == 1 and len(w.h.publisher.results) == 1
        assert w.receiver.outcomes == {"accepted": 1, "duplicate": 3}


# --- refusals: nothing changes ------------------------------------------------------------------------
async def test_bad_deliveries_are_refused_and_change_nothing(tmp_path):
    async with world(tmp_path, render=30.0, time_scale=0.05, relay_sends=False) as w:
        job_id = await w.request()
        video_id = await w.upstream(job_id)
        before = await w.h.repo.get_job(job_id)
        good_body, good_headers = openai_event(video_id)
        padded = json.dumps({"type": "video.completed", "data": {"id": video_id}, "pad": "x" * 70_000}).encode()
        cases = {
            "forged": (401, *openai_event(video_id, secret=OTHER)),
            "unsigned": (401, good_body, JSON),
            "tampered": (401, good_body.replace(b"completed", b"failed"), good_headers),
            "stale": (401, *openai_event(video_id, at=time.time() - 400)),
            "future": (401, *openai_event(video_id, at=time.time() + 400)),
            "oversized": (413, *openai_event(video_id, body=padded)),
            "wrong content type": (415, good_body, {**good_headers, "Content-Type": "text/plain"}),
            "no content type": (415, good_body, {k: v for k, v in good_headers.items() if k != "Content-Type"}),
            "malformed": (400, *openai_event(video_id, body=b'{"type": "video.completed", "data": ')),
            "not an object": (400, *openai_event(video_id, body=b'["video.completed"]')),
            "no job id": (400, *openai_event(video_id, body=b'{"type": "video.completed", "data": {}}')),
            "unknown job": (404, *openai_event("video_" + "0" * 48)),
        }
        for name, (status, body, headers) in cases.items():
            answer = await w.post("openai", body, headers)
            assert answer.status_code == status, name
            assert answer.json()["ok"] is False, name
        assert await w.h.repo.get_job(job_id) == before, "the job row is untouched"
        assert w.relay.count("status") == 0
        assert not await WebhookLog(w.h.repo).seen("openai:" + good_headers["webhook-id"])
        # The genuine event still works afterwards, once.
        w.relay.complete_job(video_id)
        assert (await w.post("openai", good_body, good_headers)).json()["outcome"] == "accepted"
        await w.h.wait_for(job_id, "delivered", timeout=6)
        assert w.relay.count("status") == 1 and len(w.h.publisher.results) == 1


async def test_an_oversized_body_without_content_length_is_cut_off(tmp_path):
    async with world(tmp_path, render=30.0, relay_sends=False) as w:
        body, headers = openai_event("video_x", body=b'{"pad": "' + b"x" * 100_000 + b'"}')

        async def chunked():
            for i in range(0, len(body), 8192):
                yield body[i:i + 8192]

        answer = await w.http.post(w.receiver.url("openai"), content=chunked(), headers=headers)
        assert answer.status_code == 413
        assert w.receiver.outcomes == {"refused 413": 1}


async def test_an_event_for_another_type_is_ignored(tmp_path):
    async with world(tmp_path, render=30.0, time_scale=0.05, relay_sends=False) as w:
        job_id = await w.request()
        video_id = await w.upstream(job_id)
        before = await w.h.repo.get_job(job_id)
        answer = await w.post("openai", *openai_event(video_id, kind="batch.completed"))
        assert answer.status_code == 200 and answer.json()["outcome"] == "ignored"
        assert await w.h.repo.get_job(job_id) == before


async def test_refusals_log_one_line_without_the_body(tmp_path, caplog):
    async with world(tmp_path, render=30.0, relay_sends=False) as w:
        body, headers = openai_event("video_" + "1" * 48, secret=OTHER, kind="video.completed")
        caplog.clear()
        await w.post("openai", body, headers)
        lines = [r for r in caplog.records if r.name == "bot.webhooks.receiver"]
        assert len(lines) == 1 and "401" in lines[0].getMessage()
        assert "video_" not in lines[0].getMessage() and headers["webhook-signature"] not in lines[0].getMessage()


# --- the safety net -----------------------------------------------------------------------------------
async def test_killing_the_receiver_mid_run_loses_nothing(tmp_path):
    async with world(tmp_path, render=0.3) as w:  # 1/100 world: safety-net polls every ~1.8 s
        renders = [0.3, 0.6, 1.2, 1.8, 2.4]
        ids = []
        for seconds in renders:
            ids.append(await w.request(f"a lighthouse, {seconds}"))
            w.relay.set_render_seconds(await w.upstream(ids[-1]), seconds)
        await w.h.wait_for(ids[0], "delivered", timeout=6)
        await w.receiver.stop()  # the rest hear nothing: polling alone must finish them
        for job_id in ids:
            await w.h.wait_for(job_id, "delivered", timeout=20)
        assert sorted(r.job_id for r in w.h.publisher.results) == sorted(ids)  # each exactly once
        assert any(d.status is None for d in w.relay.webhook_deliveries), "some pushes hit a dead receiver"
        assert w.receiver.outcomes["accepted"] >= 1


async def test_a_lost_webhook_only_delays_the_video(tmp_path):
    async with world(tmp_path, render=0.2) as w:
        w.relay.drop_webhooks(1)
        job_id = await w.request()
        await w.h.wait_for(job_id, "delivered", timeout=15)
        assert len(w.relay.webhook_deliveries) == 0 and len(w.relay.webhooks.dropped) == 1
        assert w.relay.count("status") >= 1 and len(w.h.publisher.results) == 1


# --- /webhooks/openrouter, signed here with the spec's scheme ----------------------------------------
async def test_openrouter_route_wakes_a_job_once(tmp_path):
    async with world(tmp_path, render=30.0, time_scale=0.05, relay_sends=False) as w:
        job_id = await w.request()
        video_id = await w.upstream(job_id)
        before = await w.h.repo.get_job(job_id)
        refused = {
            "forged": (401, *openrouter_event(video_id, secret="not-the-secret")),
            "unsigned": (401, openrouter_event(video_id)[0], {**JSON}),
            "stale": (401, *openrouter_event(video_id, at=time.time() - 400)),
            "future": (401, *openrouter_event(video_id, at=time.time() + 400)),
            "malformed": (400, *openrouter_event(video_id, body=b'{"type":')),
            "unknown job": (404, *openrouter_event("job-unknown")),
            "oversized": (413, *openrouter_event(video_id, body=b'{"p":"' + b"y" * 66_000 + b'"}')),
            "wrong content type": (415, openrouter_event(video_id)[0],
                                   {**openrouter_event(video_id)[1], "Content-Type": "text/plain"}),
        }
        for name, (status, body, headers) in refused.items():
            assert (await w.post("openrouter", body, headers)).status_code == status, name
        assert await w.h.repo.get_job(job_id) == before and w.relay.count("status") == 0
        w.relay.complete_job(video_id)
        first = await w.post("openrouter", *openrouter_event(video_id))
        assert first.status_code == 200 and first.json()["outcome"] == "accepted"
        await w.h.wait_for(job_id, "delivered", timeout=6)
        # A retry is signed afresh (new t) but carries the same idempotency key: nothing happens.
        again = await w.post("openrouter", *openrouter_event(video_id, at=time.time() + 2))
        assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
        await asyncio.sleep(0.3)
        assert w.relay.count("status") == 1 and len(w.h.publisher.results) == 1


async def test_openrouter_without_an_idempotency_header_dedupes_on_job_and_status(tmp_path):
    async with world(tmp_path, render=30.0, time_scale=0.05, relay_sends=False) as w:
        job_id = await w.request()
        video_id = await w.upstream(job_id)
        w.relay.complete_job(video_id)
        outcomes = [(await w.post("openrouter", *openrouter_event(video_id, key=None))).json()["outcome"]
                    for _ in range(2)]
        assert outcomes == ["accepted", "duplicate"]
        await w.h.wait_for(job_id, "delivered", timeout=6)
        assert await WebhookLog(w.h.repo).seen(f"openrouter:{video_id}-completed")


async def test_a_secret_that_is_not_whsec_refuses_openai_but_serves_openrouter(tmp_path):
    async with FakeRelay(dialect="openai", api_key="k", render_seconds=30.0) as relay:
        settings = make_settings(tmp_path, SORA_PROVIDER="openai", SORA_BASE_URL=relay.base_url, SORA_API_KEY="k")
        async with Harness(settings, build_provider(settings), time_scale=0.05, webhooks=True) as h:
            receiver = WebhookReceiver(host="127.0.0.1", port=0, secret="dev_secret", repo=h.repo, poller=h.poller,
                                       provider_name=h.provider.name)
            await receiver.start()
            try:
                out = await h.service.request_video(member(), prompt="a lighthouse")
                job = await h.wait_for(out.job.id, "queued", "running")
                async with httpx.AsyncClient() as http:
                    body, headers = openai_event(job.provider_id)
                    assert (await http.post(receiver.url("openai"), content=body, headers=headers)).status_code == 401
                    body, headers = openrouter_event(job.provider_id, secret="dev_secret")
                    answer = await http.post(receiver.url("openrouter"), content=body, headers=headers)
                    assert answer.json()["outcome"] == "accepted"
            finally:
                await receiver.stop()


async def test_a_webhook_during_an_in_flight_poll_is_not_buried_by_it(tmp_path):
    """The poll in flight answers "running" and schedules the next poll minutes away; the webhook that
    arrived meanwhile must still get the job polled at once (Poller.nudge)."""
    async with world(tmp_path, render=30.0, time_scale=0.05, relay_sends=False) as w:
        job_id = await w.request()
        video_id = await w.upstream(job_id)
        w.relay.hang(1, seconds=0.6, kind="status")  # answers "running", late
        await w.h.repo.mark_due(job_id, time.time())
        w.h.poller.wake()
        await wait_until(lambda: w.relay.count("status") == 1)
        w.relay.complete_job(video_id)
        assert (await w.post("openai", *openai_event(video_id))).json()["outcome"] == "accepted"
        started = time.monotonic()
        await w.h.wait_for(job_id, "delivered", timeout=6)
        assert time.monotonic() - started < 4, "not left for the safety-net poll (~9 s)"
        assert w.relay.count("status") == 2
