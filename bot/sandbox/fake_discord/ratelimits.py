"""Per-channel rate-limit buckets answered the way Discord answers them.

Discord limits message posts and edits per channel (about 5 per 5 s each; undocumented) and sends,
on every answer of a limited route, `X-RateLimit-Limit`, `-Remaining`, `-Reset` (epoch seconds),
`-Reset-After` (seconds) and `-Bucket` (an opaque hash shared by the routes of one limit). A request
over the limit gets 429 with the same headers plus `Retry-After`, `X-RateLimit-Scope: user` and a
`Via` header (discord.py treats a 429 without `Via` as a Cloudflare ban), and the JSON body
`{message, retry_after, global: false}`. Windows are fixed: the first request after a reset opens
one of `per` seconds; it resets in full when that time is up.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Window:
    count: int = 0
    reset_at: float = 0.0


@dataclass
class ChannelBucket:
    """`limit` requests per `per` seconds for each channel, on the fake's clock `now`."""

    limit: int
    per: float
    now: Callable[[], float]
    name: str = "messages"
    bucket_hash: str = field(default_factory=lambda: secrets.token_hex(16))
    refused: int = 0  # 429s answered
    _windows: dict[int, _Window] = field(default_factory=dict)

    def take(self, channel_id: int) -> tuple[bool, dict[str, str], dict[str, Any] | None]:
        """(allowed, headers to send, 429 body when refused). An allowed request uses one token."""
        now = self.now()
        window = self._windows.setdefault(channel_id, _Window())
        if now >= window.reset_at:
            window.count, window.reset_at = 0, now + self.per
        reset_after = max(0.0, window.reset_at - now)
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Reset": f"{window.reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.bucket_hash,
        }
        if window.count >= self.limit:
            self.refused += 1
            headers.update({"X-RateLimit-Remaining": "0", "X-RateLimit-Scope": "user", "Via": "1.1 google",
                            "Retry-After": str(max(1, math.ceil(reset_after)))})
            body = {"message": "You are being rate limited.", "retry_after": round(reset_after, 3), "global": False}
            return False, headers, body
        window.count += 1
        headers["X-RateLimit-Remaining"] = str(self.limit - window.count)
        return True, headers, None
