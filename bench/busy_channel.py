"""Benchmark: a busy channel through the real discord.py client and a Discord that pushes back.

50 jobs in one channel (arriving over 20 s), renders uniform 60–120 s, 4 s videos, for each dialect
of the fake relay; the fake Discord limits posts and edits per channel to 5 per 5 s in fixed windows
and sends `X-RateLimit-*` headers and 429s as Discord does. Time runs at `--scale` (default 1/5:
a 60 s render takes 12 s, the buckets are 5 per 1 s, and the engine's estimates and its 10 s
progress interval shrink the same way). Everything is in-process (tests/busy_channel.py).

Each dialect runs "cold" (no render of the shape known: all 50 submitted before any finishes) and
"warm" (20 earlier renders of the shape in the database, drawn from the same 60–120 s spread, as a
deployment that has run the model before has them); openrouter also runs "webhooks" (warm, with the
real receiver on loopback and the fake pushing a signed event to each job's callback_url, the
schedule stretched into the safety net: how a deployment with `WEBHOOK_PUBLIC_URL` runs it).
Without progress and without push, ≤ 4 requests/job and p95 ≤ 6 s cannot both hold (see
bench/poll_bound.py: 5.05 requests/job at best), so those rows are judged on the latency and 429
targets and on requests within ~1 of that bound (`ok_vs_bound`).

Then "learned": per dialect, two jobs one after the other whose render is 10× shorter than the
a-priori estimate (10.8 s for a 4 s sora-2 video, estimated 108 s); the second one runs once the
first is known.

Reported per dialect: status requests per job; completion → result message created (p50/p95/max),
unscaled = real / scale (conservative: the download, ffmpeg and upload are counted ×1/scale too),
split into detection (completion → the status request that saw it) and pipeline (real seconds);
Discord 429s by route; edits per status message; status updates sent / superseded.

    python bench/busy_channel.py                 # ~8 minutes on 2 cores
    python bench/busy_channel.py --dialects openai --jobs 20
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine, summary
from bench.poll_bound import bound
from tests.busy_channel import PlannedJob, run_busy_channel

# One line per dialect of the fake relay (tests/fakes/relay_dialects.py).
DIALECTS = (
    "openai",
    "juheapi",
    "xingchaoyiqing",
    "openrouter",
)
NO_PROGRESS = {"xingchaoyiqing", "openrouter"}  # dialects that report no progress
TARGETS = {"latency_max_s": 15.0, "latency_p95_s": 6.0, "edit_429s": 0, "status_requests_per_job_mean": 4,
           "learned_latency_s": 10.0}
BOUND = bound(60.0, 120.0, lag=TARGETS["latency_p95_s"]).mean_requests  # 5.05: no progress, no push
PRIOR_4S_SORA2 = 108.0  # the a-priori estimate of a 4 s sora-2 render (bot/engine/schedule.py)
HISTORY = 20  # earlier renders known in the "warm" rows (bot/engine/context.py HISTORY_SAMPLES)


def plan(count: int, seed: int) -> list[PlannedJob]:
    rng = random.Random(seed)
    return sorted((PlannedJob(arrival=rng.uniform(0, 20), render=rng.uniform(60, 120)) for _ in range(count)),
                  key=lambda j: j.arrival)


def earlier_renders(seed: int) -> list[float]:
    """Earlier renders of the shape as the database has them: 60–120 s, noticed 0–3 s after."""
    rng = random.Random(seed + 1000)
    return [rng.uniform(60, 120) + rng.uniform(0, 3) for _ in range(HISTORY)]


async def busy(dialect: str, jobs: int, seed: int, scale: float, *, warm: bool = False,
               webhooks: bool = False) -> dict[str, Any]:
    run = await run_busy_channel(dialect, plan(jobs, seed), scale=scale, timeout=600 * scale + 60,
                                 history=earlier_renders(seed) if warm else [], webhooks=webhooks)
    edit_429s = sum(n for route, n in run.refusals.items() if route.startswith("PATCH"))
    report = {
        "delivered": run.delivered, "states": run.states,
        "status_requests_per_job": summary(run.status_requests, 2),
        "latency_unscaled_s": summary(run.latency, 2),
        "detection_unscaled_s": summary(run.detection, 2),
        "pipeline_real_s": summary(run.pipeline_real, 3),
        # detection (unscaled) + the pipeline at the speed it really ran: what a deployment would see
        # (not a target: Discord's bucket waits inside the pipeline are scaled too)
        "latency_pipeline_unscaled_s": summary([d + p for d, p in zip(run.detection, run.pipeline_real,
                                                                       strict=True)], 2),
        "discord_429s_by_route": run.refusals,
        "edits_per_status_message": summary(run.edits_per_message, 1, points=(5, 50, 95)),
        "status_updates": run.updates,
        "wall_unscaled_s": round(run.wall_s, 1),
    }
    latency_ok = (run.delivered == jobs and report["latency_unscaled_s"]["max"] <= TARGETS["latency_max_s"]
                  and report["latency_unscaled_s"]["p95"] <= TARGETS["latency_p95_s"] and edit_429s == 0)
    requests = report["status_requests_per_job"]["mean"]
    report["ok"] = latency_ok and requests <= TARGETS["status_requests_per_job_mean"]
    if dialect in NO_PROGRESS and not webhooks:
        report["ok_vs_bound"] = latency_ok and requests <= BOUND + 1.0
    return report


async def learned(dialect: str, scale: float) -> dict[str, Any]:
    short = PRIOR_4S_SORA2 / 10
    # the second arrives once the first is surely delivered (its render is then known)
    run = await run_busy_channel(dialect, [PlannedJob(0.0, short), PlannedJob(short + 30.0, short)], scale=scale,
                                 timeout=300 * scale + 30)
    first, second = (j["latency"] for j in run.jobs)
    return {"render_unscaled_s": round(short, 1), "prior_unscaled_s": PRIOR_4S_SORA2,
            "first_latency_s (no history)": round(first, 2), "second_latency_s (one known)": round(second, 2),
            "status_requests": run.status_requests,
            "ok": run.delivered == 2 and second <= TARGETS["learned_latency_s"]}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for dialect in args.dialects:
        started = time.monotonic()
        results[dialect] = {"cold": await busy(dialect, args.jobs, args.seed, args.scale),
                            "warm": await busy(dialect, args.jobs, args.seed, args.scale, warm=True)}
        if dialect == "openrouter":
            results[dialect]["webhooks"] = await busy(dialect, args.jobs, args.seed, args.scale, warm=True,
                                                      webhooks=True)
        results[dialect]["learned"] = await learned(dialect, args.scale)
        results[dialect]["real_s"] = round(time.monotonic() - started, 1)
    return {
        "benchmark": "busy_channel",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "jobs": args.jobs, "time_scale": round(args.scale, 4),
        "world": f"one channel; renders uniform 60-120 s (seed {args.seed}), 4 s sora-2 1280x720, arrivals over "
                 "20 s; fake Discord posts and edits 5 per 5 s per channel with X-RateLimit-* headers",
        "targets": TARGETS,
        "no_progress_bound_requests_per_job": BOUND,
        "dialects": results,
        # every target where it can be met; without progress or push, the latency targets and ~1 of the bound
        "ok": all(row.get("ok_vs_bound", row["ok"]) for r in results.values() for row in r.values()
                  if isinstance(row, dict)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--scale", type=float, default=0.2, help="world speed (default 1/5)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--dialects", nargs="+", default=list(DIALECTS), choices=DIALECTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(main_async(args))
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
