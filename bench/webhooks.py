"""Benchmark: webhooks on vs off on the same renders: status requests per job, and how soon after a
render ends its result is posted.

Both phases run the real engine (JobService → Poller → submit → status → download → probe → fit → a
recording publisher) against the fake relay in a child process (openai dialect, progress reported,
10 % of each render queued), on the same seeded plan: `--jobs` renders uniform 1–5 min (unscaled),
4/8/12 s videos, arriving over `--arrival-window`, in a world running at `--scale` (default 1/60).

- off: today's adaptive polling (bot/engine/schedule.py).
- on: the real webhook receiver (bot/webhooks/receiver.py) on 127.0.0.1, the relay POSTing a
  Standard-Webhooks-signed `video.completed` to it the moment each render ends (as OpenAI does), and
  the engine's schedule stretched into the safety net (`EngineConfig.webhooks=True`: first poll at
  1.5 × the expected time, then every 3 min).

Latency = the relay's completion instant → `publish_result` (both CLOCK_MONOTONIC). As in
poll_efficiency.py, time spent *waiting for a poll* is world time and is unscaled (÷ scale), while
work (HTTP, download, ffmpeg, database) is real time. A job whose status request came after its
webhook was sent was found by the push: its whole latency is real time (the push travels at real
speed whatever the world's scale). `latency_unscaled_if_all_scaled` divides everything by the scale,
which wildly overstates the push path (20 ms of HTTP becomes 1.2 s); it is shown for reference.

    python bench/webhooks.py                    # 200 jobs, both phases, ~40 s on 2 cores
    python bench/webhooks.py --jobs 60          # quicker

Adding a dialect is one entry in DIALECTS (see there) once its fake relay can send webhooks.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import KEY, LagTicker, RelayProcess, bench_model, engine, machine, summary, with_render
from bench.poll_efficiency import BURST, REQUESTS_PER_SECOND, SECONDS, plan, watch_claims
from bot.domain.jobs import TERMINAL, JobState
from bot.sandbox.recording import make_settings, member
from bot.sora.factory import build_provider
from bot.sora.models import CreateVideo
from bot.webhooks.receiver import WebhookReceiver

TARGET_REQUESTS_MEAN = 1.5  # with webhooks on
TARGET_LATENCY_P95 = 2.0  # seconds, with webhooks on
SECRET = "whsec_" + "YmVuY2gtd2ViaG9vay1zZWNyZXQtMzItYnl0ZXMtbG9uZw=="


@dataclass(frozen=True)
class Dialect:
    route: str  # the receiver's route: /webhooks/<route>
    relay_pushes: bool  # True: the relay is told the URL once (OpenAI's dashboard); False: per request
    relay_options: dict[str, Any] = field(default_factory=dict)  # more keyword arguments for the fake


# One line per dialect. OpenRouter's provider (bot/sora/factory.py) sends WEBHOOK_PUBLIC_URL +
# /webhooks/openrouter as `callback_url` with every create; its fake pushes there, signed with the secret.
DIALECTS = {
    "openai": Dialect(route="openai", relay_pushes=True),
    "openrouter": Dialect(route="openrouter", relay_pushes=False,
                          relay_options={"webhooks": True, "webhook_secret": SECRET}),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def per_job(stats: dict[str, Any], published: dict[str, float], scale: float) -> dict[str, list[float]]:
    requests, pushed, unscaled, real, all_scaled = [], [], [], [], []
    for video_id, at in published.items():
        job = stats["jobs"][video_id]
        done = job["started"] + job["render"]
        requests.append(float(len(job["status_at"])))
        seen = min((t for t in job["status_at"] if t >= done), default=None)
        if seen is None:
            continue
        by_push = job["webhook_at"] is not None and job["webhook_at"] <= seen
        pushed.append(1.0 if by_push else 0.0)
        unscaled.append(at - done if by_push else (seen - done) / scale + (at - seen))
        real.append(at - done)
        all_scaled.append((at - done) / scale)
    return {"requests": requests, "pushed": pushed, "unscaled": unscaled, "real": real, "all_scaled": all_scaled}


def report(values: dict[str, list[float]]) -> dict[str, Any]:
    return {
        "status_requests_per_job": summary(values["requests"], 2, points=(50, 95)),
        "latency_unscaled_s": summary(values["unscaled"], 2),
        "latency_real_s": summary(values["real"], 3),
        "latency_unscaled_if_all_scaled": summary(values["all_scaled"], 2),
        "found_by_webhook": round(sum(values["pushed"]) / len(values["pushed"]), 3) if values["pushed"] else 0.0,
    }


async def run_phase(relay: RelayProcess, dialect: str, jobs: list[dict[str, float]], scale: float,
                    timeout: float, *, webhooks: bool) -> tuple[dict[str, float], dict[str, Any]]:
    shape = DIALECTS[dialect]
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sora-bench-wh-") as tmp:
        pushed = {"WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{port}", "SORA_WEBHOOK_SECRET": SECRET,
                  "WEBHOOK_PORT": str(port)} if webhooks else {}
        provider_settings = make_settings(Path(tmp), SORA_PROVIDER=dialect, SORA_BASE_URL=relay.base_url,
                                          SORA_API_KEY=KEY, **pushed)
        provider = build_provider(provider_settings)
    config = {"time_scale": scale, "max_upstream": len(jobs), "requests_per_second": REQUESTS_PER_SECOND,
              "burst": BURST, "progress_interval": 10.0 * scale, "webhooks": webhooks}
    async with provider, engine(provider, config) as eng:
        receiver = None
        if webhooks:
            receiver = WebhookReceiver(host="127.0.0.1", port=port, secret=SECRET, repo=eng.repo, poller=eng.poller,
                                       provider_name=provider.name)
            await receiver.start()
            if shape.relay_pushes:
                await relay.send_webhooks(receiver.url(shape.route), SECRET)
        try:
            lateness = watch_claims(eng.repo)
            ticker = LagTicker()
            ticker.start()
            started = time.monotonic()
            ids = []
            for i, job in enumerate(jobs):
                await asyncio.sleep(max(0.0, started + job["arrival"] * scale - time.monotonic()))
                outcome = await eng.service.request_video(
                    member(user_id=1 + i % 40, guild_id=10 + i % 4), seconds=int(job["seconds"]),
                    prompt=with_render(f"job {i} ({'on' if webhooks else 'off'}): a lighthouse", job["render"] * scale))
                if not outcome.accepted:
                    raise SystemExit(f"job {i} refused: {outcome.message}")
                ids.append(outcome.job.id)
            deadline = time.monotonic() + timeout
            while True:
                states = await eng.repo.count_by_state()
                if sum(n for s, n in states.items() if JobState(s) in TERMINAL) >= len(ids):
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"phase timed out: {states}")
                await asyncio.sleep(0.05)
            wall = time.monotonic() - started
            await ticker.stop()
        finally:
            if receiver is not None:
                await receiver.stop()
        published = {}
        for job_id in ids:
            job = await eng.repo.get_job(job_id)
            if job is not None and job.id in eng.publisher.result_at:
                published[job.provider_id] = eng.publisher.result_at[job.id]
        extra = {"delivered": len(published), "states": states, "wall_s": round(wall, 1),
                 "poller_turns": eng.poller.turns,
                 "receiver": dict(receiver.outcomes) if receiver is not None else None,
                 "poll_lateness_real_ms": summary([x * 1000 for x in lateness], 1, points=(50, 95, 99)),
                 "loop_lag_real_ms": summary([x * 1000 for x in ticker.lags], 1, points=(50, 99))}
    return published, extra


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    scale = args.scale
    jobs = plan(args.jobs, args.seed, args.min_render, args.max_render, args.arrival_window)
    async with RelayProcess(dialect=args.dialect, queue_fraction=0.1, **DIALECTS[args.dialect].relay_options) as relay:
        async with relay.provider() as provider:  # warm the relay's MP4 cache: one ffmpeg run per length
            for seconds in SECONDS:
                warm = await provider.create(CreateVideo(prompt=with_render("warm-up", 0.0), seconds=seconds,
                                                         model=bench_model(args.dialect)))
                await provider.download(warm, Path(tempfile.gettempdir()) / "sora-bench-warm.mp4")
        off_published, off_extra = await run_phase(relay, args.dialect, jobs, scale, args.timeout, webhooks=False)
        on_published, on_extra = await run_phase(relay, args.dialect, jobs, scale, args.timeout, webhooks=True)
        stats = await relay.stats()
    off = {**report(per_job(stats, off_published, scale)), **off_extra}
    on = {**report(per_job(stats, on_published, scale)), **on_extra}
    mean_requests = on["status_requests_per_job"]["mean"]
    p95 = on["latency_unscaled_s"]["p95"]
    return {
        "benchmark": "webhooks",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "dialect": args.dialect,
        "jobs": args.jobs,
        "time_scale": round(scale, 6),
        "renders_unscaled_s": f"uniform {args.min_render:g}-{args.max_render:g}, seed {args.seed}; "
                              "videos of 4/8/12 s, sora-2, 1280x720 (the same plan in both phases)",
        "arrivals": f"uniform over {args.arrival_window:g} s unscaled",
        "relay": f"bot/sandbox/fake_providers/relay.py in a child process, {args.dialect} dialect, "
                 "progress reported, 10 % queued",
        "webhooks_off": off,
        "webhooks_on": on,
        "targets_webhooks_on": {"status_requests_per_job_mean": TARGET_REQUESTS_MEAN,
                                "latency_unscaled_p95_s": TARGET_LATENCY_P95},
        "ok": mean_requests <= TARGET_REQUESTS_MEAN and p95 <= TARGET_LATENCY_P95
              and on["delivered"] == args.jobs and off["delivered"] == args.jobs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialect", choices=sorted(DIALECTS), default="openai")
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--scale", type=float, default=1 / 60, help="world speed (default 1/60)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--min-render", type=float, default=60.0, help="unscaled seconds")
    parser.add_argument("--max-render", type=float, default=300.0, help="unscaled seconds")
    parser.add_argument("--arrival-window", type=float, default=300.0, help="unscaled seconds")
    parser.add_argument("--timeout", type=float, default=240.0, help="real seconds per phase")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
