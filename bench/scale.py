"""Benchmark: one bot process with 2,000 jobs in flight — event-loop lag and memory while the job
engine admits and polls them.

The fake relay (openai dialect, progress reported) runs in a child process, so the RSS measured here
is the bot's alone (engine, SQLite connection, HTTP client), as it would be against a remote
provider. 2,000 requests from 200 members in 20 guilds go through `JobService.request_video` back to
back; the engine (`max_upstream=2000`) submits them all and polls them. Renders last 20–40 minutes
(unscaled), so every job is in flight for the whole measurement. The world runs at `--scale`
(default 1/4: the engine polls four times as often as it would in real time, so 2,000 jobs stress the
loop like ~8,000 would at 1×); the request-rate cap is raised so it is not the bottleneck.

A ticker task sleeps 10 ms at a time and records how late it wakes (the loop lag), from the first
request to the end of the polling window; VmRSS is sampled every 0.5 s and VmHWM read at the end.

    python bench/scale.py                   # ~2 minutes on 2 cores
    python bench/scale.py --jobs 500 --window 20
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import LagTicker, RelayProcess, engine, machine, status_kb, summary, with_render
from bot.domain.jobs import JobState
from bot.sandbox.recording import member

TARGET_LAG_P99_MS = 100.0
TARGET_RSS_MB = 250.0
UPSTREAM = {JobState.QUEUED.value, JobState.RUNNING.value}


class RssSampler:
    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), status_kb("VmRSS")))
            await asyncio.sleep(self.interval)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def lags_between(ticker: LagTicker, stamps: list[float], start: float, end: float) -> list[float]:
    return [lag * 1000 for lag, at in zip(ticker.lags, stamps, strict=False) if start <= at <= end]


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    scale = args.scale
    rng = random.Random(args.seed)
    gc.collect()
    rss_start_kb = status_kb("VmRSS")
    async with RelayProcess(dialect="openai", queue_fraction=0.02) as relay:
        provider = relay.provider(timeout=60.0)
        config = {"time_scale": scale, "max_upstream": args.jobs, "requests_per_second": args.rate,
                  "burst": 50, "progress_interval": 10.0 * scale}
        async with provider, engine(provider, config) as eng:
            rss_engine_kb = status_kb("VmRSS")
            ticker = StampedTicker()
            sampler = RssSampler()
            ticker.start()
            sampler.start()
            t0 = time.monotonic()
            for i in range(args.jobs):
                render = rng.uniform(20 * 60, 40 * 60) * scale
                outcome = await eng.service.request_video(
                    member(user_id=1000 + i % 200, guild_id=50 + i % 20), seconds=rng.choice((4, 8, 12)),
                    prompt=with_render(f"scale job {i}: waves on a rocky shore", render))
                if not outcome.accepted:
                    raise SystemExit(f"job {i} refused: {outcome.message}")
            t_requested = time.monotonic()
            while True:
                states = await eng.repo.count_by_state()
                if sum(n for s, n in states.items() if s in UPSTREAM) >= args.jobs:
                    break
                if time.monotonic() - t_requested > args.timeout:
                    raise SystemExit(f"not all jobs reached the provider in {args.timeout:g} s: {states}")
                await asyncio.sleep(0.25)
            t_inflight = time.monotonic()
            counts_before = await relay.counts()
            turns_before = eng.poller.turns
            await asyncio.sleep(args.window)
            t_end = time.monotonic()
            counts_after = await relay.counts()
            final_states = await eng.repo.count_by_state()
            turns = eng.poller.turns - turns_before
            await ticker.stop()
            sampler.stop()
            rss_hwm_kb = status_kb("VmHWM")
            rss_end_kb = status_kb("VmRSS")
        relay_hwm_kb = await relay.peak_rss_kb()
    polls = counts_after.get("GET status", 0) - counts_before.get("GET status", 0)
    window = t_end - t_inflight
    all_lags = lags_between(ticker, ticker.stamps, t0, t_end)
    admission = lags_between(ticker, ticker.stamps, t0, t_inflight)
    polling = lags_between(ticker, ticker.stamps, t_inflight, t_end)
    sampled_peak_kb = max(kb for _, kb in sampler.samples)
    rss_peak_mb = max(rss_hwm_kb, sampled_peak_kb) / 1024
    lag_p99 = summary(all_lags, 1, points=(99,))["p99"]
    return {
        "benchmark": "scale",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "jobs": args.jobs,
        "time_scale": scale,
        "relay": "bot/sandbox/fake_providers/relay.py in a child process (its memory is not counted), openai dialect, "
                 "2 % of each render queued, then progress",
        "renders_unscaled_s": "uniform 1200-2400 (none finishes during the run)",
        "rate_cap": f"requests_per_second={args.rate:g}, burst=50 (real seconds): raised so it is not the "
                    "bottleneck",
        "phases_s": {"requesting": round(t_requested - t0, 1), "until_all_in_flight": round(t_inflight - t0, 1),
                     "polling_window": round(window, 1)},
        "in_flight_at_end": {s: n for s, n in final_states.items()},
        "status_polls_in_window": polls,
        "polls_per_second_real": round(polls / window, 1),
        "polls_per_second_unscaled_equivalent": round(polls / window * scale, 1),
        "poller_turns_in_window": turns,
        "loop_lag_ms": {"all": summary(all_lags, 1, points=(50, 99)),
                        "requesting_and_admission": summary(admission, 1, points=(50, 99)),
                        "polling": summary(polling, 1, points=(50, 99))},
        "rss_mb": {"process_start": round(rss_start_kb / 1024, 1),
                   "engine_started": round(rss_engine_kb / 1024, 1),
                   "peak": round(rss_peak_mb, 1), "end": round(rss_end_kb / 1024, 1),
                   "relay_child_peak_not_counted": round(relay_hwm_kb / 1024, 1)},
        "targets": {"loop_lag_p99_ms": TARGET_LAG_P99_MS, "rss_peak_mb": TARGET_RSS_MB},
        "ok": lag_p99 <= TARGET_LAG_P99_MS and rss_peak_mb <= TARGET_RSS_MB
              and sum(n for s, n in final_states.items() if s in UPSTREAM) == args.jobs,
    }


class StampedTicker(LagTicker):
    """A lag ticker that also records when each wake-up happened, to split the lags by phase."""

    def __init__(self, interval: float = 0.010) -> None:
        super().__init__(interval)
        self.stamps: list[float] = []

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.lags.append(max(0.0, time.perf_counter() - before - self.interval))
            self.stamps.append(time.monotonic())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--scale", type=float, default=0.25, help="world speed (default 1/4)")
    parser.add_argument("--window", type=float, default=60.0, help="real seconds of polling to measure")
    parser.add_argument("--rate", type=float, default=400.0, help="engine request-rate cap, per real second")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
