"""A job step that overruns its deadline is cancelled, logged with the job id, counted, and retried
long before its lease would have lapsed."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bot.domain.records import Job
from bot.metrics import Metrics
from bot.sandbox.recording import RecordingPublisher, member
from bot.sora.simulated import SimulatedProvider
from tests.engine_harness import Harness, make_settings


class HangsOnce(RecordingPublisher):
    """The first result post never answers (a Discord that took the connection and froze)."""

    hung: int = 0

    async def publish_result(self, job: Job, video: Path, caption: str) -> int:
        if self.hung == 0:
            self.hung += 1
            await asyncio.Event().wait()
        return await super().publish_result(job, video, caption)


async def test_a_hung_step_is_cancelled_at_its_deadline_and_retried(tmp_path, caplog):
    settings = make_settings(tmp_path)
    publisher = HangsOnce()
    provider = SimulatedProvider(settings.data_dir / "sim", render_seconds=0.3)
    async with Harness(settings, provider, publisher=publisher, step_deadline=5.0,
                       download_deadline=5.0, lease_seconds=300) as h:
        h.ctx.metrics = Metrics()
        caplog.set_level(logging.WARNING, logger="bot.engine.poller")
        outcome = await h.service.request_video(member(), prompt="a frozen lake", seconds=4)
        job = await h.wait_for(outcome.job.id, "delivered", timeout=60)  # not the 300 s lease
        assert publisher.hung == 1 and [r.job_id for r in publisher.results] == [job.id]
        overran = [r for r in caplog.records if "overran" in r.getMessage()]
        # (a loaded machine may slow a normal step past 5 s too: each overrun is logged and counted)
        assert overran and all(getattr(r, "job", None) == job.id for r in overran)
        counted = {s.labels["step"]: s.value for m in h.ctx.metrics.step_overruns.collect() for s in m.samples
                   if s.name.endswith("_total")}
        assert sum(counted.values()) == len(overran), counted
