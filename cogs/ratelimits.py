"""What Discord's `X-RateLimit-*` headers say about each channel's post and edit buckets.

discord.py reads those headers for its own buckets but keeps them private; it does take an
`aiohttp.TraceConfig` (`Client(http_trace=...)`), which sees every response. `EditBudgets.trace`
is that config: on each answer to `POST /channels/{id}/messages` ("post") and `PATCH
/channels/{id}/messages/{id}` ("edit") it records the bucket's limit, what remains and when it
resets (on the event loop's clock), and the outbox (bot/engine/outbox.py) spends by it, so edits
never meet a 429 in normal operation.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from types import SimpleNamespace
from typing import Any

import aiohttp

from bot.engine.outbox import EDIT, POST, BucketState

log = logging.getLogger(__name__)

_PATHS = {("PATCH", EDIT): re.compile(r"/channels/(\d+)/messages/\d+$"),
          ("POST", POST): re.compile(r"/channels/(\d+)/messages$")}


class RateLimits:
    def __init__(self) -> None:
        self._buckets: dict[tuple[int, str], BucketState] = {}
        self.refused: Counter[str] = Counter()  # 429s Discord answered, by "METHOD route"
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_end.append(self._on_end)

    def get(self, channel_id: int, lane: str) -> BucketState | None:
        return self._buckets.get((channel_id, lane))

    def observe(self, method: str, path: str, status: int, headers: Any) -> None:
        """Record one answer (`headers`: a case-insensitive mapping)."""
        lane, found = next(((lane, m) for (verb, lane), pattern in _PATHS.items()
                            if verb == method and (m := pattern.search(path))), (None, None))
        if status == 429:
            self.refused[f"{method} {lane or path}"] += 1
        if found is None or lane is None or "X-RateLimit-Remaining" not in headers:
            return
        try:
            limit = int(headers.get("X-RateLimit-Limit", 1))
            remaining = 0 if status == 429 else int(headers["X-RateLimit-Remaining"])
            reset_after = float(headers.get("X-RateLimit-Reset-After") or headers.get("Retry-After") or 0)
        except (TypeError, ValueError):
            log.debug("unreadable rate-limit headers on %s %s", method, lane)
            return
        reset_at = asyncio.get_running_loop().time() + max(0.0, reset_after)
        self._buckets[(int(found.group(1)), lane)] = BucketState(limit=max(1, limit), remaining=max(0, remaining),
                                                                 reset_at=reset_at)

    async def _on_end(self, _session: aiohttp.ClientSession, _ctx: SimpleNamespace,
                      params: aiohttp.TraceRequestEndParams) -> None:
        self.observe(params.method, params.url.path, params.response.status, params.response.headers)
