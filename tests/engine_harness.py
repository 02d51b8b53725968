"""A job engine on a real database (the settings' DATABASE_URL: SQLite, or PostgreSQL for the
several-process tests) and a real provider, with a recording publisher: the working
fake of the Discord side's `Publisher` port (what the engine would post, kept in lists)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from bot.engine.context import EngineConfig, EngineContext
from bot.engine.poller import Poller
from bot.engine.ports import DeliveryRetryable
from bot.engine.service import JobService, Requester
from bot.settings import Settings
from bot.sora.base import VideoProvider
from db.database import open_store
from db.repository import Job, Repository
from tests.pgtools import database_url


@dataclass
class Posted:
    job_id: int
    message_id: int
    text: str
    path: Path | None = None
    size: int = 0


@dataclass
class RecordingPublisher:
    limit: int = 10 * 1024 * 1024
    fail_results: int = 0  # the next N result posts fail as retryable Discord errors
    progress: list[Posted] = field(default_factory=list)
    results: list[Posted] = field(default_factory=list)
    failures: list[Posted] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000))

    async def publish_progress(self, job: Job, text: str) -> int | None:
        message_id = job.status_message_id or next(self._ids)
        self.progress.append(Posted(job.id, message_id, text))
        return message_id

    async def publish_result(self, job: Job, video: Path, caption: str) -> int:
        if self.fail_results > 0:
            self.fail_results -= 1
            raise DeliveryRetryable("Discord 503", retry_after=0.05)
        posted = Posted(job.id, next(self._ids), caption, video, video.stat().st_size)
        self.results.append(posted)
        return posted.message_id

    async def publish_failure(self, job: Job, text: str) -> None:
        self.failures.append(Posted(job.id, 0, text))

    async def upload_limit(self, job: Job) -> int:
        return self.limit


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values = {"SORA_PROVIDER": "simulated", "DATA_DIR": str(tmp_path / "data"),
              "DATABASE_URL": database_url(tmp_path), "QUOTA_USER_COOLDOWN_SECONDS": "0",
              "QUOTA_USER_VIDEOS_PER_DAY": "50", "QUOTA_USER_CONCURRENT": "", "QUOTA_GUILD_CONCURRENT": "",
              **{k: str(v) for k, v in overrides.items()}}
    return Settings(_env_file=None, **values)


class Harness:
    def __init__(self, settings: Settings, provider: VideoProvider, *, publisher: RecordingPublisher | None = None,
                 time_scale: float = 0.01, owner: str = "", **config: object) -> None:
        self.settings = settings
        self.provider = provider
        self.publisher = publisher or RecordingPublisher()
        self.time_scale = time_scale
        self.config = config
        self.owner = owner  # the process name on its leases (several processes on PostgreSQL)

    async def start(self) -> Harness:
        self.db = await open_store(self.settings.database_url)
        self.conn = getattr(self.db, "conn", None)  # the aiosqlite connection on SQLite
        self.repo = Repository(self.db, owner=self.owner)
        config = {"shared": self.settings.database_is_postgres, **self.config}
        cfg = EngineConfig(data_dir=self.settings.data_dir, time_scale=self.time_scale,
                           requests_per_second=1000, burst=100, progress_interval=0.0,
                           **config)  # type: ignore[arg-type]
        self.ctx = EngineContext(self.repo, self.provider, self.publisher, cfg)
        self.poller = Poller(self.ctx)
        self.service = JobService(self.ctx, self.poller, self.settings)
        await self.service.catalog.refresh()  # a provider that lists its models: read them once, now
        await self.poller.start()
        return self

    async def __aenter__(self) -> Harness:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        await self.poller.stop(grace=2)
        await self.db.close()

    async def wait_for(self, job_id: int, *states: str, timeout: float = 30.0) -> Job:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            job = await self.repo.get_job(job_id)
            if job is not None and job.state.value in states:
                return job
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"job {job_id} stuck in {job.state if job else None}, wanted {states}")
            await asyncio.sleep(0.05)


def member(user_id: int = 1, guild_id: int = 10, channel_id: int = 100, **kw: object) -> Requester:
    return Requester(guild_id=guild_id, channel_id=channel_id, user_id=user_id, **kw)  # type: ignore[arg-type]
