"""A job engine on a real database (the settings' DATABASE_URL: SQLite, or PostgreSQL for the
several-process tests) and a real provider, with a recording publisher (bot/sandbox/recording.py),
wired by `build_engine` (bot/engine/wiring.py) as the bot wires it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.domain.records import Job
from bot.engine.context import EngineConfig
from bot.engine.wiring import build_engine
from bot.sandbox.recording import RecordingPublisher
from bot.sandbox.recording import make_settings as sandbox_settings
from bot.settings import Settings
from bot.sora.base import VideoProvider
from db.database import open_store
from db.repository import Repository
from tests.pgtools import database_url


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    """The sandbox's settings (bot/sandbox/recording.py) on this test's database: SQLite under
    `tmp_path`, or with TEST_DATABASE=postgres a fresh PostgreSQL database (tests/pgtools.py)."""
    return sandbox_settings(tmp_path, **{"DATABASE_URL": database_url(tmp_path), **overrides})


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
        self.engine = build_engine(self.repo, self.provider, self.publisher, self.settings, cfg)
        self.ctx = self.engine.ctx
        self.poller = self.engine.poller
        self.service = self.engine.service
        await self.engine.catalog.refresh()  # a provider that lists its models: read them once, now
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
