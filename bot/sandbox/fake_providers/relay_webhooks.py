"""The fake relay's webhooks: Standard-Webhooks-signed `video.completed` / `video.failed` events
POSTed to one configured URL when a job's render ends, as OpenAI does (the endpoint and its
`whsec_` secret are set once, like in OpenAI's dashboard, not per request; specs/WEBHOOKS.md B.1-B.2).

    relay.send_webhooks("http://127.0.0.1:PORT/webhooks/openai", "whsec_...")   # or FakeRelay(webhook_url=…)
    relay.drop_webhooks(2)          # the next 2 events are lost (never sent)
    relay.webhook_deliveries        # what was sent: headers, exact body, the answer's status

One task per watched job sleeps until the render ends (re-checking, so `complete_job`, `fail_job`
and `set_render_seconds` are honoured within 0.25 s), then sends one event: at most `retries` more
attempts after a non-2xx answer or a refused connection, `retry_delay` apart (0 by default: a lost
delivery stays lost, which is what the safety-net tests want).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp
from standardwebhooks import Webhook

if TYPE_CHECKING:
    from bot.sandbox.fake_providers.relay import FakeRelay
    from bot.sandbox.fake_providers.relay_dialects import FakeJob

WEBHOOK_DIALECTS = ("openai", "juheapi")  # xingchaoyiqing documents no webhooks
_RECHECK = 0.25


@dataclass
class WebhookDelivery:
    job_id: str
    event_type: str
    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None  # None: the connection failed
    at: float  # the relay's clock when the POST started
    attempt: int = 1


@dataclass
class WebhookSender:
    relay: FakeRelay
    url: str | None = None
    secret: str | None = None
    retries: int = 0
    retry_delay: float = 0.0
    deliveries: list[WebhookDelivery] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # job ids whose event was lost on purpose
    _drop: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _session: aiohttp.ClientSession | None = None

    def configure(self, url: str, secret: str, *, retries: int = 0, retry_delay: float = 0.0) -> None:
        if self.relay.dialect not in WEBHOOK_DIALECTS:
            raise ValueError(f"the {self.relay.dialect} dialect sends no webhooks")
        Webhook(secret)  # a bad secret fails here, not in a background task
        self.url, self.secret, self.retries, self.retry_delay = url, secret, retries, retry_delay
        for job in self.relay.jobs.values():  # jobs already rendering are announced too
            if job.state(self.relay.clock(), self.relay.queue_fraction) in ("queued", "running"):
                self.watch(job)

    def drop(self, count: int) -> None:
        self._drop += count

    def watch(self, job: FakeJob) -> None:
        if self.url is None:
            return
        task = asyncio.create_task(self._announce(job), name=f"webhook-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    def event(self, job: FakeJob, state: str) -> tuple[str, dict[str, str], bytes]:
        """The event type, the signed headers and the exact body OpenAI would send for `job`."""
        assert self.secret is not None
        kind = "video.completed" if state == "completed" else "video.failed"
        now = int(time.time())
        body = json.dumps({"id": "evt_" + secrets.token_hex(12), "object": "event", "created_at": now,
                           "type": kind, "data": {"id": job.id}})
        webhook_id = "wh_" + secrets.token_hex(12)
        signature = Webhook(self.secret).sign(webhook_id, datetime.fromtimestamp(now, UTC), body)
        headers = {"webhook-id": webhook_id, "webhook-timestamp": str(now), "webhook-signature": signature,
                   "Content-Type": "application/json"}
        return kind, headers, body.encode()

    async def _announce(self, job: FakeJob) -> None:
        relay = self.relay
        while True:
            now = relay.clock()
            state = job.state(now, relay.queue_fraction)
            if state in ("completed", "failed"):
                break
            ends = job.started + job.render_seconds
            await asyncio.sleep(min(_RECHECK, max(0.001, ends - now)))
        if job.deleted:
            return
        if self._drop > 0:
            self._drop -= 1
            self.dropped.append(job.id)
            return
        kind, headers, body = self.event(job, state)  # the same id and body on every retry
        for attempt in range(1, self.retries + 2):
            sent = relay.clock()
            status = await self._post(headers, body)
            self.deliveries.append(WebhookDelivery(job.id, kind, self.url or "", headers, body, status, sent, attempt))
            if status is not None and 200 <= status < 300:
                return
            if attempt <= self.retries:
                await asyncio.sleep(self.retry_delay)

    async def _post(self, headers: dict[str, str], body: bytes) -> int | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        try:
            async with self._session.post(self.url or "", data=body, headers=headers) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, OSError, TimeoutError):
            return None
