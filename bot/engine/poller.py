# Over 400 lines on purpose: its four duties (admit, poll, hand over, recover) share the in-flight state.
"""The one background loop of the process: admits waiting jobs fairly, polls due jobs, hands
finished ones to delivery, and publishes progress. Not one sleeping coroutine per job.

Each turn: (1) admission — while the provider has free slots, the waiting (`requested`) jobs in
round-robin order across users become `submitting` and are sent; (2) claim — one atomic statement
leases the jobs whose `next_poll_at` is due; each runs as a tracked task under a bound on in-flight
work, every provider call passing the token bucket; (3) sleep until the earliest `next_poll_at`, a
wake-up (new job, finished work) or the stop switch. Stop: no more claims, in-flight work gets a
grace period, then is cancelled; its lease lapses and the next start picks it up.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Hashable

from bot import i18n
from bot.backoff import backoff
from bot.domain.jobs import TERMINAL, JobState
from bot.domain.records import Job, Waiting
from bot.engine import deliver, retention, submit
from bot.engine.context import EngineContext, job_view
from bot.engine.fairness import Cap, pick_to_start, queue_positions
from bot.engine.progress import publish_progress
from bot.engine.schedule import estimate_remaining, learned_render_seconds, next_poll_delay, render_spread
from bot.engine.upstream import from_upstream
from bot.i18n import tr
from bot.sora import errors
from bot.sora.models import Video
from bot.texts import FailureKind, failure_text

log = logging.getLogger(__name__)

_IDLE_MAX = 30.0  # never sleep longer than this, whatever the schedule says
# steps that may download the video (a poll that sees "completed" downloads at once)
_DOWNLOAD_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.COMPLETED, JobState.DOWNLOADING,
                    JobState.DELIVERING)  # delivering may transcode to fit, then upload
_ADMISSION_RETRY = 0.25  # seconds: another process held the admission mutex
_EXACT_POSITIONS = 100  # the first this many in line see every change of their place


def _user(job: Job | Waiting) -> int:
    return job.user_id


def _created(job: Job | Waiting) -> float:
    return job.created_at


def _worth_showing(position: int, shown: int | None) -> bool:
    """A new place in line is worth a status edit: near the front every change; further back once it
    moved by a tenth of the place last shown."""
    if shown is None:
        return True
    if position == shown:
        return False
    return position <= _EXACT_POSITIONS or abs(position - shown) * 10 >= shown


class Poller:
    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._inflight_ids: set[int] = set()
        self.turns = 0
        self.last_sweep_at: float = 0.0
        self._slots_full = False  # the last admission left ready jobs waiting for a slot
        self._nudged: set[int] = set()  # webhook-woken jobs whose in-flight step may push next_poll_at back
        self._paused_until: float | None = None  # submissions paused (402) until then
        self.last_takeover_at: float = 0.0
        self._admission_busy_until = 0.0  # another process was admitting: retry then, not in a busy loop
        self._notifies: set[asyncio.Task[None]] = set()
        self.wakeups_received = 0  # NOTIFYs from other processes (several processes only)
        self._shown_positions: dict[int, int] = {}  # waiting job -> the place in line last shown

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        await recover_after_restart(self.ctx)
        if self.ctx.config.shared:  # another process's new job or webhook wakes this loop too
            await self.ctx.repo.listen_wakeups(self._woken_by_neighbour)
        self._task = asyncio.create_task(self._run(), name="sora-poller")
        self._task.add_done_callback(_log_task_failure)

    def wake(self) -> None:
        """New work (a job accepted): this loop, and with several processes every other one."""
        self._wake.set()
        self._tell_neighbours("")

    def nudge(self, job_id: int) -> None:
        """A verified webhook made `job_id` due now (bot/webhooks/): poll it at once. If a step of it is
        in flight, that step's own next_poll_at would bury the nudge, so it is made due again after.
        With several processes the others are woken too (whichever is free claims it)."""
        if job_id in self._inflight_ids:
            self._nudged.add(job_id)
        self._wake.set()
        self._tell_neighbours(str(job_id))

    def _woken_by_neighbour(self, payload: str) -> None:
        self.wakeups_received += 1
        if payload.isdigit() and int(payload) in self._inflight_ids:
            # A webhook another process took made this job due while our poll of it is in flight:
            # keep it due once that poll is done, as `nudge` does for our own webhooks.
            self._nudged.add(int(payload))
        self._admission_busy_until = 0.0
        self._wake.set()

    def _tell_neighbours(self, payload: str) -> None:
        if not self.ctx.config.shared:
            return
        task = asyncio.create_task(self.ctx.repo.notify_wakeup(payload), name="notify-wakeup")
        self._notifies.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._notifies.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.warning("could not wake the other processes: %s", t.exception())

        task.add_done_callback(done)

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self, grace: float | None = None) -> None:
        """No more claims; in-flight steps get `grace` seconds in all, then are cancelled (their
        leases lapse and the next start picks them up, so nothing is lost)."""
        grace = self.ctx.config.grace_seconds if grace is None else grace
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=grace)
        if self._inflight:
            remaining = max(0.0, deadline - loop.time())
            _done, pending = await asyncio.wait(set(self._inflight), timeout=remaining)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
                log.info("stopped with %d in-flight job steps cancelled; they resume at next start", len(pending))
        if self._task is not None and not self._task.done():
            self._task.cancel()
        await self.ctx.outbox.close(grace=max(0.2, min(1.0, deadline - loop.time())))

    # --- the loop ---------------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                await self._turn()
                delay = await self._next_delay()
            except Exception:
                log.exception("poller turn failed; retrying shortly")
                delay = 2.0
            await self._sleep(delay)

    async def _turn(self) -> None:
        self.turns += 1
        await self._admit()
        await self._sweep_if_due()
        await self._take_over_lapsed_submissions()
        free = self.ctx.config.max_parallel - len(self._inflight)
        if free <= 0:
            return
        now = self.ctx.clock()
        for job_id in self._nudged - self._inflight_ids:
            self._nudged.discard(job_id)
            await self.ctx.repo.mark_due(job_id, now)
        for job in await self.ctx.repo.claim_due(now, limit=free, lease=self.ctx.config.lease_seconds):
            if job.id not in self._inflight_ids:  # a step outliving its lease is still ours: don't double it
                self._spawn(job, self._work(job))

    async def _sweep_if_due(self) -> None:
        config = self.ctx.config
        if self.ctx.clock() - self.last_sweep_at < config.sweep_interval:
            return
        self.last_sweep_at = self.ctx.clock()
        try:
            await retention.sweep(self.ctx, retention_seconds=config.retention_seconds,
                                  max_bytes=config.max_disk_bytes)
        except OSError as exc:
            log.warning("retention sweep failed: %s", exc)

    async def _take_over_lapsed_submissions(self) -> None:
        """Several processes: a neighbour that died mid-submission leaves a `submitting` job whose lease
        lapses; it is reconciled (found upstream or failed and refunded), never sent again."""
        ctx = self.ctx
        if not ctx.config.shared or ctx.clock() - self.last_takeover_at < ctx.config.lease_seconds / 4:
            return
        now = self.last_takeover_at = ctx.clock()
        for job in await ctx.repo.lapsed_in_states([JobState.SUBMITTING], now, include_own=False):
            if job.id in self._inflight_ids:
                continue
            log.warning("a submission's lease lapsed (its process died?); reconciling", extra=job.log_extra())
            await ctx.repo.transition(job.id, JobState.SUBMITTING, JobState.UNKNOWN, next_poll_at=now,
                                      claimed_until=None)

    async def _next_delay(self) -> float:
        if len(self._inflight) >= self.ctx.config.max_parallel:
            return _IDLE_MAX  # a finishing task wakes us
        due = await self.ctx.repo.earliest_due()
        # Waiting jobs that found no free slot are not "due": a finishing job wakes the loop instead.
        waiting_due = None if self._slots_full else await self.ctx.repo.earliest_requested()
        if waiting_due is not None:
            waiting_due = max(waiting_due, self._admission_busy_until)
            if self._paused_until is not None:
                waiting_due = max(waiting_due, self._paused_until)
        candidates = [t for t in (due, waiting_due) if t is not None]
        if not candidates:
            return _IDLE_MAX
        return max(0.0, min(min(candidates) - self.ctx.clock(), _IDLE_MAX))

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()

    def _spawn(self, job: Job, coro) -> None:
        self._inflight_ids.add(job.id)
        task = asyncio.create_task(coro, name=f"job-{job.id}")
        self._inflight.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._inflight.discard(t)
            self._inflight_ids.discard(job.id)
            if not t.cancelled() and t.exception() is not None:
                log.error("job step crashed", exc_info=t.exception(), extra=job.log_extra())
            self._wake.set()

        task.add_done_callback(done)

    # --- admission: the local queue, fair across users ------------------------------------------------
    async def _admit(self) -> None:
        """Several processes: one admits at a time (the provider and member caps count every
        process's jobs); the others skip this turn and are woken when it is their go."""
        waiting: list[Waiting] = []
        positions: dict[int, int] = {}
        async with self.ctx.repo.exclusive("admission") as ours:
            if ours:
                self._admission_busy_until = 0.0
                waiting, positions = await self._admit_now()
            else:  # look again shortly (a NOTIFY from the admitting process may wake us sooner)
                self._admission_busy_until = self.ctx.clock() + _ADMISSION_RETRY
        # Queue positions are shown after the mutex is released: the other processes admit meanwhile.
        await self._show_positions(waiting, positions)

    async def _admit_now(self) -> tuple[list[Waiting], dict[int, int]]:
        """Start what fits; returns the jobs still waiting and their queue positions.

        A long queue costs a few statements per turn, not a few per waiting job: the waiting jobs are
        read as light rows in one query, the round-robin memory is counted in the database, and the
        picked jobs are claimed in one statement."""
        ctx = self.ctx
        waiting = [j for j in await ctx.repo.waiting_for_admission() if j.id not in self._inflight_ids]
        self._slots_full = False
        if not waiting:
            self._shown_positions.clear()
            return [], {}
        now = ctx.clock()
        by_user: Counter = Counter()
        by_guild: Counter = Counter()
        ours = 0
        for provider, user_id, guild_id, count in await ctx.repo.upstream_active_counts():
            by_user[user_id] += count
            by_guild[guild_id] += count
            ours += count if provider == ctx.provider.name else 0
        free = ctx.config.max_upstream - ours
        pause = await ctx.repo.submission_pause(ctx.provider.name)
        self._paused_until = None
        if pause is not None and now < pause.until:  # out of credit: everyone waits, told so once
            self._paused_until = pause.until
            told = await ctx.repo.jobs_by_ids([j.id for j in waiting if j.status_message_id is not None
                                               and self._may_publish(j, now)])
            for job in told.values():
                await publish_progress(ctx, job, credit_paused=True)
            return [], {}  # told above; nothing to start, so no queue positions either
        if pause is not None:  # the recheck: one probe; hold the others until it has answered
            free = min(free, 1)
            await ctx.repo.hold_submission_pause(ctx.provider.name, until=now + 60.0 * ctx.config.time_scale)
        caps = await self._caps(waiting, by_user, by_guild)
        served: Counter[Hashable] = Counter(await ctx.repo.served_since_oldest_waiting())
        ready = [j for j in waiting if (j.next_poll_at or 0) <= now]
        picked = pick_to_start(ready, key_user=_user, key_time=_created, slots=max(0, free), caps=caps,
                               running=served)
        if picked:
            for claimed in await ctx.repo.claim_requested_many(
                    [j.id for j in picked], now, lease=ctx.config.lease_seconds if ctx.config.shared else None):
                self._spawn(claimed, self._work(claimed))
        still = [j for j in waiting if j.id not in self._inflight_ids]
        self._slots_full = any((j.next_poll_at or 0) <= now for j in still)
        positions = queue_positions(still, key_id=lambda j: j.id, key_user=_user, key_time=_created, running=served)
        return still, positions

    def _may_publish(self, job: Waiting, now: float) -> bool:
        """Whether `publish_progress` could offer a new text now (its `progress_interval` has passed):
        checked before reading the job again, so a long queue is not re-read every turn."""
        _text, last_at = self.ctx.outbox.last_offer(job)  # type: ignore[arg-type]
        return last_at is None or now - last_at >= self.ctx.config.progress_interval

    async def _show_positions(self, waiting: list[Waiting], positions: dict[int, int]) -> None:
        """Tell waiting members their place in line. The first `_EXACT_POSITIONS` see every change;
        further back a place is shown again once it moved by a tenth (so a queue of N jobs costs
        O(N log N) status edits while it drains, not O(N²)); never more often than `progress_interval`."""
        shown = self._shown_positions
        self._shown_positions = shown = {job_id: shown[job_id] for job_id in positions if job_id in shown}
        now = self.ctx.clock()
        due = [j for j in waiting if j.status_message_id is not None  # the service creates it; never race it
               and _worth_showing(positions[j.id], shown.get(j.id)) and self._may_publish(j, now)]
        if not due:
            return
        jobs = await self.ctx.repo.jobs_by_ids([j.id for j in due])
        for row in due:
            job = jobs.get(row.id)
            if job is not None:
                shown[row.id] = positions[row.id]
                await publish_progress(self.ctx, job, position=positions[row.id])

    async def _caps(self, waiting: list[Waiting], by_user: Counter, by_guild: Counter) -> list[Cap[Waiting]]:
        """Per-member caps (recorded on each job when asked: role tiers and bypass applied) and
        per-guild caps (the guild's limits)."""
        # the newest ask wins
        user_caps: dict[Hashable, int | None] = {j.user_id: j.user_cap for j in sorted(waiting, key=_created)}
        caps: list[Cap[Waiting]] = [Cap(_user, by_user, user_caps.get)]
        if self.ctx.guild_cap is not None:
            guild_caps: dict[Hashable, int | None] = {
                g: await self.ctx.guild_cap(g) for g in {j.guild_id for j in waiting}}
            caps.append(Cap(lambda j: j.guild_id, by_guild, guild_caps.get))
        return caps

    # --- one step of one job -------------------------------------------------------------------------
    async def _work(self, job: Job) -> None:
        """One step of one job. A bug or an unexpected error never strands the job: it is retried
        with backoff (a submission is reconciled, never resent), and after too many, failed."""
        config = self.ctx.config
        limit = config.download_deadline if job.state in _DOWNLOAD_STATES else config.step_deadline
        deadline = asyncio.timeout(limit)
        # A step allowed longer than most of its lease (a big download, a long transcode) keeps
        # renewing it, so no other process takes the job over while this one still works on it.
        renewer = (asyncio.create_task(self._renew_lease(job.id), name=f"lease-{job.id}")
                   if limit > 0.8 * config.lease_seconds else None)
        try:
            async with deadline:
                await self._step(job)
        except asyncio.CancelledError:
            raise
        except TimeoutError as exc:
            if not deadline.expired():
                await recover_from_unexpected(self.ctx, job, exc)
                return
            # Cancelled at its deadline, well before the lease would have freed it: retried soon.
            log.warning("%s step overran its %.1f s deadline; cancelled, will retry", job.state.value, limit,
                        extra=job.log_extra())
            self.ctx.metrics.step_overrun(job.state.value)
            await retry_step(self.ctx, job)
        except Exception as exc:
            await recover_from_unexpected(self.ctx, job, exc)
        finally:
            if renewer is not None:
                renewer.cancel()

    async def _renew_lease(self, job_id: int) -> None:
        lease = self.ctx.config.lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            try:
                if not await self.ctx.repo.extend_lease(job_id, self.ctx.clock() + lease):
                    return  # no longer ours (taken over after a stall): the deadline still ends the step
            except Exception:  # a failed renewal only shortens the lease; the step goes on
                log.warning("could not renew the lease of job %s", job_id, exc_info=True)

    async def _step(self, job: Job) -> None:
        ctx = self.ctx
        match job.state:
            case JobState.SUBMITTING:  # just admitted
                await submit.submit(ctx, job)
            case JobState.UNKNOWN:
                await submit.reconcile(ctx, job)
            case JobState.QUEUED | JobState.RUNNING:
                await poll_status(ctx, job)
            case JobState.COMPLETED:
                await deliver.download(ctx, job)
            case JobState.DOWNLOADING:  # a lease that lapsed mid-download: start it again
                await ctx.repo.transition(job.id, JobState.DOWNLOADING, JobState.COMPLETED, claimed_until=None)
            case JobState.DELIVERING:
                await deliver.deliver(ctx, job)
            case _:
                log.error("claimed a job in state %s", job.state, extra=job.log_extra())


async def poll_status(ctx: EngineContext, job: Job) -> None:
    """Ask the provider about one queued/running job and act on the answer."""
    assert job.provider_id is not None, "a queued/running job has its provider id (set with the state)"
    await ctx.rate.acquire()
    outcome = "error"
    try:
        with i18n.use(job.locale):  # a failure's words are built while the answer is read
            video = await ctx.provider.retrieve(job.provider_id)
        outcome = "ok"
    except (errors.RateLimited, errors.ProviderUnavailable) as exc:
        outcome = "busy"
        delay = next_poll_delay(elapsed=0, expected=0, progress=job.progress, state=None,
                                retry_after=getattr(exc, "retry_after", None), attempt_errors=job.attempts + 1,
                                rng=ctx.rng, config=ctx.schedule)
        log.info("status poll failed, next in %.1fs: %s", delay, exc, extra=job.log_extra())
        await ctx.repo.update(job.id, attempts=job.attempts + 1, next_poll_at=ctx.clock() + delay,
                              claimed_until=None)
        return
    except errors.NotFound:
        outcome = "gone"
        await submit.fail(ctx, job, job.state, code="not_found",
                          text=failure_text(job_view(job), FailureKind.FAILED,
                                            detail=tr("failure.job_unknown_upstream", job.locale)))
        return
    finally:
        ctx.metrics.status_request(job.provider, outcome)
    await apply_status(ctx, job, video)


async def apply_status(ctx: EngineContext, job: Job, video: Video) -> None:
    state = from_upstream(video.state)
    if state is JobState.FAILED:
        error = video.error
        await submit.fail(ctx, job, job.state, code=(error.code if error else None) or "failed",
                          text=submit.upstream_failure_text(job, error))
        return
    now = ctx.clock()
    if state is JobState.COMPLETED:
        # No progress to go by (and no push to wait for): siblings polled on a window learned
        # without a render this quick (or on none) are looked at again around when this one took.
        took = now - job.submitted_at if job.submitted_at is not None else None
        hasten = video.progress is None and took is not None and not ctx.config.webhooks
        if hasten and took is not None:
            known = render_spread(await ctx.render_history(job), ctx.schedule)
            hasten = known is None or took < known.low
        done = await ctx.repo.transition(job.id, job.state, JobState.COMPLETED, progress=100, completed_at=now,
                                         expires_at=video.expires_at.timestamp() if video.expires_at else None,
                                         attempts=0, next_poll_at=now, provider_cost_usd=video.cost_usd)
        if done is not None:
            if hasten and took is not None:
                await ctx.repo.hasten_siblings(job, took, now)
            await deliver.download(ctx, done, video)
        return
    started = job.submitted_at or job.created_at
    elapsed = now - started
    history = await ctx.render_history(job)
    expected = learned_render_seconds(job.model, job.size, job.seconds, history, time_scale=ctx.config.time_scale)
    if elapsed > max(ctx.config.deadline_factor * expected, ctx.config.min_deadline * ctx.config.time_scale):
        log.warning("still %s upstream after %.0f s; giving up", state.value, elapsed, extra=job.log_extra())
        await submit.fail(ctx, job, job.state, code="timed_out",
                          text=failure_text(job_view(job), FailureKind.TIMED_OUT))
        return
    previous = (job.last_poll_at - started, job.progress) if job.last_poll_at and job.progress else None
    delay = next_poll_delay(elapsed=elapsed, expected=expected, progress=video.progress, state=video.state,
                            poll_hint=video.poll_after_seconds, rng=ctx.rng, previous=previous, config=ctx.schedule,
                            spread=render_spread(history, ctx.schedule))
    if not history and video.progress is None and not video.poll_after_seconds \
            and ctx.schedule.safety_net_interval is None:  # with webhooks on, the push tells
        # Nothing like it rendered yet and no progress to go by: the constants may be far off (a
        # model they don't know), so look again by twice the time so far (8, 16, 32 s …).
        delay = min(delay, max(ctx.schedule.first_poll_unknown, elapsed))
    updated = await ctx.repo.transition(job.id, job.state, state, progress=video.progress, attempts=0,
                                        last_poll_at=now, next_poll_at=now + delay, claimed_until=None)
    if updated is not None:
        remaining = estimate_remaining(elapsed, expected, video.progress, previous=previous, config=ctx.schedule)
        await publish_progress(ctx, updated, eta_seconds=remaining)


async def recover_after_restart(ctx: EngineContext) -> None:
    """Make every unfinished job workable again after a crash or restart."""
    now = ctx.clock()
    # Several processes: only jobs nobody else is working (unleased, lapsed, or leased by us before
    # the restart); on SQLite that is every one of them.
    for job in await ctx.repo.lapsed_in_states([JobState.SUBMITTING], now, include_own=True):
        # The create may or may not have gone out: never resend blindly, reconcile instead.
        log.warning("found a job mid-submission after restart; reconciling", extra=job.log_extra())
        await ctx.repo.transition(job.id, JobState.SUBMITTING, JobState.UNKNOWN, next_poll_at=now, claimed_until=None)
    for job in await ctx.repo.lapsed_in_states([JobState.DOWNLOADING], now, include_own=True):
        await ctx.repo.transition(job.id, JobState.DOWNLOADING, JobState.COMPLETED, next_poll_at=now,
                                  claimed_until=None)
    await ctx.repo.release_leases()
    repaired = await ctx.repo.refund_ended_jobs()
    if repaired:
        log.warning("refunded %d reservation(s) left open on ended jobs", repaired)


async def recover_from_unexpected(ctx: EngineContext, job: Job, exc: BaseException) -> None:
    log.error("unexpected error in a job step", exc_info=exc, extra=job.log_extra())
    await retry_step(ctx, job)


async def retry_step(ctx: EngineContext, job: Job) -> None:
    """After a failed or cancelled step: retry it with backoff (a submission is reconciled, never
    resent), and after too many, fail the job."""
    current = await ctx.repo.get_job(job.id)
    if current is None or current.state in TERMINAL:
        return
    if current.state is JobState.SUBMITTING:  # the create may have gone out
        await ctx.repo.transition(job.id, JobState.SUBMITTING, JobState.UNKNOWN, next_poll_at=ctx.clock() + 5,
                                  claimed_until=None)
        return
    attempts = current.attempts + 1
    if attempts >= ctx.config.unexpected_attempts:
        await submit.fail(ctx, current, current.state, code="unexpected",
                          text=failure_text(job_view(current), FailureKind.UNEXPECTED, error_id=f"job-{job.id}"))
        return
    delay = backoff(attempts, base=5.0, cap=300.0) * ctx.config.time_scale
    await ctx.repo.update(job.id, attempts=attempts, next_poll_at=ctx.clock() + delay, claimed_until=None)


def _log_task_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.critical("the poller stopped", exc_info=task.exception())
