"""What the job engine needs from the Discord side: a small interface the cogs implement.

The engine never imports discord.py. It composes the words (bot/texts/) and hands them over; the
Discord side decides how they look (the Remix button, mentions, replies) and posts with the bot
token, never through an interaction webhook (those die after 15 minutes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bot.domain.records import Job


class DeliveryRetryable(Exception):
    """Discord failed in a way worth retrying (5xx, 429, timeout); `retry_after` when known."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryRejected(Exception):
    """Discord refused for good (channel gone, missing permissions): retrying won't help."""


class UploadTooLarge(Exception):
    """Discord answered 413 / code 40005: the limit is smaller than we thought."""

    def __init__(self, message: str, *, limit_bytes: int | None = None) -> None:
        super().__init__(message)
        self.limit_bytes = limit_bytes


class Publisher(Protocol):
    async def publish_progress(self, job: Job, text: str) -> int | None:
        """Create the job's public status message (when `job.status_message_id` is None) or edit it;
        return its id."""

    async def publish_result(self, job: Job, video: Path, caption: str) -> int:
        """Post the finished video into the job's channel, mentioning only the requester, and return
        the message id. Idempotent per job: a retry after a crash must not post twice (Discord nonce
        with enforce_nonce; and when `job.attempts > 1`, a look through the channel's recent
        messages first, since Discord forgets nonces after a few minutes)."""

    async def publish_failure(self, job: Job, text: str) -> None:
        """Tell the requester the job failed, in a new message that mentions them (the engine has
        already edited the status message to say so)."""

    async def upload_limit(self, job: Job) -> int:
        """The largest file, in bytes, the job's channel accepts."""

    # Optional: `rate_limit(channel_id, lane) -> BucketState | None` (bot/engine/outbox.py): the
    # channel's "post" or "edit" bucket as Discord's rate-limit headers last described it. Without
    # it the outbox spends a conservative default on edits.
