"""The SQL of the webhook receiver (bot/webhooks/): durable dedupe keys and "poll this job now".

It runs on the Repository's database adapter (SQLite or PostgreSQL, portable SQL), so its
transactions never interleave with the engine's. A delivery is recorded and its job made due in ONE
transaction: a replay finds the key and changes nothing; a crash before the commit leaves neither
(the provider's retry, or the safety-net poll, covers it).
"""

from __future__ import annotations

from bot.domain.jobs import JobState
from db.repository import Repository

# Only a job waiting on the provider is woken: anything later (completed, delivering, …) has
# already heard, and a job still being submitted or reconciled has its own schedule.
_WAKEABLE = (JobState.QUEUED.value, JobState.RUNNING.value)


class WebhookLog:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo

    async def accept(self, key: str, *, source: str, job_id: int, now: float) -> bool:
        """Record delivery `key` and make `job_id` due at `now` (only if it is queued or running).
        False, with nothing changed, when `key` was seen before (a replayed delivery)."""
        async with self.repo._tx() as tx:  # same package: the repository's database adapter
            inserted = await tx.execute(
                "INSERT INTO webhook_deliveries (key, source, job_id, received_at) VALUES (?,?,?,?) "
                "ON CONFLICT (key) DO NOTHING",
                (key, source, job_id, now))
            if inserted != 1:
                return False
            await tx.execute(
                "UPDATE jobs SET next_poll_at=?, updated_at=? WHERE id=? AND state IN (?,?)",
                (now, now, job_id, *_WAKEABLE))
            return True

    async def seen(self, key: str) -> bool:
        return await self.repo._one("SELECT 1 FROM webhook_deliveries WHERE key=?", (key,)) is not None

    async def prune(self, older_than: float) -> int:
        """Forget deliveries received before `older_than` (unix seconds); how many were removed."""
        return await self.repo._write("DELETE FROM webhook_deliveries WHERE received_at < ?", (older_than,))
