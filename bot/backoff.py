"""The one exponential backoff: a base wait doubled with each attempt, up to a cap.

Used by the engine's step retries (poller, deliver), the 402 credit recheck (submit) and the HTTP
retry policy (bot/sora/retry.py); the poll schedule's error backoff (bot/engine/schedule.py) is
the same formula with its own constants.
"""

from __future__ import annotations

_MAX_DOUBLINGS = 64  # 2**64 × any base is past every cap; more would only overflow a float


def backoff(doublings: int, *, base: float, cap: float) -> float:
    """`base · 2^doublings` seconds, at most `cap` (0 doublings → `base`; negative counts as 0)."""
    return min(cap, base * 2.0 ** min(max(doublings, 0), _MAX_DOUBLINGS))
