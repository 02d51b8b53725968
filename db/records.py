"""The repository's records: plain frozen dataclasses built from rows of either backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.engine.jobs import JobState


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
    claimed_by: str | None = None  # the process holding the lease

    def log_extra(self, **more: object) -> dict[str, object]:
        """`extra=` for a log line about this job: job, guild and user on every job line."""
        return {"job": self.id, "guild": self.guild_id, "user": self.user_id, **more}

    @classmethod
    def from_row(cls, row: Any) -> Job:
        data = dict(row)
        data["state"] = JobState(data["state"])
        return cls(**data)


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

@dataclass(frozen=True, slots=True)
class SubmissionPause:
    """Submissions to `provider` are paused (402: out of credit) until `until`; `strikes` in a row."""

    provider: str
    since: float
    until: float
    strikes: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class Waiting:
    """A waiting (`requested`) job as admission sees it: the few columns the fair order, the caps and
    the queue-position text need, so a queue of thousands is read without building full `Job`s."""

    id: int
    user_id: int
    guild_id: int | None
    channel_id: int
    created_at: float
    next_poll_at: float | None
    user_cap: int | None
    status_message_id: int | None
    progress_text: str | None
    progress_published_at: float | None

    @classmethod
    def from_row(cls, row: Any) -> Waiting:
        return cls(*tuple(row))
