"""Benchmark: how many status requests the job engine spends per job, and how soon it notices a
finished render and starts the upload, next to a naive loop that polls every second.

The world runs at `--scale` speed (default 1/60: a 1–5 minute render takes 1–5 s of wall time) and
the engine's `EngineConfig.time_scale` shrinks its estimates and intervals the same way. The fake
relay (openai dialect, progress reported, 10 % of each render spent queued) runs in a child process.
200 jobs with renders drawn uniformly from 1–5 minutes (seeded; also 4/8/12 s videos, so the
engine's a-priori estimate is off by up to ±60 %) arrive spread over `--arrival-window` unscaled
seconds and go through the real engine: JobService → Poller → submit → polls → download (small real
MP4) → probe → fit → a recording publisher (no Discord). Then the same jobs (same render times) go
through the naive loop: create, GET status every 1 s (scaled), then download, probe, fit, "publish".

Measured per job from the relay's request log and the publisher's clock (both CLOCK_MONOTONIC):
status requests (GET /videos/{id}); completion → publish_result latency, split into detection (the
relay finishing → the status request that saw it) and pipeline (that request → publish_result).
Unscaled latency = detection / scale + pipeline: a faster world shortens the waiting, not the
download and ffmpeg work (dividing those by the scale too is shown as `latency_unscaled_if_all_scaled`).

    python bench/poll_efficiency.py                # ~1.5 minutes on 2 cores
    python bench/poll_efficiency.py --jobs 50 --naive-concurrency 4
    python bench/poll_efficiency.py --dialect openrouter --jobs 60 --naive-jobs 0   # no progress field
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import LagTicker, RelayProcess, bench_model, engine, machine, summary, with_render
from bot import media
from bot.domain.jobs import TERMINAL, JobState
from bot.domain.records import Job
from bot.sandbox.recording import member
from bot.sora.client import HttpVideoProvider
from bot.sora.models import CreateVideo, VideoState
from db.repository import Repository

TARGET_REQUESTS_MEAN = 8.0
TARGET_LATENCY_P95 = 6.0  # unscaled seconds
SECONDS = (4, 8, 12)
REQUESTS_PER_SECOND = 1000.0  # the engine's provider rate cap in the scaled world (see --help)
BURST = 200


def plan(count: int, seed: int, low: float, high: float, window: float) -> list[dict[str, float]]:
    rng = random.Random(seed)
    jobs = [{"render": rng.uniform(low, high), "seconds": rng.choice(SECONDS), "arrival": rng.uniform(0, window)}
            for _ in range(count)]
    return sorted(jobs, key=lambda j: j["arrival"])


def per_job(stats: dict[str, Any], published: dict[str, float]) -> dict[str, list[float]]:
    """`published`: upstream id → monotonic time the result post started."""
    requests, detection, pipeline, total = [], [], [], []
    for video_id, at in published.items():
        job = stats["jobs"][video_id]
        done = job["started"] + job["render"]
        requests.append(float(len(job["status_at"])))
        seen = min((t for t in job["status_at"] if t >= done), default=None)
        if seen is None:  # cannot happen for a job delivered after a status poll
            continue
        detection.append(seen - done)
        pipeline.append(at - seen)
        total.append(at - done)
    return {"requests": requests, "detection": detection, "pipeline": pipeline, "total": total}


def report(values: dict[str, list[float]], scale: float) -> dict[str, Any]:
    unscaled = [d / scale + p for d, p in zip(values["detection"], values["pipeline"], strict=True)]
    return {
        "status_requests_per_job": summary(values["requests"], 2, points=(50, 95)),
        "latency_unscaled_s": summary(unscaled, 2),
        "detection_unscaled_s": summary([d / scale for d in values["detection"]], 2),
        "pipeline_real_s": summary(values["pipeline"], 3),
        "latency_real_s": summary(values["total"], 3),
        "latency_unscaled_if_all_scaled": summary([t / scale for t in values["total"]], 2),
    }


def watch_claims(repo: Repository) -> list[float]:
    """How late (real seconds) the poller claims each due job: now − next_poll_at at the claim."""
    lateness: list[float] = []
    claim_due = repo.claim_due

    async def watched(now: float, *, limit: int, lease: float) -> list[Job]:
        jobs = await claim_due(now, limit=limit, lease=lease)
        lateness.extend(max(0.0, now - (job.next_poll_at or now)) for job in jobs)
        return jobs

    repo.claim_due = watched  # type: ignore[method-assign]
    return lateness


async def run_engine(relay: RelayProcess, jobs: list[dict[str, float]], scale: float,
                     timeout: float) -> tuple[dict[str, float], dict[str, Any]]:
    provider = relay.provider()
    config = {"time_scale": scale, "max_upstream": len(jobs), "requests_per_second": REQUESTS_PER_SECOND,
              "burst": BURST, "progress_interval": 10.0 * scale}
    async with provider, engine(provider, config) as eng:
        lateness = watch_claims(eng.repo)
        ticker = LagTicker()
        ticker.start()
        started = time.monotonic()
        ids = []
        for i, job in enumerate(jobs):
            await asyncio.sleep(max(0.0, started + job["arrival"] * scale - time.monotonic()))
            outcome = await eng.service.request_video(
                member(user_id=1 + i % 40, guild_id=10 + i % 4), seconds=int(job["seconds"]),
                prompt=with_render(f"engine job {i}: a lighthouse at dusk", job["render"] * scale))
            if not outcome.accepted:
                raise SystemExit(f"job {i} refused: {outcome.message}")
            ids.append(outcome.job.id)
        deadline = time.monotonic() + timeout
        while True:
            states = await eng.repo.count_by_state()
            if sum(n for s, n in states.items() if JobState(s) in TERMINAL) >= len(ids):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"engine phase timed out: {states}")
            await asyncio.sleep(0.05)
        wall = time.monotonic() - started
        await ticker.stop()
        published = {}
        for job_id in ids:
            job = await eng.repo.get_job(job_id)
            if job is not None and job.id in eng.publisher.result_at:
                published[job.provider_id] = eng.publisher.result_at[job.id]
        extra = {"delivered": len(published), "states": states, "wall_s": round(wall, 1),
                 "poller_turns": eng.poller.turns,
                 "poll_lateness_real_ms": summary([x * 1000 for x in lateness], 1, points=(50, 95, 99)),
                 "loop_lag_real_ms": summary([x * 1000 for x in ticker.lags], 1, points=(50, 99))}
    return published, extra


async def run_naive(relay: RelayProcess, jobs: list[dict[str, float]], scale: float, interval: float,
                    concurrency: int) -> tuple[dict[str, float], dict[str, Any]]:
    published: dict[str, float] = {}
    gate = asyncio.Semaphore(concurrency)
    started = time.monotonic()

    async def one(provider: HttpVideoProvider, i: int, job: dict[str, float], folder: Path) -> None:
        async with gate:
            video = await provider.create(CreateVideo(
                prompt=with_render(f"naive job {i}: a lighthouse at dusk", job["render"] * scale),
                seconds=int(job["seconds"])))
            begin = time.monotonic()
            tick = 0
            while video.state not in (VideoState.COMPLETED, VideoState.FAILED):
                tick += 1
                await asyncio.sleep(max(0.0, begin + tick * interval * scale - time.monotonic()))
                video = await provider.retrieve(video.id)
            if video.state is VideoState.FAILED:
                return
            dest = folder / f"{video.id}.mp4"
            await provider.download(video, dest)
            info = await media.probe(dest)
            await media.fit_to_limit(dest, 10 * 1024 * 1024, folder, info=info)
            published[video.id] = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="sora-bench-naive-") as tmp:
        async with relay.provider() as provider:
            await asyncio.gather(*(one(provider, i, job, Path(tmp)) for i, job in enumerate(jobs)))
    return published, {"delivered": len(published), "wall_s": round(time.monotonic() - started, 1),
                       "jobs_at_once": concurrency}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    scale = args.scale
    jobs = plan(args.jobs, args.seed, args.min_render, args.max_render, args.arrival_window)
    async with RelayProcess(dialect=args.dialect, queue_fraction=0.1) as relay:
        # Warm the relay's MP4 cache (one ffmpeg run per length) so the first downloads are not slower.
        async with relay.provider() as provider:
            for seconds in SECONDS:
                warm = await provider.create(CreateVideo(prompt=with_render("warm-up", 0.0), seconds=seconds,
                                                         model=bench_model(args.dialect)))
                await provider.download(warm, Path(tempfile.gettempdir()) / "sora-bench-warm.mp4")
        engine_published, engine_extra = await run_engine(relay, jobs, scale, args.timeout)
        naive_jobs = jobs[: args.naive_jobs] if args.naive_jobs is not None else jobs
        naive_published, naive_extra = await run_naive(relay, naive_jobs, scale, args.naive_interval,
                                                       args.naive_concurrency)
        stats = await relay.stats()
    engine_report = {**report(per_job(stats, engine_published), scale), **engine_extra}
    naive_report = ({**report(per_job(stats, naive_published), scale), **naive_extra} if naive_published
                    else {"skipped": True})
    mean_requests = engine_report["status_requests_per_job"]["mean"]
    p95_latency = engine_report["latency_unscaled_s"]["p95"]
    return {
        "benchmark": "poll_efficiency",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "jobs": args.jobs,
        "time_scale": round(scale, 6),
        "renders_unscaled_s": f"uniform {args.min_render:g}-{args.max_render:g}, seed {args.seed}; "
                              "videos of 4/8/12 s, sora-2, 1280x720",
        "arrivals": f"uniform over {args.arrival_window:g} s unscaled",
        "relay": ("bot/sandbox/fake_providers/relay.py in a child process, openai dialect, progress reported, "
                  "10 % queued"
                  if args.dialect == "openai" else
                  "bot/sandbox/fake_providers/openrouter.py in a child process (no progress reported, 10 % pending), "
                  "jobs on openai/sora-2-pro"),
        "rate_cap": f"engine requests_per_second={REQUESTS_PER_SECOND:g}, burst={BURST} (real seconds): set "
                    "high so the cap is not the bottleneck of the scaled world",
        "naive": f"one coroutine per job, GET status every {args.naive_interval:g} s unscaled "
                 f"({args.naive_interval * scale * 1000:.1f} ms real), then download, probe, fit, publish; "
                 f"{args.naive_concurrency} jobs at a time (per-job numbers do not depend on it)",
        "relay_requests_all_phases": stats["requests"],
        "engine": engine_report,
        "naive_1s": naive_report,
        "targets": {"status_requests_per_job_mean": TARGET_REQUESTS_MEAN,
                    "latency_unscaled_p95_s": TARGET_LATENCY_P95},
        "ok": mean_requests <= TARGET_REQUESTS_MEAN and p95_latency <= TARGET_LATENCY_P95
              and engine_report["delivered"] == args.jobs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--scale", type=float, default=1 / 60, help="world speed (default 1/60)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--min-render", type=float, default=60.0, help="unscaled seconds")
    parser.add_argument("--max-render", type=float, default=300.0, help="unscaled seconds")
    parser.add_argument("--arrival-window", type=float, default=300.0, help="unscaled seconds")
    parser.add_argument("--naive-interval", type=float, default=1.0, help="unscaled seconds")
    parser.add_argument("--naive-concurrency", type=int, default=8)
    parser.add_argument("--naive-jobs", type=int, default=None, help="only the first N jobs (0: skip)")
    parser.add_argument("--timeout", type=float, default=240.0, help="real seconds for the engine phase")
    parser.add_argument("--dialect", choices=("openai", "openrouter"), default="openai",
                        help="which loopback fake to run against (openrouter reports no progress)")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
