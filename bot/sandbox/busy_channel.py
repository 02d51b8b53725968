"""A busy `#videos` channel on loopback: the real SoraBot (discord.py) against the fake Discord with
per-channel edit (and post) buckets that send `X-RateLimit-*` headers, and the fake relay speaking one
dialect. Used by tests/e2e/test_busy_channel.py and bench/busy_channel.py.

Time is scaled: `scale` = 0.1 makes a 60 s render take 6 s, Discord's 5-edits-per-5-s bucket
5 per 0.5 s, and the engine's estimates, intervals and 10 s progress interval shrink the same way.
`run_busy_channel` returns per-job facts in *unscaled* seconds (real seconds / scale).

`history`: render times (unscaled) of earlier jobs of the same model/size/length, written to the
database first, as a deployment that has run the model before has them. `webhooks` (OpenRouter):
the real webhook receiver on loopback, the fake pushing a signed event to each job's callback_url
the moment it ends, and the engine's schedule stretched into the safety net, as a deployment with
`WEBHOOK_PUBLIC_URL` runs it.
"""

from __future__ import annotations

import asyncio
import re
import socket
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bot.app import Resources
from bot.domain.jobs import TERMINAL, JobState
from bot.domain.records import NewJob
from bot.engine.service import Requester
from bot.metrics import Metrics
from bot.sandbox.fake_discord import FakeDiscord
from bot.sandbox.fake_providers.openrouter import FakeOpenRouter
from bot.sandbox.fake_providers.relay import FakeRelay
from bot.sandbox.job_paths import walk
from bot.sandbox.product import product_settings, running_product
from bot.sora.client import HttpVideoProvider
from bot.sora.dialects import profile_for
from bot.sora.openrouter import OpenRouterProvider
from bot.webhooks.receiver import WebhookReceiver
from cogs.views import remix_custom_id
from db.database import open_store
from db.repository import Repository

KEY = "busy-channel-key-0123456789"
WEBHOOK_SECRET = "whsec_" + "YnVzeS1jaGFubmVsLXdlYmhvb2stc2VjcmV0"
LISTED_MODELS = {"sora-2": "openai/sora-2-pro"}  # a listed catalog (OpenRouter): the model that takes 4 s 1280x720
_RENDER = re.compile(r"\[render ([0-9.]+)s\]")


@dataclass(frozen=True)
class PlannedJob:
    arrival: float  # unscaled seconds after the start
    render: float  # unscaled seconds the relay takes
    seconds: int = 4
    model: str = "sora-2"
    size: str = "1280x720"


@dataclass
class BusyRun:
    """What happened, in unscaled seconds where it is a duration."""

    delivered: int
    states: dict[str, int]
    latency: list[float]  # per delivered job: the relay's completion → the result message created
    detection: list[float]  # … of which: completion → the status request that saw it
    pipeline_real: list[float]  # … and that request → the result message (real seconds: download,
    # ffmpeg, upload and any wait for Discord's buckets)
    status_requests: list[int]  # per job: GET status requests the relay saw
    edits_per_message: list[int]  # per status message
    refusals: dict[str, int]  # Discord 429s by "METHOD route"
    wall_s: float
    updates: dict[str, int] = field(default_factory=dict)  # status updates by outcome (sent, superseded …)
    jobs: list[dict[str, Any]] = field(default_factory=list)  # per job detail, submission order


def _render_of(job: Any) -> float:
    found = _RENDER.search(job.prompt)
    return float(found.group(1)) if found else 1.0


async def run_busy_channel(dialect: str, plan: list[PlannedJob], *, scale: float, timeout: float = 120.0,
                           edit_bucket: tuple[int, float] | None = (5, 5.0),
                           post_bucket: tuple[int, float] | None = (5, 5.0),
                           after_each: Any = None, history: Sequence[float] = (),
                           webhooks: bool = False, database_url: str | None = None) -> BusyRun:
    """Run `plan` in one channel; buckets are (count, unscaled seconds). `database_url`: the store
    (default: a SQLite file in a temporary folder)."""
    if webhooks and dialect != "openrouter":
        raise ValueError("webhooks: only the OpenRouter fake pushes per job here (see bench/webhooks.py)")
    scaled = lambda b: (b[0], b[1] * scale) if b else None  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="sora-busy-") as tmp:
        folder = Path(tmp)
        relay_class = (partial(FakeOpenRouter, webhooks=webhooks, webhook_secret=WEBHOOK_SECRET if webhooks else None)
                       if dialect == "openrouter" else partial(FakeRelay, dialect))
        async with relay_class(api_key=KEY, render_seconds=_render_of, clock=time.time,
                               queue_fraction=0.1) as relay, \
                FakeDiscord(edit_bucket=scaled(edit_bucket), post_bucket=scaled(post_bucket)) as fake:
            settings = product_settings(
                folder, fake, SORA_MAX_CONCURRENT_JOBS=len(plan) + 1, QUOTA_USER_CONCURRENT="",
                QUOTA_GUILD_CONCURRENT="", QUOTA_USER_VIDEOS_PER_DAY="", QUOTA_GUILD_USD_PER_MONTH="",
                QUOTA_GUILD_SECONDS_PER_MONTH="", QUOTA_USER_SECONDS_PER_DAY="", QUOTA_DEFAULT_SECONDS="4,8,12",
                LOG_LEVEL="WARNING", **({"DATABASE_URL": database_url} if database_url else {}))
            conn = await open_store(settings.database_url)
            trusted = [relay.cdn_origin]  # the fake's loopback CDN, as an operator would list it
            port = _free_port() if webhooks else 0
            if dialect == "openrouter":
                provider: HttpVideoProvider = OpenRouterProvider(
                    base_url=relay.base_url, api_key=KEY, timeout=30.0, trusted_origins=trusted,
                    callback_url=f"http://127.0.0.1:{port}/webhooks/openrouter" if webhooks else None)
            else:
                provider = HttpVideoProvider(base_url=relay.base_url, api_key=KEY, profile=profile_for(dialect),
                                             timeout=30.0, trusted_origins=trusted)
            resources = Resources(settings, Repository(conn), provider, Metrics())
            receiver: WebhookReceiver | None = None
            try:
                await _write_history(resources.repo, plan, history, scale,
                                     model=LISTED_MODELS.get if dialect == "openrouter" else None)
                async with running_product(fake, settings, time_scale=scale, progress_interval=10.0 * scale,
                                           resources=resources, requests_per_second=1000.0, burst=200,
                                           webhooks=webhooks) as product:
                    if webhooks:
                        receiver = WebhookReceiver(host="127.0.0.1", port=port, secret=WEBHOOK_SECRET,
                                                   repo=resources.repo, poller=product.bot.poller,
                                                   provider_name=provider.name)
                        await receiver.start()
                    run = await _drive(product, fake, relay, plan, scale, timeout, after_each)
            finally:
                if receiver is not None:
                    await receiver.stop()
                await resources.aclose()
    return run


async def _until_finished(repo: Any, ids: list[int], timeout: float) -> list[Any]:
    """The jobs, once every one of them is in a final state (AssertionError after `timeout` s)."""
    deadline = time.time() + timeout
    while True:
        jobs = [await repo.get_job(j) for j in ids]
        if all(j is not None and j.state in TERMINAL for j in jobs):
            return jobs
        if time.time() > deadline:
            states = Counter(j.state.value for j in jobs if j is not None)
            raise AssertionError(f"jobs not finished after {timeout:.0f} s: {dict(states)}")
        await asyncio.sleep(0.05)


def _posted_at(fake: FakeDiscord, jobs: list[Any]) -> dict[int, float]:
    """job id → when its result (the message with a file and its Remix button) was posted."""
    wanted = {remix_custom_id(job.id): job.id for job in jobs}
    results: dict[int, float] = {}
    for message in fake.messages("videos"):
        for custom_id in message.custom_ids if message.attachments else ():
            if custom_id in wanted:
                results.setdefault(wanted[custom_id], message.created_at)
    return results


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _write_history(repo: Repository, plan: list[PlannedJob], history: Any, scale: float, *,
                         model: Any) -> None:
    """Earlier finished renders (unscaled seconds) of the plan's first shape, ended a while ago."""
    if not history:
        return
    shape = plan[0]
    name = model(shape.model, shape.model) if model is not None else shape.model
    ended = time.time() - 600 * scale
    for i, took in enumerate(history):
        job, _ = await repo.create_job(
            NewJob(guild_id=1, channel_id=2, user_id=3, kind="generate", prompt="earlier", model=name,
                   size=shape.size, seconds=shape.seconds, provider="earlier", idempotency_key=f"earlier-{i}"),
            decide=lambda usage: True, allowed=bool, reserve_seconds=0, reserve_usd=0, month_start=0)
        assert job is not None  # nothing refuses it: decide always allows
        done = ended - (len(history) - i) * scale
        await walk(repo, job.id, JobState.DELIVERED, submitted_at=done - took * scale, completed_at=done)


async def _drive(product: Any, fake: FakeDiscord, relay: FakeRelay, plan: list[PlannedJob], scale: float,
                 timeout: float, after_each: Any) -> BusyRun:
    channel = fake.channel("videos").id
    repo = product.bot.repo
    if product.bot.catalog.live:  # a provider that lists its models: offer them before the first request
        await asyncio.wait_for(product.bot.catalog.refreshed.wait(), 30)
    started = time.time()
    ids: list[int] = []
    for i, job in enumerate(plan):
        await asyncio.sleep(max(0.0, started + job.arrival * scale - time.time()))
        who = Requester(guild_id=fake.world.guild_id, channel_id=channel, user_id=fake.user("alice").id + i)
        outcome = await product.bot.jobs.request_video(
            who, prompt=f"job {i}: a lighthouse at dusk [render {job.render * scale:.4f}s]",
            model=LISTED_MODELS.get(job.model, job.model) if product.bot.catalog.live else job.model,
            size=job.size, seconds=job.seconds)
        if not outcome.accepted:
            raise AssertionError(f"job {i} refused: {outcome.message}")
        ids.append(outcome.job.id)
        if after_each is not None:
            await after_each(i, outcome.job)
    jobs = await _until_finished(repo, ids, timeout)
    wall = time.time() - started
    outbox = getattr(product.bot.engine_ctx, "outbox", None)  # (absent before issue 11)
    if outbox is not None:
        await outbox.drain(grace=5.0)
    results = _posted_at(fake, jobs)
    status_at: dict[str, list[float]] = {}
    for r in relay.requests:
        if r.kind == "status":
            status_at.setdefault(r.path.rsplit("/", 1)[-1], []).append(r.at)
    latency, detection, pipeline, requests, detail = [], [], [], [], []
    for job in jobs:
        upstream = relay.jobs.get(job.provider_id or "")
        done = upstream.started + upstream.render_seconds if upstream and upstream.started is not None else None
        posted = results.get(job.id)
        lag = None
        polls = status_at.get(job.provider_id or "", [])
        if posted is not None and done is not None:
            lag = (posted - done) / scale
            latency.append(lag)
            seen = min((t for t in polls if t >= done), default=None)
            if seen is not None:
                detection.append((seen - done) / scale)
                pipeline.append(posted - seen)
        requests.append(len(polls))
        detail.append({"job": job.id, "state": job.state.value, "latency": lag, "status_requests": requests[-1]})
    edits = [fake.message(j.status_message_id).edits for j in jobs if j.status_message_id and
             fake.message(j.status_message_id) is not None]
    refusals = Counter(f"{c.method} {c.route}" for c in fake.calls if c.status == 429)
    states = Counter(j.state.value for j in jobs)
    return BusyRun(delivered=states.get(JobState.DELIVERED.value, 0), states=dict(states), latency=latency,
                   detection=detection, pipeline_real=pipeline, status_requests=requests,
                   edits_per_message=edits, refusals=dict(refusals), wall_s=wall / scale, jobs=detail,
                   updates=_updates(product.bot.metrics))


def _updates(metrics: Metrics) -> dict[str, int]:
    found: dict[str, int] = {}
    for metric in metrics.progress_updates.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                found[sample.labels["outcome"]] = int(sample.value)
    return found
