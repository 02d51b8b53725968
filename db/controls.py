"""SQL of the gallery and of the usage chart, mixed into `Repository` (it shares the repository's
connection and lock)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from bot.domain.jobs import JobState
from bot.domain.records import Job
from db.mixin import RepositoryParts


class ControlsQueries(RepositoryParts):
    """Needs `_one` and `_all` from Repository."""

    async def gallery(self, guild_id: int, user_id: int, *, offset: int, limit: int) -> tuple[int, list]:
        """(how many, one page) of `user_id`'s delivered videos in `guild_id` that have a result
        message, newest first."""
        where = "guild_id=? AND user_id=? AND state=? AND result_message_id IS NOT NULL"
        args = (guild_id, user_id, JobState.DELIVERED.value)
        row = await self._one(f"SELECT COUNT(*) FROM jobs WHERE {where}", args)  # noqa: S608
        rows = await self._all(
            f"SELECT * FROM jobs WHERE {where} ORDER BY delivered_at DESC, id DESC LIMIT ? OFFSET ?",  # noqa: S608
            (*args, limit, max(0, offset)))
        return int(row[0]) if row else 0, [Job.from_row(r) for r in rows]

    async def daily_usage(self, guild_id: int, since: float) -> list[tuple[str, int, float]]:
        """(UTC day 'YYYY-MM-DD', videos, usd) per day since `since`, counting what the report counts
        (reserved and settled entries), oldest day first; days without videos are left out."""
        rows = await self._all(
            """SELECT created_at, usd FROM quota_ledger
               WHERE guild_id=? AND created_at>=? AND status IN ('reserved','settled')""", (guild_id, since))
        # Days are bucketed here, not in SQL: SQLite's date() and PostgreSQL's to_char() differ.
        days: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        for created_at, usd in rows:
            day = days[dt.datetime.fromtimestamp(float(created_at), dt.UTC).strftime("%Y-%m-%d")]
            day[0] += 1
            day[1] += float(usd or 0)
        return [(day, int(n), float(usd)) for day, (n, usd) in sorted(days.items())]
