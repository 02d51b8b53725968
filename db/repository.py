"""Every SQL statement of the bot, behind typed methods. Nothing else in the code base writes SQL.

One aiosqlite connection is shared; `_lock` serializes statements and transactions on it, so a
transaction of one coroutine never swallows another's statement. Multi-statement changes run in
`BEGIN IMMEDIATE` transactions, which also serialize against another process on the same file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import aiosqlite

from bot.engine.jobs import (
    ACTIVE,
    POLLED,
    REMIXABLE,
    UPSTREAM_ACTIVE,
    IllegalTransition,
    JobState,
    can_transition,
)
from db.catalog import CatalogQueries
from db.languages import LanguageQueries

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    guild_id: int | None
    channel_id: int
    user_id: int
    kind: str
    prompt: str
    model: str
    size: str
    seconds: int
    parent_job_id: int | None
    image_path: str | None
    provider: str
    provider_id: str | None
    idempotency_key: str
    state: JobState
    progress: int | None
    error_code: str | None
    error_message: str | None
    attempts: int
    user_cap: int | None
    next_poll_at: float | None
    last_poll_at: float | None
    claimed_until: float | None
    created_at: float
    updated_at: float
    submit_started_at: float | None
    submitted_at: float | None
    completed_at: float | None
    delivered_at: float | None
    expires_at: float | None
    file_path: str | None
    file_size: int | None
    duration: float | None
    status_message_id: int | None
    result_message_id: int | None
    reply_to_message_id: int | None
    progress_published_at: float | None
    progress_text: str | None
    provider_cost_usd: float | None = None  # the provider's real charge, when it reports one
    locale: str | None = None  # the language of its public messages (the server's, at request time)

    def log_extra(self, **more: object) -> dict[str, object]:
        """`extra=` for a log line about this job: job, guild and user on every job line."""
        return {"job": self.id, "guild": self.guild_id, "user": self.user_id, **more}

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> Job:
        data = dict(row)
        data["state"] = JobState(data["state"])
        return cls(**data)


_JOB_COLUMNS = frozenset(f.name for f in fields(Job))
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
_SETTLE = """UPDATE quota_ledger SET status='settled', seconds=MIN(seconds, ?), usd=MIN(usd, ?), closed_at=?
             WHERE job_id=? AND status='reserved'"""
# reserved → settled at what the provider really charged (it may differ from the estimate either way)
_SETTLE_BILLED = """UPDATE quota_ledger SET status='settled', seconds=MIN(seconds, ?), usd=?, reason='billed',
             closed_at=? WHERE job_id=? AND status='reserved'"""


@dataclass(frozen=True, slots=True)
class SubmissionPause:
    """Submissions to `provider` are paused (402: out of credit) until `until`; `strikes` in a row."""

    provider: str
    since: float
    until: float
    strikes: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class NewJob:
    guild_id: int | None
    channel_id: int
    user_id: int
    kind: str
    prompt: str
    model: str
    size: str
    seconds: int
    provider: str
    idempotency_key: str
    parent_job_id: int | None = None
    image_path: str | None = None
    reply_to_message_id: int | None = None
    user_cap: int | None = None  # concurrent upstream jobs this member may have (None: no cap)
    locale: str | None = None  # the language of its public messages (bot/i18n.py catalogue name)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    at: float
    seconds: float
    usd: float


@dataclass(frozen=True, slots=True)
class UsageRows:
    """Raw usage read inside the reservation transaction; `bot.quota` turns it into a decision."""

    user_entries_24h: list[LedgerEntry]  # reserved or settled, oldest first
    guild_month_seconds: float
    guild_month_usd: float
    user_active: int
    guild_active: int
    user_last_submit_at: float | None
    bot_month_usd: float = 0.0  # every guild's spend this month (BOT_USD_PER_MONTH)


@dataclass(frozen=True, slots=True)
class GuildConfig:
    guild_id: int
    limits: dict[str, Any]
    channels: list[int] | None
    prices: dict[str, str] | None


class Repository(CatalogQueries, LanguageQueries):
    def __init__(self, conn: aiosqlite.Connection, *, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.clock = clock
        self._lock = asyncio.Lock()

    # --- plumbing ------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                yield self.conn
            except BaseException:
                # Even when cancelled (the BEGIN may still run on aiosqlite's thread): the ROLLBACK is
                # queued behind it, so the shared connection never stays inside a transaction.
                with contextlib.suppress(sqlite3.OperationalError):
                    await asyncio.shield(self.conn.execute("ROLLBACK"))
                raise
            else:
                await self.conn.execute("COMMIT")

    async def _one(self, sql: str, args: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with self._lock, self.conn.execute(sql, args) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, args: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock, self.conn.execute(sql, args) as cur:
            return list(await cur.fetchall())

    async def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        async with self._lock:
            cur = await self.conn.execute(sql, args)
            return cur.rowcount

    async def ping_write(self) -> None:
        """A cheap proof that the database accepts writes (health check, doctor)."""
        async with self._tx() as conn:
            await conn.execute("CREATE TEMP TABLE IF NOT EXISTS _ping (x)")
            await conn.execute("DELETE FROM _ping")

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
    ) -> tuple[Job | None, T]:
        """In ONE transaction: read usage, let `decide` judge it, and when allowed insert the job
        (state requested) and its quota reservation. Refused → nothing written."""
        now = self.clock()
        async with self._tx() as conn:
            usage = await self._usage(conn, new.guild_id, new.user_id, now, month_start)
            decision = decide(usage)
            if not allowed(decision):
                return None, decision
            cur = await conn.execute(
                """INSERT INTO jobs (guild_id, channel_id, user_id, kind, prompt, model, size, seconds,
                       parent_job_id, image_path, provider, idempotency_key, state, created_at, updated_at,
                       next_poll_at, reply_to_message_id, user_cap, locale)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING *""",
                (new.guild_id, new.channel_id, new.user_id, new.kind, new.prompt, new.model, new.size,
                 new.seconds, new.parent_job_id, new.image_path, new.provider, new.idempotency_key,
                 JobState.REQUESTED.value, now, now, now, new.reply_to_message_id, new.user_cap, new.locale),
            )
            job = Job.from_row((await cur.fetchall())[0])
            await cur.close()
            await conn.execute(
                """INSERT INTO quota_ledger (job_id, guild_id, user_id, status, seconds, usd, created_at)
                   VALUES (?,?,?,?,?,?,?)""",
                (job.id, new.guild_id, new.user_id, "reserved", reserve_seconds, reserve_usd, now),
            )
            return job, decision

    async def _usage(self, conn: aiosqlite.Connection, guild_id: int | None, user_id: int,
                     now: float, month_start: float) -> UsageRows:
        counted = "status IN ('reserved', 'settled')"
        async with conn.execute(
            f"SELECT created_at, seconds, usd FROM quota_ledger WHERE user_id=? AND guild_id IS ? "  # noqa: S608
            f"AND created_at > ? AND {counted} ORDER BY created_at",
            (user_id, guild_id, now - 86400),
        ) as cur:
            entries = [LedgerEntry(r[0], r[1], r[2]) for r in await cur.fetchall()]
        async with conn.execute(
            f"SELECT COALESCE(SUM(CASE WHEN {counted} THEN seconds END), 0), {_SPENT_USD} "  # noqa: S608
            f"FROM quota_ledger WHERE guild_id IS ? AND created_at >= ?",
            (guild_id, month_start),
        ) as cur:
            month = await cur.fetchone()
        async with conn.execute(
            f"SELECT {_SPENT_USD} FROM quota_ledger WHERE created_at >= ?", (month_start,)  # noqa: S608
        ) as cur:
            bot_month = await cur.fetchone()
        active = tuple(s.value for s in ACTIVE)
        marks = ",".join("?" * len(active))
        async with conn.execute(
            f"SELECT SUM(user_id = ?), COUNT(*) FROM jobs WHERE guild_id IS ? AND state IN ({marks})",  # noqa: S608
            (user_id, guild_id, *active),
        ) as cur:
            counts = await cur.fetchone()
        async with conn.execute(
            "SELECT MAX(created_at) FROM jobs WHERE user_id=? AND guild_id IS ?", (user_id, guild_id)
        ) as cur:
            last = await cur.fetchone()
        return UsageRows(entries, float(month[0]), float(month[1]), int(counts[0] or 0),
                         int(counts[1] or 0), last[0], bot_month_usd=float(bot_month[0]))

    async def usage(self, guild_id: int | None, user_id: int, *, month_start: float) -> UsageRows:
        async with self._lock:
            return await self._usage(self.conn, guild_id, user_id, self.clock(), month_start)

    # --- jobs: reads ------------------------------------------------------------------------------
    async def get_job(self, job_id: int) -> Job | None:
        row = await self._one("SELECT * FROM jobs WHERE id=?", (job_id,))
        return Job.from_row(row) if row else None

    async def job_by_result_message(self, message_id: int) -> Job | None:
        row = await self._one("SELECT * FROM jobs WHERE result_message_id=?", (message_id,))
        return Job.from_row(row) if row else None

    async def recent_jobs(self, user_id: int, guild_id: int | None, limit: int = 10) -> list[Job]:
        rows = await self._all(
            "SELECT * FROM jobs WHERE user_id=? AND guild_id IS ? ORDER BY id DESC LIMIT ?",
            (user_id, guild_id, limit))
        return [Job.from_row(r) for r in rows]

    async def remixable_jobs(self, user_id: int, guild_id: int | None, query: str = "",
                             limit: int = 25) -> list[Job]:
        """The caller's finished videos, newest first, whose id or prompt contains `query`."""
        like = f"%{query.strip()}%"
        states = [s.value for s in REMIXABLE]
        marks = ",".join("?" * len(states))
        rows = await self._all(
            f"""SELECT * FROM jobs WHERE user_id=? AND guild_id IS ? AND state IN ({marks})
                 AND provider_id IS NOT NULL AND (CAST(id AS TEXT) LIKE ? OR prompt LIKE ?)
               ORDER BY id DESC LIMIT ?""",  # noqa: S608
            (user_id, guild_id, *states, like, like, limit))
        return [Job.from_row(r) for r in rows]

    async def jobs_in_states(self, states: Iterable[JobState]) -> list[Job]:
        values = [s.value for s in states]
        marks = ",".join("?" * len(values))
        rows = await self._all(f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY id", values)  # noqa: S608
        return [Job.from_row(r) for r in rows]

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
            f"SELECT MIN(MAX(next_poll_at, COALESCE(claimed_until, 0))) FROM jobs "  # noqa: S608
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
            "SELECT * FROM jobs WHERE state IN ('delivered', 'failed', 'expired') "
            "AND (file_path IS NOT NULL OR image_path IS NOT NULL) ORDER BY COALESCE(delivered_at, updated_at), id")
        return [Job.from_row(r) for r in rows]

    async def starts_since(self, since: float) -> list[tuple[int, float]]:
        """(user_id, submit time) of every job sent upstream at or after `since` (fair-queue memory)."""
        rows = await self._all(
            "SELECT user_id, submit_started_at FROM jobs WHERE submit_started_at >= ?", (since,))
        return [(r[0], r[1]) for r in rows]

    async def release_leases(self) -> int:
        """After a restart nobody holds a lease: make every claimed job claimable at once."""
        return await self._write("UPDATE jobs SET claimed_until=NULL WHERE claimed_until IS NOT NULL")

    async def recent_render_seconds(self, model: str, limit: int = 20) -> list[float]:
        rows = await self._all(
            """SELECT completed_at - submitted_at FROM jobs WHERE model=? AND completed_at IS NOT NULL
                 AND submitted_at IS NOT NULL ORDER BY id DESC LIMIT ?""", (model, limit))
        return [float(r[0]) for r in rows if r[0] is not None and r[0] > 0]

    # --- jobs: claiming and transitions -------------------------------------------------------------
    async def claim_due(self, now: float, *, limit: int, lease: float) -> list[Job]:
        """Atomically lease up to `limit` due jobs (one statement), oldest due first."""
        values = [s.value for s in POLLED]
        marks = ",".join("?" * len(values))
        rows = await self._all(
            f"""UPDATE jobs SET claimed_until = ? WHERE id IN (
                   SELECT id FROM jobs WHERE state IN ({marks}) AND next_poll_at <= ?
                     AND (claimed_until IS NULL OR claimed_until <= ?)
                   ORDER BY next_poll_at LIMIT ?)
                RETURNING *""",  # noqa: S608
            (now + lease, *values, now, now, limit))
        return sorted((Job.from_row(r) for r in rows), key=lambda j: j.next_poll_at or 0)

    async def mark_due(self, job_id: int, now: float) -> bool:
        """Poll `job_id` at `now` if it is waiting on the provider (queued or running): a webhook said
        it ended. Never changes its state: the status request that follows decides."""
        return await self._write(
            "UPDATE jobs SET next_poll_at=?, updated_at=? WHERE id=? AND state IN ('queued', 'running')",
            (now, now, job_id)) == 1

    async def claim_requested(self, job_id: int, now: float) -> Job | None:
        """requested → submitting, recording when the create starts (durable before it is sent)."""
        return await self.transition(job_id, JobState.REQUESTED, JobState.SUBMITTING,
                                     submit_started_at=now, claimed_until=None)

    async def transition(self, job_id: int, old: JobState, new: JobState, **changes: Any) -> Job | None:
        """Compare-and-set: move `job_id` from `old` to `new` with `changes`; None if it was not in
        `old` any more (someone else moved it). Illegal moves raise."""
        if not can_transition(old, new):
            raise IllegalTransition(job_id, old, new)
        return await self._update(job_id, {"state": new.value, **changes}, expect_state=old)

    async def update(self, job_id: int, **changes: Any) -> Job | None:
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
        async with self._tx() as conn:
            async with conn.execute(
                """UPDATE jobs SET state='delivered', result_message_id=?, delivered_at=?, next_poll_at=NULL,
                       claimed_until=NULL, updated_at=? WHERE id=? AND state='delivering' RETURNING *""",
                (message_id, at, at, job_id)) as cur:
                rows = await cur.fetchall()
            if not rows:
                return None
            if charge is not None:
                await conn.execute(_SETTLE_BILLED if billed else _SETTLE, (*charge, at, job_id))
            return Job.from_row(rows[0])

    async def end_job(self, job_id: int, old: JobState, new: JobState, *, code: str, message: str,
                      charged: bool = False) -> Job | None:
        """`old` → failed/expired with the error, and the reservation refunded, in one transaction.
        `charged`: the video was rendered upstream, so its cost stays in the server's spend."""
        if not can_transition(old, new):
            raise IllegalTransition(job_id, old, new)
        now = self.clock()
        async with self._tx() as conn:
            async with conn.execute(
                """UPDATE jobs SET state=?, error_code=?, error_message=?, next_poll_at=NULL, claimed_until=NULL,
                       updated_at=? WHERE id=? AND state=? RETURNING *""",
                (new.value, code, message, now, job_id, old.value)) as cur:
                rows = await cur.fetchall()
            if not rows:
                return None
            await conn.execute(_REFUND_CHARGED if charged else _REFUND, (code, now, job_id))
            return Job.from_row(rows[0])

    async def refund_ended_jobs(self) -> int:
        """Repair: refund reservations still open on failed or expired jobs (none should be)."""
        return await self._write(
            "UPDATE quota_ledger SET status='refunded', reason='ended', closed_at=? WHERE status='reserved' "
            "AND job_id IN (SELECT id FROM jobs WHERE state IN ('failed', 'expired'))", (self.clock(),))

    # --- the bot-wide pause of submissions (402: out of credit) -------------------------------------
    async def submission_pause(self, provider: str) -> SubmissionPause | None:
        row = await self._one("SELECT * FROM submission_pause WHERE provider=?", (provider,))
        return SubmissionPause(**dict(row)) if row else None

    async def pause_submissions(self, provider: str, *, until: float, reason: str) -> SubmissionPause:
        """Start a pause, or add a strike to the current one, recheck at `until`; the row as stored."""
        now = self.clock()
        rows = await self._all(
            """INSERT INTO submission_pause (provider, since, until, strikes, reason) VALUES (?,?,?,1,?)
               ON CONFLICT(provider) DO UPDATE SET until=excluded.until, strikes=strikes + 1,
                   reason=excluded.reason
               RETURNING *""", (provider, now, until, reason[:300]))
        return SubmissionPause(**dict(rows[0]))

    async def hold_submission_pause(self, provider: str, *, until: float) -> None:
        """Keep the pause (no new strike) until `until`: a probe is on its way."""
        await self._write("UPDATE submission_pause SET until=? WHERE provider=?", (until, provider))

    async def resume_submissions(self, provider: str) -> bool:
        """End the pause (a create went through); True when there was one."""
        return await self._write("DELETE FROM submission_pause WHERE provider=?", (provider,)) > 0

    # --- quota ledger -----------------------------------------------------------------------------
    async def ledger_entry(self, job_id: int) -> aiosqlite.Row | None:
        return await self._one("SELECT * FROM quota_ledger WHERE job_id=?", (job_id,))

    async def guild_report(self, guild_id: int, since: float, limit: int = 10) -> list[tuple[int, int, float, float]]:
        """Top users since `since`: (user_id, videos, seconds, usd), by spend."""
        rows = await self._all(
            """SELECT user_id, COUNT(*), SUM(seconds), SUM(usd) FROM quota_ledger
               WHERE guild_id=? AND created_at>=? AND status IN ('reserved','settled')
               GROUP BY user_id ORDER BY SUM(usd) DESC, SUM(seconds) DESC LIMIT ?""",
            (guild_id, since, limit))
        return [(r[0], r[1], float(r[2] or 0), float(r[3] or 0)) for r in rows]

    # --- guild settings, tiers, blocks, audit -------------------------------------------------------
    async def guild_config(self, guild_id: int) -> GuildConfig:
        row = await self._one("SELECT * FROM guild_settings WHERE guild_id=?", (guild_id,))
        if row is None:
            return GuildConfig(guild_id, {}, None, None)
        return GuildConfig(
            guild_id,
            json.loads(row["limits"]) if row["limits"] else {},
            json.loads(row["channels"]) if row["channels"] else None,
            json.loads(row["prices"]) if row["prices"] else None,
        )

    async def save_guild_config(self, config: GuildConfig, *, by: int, action: str, detail: str) -> None:
        now = self.clock()
        async with self._tx() as conn:
            await conn.execute(
                """INSERT INTO guild_settings (guild_id, limits, channels, prices, updated_at, updated_by)
                   VALUES (?,?,?,?,?,?) ON CONFLICT(guild_id) DO UPDATE SET limits=excluded.limits,
                   channels=excluded.channels, prices=excluded.prices, updated_at=excluded.updated_at,
                   updated_by=excluded.updated_by""",
                (config.guild_id, json.dumps(config.limits),
                 None if config.channels is None else json.dumps(config.channels),
                 None if config.prices is None else json.dumps(config.prices), now, by))
            await self._audit(conn, config.guild_id, by, action, detail, now)

    async def role_tiers(self, guild_id: int) -> dict[int, dict[str, Any]]:
        rows = await self._all("SELECT role_id, limits FROM role_tiers WHERE guild_id=?", (guild_id,))
        return {r[0]: json.loads(r[1]) for r in rows}

    async def set_role_tier(self, guild_id: int, role_id: int, limits: dict[str, Any] | None, *, by: int) -> None:
        now = self.clock()
        async with self._tx() as conn:
            if limits is None:
                await conn.execute("DELETE FROM role_tiers WHERE guild_id=? AND role_id=?", (guild_id, role_id))
                await self._audit(conn, guild_id, by, "tier.remove", f"role={role_id}", now)
            else:
                await conn.execute(
                    """INSERT INTO role_tiers (guild_id, role_id, limits, updated_at, updated_by)
                       VALUES (?,?,?,?,?) ON CONFLICT(guild_id, role_id) DO UPDATE SET
                       limits=excluded.limits, updated_at=excluded.updated_at, updated_by=excluded.updated_by""",
                    (guild_id, role_id, json.dumps(limits), now, by))
                await self._audit(conn, guild_id, by, "tier.set", f"role={role_id} {json.dumps(limits)}", now)

    async def is_blocked(self, guild_id: int | None, user_id: int) -> bool:
        row = await self._one("SELECT 1 FROM blocked_users WHERE guild_id IS ? AND user_id=?", (guild_id, user_id))
        return row is not None

    async def set_blocked(self, guild_id: int, user_id: int, blocked: bool, *, by: int, reason: str = "") -> None:
        now = self.clock()
        async with self._tx() as conn:
            if blocked:
                await conn.execute(
                    """INSERT OR REPLACE INTO blocked_users (guild_id, user_id, reason, blocked_by, blocked_at)
                       VALUES (?,?,?,?,?)""", (guild_id, user_id, reason, by, now))
            else:
                await conn.execute("DELETE FROM blocked_users WHERE guild_id=? AND user_id=?", (guild_id, user_id))
            await self._audit(conn, guild_id, by, "block" if blocked else "unblock", f"user={user_id} {reason}", now)

    async def admin_log(self, guild_id: int, limit: int = 20) -> list[aiosqlite.Row]:
        return await self._all("SELECT * FROM admin_log WHERE guild_id=? ORDER BY id DESC LIMIT ?",
                               (guild_id, limit))

    @staticmethod
    async def _audit(conn: aiosqlite.Connection, guild_id: int, by: int, action: str, detail: str,
                     now: float) -> None:
        await conn.execute("INSERT INTO admin_log (guild_id, user_id, action, detail, at) VALUES (?,?,?,?,?)",
                           (guild_id, by, action, detail, now))
