"""The model catalog the bot offers members, kept current.

A provider with a models endpoint (duck-typed: `async list_models() -> list[dict]`, OpenRouter's
`GET /videos/models`) is read at start-up and every CATALOG_REFRESH_HOURS; each good answer is
stored in the database, so a restart while the service is down still offers the last good catalog.
A failed refresh logs one line and keeps what there is; an empty or junk answer never replaces a
good catalog. A provider without the endpoint gets the built-in profile (`bot.catalog.builtin`)
through the same parser, and nothing is fetched or stored for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.catalog.builtin import builtin_records
from bot.catalog.capabilities import ModelCapabilities, parse_models
from bot.settings import Settings

log = logging.getLogger(__name__)

BUILTIN, LIVE, STORED, EMPTY = "builtin", "live", "stored", "empty"


class CatalogStore(Protocol):
    async def save_model_catalog(self, provider: str, records: list[dict[str, Any]], fetched_at: float) -> None: ...
    async def stored_model_catalog(self, provider: str) -> tuple[list[Any], float] | None: ...


@dataclass(frozen=True)
class Catalog:
    """One snapshot: the usable models in the provider's order, where it came from, and when."""

    provider: str
    models: tuple[ModelCapabilities, ...]
    source: str = BUILTIN
    fetched_at: float | None = None

    @property
    def builtin(self) -> bool:
        return self.source == BUILTIN

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.models]

    def get(self, model_id: str | None) -> ModelCapabilities | None:
        return next((m for m in self.models if m.id == model_id), None)

    def offered(self, field: str) -> list[Any]:
        """What `/sora-admin allow` may list: "allowed_models" ids, or every model's sizes / durations."""
        if field == "allowed_models":
            return self.ids
        values: dict[Any, None] = {}
        for model in self.models:
            for value in (model.sizes if field == "allowed_sizes" else model.durations):
                values.setdefault(value, None)
        return sorted(values) if field == "allowed_seconds" else list(values)


def lister_of(provider: object) -> Callable[[], Awaitable[list[dict[str, Any]]]] | None:
    """The provider's `list_models`, looking through wrappers such as MeteredProvider (`.inner`)."""
    seen = 0
    while provider is not None and seen < 4:
        method = getattr(provider, "list_models", None)
        if callable(method):
            return method
        provider, seen = getattr(provider, "inner", None), seen + 1
    return None


class CatalogService:
    def __init__(self, store: CatalogStore, provider: object, settings: Settings, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.provider_name = str(getattr(provider, "name", "provider"))
        self.clock = clock
        self.refresh_seconds = settings.catalog_refresh_hours * 3600
        self._lister = lister_of(provider)
        if self._lister is None:
            models = tuple(parse_models(builtin_records(settings)))
            self._catalog = Catalog(self.provider_name, models, BUILTIN)
        else:
            self._catalog = Catalog(self.provider_name, (), EMPTY)
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.refreshed = asyncio.Event()  # set after the first refresh attempt (for tests and doctor)

    @property
    def live(self) -> bool:
        """True when the provider lists its models (the catalog is fetched, stored and refreshed)."""
        return self._lister is not None

    def current(self) -> Catalog:
        return self._catalog

    async def load_stored(self) -> bool:
        """Adopt the catalog stored by an earlier run, if it has usable models."""
        if not self.live:
            return False
        try:
            stored = await self.store.stored_model_catalog(self.provider_name)
        except Exception as exc:
            log.warning("could not read the stored model catalog: %s", type(exc).__name__)
            return False
        if stored is None:
            return False
        records, fetched_at = stored
        models = tuple(parse_models(records))
        if not models:
            return False
        if self._catalog.source != LIVE:
            self._catalog = Catalog(self.provider_name, models, STORED, fetched_at)
            log.info("model catalog: %d model(s) stored at %.0f", len(models), fetched_at)
        return True

    async def refresh(self) -> bool:
        """Fetch the provider's models; True when a good answer replaced the catalog."""
        if self._lister is None:
            return False
        try:
            answer = await self._lister()
        except Exception as exc:  # a failed refresh keeps the last good catalog
            log.warning("model catalog refresh failed (%s); keeping the %s catalog of %d model(s)",
                        type(exc).__name__, self._catalog.source, len(self._catalog.models))
            return False
        models = tuple(parse_models(answer))
        if not models:
            log.warning("model catalog refresh gave no usable model; keeping the %s catalog of %d model(s)",
                        self._catalog.source, len(self._catalog.models))
            return False
        now = self.clock()
        self._catalog = Catalog(self.provider_name, models, LIVE, now)
        try:
            await self.store.save_model_catalog(self.provider_name, [m.to_record() for m in models], now)
        except Exception as exc:
            log.warning("could not store the model catalog: %s", type(exc).__name__)
        log.info("model catalog refreshed: %d model(s)", len(models))
        return True

    # --- the background task ----------------------------------------------------------------------
    async def start(self) -> None:
        """Load the stored catalog, then refresh now and every `refresh_seconds` in the background."""
        if not self.live or self._task is not None:
            self.refreshed.set()
            return
        await self.load_stored()
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="model-catalog")
        self._task.add_done_callback(_log_crash)

    async def _run(self) -> None:
        while not self._stop.is_set():
            await self.refresh()
            self.refreshed.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.refresh_seconds)

    async def stop(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("model catalog task stopped: %r", task.exception())
