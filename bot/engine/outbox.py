"""The per-channel outbox: every message the engine sends to Discord, off the job steps' path.

A job step never awaits a status edit. `offer_status` stores the newest text for the job's status
message and returns. Each busy channel has two lanes, because Discord limits posts and edits in
separate per-channel buckets; each lane has one request in flight (so the rate-limit headers stay
exact: with several in flight at a window reset, discord.py lets one too many out).

- post lane: results and failure notices first (`call`, awaited by the step that needs the message
  id; a failure notice waits for its own job's status edit, so the channel reads "failed, see
  below" first), then first status messages, which leave the bucket's last token to results;
- edit lane: urgent edits (a job's last words: delivered, failed) as soon as the edit bucket has a
  token, then refreshes, least recently edited message first, leaving one token for urgent edits.

Only the newest text per message is kept: an update that a newer one supersedes is dropped unsent.
The buckets are what the Discord side learned from `X-RateLimit-*` headers (`rate_limit(channel_id,
lane)` on the publisher, when it has one); without them edits are held to `default_limit` per
`default_window` seconds per channel, under Discord's roughly 5 per 5 s. When a channel has more
live jobs than its budget can refresh, each status message simply updates less often (a shared
queue message was the alternative: see bench/README.md); results never wait for edits.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from bot.domain.jobs import TERMINAL
from bot.domain.records import Job
from bot.domain.store import JobStore
from bot.metrics import Metrics, NullMetrics

if TYPE_CHECKING:
    from bot.engine.ports import Publisher

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class BucketState:
    """A channel's post or edit bucket as Discord last described it; `reset_at` is on the event
    loop's clock."""

    limit: int
    remaining: int
    reset_at: float


@dataclass
class _Status:
    job: Job
    text: str
    urgent: bool
    queued_at: float


@dataclass
class _Call:
    job_id: int
    run: Callable[[], Awaitable[Any]]
    future: asyncio.Future[Any]
    after_status: bool


POST, EDIT = "post", "edit"  # the two lanes of a channel: Discord limits them in separate buckets


@dataclass
class _Channel:
    id: int
    status: dict[int, _Status] = field(default_factory=dict)
    calls: deque[_Call] = field(default_factory=deque)
    sent_edits: deque[float] = field(default_factory=deque)  # loop times, for the default budget
    last_edit: dict[int, float] = field(default_factory=dict)  # job id → loop time its message was edited
    wake: dict[str, asyncio.Event] = field(default_factory=lambda: {POST: asyncio.Event(), EDIT: asyncio.Event()})
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    sending: dict[str, int] = field(default_factory=dict)  # lane → the job whose status update is in flight

    def pending(self) -> bool:
        return bool(self.status or self.calls)

    def busy_with(self, job_id: int) -> bool:
        return job_id in self.status or job_id in self.sending.values()


class ChannelOutbox:
    def __init__(self, publisher: Publisher, repo: JobStore, *, clock: Callable[[], float],
                 default_limit: int = 4, default_window: float = 5.0, margin: float = 0.25,
                 metrics: Metrics | None = None) -> None:
        self.publisher = publisher
        self.repo = repo
        self.clock = clock  # the engine's clock, for what is written to the database
        self.default_limit = max(1, default_limit)
        self.default_window = default_window
        self.margin = margin  # waited past a learned reset, for the trip to Discord
        self.metrics: Metrics = metrics if metrics is not None else NullMetrics()
        self._channels: dict[int, _Channel] = {}
        self._message_ids: dict[int, int] = {}  # job id → its status message, once known
        self._offered: dict[int, tuple[str, float]] = {}  # job id → (text, engine time) last accepted
        self._closed = False
        self._progressed = asyncio.Event()  # set whenever a worker finishes an item or stops

    # --- what the engine calls -------------------------------------------------------------------
    def last_offer(self, job: Job) -> tuple[str | None, float | None]:
        """The text last accepted for `job`'s status message and when (the engine's clock)."""
        return self._offered.get(job.id, (job.progress_text, job.progress_published_at))

    def offer_status(self, job: Job, text: str, *, urgent: bool = False) -> None:
        """Queue `text` for the job's status message (create it if there is none). Never waits."""
        self._offered[job.id] = (text, self.clock())
        if self._closed:
            return
        channel = self._channel(job.channel_id)
        old = channel.status.get(job.id)
        if old is not None:
            self._count("superseded")
        loop_now = asyncio.get_running_loop().time()
        channel.status[job.id] = _Status(job, text, urgent or (old is not None and old.urgent),
                                         old.queued_at if old is not None else loop_now)
        self._kick(channel)

    async def call(self, job: Job, run: Callable[[], Awaitable[T]], *, after_status: bool = False) -> T:
        """Run `run()` (a result or failure post) in the job's channel turn, before any edit; with
        `after_status`, after the job's own pending status update. Returns what `run` returns."""
        if self._closed:
            return await run()
        channel = self._channel(job.channel_id)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        channel.calls.append(_Call(job.id, run, future, after_status))
        self._kick(channel)
        return await future

    async def flushed(self, job: Job, grace: float = 10.0) -> None:
        """Wait (up to `grace` s) until the job's queued status update, if any, has been sent."""
        def sent() -> bool:
            channel = self._channels.get(job.channel_id)
            return channel is None or not channel.busy_with(job.id)

        await self._wait_until(sent, grace)

    async def drain(self, grace: float = 10.0) -> None:
        """Wait (up to `grace` seconds) until every channel has sent what it holds (tests, benchmarks)."""
        await self._wait_until(lambda: not self._channels, grace)

    async def close(self, grace: float = 1.0) -> None:
        """Let urgent work drain for up to `grace` seconds, then stop the workers. Refreshes still
        queued are dropped (the next start shows the job's state anew)."""
        self._closed = True
        tasks = [t for c in self._channels.values() for t in c.tasks.values() if not t.done()]
        await self._wait_until(lambda: not any(self._urgent_pending(c) for c in self._channels.values()), grace)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for channel in self._channels.values():
            for call in channel.calls:
                if not call.future.done():
                    call.future.cancel()
        self._channels.clear()

    async def _wait_until(self, done: Callable[[], bool], grace: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                while not done():
                    self._progressed.clear()
                    await self._progressed.wait()

    # --- the workers ------------------------------------------------------------------------------
    def _channel(self, channel_id: int) -> _Channel:
        channel = self._channels.get(channel_id)
        if channel is None:
            channel = self._channels[channel_id] = _Channel(channel_id)
        return channel

    def _kick(self, channel: _Channel) -> None:
        for lane in (POST, EDIT):
            channel.wake[lane].set()
            task = channel.tasks.get(lane)
            if task is None or task.done():
                task = channel.tasks[lane] = asyncio.create_task(self._work(channel, lane),
                                                                 name=f"outbox-{channel.id}-{lane}")
                task.add_done_callback(_log_failure)

    @staticmethod
    def _urgent_pending(channel: _Channel) -> bool:
        return bool(channel.calls) or any(s.urgent for s in channel.status.values())

    async def _work(self, channel: _Channel, lane: str) -> None:
        """One lane of one channel: one request in flight, so Discord's headers stay exact."""
        loop = asyncio.get_running_loop()
        wake = channel.wake[lane]
        while True:
            wake.clear()
            pick = self._next_post if lane == POST else self._next_edit
            item, wait = pick(channel, loop.time())
            if isinstance(item, _Call):
                await self._run_call(item)
            elif isinstance(item, _Status):
                channel.sending[lane] = item.job.id
                try:
                    await self._send_status(channel, item, loop.time())
                finally:
                    del channel.sending[lane]
                channel.wake[POST if lane == EDIT else EDIT].set()  # a create makes edits possible, and so on
            elif not channel.pending():
                others = [t for name, t in channel.tasks.items() if name != lane and not t.done()]
                if not others and self._channels.get(channel.id) is channel:
                    del self._channels[channel.id]
                self._progressed.set()
                return
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=wait)
                continue
            self._progressed.set()

    def _next_post(self, channel: _Channel, now: float) -> tuple[_Call | _Status | None, float | None]:
        """Results and failure notices first, then first status messages."""
        for call in channel.calls:
            if not (call.after_status and channel.busy_with(call.job_id)):
                channel.calls.remove(call)
                return call, None
        creates = [s for s in channel.status.values()
                   if self._message_id(s.job) is None and s.job.id not in channel.sending.values()]
        if not creates:
            return None, None
        learned = self._learned(channel.id, POST)
        if learned is not None and not self._spare(learned, now, keep=1):
            return None, max(0.001, learned.reset_at + self.margin - now)  # the last token is for results
        pick = min(creates, key=lambda s: (not s.urgent, s.queued_at))
        return channel.status.pop(pick.job.id), None

    def _next_edit(self, channel: _Channel, now: float) -> tuple[_Status | None, float | None]:
        """Urgent edits first, then the least recently edited message; within the edit budget."""
        edits = [s for s in channel.status.values()
                 if self._message_id(s.job) is not None and s.job.id not in channel.sending.values()]
        if not edits:
            return None, None
        tokens, ready_at = self._tokens(channel, now)
        urgent = [s for s in edits if s.urgent]
        if urgent and tokens >= 1:
            pick = min(urgent, key=lambda s: s.queued_at)
            return channel.status.pop(pick.job.id), None
        if not urgent and tokens >= 2:
            pick = min(edits, key=lambda s: (channel.last_edit.get(s.job.id, 0.0), s.queued_at))
            return channel.status.pop(pick.job.id), None
        return None, max(0.001, ready_at - now)

    def _spare(self, learned: BucketState, now: float, *, keep: int) -> int:
        """Requests that may go out now leaving `keep` in the bucket."""
        available = learned.limit if now >= learned.reset_at + self.margin else learned.remaining
        return max(0, available - keep)

    def _tokens(self, channel: _Channel, now: float) -> tuple[int, float]:
        """(edits that may go now, when more may): refreshes need 2, so one stays for urgent edits."""
        learned = self._learned(channel.id, EDIT)
        if learned is not None:
            return self._spare(learned, now, keep=0), learned.reset_at + self.margin
        sent = channel.sent_edits
        while sent and now - sent[0] >= self.default_window:
            sent.popleft()
        ready_at = sent[0] + self.default_window if sent else now
        return self.default_limit - len(sent), ready_at

    def _learned(self, channel_id: int, lane: str) -> BucketState | None:
        source = getattr(self.publisher, "rate_limit", None)
        return source(channel_id, lane) if source is not None else None

    def _message_id(self, job: Job) -> int | None:
        return self._message_ids.get(job.id) or job.status_message_id

    async def _run_call(self, call: _Call) -> None:
        if call.future.done():
            return
        # The step awaiting it may be cancelled (its deadline): then so is the post, or a hung
        # Discord would hold the channel's lane for good.
        run = asyncio.ensure_future(call.run())
        call.future.add_done_callback(lambda f: run.cancel() if f.cancelled() else None)
        try:
            await asyncio.wait({run})
        except asyncio.CancelledError:
            run.cancel()
            raise
        if call.future.done():
            return
        if run.cancelled():
            call.future.cancel()
        elif (failure := run.exception()) is not None:  # handed to the awaiting step, which decides
            call.future.set_exception(failure)
        else:
            call.future.set_result(run.result())

    async def _send_status(self, channel: _Channel, item: _Status, now: float) -> None:
        job = item.job
        known = self._message_id(job)
        if known is not None:
            channel.sent_edits.append(now)
            channel.last_edit[job.id] = now
            if known != job.status_message_id:
                job = dataclasses.replace(job, status_message_id=known)
        try:
            message_id = await self.publisher.publish_progress(job, item.text) or known
        except Exception as exc:  # progress is best effort: never let it break the job
            log.warning("status update failed: %s", exc, extra=job.log_extra())
            self._count("failed")
            return
        self._count("sent")
        if message_id is not None:
            self._message_ids[job.id] = message_id
        try:
            await self.repo.update(job.id, progress_text=item.text, progress_published_at=self.clock(),
                                   status_message_id=message_id)
        except Exception as exc:
            log.warning("could not record the status update: %s", exc, extra=job.log_extra())
        if job.state in TERMINAL and item.urgent and job.id not in channel.status:
            self._forget(channel, job.id)

    def _forget(self, channel: _Channel, job_id: int) -> None:
        channel.last_edit.pop(job_id, None)
        self._message_ids.pop(job_id, None)
        self._offered.pop(job_id, None)

    def _count(self, outcome: str) -> None:
        self.metrics.progress_update(outcome)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a channel outbox worker crashed", exc_info=task.exception())
