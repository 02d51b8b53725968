"""OpenRouter's webhook deliveries as the fake sends them (specs/OPENROUTER.md A.5): the envelope,
the headers, and the `X-OpenRouter-Signature` scheme (`t=<unix>,v1=<hex HMAC-SHA256 of "{t}," + raw
body, keyed with the secret's UTF-8 bytes>`). The receiver (bot side) must verify the exact bytes."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

EVENT_TYPES = {"completed": "video.generation.completed", "failed": "video.generation.failed",
               "cancelled": "video.generation.cancelled", "expired": "video.generation.expired"}


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-OpenRouter-Signature` header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp},".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_envelope(state: str, data: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """`{type, created_at, data}` for a job that ended in `state` (completed/failed/cancelled/expired).
    Failed-like events carry no urls or usage."""
    if state not in EVENT_TYPES:
        raise ValueError(f"no webhook is sent for state {state!r}")
    moment = now or datetime.now(UTC)
    keep = ("id", "status", "generation_id", "model", "unsigned_urls", "usage") if state == "completed" else (
        "id", "status", "generation_id", "model", "error")
    return {"type": EVENT_TYPES[state],
            "created_at": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            "data": {k: data.get(k) for k in keep}}


def webhook_headers(job_id: str, state: str, body: bytes, *, secret: str | None,
                    timestamp: int | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-OpenRouter-Idempotency-Key": f"{job_id}-{state}"}
    if secret:
        headers["X-OpenRouter-Signature"] = sign(secret, body, int(time.time()) if timestamp is None else timestamp)
    return headers
