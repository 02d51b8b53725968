"""Benchmark: several processes, one PostgreSQL queue — jobs in flight across two bot processes,
claim throughput, database round trips per job, event-loop lag p99; next to the same figures on
SQLite (one process, as today).

Part 1 (claims): N due jobs in a fresh database; two independent repositories ("processes", each
its own pool) call `claim_due(limit=50)` concurrently until none is left → claims/s and a check
that no job was claimed twice. The same on SQLite with one repository.

Part 2 (in flight): the fake relay in a child process; two worker processes (`--worker`), each a
real engine (poller, service, the shared rate cap in the database) on the same PostgreSQL
database, each sending `--jobs / 2` requests through `JobService.request_video`. Renders last
60–120 min unscaled (15–30 min real at --scale 0.25) so every job stays in flight; after all are
upstream, a `--window` of polling is
measured: loop lag (a 10 ms ticker in each worker), status polls, database statements (every call
through the adapter is counted) per admitted job and per status poll.

    python bench/scale_pg.py                         # 10,000 jobs across 2 processes, ~4 min
    python bench/scale_pg.py --jobs 2000 --window 20 --claim-jobs 2000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import LagTicker, RelayProcess, machine, status_kb, summary, with_render
from bot.engine.jobs import JobState
from db.backend import Database
from db.database import open_store
from db.repository import Repository

UPSTREAM = {JobState.QUEUED.value, JobState.RUNNING.value}


class Counting:
    """Wraps an adapter and counts the statements sent through it (round trips to the database)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.statements = 0

    def install(self) -> None:
        db = self.db
        for name in ("fetchone", "fetchall", "execute"):
            original = getattr(db, name)

            async def counted(*args: Any, _original=original, **kw: Any) -> Any:
                self.statements += 1
                return await _original(*args, **kw)

            setattr(db, name, counted)
        original_tx = db.transaction

        def transaction(*args: Any, **kw: Any) -> Any:
            self.statements += 2  # BEGIN and COMMIT
            return _CountingTx(original_tx(*args, **kw), self)

        db.transaction = transaction  # type: ignore[method-assign]


class _CountingTx:
    def __init__(self, inner: Any, counter: Counting) -> None:
        self.inner, self.counter = inner, counter

    async def __aenter__(self) -> Any:
        tx = await self.inner.__aenter__()
        for name in ("fetchone", "fetchall", "execute", "lock"):
            original = getattr(tx, name)

            async def counted(*args: Any, _original=original, **kw: Any) -> Any:
                self.counter.statements += 1
                return await _original(*args, **kw)

            setattr(tx, name, counted)
        return tx

    async def __aexit__(self, *exc: Any) -> Any:
        return await self.inner.__aexit__(*exc)


# --- part 1: claim throughput -------------------------------------------------------------------------
async def _due_jobs(repo: Repository, n: int) -> None:
    now = time.time()
    async with repo.db.transaction() as tx:
        for i in range(n):
            await tx.execute(
                """INSERT INTO jobs (guild_id, channel_id, user_id, kind, prompt, model, size, seconds, provider,
                   provider_id, idempotency_key, state, created_at, updated_at, next_poll_at)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                (1, 2, i % 200, "generate", f"p{i}", "sora-2", "1280x720", 4, "openai", f"video_{i}", f"k{i}",
                 "running", now, now, now - 1))


async def _drain(repos: list[Repository], limit: int) -> tuple[float, list[int]]:
    claimed: list[int] = []

    async def worker(repo: Repository) -> None:
        while True:
            jobs = await repo.claim_due(time.time(), limit=limit, lease=600)
            if not jobs:
                return
            claimed.extend(j.id for j in jobs)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(r) for r in repos))
    return time.perf_counter() - t0, claimed


async def claims(pg_url: str, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        lite = await open_store(f"sqlite:///{tmp}/bench.db")
        try:
            repo = Repository(lite)
            await _due_jobs(repo, n)
            took, got = await _drain([repo], 50)
            out["sqlite_1_process"] = {"jobs": n, "seconds": round(took, 2), "claims_per_s": round(n / took),
                                       "claimed_twice": len(got) - len(set(got))}
        finally:
            await lite.close()
    dbs = [await open_store(pg_url), await open_store(pg_url)]
    try:
        repos = [Repository(db, owner=f"p{i}") for i, db in enumerate(dbs)]
        await _due_jobs(repos[0], n)
        took, got = await _drain(repos, 50)
        out["postgres_2_processes"] = {"jobs": n, "seconds": round(took, 2), "claims_per_s": round(n / took),
                                       "claimed_twice": len(got) - len(set(got)), "all_claimed": len(set(got)) == n}
        await dbs[0].execute("DELETE FROM jobs")
    finally:
        for db in dbs:
            await db.close()
    return out


# --- part 2: a worker process ---------------------------------------------------------------------------
async def worker(args: argparse.Namespace) -> dict[str, Any]:
    from bot.engine.context import EngineConfig, EngineContext
    from bot.engine.poller import Poller
    from bot.engine.service import JobService
    from bot.engine.shared_rate import SharedRateCap
    from bot.sora.client import HttpVideoProvider
    from bot.sora.dialects import profile_for
    from tests.engine_harness import RecordingPublisher, make_settings
    from tests.engine_harness import member as requester

    rng = random.Random(args.seed + args.index)
    with tempfile.TemporaryDirectory(prefix="sora-bench-pg-") as tmp:
        # Caps in force, sized so that every job fits: 400 members x 25, 40 guilds x 250 (= --jobs 10,000).
        members, guilds = 400, 40
        user_cap = -(-args.total // members)
        guild_cap = user_cap * members // guilds
        settings = make_settings(Path(tmp), DATABASE_URL=args.url, QUOTA_USER_VIDEOS_PER_DAY="",
                                 QUOTA_GUILD_USD_PER_MONTH="", QUOTA_GUILD_SECONDS_PER_MONTH="",
                                 QUOTA_USER_SECONDS_PER_DAY="", QUOTA_DEFAULT_SECONDS="4,8,12",
                                 QUOTA_USER_CONCURRENT=str(user_cap), QUOTA_GUILD_CONCURRENT=str(guild_cap))
        db = await open_store(args.url)
        counter = Counting(db)
        counter.install()
        repo = Repository(db, owner=f"bench-{args.index}")
        provider = HttpVideoProvider(base_url=args.relay, api_key="bench-key-0123456789",
                                     profile=profile_for("openai"), timeout=60.0)
        polls = [0]
        retrieve = provider.retrieve

        async def counted_retrieve(*a: Any, **kw: Any) -> Any:
            polls[0] += 1
            return await retrieve(*a, **kw)

        provider.retrieve = counted_retrieve  # type: ignore[method-assign]
        scale = args.scale
        config = EngineConfig(data_dir=settings.data_dir, time_scale=scale, max_upstream=args.total,
                              requests_per_second=args.rate, burst=50, progress_interval=10.0 * scale, shared=True)
        bucket = SharedRateCap(repo, provider.name, config.requests_per_second, config.burst)
        async def guild_limit(_guild_id: int | None) -> int:
            return guild_cap

        ctx = EngineContext(repo, provider, RecordingPublisher(), config, bucket=bucket, guild_cap=guild_limit)
        poller = Poller(ctx)
        admission_ms: list[float] = []  # each admission turn: the mutex, admitting, the queue positions shown
        admit = poller._admit

        async def timed_admit() -> None:
            t = time.perf_counter()
            try:
                await admit()
            finally:
                admission_ms.append((time.perf_counter() - t) * 1000)

        poller._admit = timed_admit  # type: ignore[method-assign]
        service = JobService(ctx, poller, settings)
        await poller.start()
        ticker = LagTicker()
        ticker.start()
        try:
            t0 = time.monotonic()
            gate = asyncio.Semaphore(args.concurrency)  # members' commands arrive concurrently

            async def ask(n: int, render: float, seconds: int) -> None:
                async with gate:
                    outcome = await service.request_video(
                        requester(user_id=1000 + n % 400, guild_id=50 + n % 40), seconds=seconds,
                        prompt=with_render(f"scale job {n}", render))
                if not outcome.accepted:
                    raise SystemExit(f"job {n} refused: {outcome.message}")

            await asyncio.gather(*(ask(args.index * args.count + i, rng.uniform(60 * 60, 120 * 60) * scale,
                                       rng.choice((4, 8, 12))) for i in range(args.count)))
            t_requested = time.monotonic()
            while True:
                states = await repo.count_by_state()
                if sum(v for s, v in states.items() if s in UPSTREAM) >= args.total:
                    break
                if time.monotonic() - t0 > args.timeout:
                    raise SystemExit(f"not all jobs in flight after {args.timeout:g} s: {states}")
                await asyncio.sleep(0.5)
            t_inflight = time.monotonic()
            statements_to_inflight = counter.statements
            lag_mark = len(ticker.lags)
            polls_before = polls[0]
            await asyncio.sleep(args.window)
            window_statements = counter.statements - statements_to_inflight
            window_polls = polls[0] - polls_before
            turns = poller.turns
            states_end = await repo.count_by_state()
            upstream_end = sum(v for st, v in states_end.items() if st in UPSTREAM)
            polled = await db.fetchone("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running') "
                                       "AND last_poll_at IS NOT NULL")
        finally:
            await ticker.stop()
            t_stop = time.monotonic()
            steps: list[str] = []

            async def shut_down() -> None:
                for name, step in (("poller", lambda: poller.stop(grace=2)), ("provider", provider.aclose),
                                   ("database", db.close)):
                    steps.append(name)
                    await step()
                steps.append("done")

            with contextlib.suppress(TimeoutError):  # reported; the process then exits without asyncio's teardown
                await asyncio.wait_for(shut_down(), timeout=60)
            shutdown = {"seconds": round(time.monotonic() - t_stop, 1), "reached": steps[-1]}
    lags = [x * 1000 for x in ticker.lags]
    return {"index": args.index, "requested": args.count,
            "caps": {"per_member": user_cap, "per_guild": guild_cap}, "requesting_s": round(t_requested - t0, 1),
            "until_all_in_flight_s": round(t_inflight - t0, 1), "statements_until_in_flight": statements_to_inflight,
            "window_statements": window_statements, "window_polls": window_polls,
            "statements_per_status_poll": round(window_statements / max(1, window_polls), 2),
            "poller_turns": turns, "admission_turns": len(admission_ms),
            "admission_turn_ms": summary(admission_ms, 1, points=(50, 99)),
            "in_flight_at_end_all_processes": upstream_end, "states_at_end": states_end,
            "in_flight_polled_at_least_once_all_processes": polled[0],
            "rss_peak_mb": round(status_kb("VmHWM") / 1024, 1), "lag_ms_all": summary(lags, 1, points=(50, 99)),
            "lag_ms_polling": summary(lags[lag_mark:], 1, points=(50, 99)), "shutdown": shutdown}


async def in_flight(url: str, args: argparse.Namespace) -> dict[str, Any]:
    async with RelayProcess(dialect="openai", queue_fraction=0.02) as relay:
        count = args.jobs // 2
        procs = [subprocess.Popen(
            [sys.executable, __file__, "--worker", "--url", url, "--relay", relay.base_url, "--index", str(i),
             "--count", str(count), "--total", str(count * 2), "--scale", str(args.scale), "--window",
             str(args.window), "--rate", str(args.rate), "--seed", str(args.seed), "--timeout", str(args.timeout),
             "--concurrency", str(args.concurrency), *(["--profile", args.profile] if args.profile else [])],
            stdout=subprocess.PIPE) for i in range(2)]
        outs = await asyncio.gather(*(asyncio.to_thread(p.communicate) for p in procs))
        counts = await relay.counts()
    workers = [json.loads(o[0]) for o in outs]
    total = count * 2
    statements = sum(w["statements_until_in_flight"] for w in workers)
    window_stmts = sum(w["window_statements"] for w in workers)
    creates = counts.get("POST create", 0)
    return {"jobs_in_flight": total, "processes": 2, "relay_counts": counts, "creates": creates,
            "db_statements_per_job_until_in_flight": round(statements / total, 1),
            "db_statements_in_window_per_process_per_s": round(window_stmts / 2 / args.window, 1),
            "status_polls_per_s_all_processes": round(sum(w["window_polls"] for w in workers) / args.window, 1),
            "db_statements_per_status_poll": round(window_stmts / max(1, sum(w["window_polls"] for w in workers)), 2),
            "caps": {"per_member": workers[0]["caps"]["per_member"], "per_guild": workers[0]["caps"]["per_guild"],
                     "provider_max_upstream": total, "shared_rate_cap_per_s": args.rate},
            "in_flight_at_end": min(w["in_flight_at_end_all_processes"] for w in workers),
            "workers": workers,
            "lag_p99_ms_worst_process": max(w["lag_ms_all"]["p99"] for w in workers),
            "lag_max_ms_worst_process": max(w["lag_ms_all"]["max"] for w in workers),
            "admission_turn_max_ms": max(w["admission_turn_ms"]["max"] for w in workers),
            "rss_peak_mb_worst_process": max(w["rss_peak_mb"] for w in workers),
            "shutdown": [w["shutdown"] for w in workers]}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from tests.pgtools import fresh_database

    result: dict[str, Any] = {"benchmark": "scale_pg", "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                              "machine": machine(), "time_scale": args.scale, "rate_cap_shared": args.rate}
    async with fresh_database() as url:
        result["claims"] = await claims(url, args.claim_jobs)
        print(json.dumps(result["claims"]), file=sys.stderr, flush=True)
    if args.jobs:
        async with fresh_database() as url:
            result["in_flight"] = await in_flight(url, args)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--claim-jobs", type=int, default=10_000)
    parser.add_argument("--scale", type=float, default=0.25)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=400.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight per process")
    parser.add_argument("--profile", help="write each worker's cProfile stats to PROFILE.<index>")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--relay", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--total", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.profile:  # where a worker's time goes: cProfile, dumped per worker for pstats
            import cProfile

            profiler = cProfile.Profile()
            out = profiler.runcall(asyncio.run, worker(args))
            profiler.dump_stats(f"{args.profile}.{args.index}")
        else:
            out = asyncio.run(worker(args))
        print(json.dumps(out), flush=True)
        if out["shutdown"]["reached"] != "done":  # a shutdown that hung: leave without waiting for it
            os._exit(0)
        return 0
    result = asyncio.run(main_async(args))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
