# Over 400 lines on purpose: every SQL statement of the bot, by design (SQL only in db/).
"""Every SQL statement of the bot, behind typed methods. Nothing else in the code base writes SQL.

The SQL is written once and runs on SQLite and PostgreSQL alike, through the adapter in
db/backend.py (which turns `?` into `$n` for PostgreSQL). Writing a method that works on both:

- placeholders are `?`; compare a nullable value with `IS NOT DISTINCT FROM ?` (not `IS ?`);
- no engine-only functions: `CASE WHEN` instead of two-argument MIN/MAX (SQLite) or LEAST/GREATEST
  (PostgreSQL), `SUM(CASE WHEN … THEN 1 ELSE 0 END)` instead of summing a boolean, `LOWER(x) LIKE
  LOWER(?)` for a case-insensitive match, `INSERT … ON CONFLICT (…) DO UPDATE/DO NOTHING` instead of
  `INSERT OR REPLACE/IGNORE`; `RETURNING` and CTEs are fine on both;
- pass Python ints for INTEGER/BIGINT columns and floats (or ints) for REAL/DOUBLE ones: PostgreSQL
  does not cast a float into a BIGINT column;
- a check-then-write (read usage, decide, insert) runs in `self.db.transaction()` and first calls
  `await tx.lock(<what it guards>)`: a no-op on SQLite (BEGIN IMMEDIATE already serializes), an
  advisory lock on PostgreSQL, where several processes share the rows;
- a claim's inner SELECT ends with `{self.db.skip_locked}` (FOR UPDATE SKIP LOCKED on PostgreSQL).
tests/test_repository.py runs every method against both backends (the `store` fixture).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from typing import Any, TypeVar

import aiosqlite

from bot.domain.jobs import (
    ACTIVE,
    POLLED,
    REMIXABLE,
    UPSTREAM_ACTIVE,
    JobState,
    check_transition,
)
from bot.domain.records import GuildConfig, Job, LedgerEntry, NewJob, SubmissionPause, UsageRows, Waiting
from db.backend import Database, Row, SqliteDatabase, scalar
from db.catalog import CatalogQueries
from db.controls import ControlsQueries
from db.languages import LanguageQueries

__all__ = ["Repository"]

T = TypeVar("T")


_JOB_COLUMNS = frozenset(f.name for f in fields(Job))
_BATCH = 500  # ids per statement in the batch reads and claims (well under SQLite's variable limit)
_REFUND = "UPDATE quota_ledger SET status='refunded', reason=?, closed_at=? WHERE job_id=? AND status='reserved'"
# A refund of a video rendered upstream: the member's quota comes back, the provider's charge stays
# spent: what the provider reported for the job (OpenRouter's usage.cost) where it did, else the estimate.
_REFUND_CHARGED = ("UPDATE quota_ledger SET status='refunded', reason=?, closed_at=?, "
                   "charged_usd=COALESCE((SELECT provider_cost_usd FROM jobs WHERE jobs.id=quota_ledger.job_id), usd) "
                   "WHERE job_id=? AND status='reserved'")
# USD spent: what reserved and settled entries count, plus what refunded-but-rendered ones cost.
_SPENT_USD = ("COALESCE(SUM(CASE WHEN status IN ('reserved', 'settled') THEN usd "
              "ELSE COALESCE(charged_usd, 0) END), 0)")
# reserved → settled at the real amount, never more than reserved
_SETTLE = """UPDATE quota_ledger SET status='settled',
                 seconds=CASE WHEN seconds < ? THEN seconds ELSE ? END,
                 usd=CASE WHEN usd < ? THEN usd ELSE ? END, closed_at=?
             WHERE job_id=? AND status='reserved'"""
# reserved → settled at what the provider really charged (it may differ from the estimate either way)
_SETTLE_BILLED = """UPDATE quota_ledger SET status='settled',
                 seconds=CASE WHEN seconds < ? THEN seconds ELSE ? END, usd=?, reason='billed', closed_at=?
             WHERE job_id=? AND status='reserved'"""




WAKEUP_CHANNEL = "sora_bot_wakeup"  # LISTEN/NOTIFY channel: new work for the pollers


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


class Repository(CatalogQueries, ControlsQueries, LanguageQueries):
    def __init__(self, db: Database | aiosqlite.Connection, *, clock: Callable[[], float] = time.time,
                 owner: str = "") -> None:
        self.db: Database = SqliteDatabase(db) if isinstance(db, aiosqlite.Connection) else db
        self.conn = getattr(self.db, "conn", None)  # the aiosqlite connection (SQLite only)
        self.clock = clock
        self.owner = owner  # this process's name on the leases it takes (claimed_by)

    @property
    def backend(self) -> str:
        return self.db.backend

    # --- plumbing ------------------------------------------------------------------------------
    def _tx(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return self.db.transaction()

    async def _one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        return await self.db.fetchone(sql, args)

    async def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return await self.db.fetchall(sql, args)

    async def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        return await self.db.execute(sql, args)

    async def close(self) -> None:
        await self.db.close()

    async def ping_write(self) -> None:
        """A cheap proof that the database accepts writes (health check, doctor)."""
        async with self._tx() as tx:
            await tx.execute("CREATE TEMP TABLE IF NOT EXISTS _ping (x INTEGER)")
            await tx.execute("DELETE FROM _ping")

    # --- jobs: creation with the quota reservation ------------------------------------------------
    async def create_job(
        self,
        new: NewJob,
        *,
        decide: Callable[[UsageRows], T],
        allowed: Callable[[T], bool],
        reserve_seconds: float,
        reserve_usd: float,
        month_start: float,
        bot_wide: bool = False,
    ) -> tuple[Job | None, T]:
        """In ONE transaction: read usage, let `decide` judge it, and when allowed insert the job
        (state requested) and its quota reservation. Refused → nothing written. `bot_wide`: the
        decision reads every guild's spend (BOT_USD_PER_MONTH), so it is serialized bot-wide."""
        now = self.clock()
        async with self._tx() as tx:
            # The usage read below and the insert are one decision: no other process may slip a
            # reservation of the same guild (or, bot-wide, of any guild) in between (advisory locks
            # on PostgreSQL, always taken in this order).
            if bot_wide:
                await tx.lock("admission-bot")
            await tx.lock("admission", new.guild_id)
            usage = await self._usage(tx, new.guild_id, new.user_id, now, month_start)
            decision = decide(usage)
            if not allowed(decision):
                return None, decision
            rows = await tx.fetchall(
                """INSERT INTO jobs (guild_id, channel_id, user_id, kind, prompt, model, size, seconds,
                       parent_job_id, image_path, provider, idempotency_key, state, created_at, updated_at,
                       next_poll_at, reply_to_message_id, user_cap, locale)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING *""",
                (new.guild_id, new.channel_id, new.user_id, new.kind, new.prompt, new.model, new.size,
                 new.seconds, new.parent_job_id, new.image_path, new.provider, new.idempotency_key,
                 JobState.REQUESTED.value, now, now, now, new.reply_to_message_id, new.user_cap, new.locale),
            )
            job = Job.from_row(rows[0])
            await tx.execute(
                """INSERT INTO quota_ledger (job_id, guild_id, user_id, status, seconds, usd, created_at)
                   VALUES (?,?,?,?,?,?,?)""",
                (job.id, new.guild_id, new.user_id, "reserved", reserve_seconds, reserve_usd, now),
            )
            return job, decision

    async def _usage(self, tx: Any, guild_id: int | None, user_id: int,
                     now: float, month_start: float) -> UsageRows:
        counted = "status IN ('reserved', 'settled')"
        rows = await tx.fetchall(
            f"SELECT created_at, seconds, usd FROM quota_ledger WHERE user_id=? "  # noqa: S608
            f"AND guild_id IS NOT DISTINCT FROM ? AND created_at > ? AND {counted} ORDER BY created_at",
            (user_id, guild_id, now - 86400))
        entries = [LedgerEntry(r[0], r[1], r[2]) for r in rows]
        month = await tx.fetchone(
            f"SELECT COALESCE(SUM(CASE WHEN {counted} THEN seconds END), 0), {_SPENT_USD} "  # noqa: S608
            f"FROM quota_ledger WHERE guild_id IS NOT DISTINCT FROM ? AND created_at >= ?",
            (guild_id, month_start))
        bot_month = await tx.fetchone(
            f"SELECT {_SPENT_USD} FROM quota_ledger WHERE created_at >= ?", (month_start,))  # noqa: S608
        active = tuple(s.value for s in ACTIVE)
        counts = await tx.fetchone(
            f"SELECT SUM(CASE WHEN user_id = ? THEN 1 ELSE 0 END), COUNT(*) FROM jobs "  # noqa: S608
            f"WHERE guild_id IS NOT DISTINCT FROM ? AND state IN ({_marks(active)})",
            (user_id, guild_id, *active))
        last = await tx.fetchone(
            "SELECT MAX(created_at) FROM jobs WHERE user_id=? AND guild_id IS NOT DISTINCT FROM ?",
            (user_id, guild_id))
        return UsageRows(entries, float(month[0]), float(month[1]), int(counts[0] or 0),
                         int(counts[1] or 0), last[0], bot_month_usd=float(bot_month[0]))

    async def usage(self, guild_id: int | None, user_id: int, *, month_start: float) -> UsageRows:
        return await self._usage(self.db, guild_id, user_id, self.clock(), month_start)

    # --- jobs: reads ------------------------------------------------------------------------------
    async def get_job(self, job_id: int) -> Job | None:
        row = await self._one("SELECT * FROM jobs WHERE id=?", (job_id,))
        return Job.from_row(row) if row else None

    async def job_by_result_message(self, message_id: int) -> Job | None:
        row = await self._one("SELECT * FROM jobs WHERE result_message_id=?", (message_id,))
        return Job.from_row(row) if row else None

    async def recent_jobs(self, user_id: int, guild_id: int | None, limit: int = 10) -> list[Job]:
        rows = await self._all(
            "SELECT * FROM jobs WHERE user_id=? AND guild_id IS NOT DISTINCT FROM ? ORDER BY id DESC LIMIT ?",
            (user_id, guild_id, limit))
        return [Job.from_row(r) for r in rows]

    async def remixable_jobs(self, user_id: int, guild_id: int | None, query: str = "",
                             limit: int = 25) -> list[Job]:
        """The caller's finished videos, newest first, whose id or prompt contains `query`."""
        like = f"%{query.strip()}%"
        states = [s.value for s in REMIXABLE]
        marks = ",".join("?" * len(states))
        rows = await self._all(
            f"""SELECT * FROM jobs WHERE user_id=? AND guild_id IS NOT DISTINCT FROM ? AND state IN ({marks})
                 AND provider_id IS NOT NULL AND (CAST(id AS TEXT) LIKE ? OR LOWER(prompt) LIKE LOWER(?))
               ORDER BY id DESC LIMIT ?""",  # noqa: S608
            (user_id, guild_id, *states, like, like, limit))
        return [Job.from_row(r) for r in rows]

    async def jobs_in_states(self, states: Iterable[JobState]) -> list[Job]:
        values = [s.value for s in states]
        marks = ",".join("?" * len(values))
        rows = await self._all(f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY id", values)  # noqa: S608
        return [Job.from_row(r) for r in rows]

    # --- admission (bot/engine/poller.py): read a long queue cheaply, claim in batches ---------------------
    async def waiting_for_admission(self) -> list[Waiting]:
        """Every waiting (`requested`) job, oldest id first, as the light `Waiting` record."""
        rows = await self._all(
            "SELECT id, user_id, guild_id, channel_id, created_at, next_poll_at, user_cap, status_message_id, "
            "progress_text, progress_published_at FROM jobs WHERE state=? ORDER BY id", (JobState.REQUESTED.value,))
        return [Waiting.from_row(r) for r in rows]

    async def served_since_oldest_waiting(self) -> dict[int, int]:
        """Round-robin memory, counted in the database: for each member with a waiting job, how many of
        their jobs were sent upstream at or after their oldest waiting job was made."""
        rows = await self._all(
            """SELECT w.user_id, COUNT(*) FROM
                 (SELECT user_id, MIN(created_at) AS oldest FROM jobs WHERE state=? GROUP BY user_id) w
                 JOIN jobs j ON j.user_id = w.user_id AND j.submit_started_at >= w.oldest
               GROUP BY w.user_id""", (JobState.REQUESTED.value,))
        return {r[0]: r[1] for r in rows}

    async def claim_requested_many(self, job_ids: Sequence[int], now: float, *,
                                   lease: float | None = None) -> list[Job]:
        """`claim_requested` for many jobs in one statement per 500: each still-`requested` one moves to
        `submitting` (compare-and-set, so a job cancelled or claimed meanwhile is left out); the claimed
        jobs come back in the order of `job_ids`."""
        old, new = JobState.REQUESTED, JobState.SUBMITTING
        if job_ids:  # one move for the whole batch, checked like every other state write
            check_transition(job_ids[0], old, new)
        claimed: dict[int, Job] = {}
        for start in range(0, len(job_ids), _BATCH):
            chunk = list(job_ids[start:start + _BATCH])
            marks = ",".join("?" * len(chunk))
            rows = await self._all(
                f"UPDATE jobs SET state=?, submit_started_at=?, claimed_until=?, claimed_by=?, updated_at=? "  # noqa: S608
                f"WHERE state=? AND id IN ({marks}) RETURNING *",
                (new.value, now, None if lease is None else now + lease, self.owner, self.clock(), old.value, *chunk))
            claimed.update((job.id, job) for job in map(Job.from_row, rows))
        return [claimed[i] for i in job_ids if i in claimed]

    async def jobs_by_ids(self, job_ids: Sequence[int]) -> dict[int, Job]:
        found: dict[int, Job] = {}
        for start in range(0, len(job_ids), _BATCH):
            chunk = list(job_ids[start:start + _BATCH])
            marks = ",".join("?" * len(chunk))
            rows = await self._all(f"SELECT * FROM jobs WHERE id IN ({marks})", chunk)  # noqa: S608
            found.update((job.id, job) for job in map(Job.from_row, rows))
        return found

    async def count_by_state(self) -> dict[str, int]:
        rows = await self._all("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        return {r[0]: r[1] for r in rows}

    async def upstream_active_counts(self) -> list[tuple[str, int, int | None, int]]:
        """(provider, user_id, guild_id, count) of the jobs holding an upstream slot (admission)."""
        values = [s.value for s in UPSTREAM_ACTIVE]
        marks = ",".join("?" * len(values))
        rows = await self._all(
            f"SELECT provider, user_id, guild_id, COUNT(*) FROM jobs WHERE state IN ({marks}) "  # noqa: S608
            f"GROUP BY provider, user_id, guild_id", values)
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def earliest_due(self) -> float | None:
        values = [s.value for s in POLLED]
        marks = ",".join("?" * len(values))
        row = await self._one(
            f"SELECT MIN(CASE WHEN next_poll_at > COALESCE(claimed_until, 0) THEN next_poll_at "  # noqa: S608
            f"ELSE COALESCE(claimed_until, 0) END) FROM jobs "
            f"WHERE state IN ({marks})", values)
        return row[0] if row else None

    async def earliest_requested(self) -> float | None:
        row = await self._one("SELECT MIN(next_poll_at) FROM jobs WHERE state=?", (JobState.REQUESTED.value,))
        return row[0] if row else None

    async def job_by_provider_id(self, provider: str, provider_id: str) -> Job | None:
        row = await self._one("SELECT * FROM jobs WHERE provider=? AND provider_id=?", (provider, provider_id))
        return Job.from_row(row) if row else None

    async def ended_with_files(self) -> list[Job]:
        """Delivered, failed or expired jobs that still have a video or an input image on disk,
        oldest end first (retention). A job still in progress is never listed: its files are owed."""
        rows = await self._all(
            "SELECT * FROM jobs WHERE state IN ('delivered', 'failed', 'expired', 'cancelled') "
            "AND (file_path IS NOT NULL OR image_path IS NOT NULL) ORDER BY COALESCE(delivered_at, updated_at), id")
        return [Job.from_row(r) for r in rows]

    async def release_leases(self) -> int:
        """After a restart this process holds no lease: make the jobs it had claimed claimable at once.
        On SQLite (one process per file) that is every lease; on PostgreSQL only the ones taken under
        this process's name, never a live neighbour's (a dead one's lapse by time)."""
        if self.backend == "sqlite":
            return await self._write("UPDATE jobs SET claimed_until=NULL WHERE claimed_until IS NOT NULL")
        return await self._write("UPDATE jobs SET claimed_until=NULL WHERE claimed_until IS NOT NULL "
                                 "AND claimed_by=?", (self.owner,))

    async def lapsed_in_states(self, states: Iterable[JobState], now: float, *, include_own: bool) -> list[Job]:
        """Jobs in `states` nobody is working: no lease or a lapsed one, and with `include_own` the
        ones this process leased before it restarted. On SQLite (one process) that is every one."""
        values = [s.value for s in states]
        if self.backend == "sqlite":
            return await self.jobs_in_states(states)
        own = "OR claimed_by = ?" if include_own else ""
        args = (*values, now, self.owner) if include_own else (*values, now)
        rows = await self._all(
            f"SELECT * FROM jobs WHERE state IN ({_marks(values)}) AND (claimed_until IS NULL "  # noqa: S608
            f"OR claimed_until <= ? {own}) ORDER BY id", args)
        return [Job.from_row(r) for r in rows]

    async def recent_render_seconds(self, model: str, limit: int = 20, *, size: str | None = None,
                                    seconds: int | None = None) -> list[float]:
        """How long the latest finished renders of `model` took upstream (submission → completion
        noticed), newest first; only those of `size` and `seconds` when given. Any model string."""
        rows = await self._all(
            """SELECT completed_at - submitted_at FROM jobs WHERE model=? AND completed_at IS NOT NULL
                 AND submitted_at IS NOT NULL AND (CAST(? AS TEXT) IS NULL OR size=?)
                 AND (CAST(? AS INTEGER) IS NULL OR seconds=?)
                 ORDER BY completed_at DESC LIMIT ?""", (model, size, size, seconds, seconds, limit))
        return [float(r[0]) for r in rows if r[0] is not None and r[0] > 0]

    async def hasten_siblings(self, job: Job, render_seconds: float, now: float, *, share: float = 0.9) -> int:
        """A render like `job` (same provider, model, size, length) just took `render_seconds`: bring the
        next poll of each unfinished sibling forward to when it has run `share` of that (now, for those
        already past it), never later than it was. For dialects without progress, so siblings are not
        left on a schedule made before anything like them was known. Returns how many moved."""
        return await self._write(
            """UPDATE jobs SET next_poll_at = CASE
                   WHEN submitted_at + ? < ? THEN ? ELSE submitted_at + ? END
                 WHERE provider=? AND model=? AND size=? AND seconds=? AND id<>? AND state IN ('queued', 'running')
                   AND submitted_at IS NOT NULL AND next_poll_at IS NOT NULL
                   AND next_poll_at > CASE WHEN submitted_at + ? < ? THEN ? ELSE submitted_at + ? END""",
            (share * render_seconds, now, now, share * render_seconds, job.provider, job.model, job.size,
             job.seconds, job.id, share * render_seconds, now, now, share * render_seconds))

    async def extend_lease(self, job_id: int, until: float) -> bool:
        """Keep this process's claim on a job whose step is still running (a long download or
        transcode) until `until`; False when the claim is no longer ours."""
        return await self._write(
            "UPDATE jobs SET claimed_until=? WHERE id=? AND claimed_until IS NOT NULL "
            "AND claimed_by IS NOT DISTINCT FROM ?", (until, job_id, self.owner)) > 0

    # --- jobs: claiming and transitions -------------------------------------------------------------
    async def claim_due(self, now: float, *, limit: int, lease: float) -> list[Job]:
        """Atomically lease up to `limit` due jobs (one statement), oldest due first. On PostgreSQL
        the inner SELECT skips rows another process is claiming right now (SKIP LOCKED)."""
        values = [s.value for s in POLLED]
        rows = await self._all(
            f"""UPDATE jobs SET claimed_until = ?, claimed_by = ? WHERE id IN (
                   SELECT id FROM jobs WHERE state IN ({_marks(values)}) AND next_poll_at <= ?
                     AND (claimed_until IS NULL OR claimed_until <= ?)
                   ORDER BY next_poll_at LIMIT ?{self.db.skip_locked})
                RETURNING *""",  # noqa: S608
            (now + lease, self.owner, *values, now, now, limit))
        return sorted((Job.from_row(r) for r in rows), key=lambda j: j.next_poll_at or 0)

    async def mark_due(self, job_id: int, now: float) -> bool:
        """Poll `job_id` at `now` if it is waiting on the provider (queued or running): a webhook said
        it ended. Never changes its state: the status request that follows decides."""
        return await self._write(
            "UPDATE jobs SET next_poll_at=?, updated_at=? WHERE id=? AND state IN ('queued', 'running')",
            (now, now, job_id)) == 1

    async def claim_requested(self, job_id: int, now: float, *, lease: float | None = None) -> Job | None:
        """requested → submitting, recording when the create starts (durable before it is sent).
        With `lease` (several processes), the submitting job is leased to this process: if it dies,
        another one reconciles the job once the lease lapses."""
        return await self.transition(job_id, JobState.REQUESTED, JobState.SUBMITTING, submit_started_at=now,
                                     claimed_until=None if lease is None else now + lease,
                                     claimed_by=self.owner)

    async def transition(self, job_id: int, old: JobState, new: JobState, **changes: Any) -> Job | None:
        """Compare-and-set: move `job_id` from `old` to `new` with `changes`; None if it was not in
        `old` any more (someone else moved it). Illegal moves raise."""
        check_transition(job_id, old, new)
        return await self._update(job_id, {"state": new.value, **changes}, expect_state=old)

    async def update(self, job_id: int, **changes: Any) -> Job | None:
        """Change columns of `job_id` other than its state (state moves go through `transition`,
        `end_job` or `mark_delivered`, which check them against the table in bot/domain/jobs.py)."""
        if "state" in changes:
            raise ValueError(f"job {job_id}: update() does not move states; use transition()")
        return await self._update(job_id, changes, expect_state=None)

    async def _update(self, job_id: int, changes: dict[str, Any], expect_state: JobState | None) -> Job | None:
        unknown = set(changes) - _JOB_COLUMNS
        if unknown:
            raise ValueError(f"unknown job columns: {sorted(unknown)}")
        changes = {**changes, "updated_at": self.clock()}
        sets = ", ".join(f"{name} = ?" for name in changes)
        args: list[Any] = [v.value if isinstance(v, JobState) else v for v in changes.values()]
        sql = f"UPDATE jobs SET {sets} WHERE id = ?"  # noqa: S608  (column names are checked above)
        args.append(job_id)
        if expect_state is not None:
            sql += " AND state = ?"
            args.append(expect_state.value)
        rows = await self._all(sql + " RETURNING *", args)
        return Job.from_row(rows[0]) if rows else None

    async def mark_delivered(self, job_id: int, *, message_id: int, at: float,
                             charge: tuple[float, float] | None, billed: bool = False) -> Job | None:
        """delivering → delivered with the result message id, and the reservation settled at
        `charge` (seconds, usd; never more than reserved), in one transaction. With `billed` the usd
        is the provider's real charge and is settled as it is (above the estimate too)."""
        old, new = JobState.DELIVERING, JobState.DELIVERED
        check_transition(job_id, old, new)
        async with self._tx() as tx:
            rows = await tx.fetchall(
                """UPDATE jobs SET state=?, result_message_id=?, delivered_at=?, next_poll_at=NULL,
                       claimed_until=NULL, updated_at=? WHERE id=? AND state=? RETURNING *""",
                (new.value, message_id, at, at, job_id, old.value))
            if not rows:
                return None
            if charge is not None:
                seconds, usd = charge
                if billed:
                    await tx.execute(_SETTLE_BILLED, (seconds, seconds, usd, at, job_id))
                else:
                    await tx.execute(_SETTLE, (seconds, seconds, usd, usd, at, job_id))
            return Job.from_row(rows[0])

    async def end_job(self, job_id: int, old: JobState, new: JobState, *, code: str, message: str,
                      charged: bool = False) -> Job | None:
        """`old` → failed/expired with the error, and the reservation refunded, in one transaction.
        `charged`: the video was rendered upstream, so its cost stays in the server's spend."""
        if new not in (JobState.FAILED, JobState.EXPIRED, JobState.CANCELLED):
            raise ValueError(f"job {job_id}: end_job() ends a job; {new.value} is not an end")
        check_transition(job_id, old, new)
        now = self.clock()
        async with self._tx() as tx:
            rows = await tx.fetchall(
                """UPDATE jobs SET state=?, error_code=?, error_message=?, next_poll_at=NULL, claimed_until=NULL,
                       updated_at=? WHERE id=? AND state=? RETURNING *""",
                (new.value, code, message, now, job_id, old.value))
            if not rows:
                return None
            await tx.execute(_REFUND_CHARGED if charged else _REFUND, (code, now, job_id))
            return Job.from_row(rows[0])

    async def refund_ended_jobs(self) -> int:
        """Repair: refund reservations still open on failed or expired jobs (none should be)."""
        return await self._write(
            "UPDATE quota_ledger SET status='refunded', reason='ended', closed_at=? WHERE status='reserved' "
            "AND job_id IN (SELECT id FROM jobs WHERE state IN ('failed', 'expired', 'cancelled'))", (self.clock(),))

    # --- the bot-wide pause of submissions (402: out of credit) -------------------------------------
    async def submission_pause(self, provider: str) -> SubmissionPause | None:
        row = await self._one("SELECT * FROM submission_pause WHERE provider=?", (provider,))
        return SubmissionPause(**dict(row)) if row else None

    async def pause_submissions(self, provider: str, *, until: float, reason: str) -> SubmissionPause:
        """Start a pause, or add a strike to the current one, recheck at `until`; the row as stored."""
        now = self.clock()
        rows = await self._all(
            """INSERT INTO submission_pause (provider, since, until, strikes, reason) VALUES (?,?,?,1,?)
               ON CONFLICT(provider) DO UPDATE SET until=excluded.until, strikes=submission_pause.strikes + 1,
                   reason=excluded.reason
               RETURNING *""", (provider, now, until, reason[:300]))
        return SubmissionPause(**dict(rows[0]))

    async def hold_submission_pause(self, provider: str, *, until: float) -> None:
        """Keep the pause (no new strike) until `until`: a probe is on its way."""
        await self._write("UPDATE submission_pause SET until=? WHERE provider=?", (until, provider))

    async def resume_submissions(self, provider: str) -> bool:
        """End the pause (a create went through); True when there was one."""
        return await self._write("DELETE FROM submission_pause WHERE provider=?", (provider,)) > 0

    # --- several processes: the shared admission mutex and the shared provider rate ------------------
    def exclusive(self, name: str) -> contextlib.AbstractAsyncContextManager[bool]:
        """Held by one process at a time (PostgreSQL advisory lock); yields False when another holds it."""
        return self.db.exclusive(name)

    async def notify_wakeup(self, payload: str = "") -> None:
        """Wake every process's poller (PostgreSQL NOTIFY on WAKEUP_CHANNEL; nothing on SQLite)."""
        await self.db.notify(WAKEUP_CHANNEL, payload)

    async def listen_wakeups(self, callback: Callable[[str], None]) -> None:
        """Call `callback(payload)` when any process (this one included) calls notify_wakeup."""
        await self.db.listen(WAKEUP_CHANNEL, callback)

    async def take_rate_slot(self, provider: str, now: float, interval: float) -> float:
        """GCRA, one atomic statement: move `provider`'s theoretical arrival time on by `interval`
        (from now if it lies in the past) and return the new value (bot/engine/shared_rate.py)."""
        tat = await scalar(self.db,
            """INSERT INTO provider_rate (provider, tat) VALUES (?, ?)
               ON CONFLICT (provider) DO UPDATE SET
                   tat = CASE WHEN provider_rate.tat > ? THEN provider_rate.tat ELSE ? END + ?
               RETURNING tat""", (provider, now + interval, now, now, interval))
        return float(tat)

    async def hold_rate(self, provider: str, until: float) -> None:
        """No slot for `provider` before `until` (a 429's Retry-After, for every process)."""
        await self._write(
            """INSERT INTO provider_rate (provider, tat) VALUES (?, ?)
               ON CONFLICT (provider) DO UPDATE SET
                   tat = CASE WHEN provider_rate.tat > ? THEN provider_rate.tat ELSE ? END""",
            (provider, until, until, until))

    # --- quota ledger -----------------------------------------------------------------------------
    async def ledger_entry(self, job_id: int) -> Row | None:
        return await self._one("SELECT * FROM quota_ledger WHERE job_id=?", (job_id,))

    async def guild_report(self, guild_id: int, since: float, limit: int = 10) -> list[tuple[int, int, float, float]]:
        """Top users since `since`: (user_id, videos, seconds, usd), by spend. The spend is what the
        budgets count: reserved and settled entries plus what a rendered-but-undelivered (refunded)
        video still cost; videos and seconds count only what the member kept."""
        kept = "status IN ('reserved','settled')"
        rows = await self._all(
            f"""SELECT user_id, SUM(CASE WHEN {kept} THEN 1 ELSE 0 END),
                       SUM(CASE WHEN {kept} THEN seconds ELSE 0 END), {_SPENT_USD} FROM quota_ledger
               WHERE guild_id=? AND created_at>=? AND ({kept} OR charged_usd IS NOT NULL)
               GROUP BY user_id ORDER BY 4 DESC, 3 DESC LIMIT ?""",  # noqa: S608
            (guild_id, since, limit))
        return [(r[0], r[1], float(r[2] or 0), float(r[3] or 0)) for r in rows]

    # --- guild settings, tiers, blocks, audit -------------------------------------------------------
    async def guild_config(self, guild_id: int) -> GuildConfig:
        return _guild_config(guild_id, await self._one("SELECT * FROM guild_settings WHERE guild_id=?", (guild_id,)))

    async def save_guild_config(self, config: GuildConfig, *, by: int, action: str, detail: str) -> None:
        now = self.clock()
        async with self._tx() as tx:
            await self._write_guild_config(tx, config, by, now)
            await self._audit(tx, config.guild_id, by, action, detail, now)

    async def update_guild_config(self, guild_id: int, change: Callable[[GuildConfig], tuple[GuildConfig, str] | None],
                                  *, by: int, action: str) -> GuildConfig:
        """Read-modify-write of a guild's settings in ONE transaction, the guild's settings locked
        first: two managers changing them at once both keep their change. `change` gets the stored
        config and returns the new one with the audit detail, or None to write nothing."""
        now = self.clock()
        async with self._tx() as tx:
            await tx.lock("guild_settings", guild_id)
            current = _guild_config(guild_id, await tx.fetchone("SELECT * FROM guild_settings WHERE guild_id=?",
                                                                (guild_id,)))
            changed = change(current)
            if changed is None:
                return current
            config, detail = changed
            await self._write_guild_config(tx, config, by, now)
            await self._audit(tx, guild_id, by, action, detail, now)
            return config

    async def _write_guild_config(self, tx: Any, config: GuildConfig, by: int, now: float) -> None:
        await tx.execute(
            """INSERT INTO guild_settings (guild_id, limits, channels, prices, updated_at, updated_by)
               VALUES (?,?,?,?,?,?) ON CONFLICT(guild_id) DO UPDATE SET limits=excluded.limits,
               channels=excluded.channels, prices=excluded.prices, updated_at=excluded.updated_at,
               updated_by=excluded.updated_by""",
            (config.guild_id, json.dumps(config.limits),
             None if config.channels is None else json.dumps(config.channels),
             None if config.prices is None else json.dumps(config.prices), now, by))

    async def role_tiers(self, guild_id: int) -> dict[int, dict[str, Any]]:
        rows = await self._all("SELECT role_id, limits FROM role_tiers WHERE guild_id=?", (guild_id,))
        return {r[0]: json.loads(r[1]) for r in rows}

    async def set_role_tier(self, guild_id: int, role_id: int, limits: dict[str, Any] | None, *, by: int) -> None:
        await self.update_role_tier(guild_id, role_id, lambda _: limits or None, by=by)

    async def update_role_tier(self, guild_id: int, role_id: int,
                               change: Callable[[dict[str, Any]], dict[str, Any] | None], *, by: int) -> dict[str, Any]:
        """Read-modify-write of one role's tier in ONE transaction (locked like the guild's settings):
        `change` gets the stored settings ({} for none) and returns the new ones, None or {} to remove
        the tier. Returns what is stored now."""
        now = self.clock()
        async with self._tx() as tx:
            await tx.lock("role_tiers", guild_id, role_id)
            row = await tx.fetchone("SELECT limits FROM role_tiers WHERE guild_id=? AND role_id=?", (guild_id, role_id))
            limits = change(json.loads(row[0]) if row is not None else {})
            if not limits:
                await tx.execute("DELETE FROM role_tiers WHERE guild_id=? AND role_id=?", (guild_id, role_id))
                await self._audit(tx, guild_id, by, "tier.remove", f"role={role_id}", now)
                return {}
            await tx.execute(
                """INSERT INTO role_tiers (guild_id, role_id, limits, updated_at, updated_by)
                   VALUES (?,?,?,?,?) ON CONFLICT(guild_id, role_id) DO UPDATE SET
                   limits=excluded.limits, updated_at=excluded.updated_at, updated_by=excluded.updated_by""",
                (guild_id, role_id, json.dumps(limits), now, by))
            await self._audit(tx, guild_id, by, "tier.set", f"role={role_id} {json.dumps(limits)}", now)
            return limits

    async def is_blocked(self, guild_id: int | None, user_id: int) -> bool:
        row = await self._one("SELECT 1 FROM blocked_users WHERE guild_id IS NOT DISTINCT FROM ? AND user_id=?",
                              (guild_id, user_id))
        return row is not None

    async def set_blocked(self, guild_id: int, user_id: int, blocked: bool, *, by: int, reason: str = "") -> None:
        now = self.clock()
        async with self._tx() as tx:
            if blocked:
                await tx.execute(
                    """INSERT INTO blocked_users (guild_id, user_id, reason, blocked_by, blocked_at)
                       VALUES (?,?,?,?,?) ON CONFLICT (guild_id, user_id) DO UPDATE SET reason=excluded.reason,
                       blocked_by=excluded.blocked_by, blocked_at=excluded.blocked_at""",
                    (guild_id, user_id, reason, by, now))
            else:
                await tx.execute("DELETE FROM blocked_users WHERE guild_id=? AND user_id=?", (guild_id, user_id))
            await self._audit(tx, guild_id, by, "block" if blocked else "unblock", f"user={user_id} {reason}", now)

    async def admin_log(self, guild_id: int, limit: int = 20) -> list[Row]:
        return await self._all("SELECT * FROM admin_log WHERE guild_id=? ORDER BY id DESC LIMIT ?",
                               (guild_id, limit))

    @staticmethod
    async def _audit(tx: Any, guild_id: int, by: int, action: str, detail: str,
                     now: float) -> None:
        await tx.execute("INSERT INTO admin_log (guild_id, user_id, action, detail, at) VALUES (?,?,?,?,?)",
                           (guild_id, by, action, detail, now))


def _guild_config(guild_id: int, row: Row | None) -> GuildConfig:
    if row is None:
        return GuildConfig(guild_id, {}, None, None)
    return GuildConfig(
        guild_id,
        json.loads(row["limits"]) if row["limits"] else {},
        json.loads(row["channels"]) if row["channels"] else None,
        json.loads(row["prices"]) if row["prices"] else None,
    )
