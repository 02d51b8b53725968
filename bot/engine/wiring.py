"""`build_engine`: the one place the job engine is put together.

The bot (bot/app.py), the tests (tests/engine_harness.py) and the benchmarks (bench/_common.py,
bench/scale_pg.py) all call it, so what they run is wired the same way:

    engine = build_engine(store, provider, publisher, settings, engine_config(settings))
    await engine.catalog.start()      # or .refresh() once, in tests and benchmarks
    await engine.poller.start()
    outcome = await engine.service.request_video(requester, prompt="a cat")
    await engine.poller.stop()

The store is anything implementing `JobStore` (bot/domain/store.py; db.repository.Repository on
SQLite or PostgreSQL), the publisher anything implementing `Publisher` (bot/engine/ports.py; the
Discord side in cogs/publisher.py, a recording fake in bot/sandbox/recording.py). Nothing here
opens a connection: the caller builds the resources and closes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.catalog.service import CatalogService
from bot.domain.store import JobStore
from bot.engine.context import EngineConfig, EngineContext
from bot.engine.poller import Poller
from bot.engine.ports import Publisher
from bot.engine.service import JobService
from bot.engine.shared_rate import SharedRateCap
from bot.metrics import Metrics, NullMetrics
from bot.settings import Settings
from bot.sora.base import VideoProvider

# a step that may download has the whole download deadline, then a transcode (two ffmpeg runs at
# bot.media's timeout) and the upload; its lease is renewed meanwhile
DELIVERY_SLACK_SECONDS = 2 * 300.0 + 120.0


@dataclass
class Engine:
    """The wired job engine: its shared context, the poller loop, the service the commands call, and
    the model catalog the service reads."""

    ctx: EngineContext
    poller: Poller
    service: JobService
    catalog: CatalogService


def engine_config(settings: Settings, *, time_scale: float = 1.0) -> EngineConfig:
    """The engine's configuration as the settings (environment) give it."""
    return EngineConfig(data_dir=settings.data_dir, max_upstream=settings.sora_max_concurrent_jobs,
                        requests_per_second=settings.sora_requests_per_second, time_scale=time_scale,
                        retention_seconds=settings.retention_hours * 3600,
                        max_disk_bytes=settings.max_disk_mb * 1024 * 1024, webhooks=settings.webhooks_enabled,
                        credit_recheck=settings.credit_recheck_seconds,
                        credit_recheck_max=settings.credit_recheck_max_seconds,
                        lease_seconds=settings.job_lease_seconds, shared=settings.database_is_postgres,
                        download_deadline=settings.sora_download_timeout_seconds + DELIVERY_SLACK_SECONDS)


def build_engine(store: JobStore, provider: VideoProvider, publisher: Publisher, settings: Settings,
                 config: EngineConfig, *, metrics: Metrics | None = None,
                 clock: Callable[[], float] = time.time) -> Engine:
    """Wire the engine over injected resources. With `config.shared` (several processes on one
    PostgreSQL database) the provider's request-rate cap lives in the database, shared by all of them;
    otherwise it is this process's token bucket."""
    bucket = None  # EngineContext makes this process's token bucket
    if config.shared:
        bucket = SharedRateCap(store, provider.name, config.requests_per_second, config.burst)
    ctx = EngineContext(store, provider, publisher, config, clock=clock,
                        metrics=metrics if metrics is not None else NullMetrics(), bucket=bucket)
    poller = Poller(ctx)
    catalog = CatalogService(store, provider, settings, clock=ctx.clock)
    service = JobService(ctx, poller, settings, catalog=catalog)
    return Engine(ctx, poller, service, catalog)
