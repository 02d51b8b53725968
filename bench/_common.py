"""Shared pieces of the engine benchmarks (poll_efficiency.py, scale.py).

- `RelayProcess`: the fake relay (bot/sandbox/fake_providers/relay.py) in a child process, so its CPU and memory are
  not the bot's (a real provider is another machine). Each job's render time is written in its
  prompt (`with_render`), so the parent decides it, seeded, whatever order the creates arrive in.
  `stats()` returns, per upstream job, when the relay started it, its render time, and the relay's
  clock at each status request for it (CLOCK_MONOTONIC: the same clock in both processes on Linux).
- `engine()`: the real job engine (`build_engine`: Poller + JobService) on a SQLite file in a temp folder, with a
  `TimingPublisher` (records when `publish_result` is called; no Discord).
- `LagTicker`: a task that sleeps 10 ms at a time and records how late it wakes (event-loop lag).
- small helpers: percentiles, /proc/self/status fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain.records import Job
from bot.engine.context import EngineConfig, EngineContext
from bot.engine.poller import Poller
from bot.engine.service import JobService
from bot.engine.wiring import build_engine
from bot.sandbox.recording import RecordingPublisher, make_settings
from bot.sora.client import HttpVideoProvider
from bot.sora.dialects import profile_for
from db.database import open_database
from db.repository import Repository

KEY = "bench-key-0123456789"
OPENROUTER_BENCH_MODEL = "openai/sora-2-pro"  # takes the bench's 4/8/12 s at 1280x720


def bench_model(dialect: str) -> str:
    """The model the bench's jobs use on `dialect`: a listed slug on OpenRouter, else Sora's name."""
    return OPENROUTER_BENCH_MODEL if dialect == "openrouter" else "sora-2"
_RENDER = re.compile(r"\[render ([0-9.]+)s\]$")


def with_render(prompt: str, render_seconds: float) -> str:
    """A prompt that tells the child relay how long (real seconds) this job renders."""
    return f"{prompt} [render {render_seconds:.4f}s]"


def _render_of(job: Any) -> float:
    found = _RENDER.search(job.prompt)
    return float(found.group(1)) if found else 1.0


# --- the relay in a child process -------------------------------------------------------------------


def _serve_relay(conn: Connection, options: dict[str, Any]) -> None:
    from bot.sandbox.fake_providers.openrouter import FakeOpenRouter  # the child imports what it serves
    from bot.sandbox.fake_providers.relay import FakeRelay

    async def main() -> None:
        if options.get("dialect") == "openrouter":
            rest = {k: v for k, v in options.items() if k != "dialect"}
            fake: FakeRelay = FakeOpenRouter(api_key=KEY, render_seconds=_render_of, clock=time.monotonic, **rest)
        else:
            fake = FakeRelay(api_key=KEY, render_seconds=_render_of, clock=time.monotonic, **options)
        async with fake as relay:
            conn.send((relay.base_url, relay.cdn_origin))
            while True:
                command = await asyncio.to_thread(conn.recv)
                if command == "stop":
                    return
                if command == "stats":
                    conn.send(_stats(relay))
                elif command == "counts":
                    conn.send(dict(Counter(f"{r.method} {r.kind}" for r in relay.requests)))
                elif command == "rss":
                    conn.send(status_kb("VmHWM"))
                elif isinstance(command, tuple) and command[0] == "webhooks":  # ("webhooks", url, secret)
                    relay.send_webhooks(command[1], command[2])
                    conn.send("ok")

    asyncio.run(main())


def _stats(relay: Any) -> dict[str, Any]:
    status_at: dict[str, list[float]] = defaultdict(list)
    content_at: dict[str, float] = {}
    prefix = relay.prefix + "/videos/"
    for request in relay.requests:
        if request.kind == "status":
            status_at[request.path.removeprefix(prefix)].append(request.at)
        elif request.kind == "content":
            content_at.setdefault(request.path.removeprefix(prefix).removesuffix("/content"), request.at)
    pushed_at: dict[str, float] = {}
    for delivery in relay.webhook_deliveries:  # when the relay started POSTing each job's webhook
        pushed_at.setdefault(delivery.job_id, delivery.at)
    for job_id, at in getattr(relay, "callback_at", {}).items():  # OpenRouter: its per-job callback_url push
        pushed_at.setdefault(job_id, at)
    jobs = {job.id: {"started": job.started, "render": job.render_seconds, "status_at": status_at.get(job.id, []),
                     "content_at": content_at.get(job.id), "webhook_at": pushed_at.get(job.id)}
            for job in relay.jobs.values()}
    kinds = Counter(f"{r.method} {r.kind}" for r in relay.requests)
    return {"jobs": jobs, "requests": dict(kinds)}


class RelayProcess:
    """`async with RelayProcess(dialect="openai") as relay:` → `relay.base_url`, `relay.stats()`."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_relay, args=(child, options), daemon=True)
        self.base_url = ""
        self.cdn_origin = ""  # the fake's file host: plain http on loopback, trusted like an operator would

    async def __aenter__(self) -> RelayProcess:
        self._process.start()
        if not await asyncio.to_thread(self._conn.poll, 60):
            raise SystemExit("the fake relay did not start")
        self.base_url, self.cdn_origin = self._conn.recv()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        await asyncio.to_thread(self._process.join, 10)
        if self._process.is_alive():
            self._process.kill()

    async def _ask(self, command: str) -> Any:
        self._conn.send(command)
        return await asyncio.to_thread(self._conn.recv)

    async def stats(self) -> dict[str, Any]:
        return await self._ask("stats")

    async def counts(self) -> dict[str, int]:
        """Requests seen so far by "METHOD kind" (cheap: no per-job detail)."""
        return await self._ask("counts")

    async def peak_rss_kb(self) -> int:
        return await self._ask("rss")

    async def send_webhooks(self, url: str, secret: str) -> None:
        """From now on the relay POSTs a signed event to `url` when a job ends (openai dialect)."""
        await self._ask(("webhooks", url, secret))

    def provider(self, *, timeout: float = 30.0) -> HttpVideoProvider:
        dialect = self.options.get("dialect", "openai")
        if dialect == "openrouter":
            from bot.sora.openrouter import OpenRouterProvider

            return OpenRouterProvider(base_url=self.base_url, api_key=KEY, timeout=timeout,
                                      profile=profile_for("openrouter"), trusted_origins=[self.cdn_origin])
        return HttpVideoProvider(base_url=self.base_url, api_key=KEY, profile=profile_for(dialect), timeout=timeout,
                                 trusted_origins=[self.cdn_origin])


# --- the engine -------------------------------------------------------------------------------------


@dataclass
class TimingPublisher(RecordingPublisher):
    """The tests' recording publisher, plus the monotonic time each result post started."""

    result_at: dict[int, float] = field(default_factory=dict)  # job id → time.monotonic()

    async def publish_result(self, job: Job, video: Path, caption: str) -> int:
        self.result_at.setdefault(job.id, time.monotonic())
        return await super().publish_result(job, video, caption)


@dataclass
class Engine:
    ctx: EngineContext
    poller: Poller
    service: JobService
    repo: Repository
    publisher: TimingPublisher
    folder: Path


@contextlib.asynccontextmanager
async def engine(provider: HttpVideoProvider, config: dict[str, Any]) -> AsyncIterator[Engine]:
    """The real engine on a fresh SQLite file; quotas opened up (the bench is not about quotas)."""
    with tempfile.TemporaryDirectory(prefix="sora-bench-") as tmp:
        folder = Path(tmp)
        settings = make_settings(folder, QUOTA_USER_VIDEOS_PER_DAY="", QUOTA_GUILD_USD_PER_MONTH="",
                                 QUOTA_GUILD_SECONDS_PER_MONTH="", QUOTA_USER_SECONDS_PER_DAY="",
                                 QUOTA_DEFAULT_SECONDS="4,8,12",
                                 # a listed catalog: the bench's 4/8/12 s 1280x720 jobs on a model that takes them
                                 SORA_DEFAULT_MODEL=bench_model(provider.name))
        conn = await open_database(settings.database_path)
        try:
            repo = Repository(conn)
            publisher = TimingPublisher()
            config_ = EngineConfig(data_dir=settings.data_dir, **config)
            wired = build_engine(repo, provider, publisher, settings, config_)
            await wired.catalog.refresh()  # a provider that lists its models: read them once, now
            await wired.poller.start()
            try:
                yield Engine(wired.ctx, wired.poller, wired.service, repo, publisher, folder)
            finally:
                await wired.poller.stop(grace=2)
        finally:
            await conn.close()


@contextlib.asynccontextmanager
async def scratch_postgres() -> AsyncIterator[str]:
    """A PostgreSQL database with a random name on the server at $TEST_POSTGRES_URL (default: trust
    auth on loopback); yields its URL and drops it after."""
    import os
    import secrets

    import asyncpg

    admin_url = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"sora_bench_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(admin_url, timeout=3)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        admin = await asyncpg.connect(admin_url, timeout=3)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# --- measuring --------------------------------------------------------------------------------------


class LagTicker:
    """Sleeps `interval` at a time; `lags` holds how late each wake-up was (seconds)."""

    def __init__(self, interval: float = 0.010) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lag-ticker")

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.lags.append(max(0.0, time.perf_counter() - before - self.interval))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def summary(values: Sequence[float], digits: int = 3, *, points: Sequence[int] = (50, 95)) -> dict[str, float]:
    out = {f"p{q}": round(percentile(values, q), digits) for q in points}
    out["max"] = round(max(values), digits) if values else float("nan")
    out["mean"] = round(sum(values) / len(values), digits) if values else float("nan")
    return out


def status_kb(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field_name} not in /proc/self/status")


def machine() -> str:
    import os
    import platform

    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model or platform.machine()}, Python {platform.python_version()}"
