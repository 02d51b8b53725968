"""An optional HTTP endpoint for orchestrators and Prometheus: `/healthz` and `/metrics`.

Off unless `HEALTH_PORT` is set; bound to `HEALTH_HOST` (default 127.0.0.1, so nothing is exposed by
accident). aiohttp is already installed as discord.py's own HTTP stack, so this adds no dependency.

- `GET /healthz` runs every injected check (an async callable returning bool: "is the gateway
  connected?", "did the poller tick recently?", "does the database answer?") with a time limit and
  answers 200 `{"ok": true, "checks": {...}}`, or 503 with the same body, `ok` false and the names of
  the failing checks under `failing`. A check that raises or times out counts as failing.
- `GET /metrics` answers the Prometheus text of the injected `Metrics` (404 when none was given).

Port 0 binds a free port (tests); `port` reports the one actually bound after `start()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from bot.metrics import CONTENT_TYPE, Metrics
from bot.settings import Settings

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]
CHECK_TIMEOUT_SECONDS = 3.0


async def run_checks(checks: Mapping[str, Check],
                     per_check_seconds: float = CHECK_TIMEOUT_SECONDS) -> dict[str, bool]:
    """Run every check concurrently, each under its own time limit; an exception or a timeout is a
    failure (logged, not raised), so one hung check cannot hide the others' answers."""

    async def one(name: str, check: Check) -> bool:
        try:
            async with asyncio.timeout(per_check_seconds):
                return bool(await check())
        except TimeoutError:
            log.warning("health check %s timed out after %.1fs", name, per_check_seconds)
        except Exception:
            log.warning("health check %s raised", name, exc_info=True)
        return False

    names = list(checks)
    results = await asyncio.gather(*(one(name, checks[name]) for name in names))
    return dict(zip(names, results, strict=True))


async def serve_app(app: web.Application, host: str, port: int, *,
                    shutdown_timeout: float = 60.0) -> tuple[web.AppRunner, int]:
    """Start `app` on host:port (0: any free port); the runner to clean up, and the port it got."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1])


class HealthServer:
    """`await start()` to listen, `await stop()` to close; `port` is the bound port once started."""

    def __init__(self, host: str, port: int, checks: Mapping[str, Check], metrics: Metrics | None = None,
                 *, check_timeout: float = CHECK_TIMEOUT_SECONDS) -> None:
        self.host = host
        self.requested_port = port
        self.checks = dict(checks)
        self.metrics = metrics
        self.check_timeout = check_timeout
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._runner, self.port = await serve_app(self._app(), self.host, self.requested_port)
        log.info("health endpoint listening on http://%s:%d (/healthz, /metrics)", self.host, self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            log.info("health endpoint stopped")

    async def _healthz(self, request: web.Request) -> web.Response:
        results = await run_checks(self.checks, self.check_timeout)
        failing = [name for name, ok in results.items() if not ok]
        body: dict[str, object] = {"ok": not failing, "checks": results}
        if self.metrics is not None and self.metrics.process is not None:  # several processes: which one
            body["process"] = self.metrics.process
            body["shards"] = self.metrics.shards or "all"
        if failing:
            body["failing"] = failing
            log.warning("health: failing checks %s", ", ".join(failing))
        return web.json_response(body, status=503 if failing else 200)

    async def _metrics(self, request: web.Request) -> web.Response:
        if self.metrics is None:
            raise web.HTTPNotFound(text="metrics are not enabled")
        await self.metrics.refresh()
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


def health_server_from_settings(settings: Settings, checks: Mapping[str, Check],
                                metrics: Metrics | None = None) -> HealthServer | None:
    """The server the settings ask for, or None when `HEALTH_PORT` is unset (the default)."""
    if settings.health_port is None:
        return None
    return HealthServer(settings.health_host, settings.health_port, checks, metrics)
