"""Disk retention: the files of ended jobs (delivered videos, their fitted copies, the videos of jobs
that could not be posted, first-frame images) are deleted a configurable time after the job ended,
and the total under DATA_DIR/videos is kept under a cap by deleting the oldest first. A file whose
job is still in progress is never touched: it is still owed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bot.domain.records import Job
from bot.engine.context import EngineContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    deleted_files: int
    freed_bytes: int
    total_bytes: int  # what is left under the videos folder


def job_files(job: Job) -> list[Path]:
    """The original and any fitted copy (`<stem>.fit.mp4`, see bot/media.py)."""
    if not job.file_path:
        return []
    original = Path(job.file_path)
    return [original, original.with_name(f"{original.stem}.fit.mp4")]


def _delete(paths: list[Path]) -> tuple[int, int]:
    count = freed = 0
    for path in paths:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        count += 1
        freed += size
    return count, freed


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*") if p.is_file())


async def sweep(ctx: EngineContext, *, retention_seconds: float, max_bytes: int) -> SweepReport:
    now = ctx.clock()
    deleted = freed = 0
    folder = ctx.videos_dir()
    total = folder_bytes(folder)
    for job in await ctx.repo.ended_with_files():
        expired = now - (job.delivered_at or job.updated_at) >= retention_seconds
        if not expired and total <= max_bytes:
            break  # oldest first: nothing later is due either
        count, size = _delete(job_files(job))
        if job.image_path:
            _delete([Path(job.image_path)])
        await ctx.repo.update(job.id, file_path=None, image_path=None)
        deleted, freed, total = deleted + count, freed + size, total - size
        log.info("deleted %d file(s), %d bytes (%s)", count, size, "retention" if expired else "disk cap",
                 extra=job.log_extra())
    return SweepReport(deleted, freed, total)
