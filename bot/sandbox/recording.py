"""The job engine without Discord: a recording `Publisher` (the working fake of the Discord side's
port: what the engine would post, kept in lists), settings for a throw-away world, and a requester.
Used by tests/engine_harness.py and the benchmarks (bench/), with `build_engine`
(bot/engine/wiring.py) wiring the real engine around them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from bot.domain.records import Job
from bot.engine.ports import DeliveryRetryable
from bot.engine.service import Requester
from bot.settings import Settings


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
    """Settings for a world in `tmp_path`: the simulated provider, a SQLite file, generous quotas."""
    values = {"SORA_PROVIDER": "simulated", "DATA_DIR": str(tmp_path / "data"),
              "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", "QUOTA_USER_COOLDOWN_SECONDS": "0",
              "QUOTA_USER_VIDEOS_PER_DAY": "50", "QUOTA_USER_CONCURRENT": "", "QUOTA_GUILD_CONCURRENT": "",
              **{k: str(v) for k, v in overrides.items()}}
    # pydantic-settings takes the environment names as keywords, which its typed __init__ cannot express
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def member(user_id: int = 1, guild_id: int = 10, channel_id: int = 100, **kw: object) -> Requester:
    return Requester(guild_id=guild_id, channel_id=channel_id, user_id=user_id, **kw)  # type: ignore[arg-type]
