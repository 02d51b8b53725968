"""What every part of the job engine shares: its configuration and its injected resources."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.domain.records import Job
from bot.domain.store import JobStore
from bot.engine.outbox import ChannelOutbox
from bot.engine.ports import Publisher
from bot.engine.ratelimit import RateCap, TokenBucket
from bot.engine.schedule import DEFAULT_CONFIG, ScheduleConfig, learned_render_seconds
from bot.i18n import DEFAULT as DEFAULT_LOCALE
from bot.metrics import Metrics, NullMetrics
from bot.sora.base import VideoProvider
from bot.texts import JobView

log = logging.getLogger(__name__)

HISTORY_SAMPLES = 20  # the prior (median) and the no-progress window (spread) come from this many latest renders


@dataclass(frozen=True)
class EngineConfig:
    data_dir: Path
    max_upstream: int = 4  # provider-side concurrent jobs; beyond it jobs wait locally, fairly
    max_parallel: int = 16  # in-flight work items of the poller (polls, downloads, deliveries)
    requests_per_second: float = 2.0  # provider request-rate cap (token bucket)
    burst: int = 4
    lease_seconds: float = 300.0  # a claimed job is someone's for this long (the crash-recovery bound) …
    step_deadline: float = 60.0  # … while a step (submit, reconcile, deliver) is cancelled after this …
    download_deadline: float = 180.0  # … and one that may download (polls too: big files, slow links)
    progress_interval: float = 10.0  # at most one status edit per job per this many seconds
    edit_limit: int = 4  # status edits per channel per `edit_window` s until Discord's headers say more …
    edit_window: float = 5.0  # … (Discord allows about 5 per 5 s; scaled by `time_scale`)
    submit_attempts: int = 6  # a provider refusing (429/5xx) this many times in a row: the job fails, refunded
    unexpected_attempts: int = 6  # a step failing with an unexpected error this often: the job fails, refunded
    deadline_factor: float = 10.0  # still rendering upstream after this × the expected time …
    min_deadline: float = 2 * 3600.0  # … and at least this long (seconds): the job fails as timed out
    download_attempts: int = 4
    delivery_attempts: int = 8
    reconcile_window: float = 180.0  # how long a lost create is looked for upstream
    grace_seconds: float = 5.0  # on stop: let in-flight steps finish this long in all, then cancel
    retention_seconds: float = 72 * 3600.0  # delivered files are deleted this long after delivery
    max_disk_bytes: int = 2048 * 1024 * 1024  # … and the oldest first while the folder is over this
    sweep_interval: float = 600.0  # how often the poller runs the retention sweep
    time_scale: float = 1.0  # < 1 runs a faster world (benchmarks): render estimates scale with it
    webhooks: bool = False  # a webhook receiver wakes finished jobs: polls become the safety net
    credit_recheck: float = 300.0  # after a 402 (out of credit) one probe is sent after this, then doubling …
    credit_recheck_max: float = 3600.0  # … up to this (seconds, before time_scale)
    # Several processes share the database (PostgreSQL): submissions are leased too, a dead
    # neighbour's lapsed ones are taken over, admission runs under a cross-process mutex.
    shared: bool = False


@dataclass
class EngineContext:
    repo: JobStore
    provider: VideoProvider
    publisher: Publisher
    config: EngineConfig
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    metrics: Metrics = field(default_factory=NullMetrics)
    bucket: RateCap | None = None  # the request-rate cap to use; None: a TokenBucket from `config`
    # guild id → the guild's cap on concurrent upstream jobs (None: no cap)
    guild_cap: Callable[[int | None], Awaitable[int | None]] | None = None

    outbox: ChannelOutbox = field(init=False)
    rate: RateCap = field(init=False)  # every upstream request takes a token from it first

    def __post_init__(self) -> None:
        self.rate = (self.bucket if self.bucket is not None
                     else TokenBucket(self.config.requests_per_second, self.config.burst))
        scale = self.config.time_scale
        self.outbox = ChannelOutbox(self.publisher, self.repo, clock=self.clock, default_limit=self.config.edit_limit,
                                    default_window=self.config.edit_window * scale, margin=0.25 * scale,
                                    metrics=self.metrics)

    @property
    def schedule(self) -> ScheduleConfig:
        base = DEFAULT_CONFIG.with_webhooks() if self.config.webhooks else DEFAULT_CONFIG
        return base.scaled(self.config.time_scale)

    async def render_history(self, job: Job) -> list[float]:
        """Recent actual render times of jobs like `job` (same model string, size and length)."""
        return await self.repo.recent_render_seconds(job.model, HISTORY_SAMPLES, size=job.size, seconds=job.seconds)

    async def expected_seconds(self, job: Job) -> float:
        """Expected render time of `job` in this engine's clock, learned from recent renders like it."""
        history = await self.render_history(job)
        return learned_render_seconds(job.model, job.size, job.seconds, history, time_scale=self.config.time_scale)

    def videos_dir(self) -> Path:
        path = self.config.data_dir / "videos"
        path.mkdir(parents=True, exist_ok=True)
        return path


def job_view(job: Job) -> JobView:
    """The plain facts messages mention, from our record."""
    parent = str(job.parent_job_id) if job.parent_job_id else None
    extension = job.kind == "extend"
    return JobView(job_id=str(job.id), user_id=job.user_id, prompt=job.prompt, model=job.model, size=job.size,
                   seconds=job.seconds, remix_of=None if extension else parent,
                   extension_of=parent if extension else None, locale=job.locale or DEFAULT_LOCALE)
