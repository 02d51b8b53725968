"""Pure poll scheduling: when to ask the provider about a job next, and how long a render takes.

The aim (measured by bench/): at most ~8 status requests per job for 1–5 minute renders, and a
finished render noticed within ~6 s (p95), even when the expected duration is off by ±50 %.
How: the first poll comes after a share (65 %) of the expected time; once the provider reports
progress, the finish time is extrapolated from the progress rate (two observations when given,
which also cancels out time spent queued) and the next poll is aimed just after it, never more than
`max_delay` away; past the estimate the interval starts at `min_delay` and widens slowly. Without
progress (some relays report none) the finish can only be guessed from how long renders of the same
model/size/length took: `render_spread` turns the last ones into a window of likely finishes, and
the job is polled every `window_lag` (5 s) across it, the first poll one step plus
`window_late_share` of the window past its start, so a finish is noticed within ~5 s at about the
least number of requests any schedule needs (bench/poll_bound.py: for renders uniform on 60–120 s,
5.05 per job for p95 ≤ 6 s; this one needs ~5.9 for p95 ~5 s). With nothing learned yet, the
interval is a fixed share of the expected time (the poller also looks early, 8 s then doubling,
for a shape never seen). Provider hints (`Retry-After`, `openai-poll-after-ms`) are floors,
consecutive errors back off exponentially, and jitter (±10 % from the injected rng) spreads polls.

With webhooks on (`ScheduleConfig.with_webhooks()`, chosen by `EngineConfig.webhooks`), a verified
push makes the job due the moment it ends, so polling is only the safety net: the first poll at
1.5 × the expected time, then one every 3 minutes (`safety_net_*`), the `max_delay` cap not applied.

`ScheduleConfig.scaled(f)` and `expected_render_seconds(..., time_scale=f)` shrink every constant,
so a benchmark can run a "1–5 minute render" world at 1/60 speed.

Usage sketch (bot/engine/poller.py, per status answer)::

    history = await ctx.render_history(job)        # recent actual renders of the same shape
    expected = learned_render_seconds(job.model, job.size, job.seconds, history, time_scale=scale)
    delay = next_poll_delay(elapsed=now - job.submitted_at, expected=expected, progress=video.progress,
                            state=video.state, poll_hint=video.poll_after_seconds, rng=ctx.rng,
                            previous=(last_elapsed, job.progress), spread=render_spread(history),
                            config=ctx.schedule)
    await repo.update(job.id, next_poll_at=now + delay, ...)
    eta = estimate_remaining(elapsed, expected, video.progress, previous=..., config=ctx.schedule)
    # after a failed poll: next_poll_delay(..., retry_after=exc.retry_after, attempt_errors=n)
"""

from __future__ import annotations

import dataclasses
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bot.sora.models import VideoState

BASE_SECONDS = 60.0
PER_VIDEO_SECOND = 12.0
PRO_FACTOR = 2.5
LARGE_FACTOR = 1.5
LARGE_AREA = 1280 * 720  # sizes with more pixels than 720p (1024x1792, 1792x1024) render slower


@dataclass(frozen=True)
class ScheduleConfig:
    min_delay: float = 2.0  # never poll one job more often than this
    max_delay: float = 60.0  # never leave a running job unpolled longer than this (hints excepted)
    first_poll_share: float = 0.65  # first poll after this share of the expected render time
    jitter: float = 0.10  # ±10 % of the delay
    end_margin: float = 1.0  # aim this long after the extrapolated finish
    no_progress_share: float = 0.10  # without progress: poll every 10 % of the expected time …
    overdue_growth: float = 0.10  # … past the estimate: interval grows by 10 % of the overdue time
    no_progress_horizon: float = 1.5  # (a render rarely takes longer than 1.5 × the expected time)
    queued_share: float = 0.25  # still queued upstream: poll every 25 % of the expected time
    error_base: float = 5.0  # after n consecutive errors wait error_base · 2^(n-1) …
    error_max: float = 300.0  # … up to this
    min_rate_points: int = 5  # two-point progress rate needs at least this many points of progress
    stall_growth: float = 1.5  # progress did not move: next interval = 1.5 × the last one …
    stall_max: float = 10.0  # … up to this (or the no-progress interval if shorter)
    unreliable_share: float = 0.5  # with a one-point estimate, come back after this share of it
    # Webhooks on (a verified push makes the job due the moment it ends): polls are only the safety
    # net for a lost push. None: no push, the schedule above. Set: the first poll at
    # `safety_net_first_share` × the expected time, then one every `safety_net_interval` seconds.
    safety_net_interval: float | None = None
    safety_net_first_share: float = 1.5
    first_poll_unknown: float = 8.0  # no render of this model/size/length known yet: first poll by then
    # Without progress but with a learned spread of render times (`render_spread`): poll every
    # `window_lag` seconds across the window where finishes are likely (the first poll one step
    # past its start), so a finish is noticed within that (p95 target 6 s, less ~1 s to post it);
    # a window wider than `window_polls` steps is polled more sparsely instead.
    window_lag: float = 5.0
    window_polls: float = 15.0
    # … and the first of those polls comes this share of the window later still: a few of the
    # quickest finishes wait up to that much longer, in exchange for one poll fewer for every job
    # (bench/poll_bound.py: spending the allowed 5 % of late finishes first is what the best
    # schedule does; 4 % leaves room for a window learned a little too early)
    window_late_share: float = 0.04
    spread_margin: float = 0.5  # one known render: the window is ±50 % of it; n renders: at least ±50 %/n

    def scaled(self, time_scale: float) -> ScheduleConfig:
        """Every absolute duration multiplied by `time_scale` (shares stay as they are)."""
        return dataclasses.replace(
            self, min_delay=self.min_delay * time_scale, max_delay=self.max_delay * time_scale,
            end_margin=self.end_margin * time_scale, stall_max=self.stall_max * time_scale,
            error_base=self.error_base * time_scale, first_poll_unknown=self.first_poll_unknown * time_scale,
            window_lag=self.window_lag * time_scale,
            error_max=self.error_max * time_scale,
            safety_net_interval=None if self.safety_net_interval is None
            else self.safety_net_interval * time_scale)

    def with_webhooks(self, interval: float = 180.0) -> ScheduleConfig:
        """This schedule stretched into a safety net: webhooks carry the news, polls catch lost ones."""
        return dataclasses.replace(self, safety_net_interval=interval)


DEFAULT_CONFIG = ScheduleConfig()


def _is_large(size: str) -> bool:
    width, _, height = size.lower().partition("x")
    return width.isdigit() and height.isdigit() and int(width) * int(height) > LARGE_AREA


def baseline_render_seconds(model: str, size: str, seconds: float) -> float:
    """The a-priori guess: sora-2 60 s + 12 s per video second, pro × 2.5, larger sizes × 1.5."""
    estimate = BASE_SECONDS + PER_VIDEO_SECOND * float(seconds)
    if "pro" in model.lower():
        estimate *= PRO_FACTOR
    if _is_large(size):
        estimate *= LARGE_FACTOR
    return estimate


def expected_render_seconds(model: str, size: str, seconds: float, history: Sequence[float] = (), *,
                            time_scale: float = 1.0) -> float:
    """Expected render time. `history`: recent actual durations (same model, ideally same size and
    seconds, in the same clock as the result); their median is blended in with a weight that grows
    with their number (1 → 1/3, 4 → 2/3, up to 0.8)."""
    base = baseline_render_seconds(model, size, seconds) * time_scale
    samples = [h for h in history if h > 0]
    if not samples:
        return base
    weight = min(0.8, len(samples) / (len(samples) + 2))
    return (1 - weight) * base + weight * statistics.median(samples)


def learned_render_seconds(model: str, size: str, seconds: float, history: Sequence[float] = (), *,
                           time_scale: float = 1.0) -> float:
    """The schedule's prior: the median of `history`, recent actual render times of the same
    model, size and length (the median shrugs off an outlier or two), else the a-priori guess.
    Unlike `expected_render_seconds` it does not blend in the constants: they know nothing of a
    model they don't name, and one same-shape render already says more (a 10 s model is polled
    at ~10 s, a 5-minute one not every 30 s)."""
    samples = [h for h in history if h > 0]
    if samples:
        return statistics.median(samples)
    return baseline_render_seconds(model, size, seconds) * time_scale


@dataclass(frozen=True)
class RenderSpread:
    """Where the renders of one model/size/length are likely to finish (elapsed seconds since
    submission), learned from recent ones; `samples`: how many were used."""

    low: float
    high: float
    samples: int


def render_spread(history: Sequence[float], config: ScheduleConfig = DEFAULT_CONFIG) -> RenderSpread | None:
    """The window of likely finishes from `history` (recent render times of the same shape, any
    order), or None without any. Robust: renders under 40 % or over 2.5 × the median are outliers
    and left out (one stuck or instant render does not stretch it). The window runs from the
    fastest kept render to the slowest, widened at each end by the mean gap between kept renders
    (n samples of a range fall short of its ends by about that) and by at least
    `spread_margin` × median / n (one render says little about the spread)."""
    samples = [h for h in history if h > 0]
    if not samples:
        return None
    middle = statistics.median(samples)
    kept = sorted(h for h in samples if 0.4 * middle <= h <= 2.5 * middle)
    n = len(kept)
    gap = (kept[-1] - kept[0]) / (n - 1) if n > 1 else 0.0
    widen = max(gap, config.spread_margin * middle / n)
    return RenderSpread(low=max(0.0, kept[0] - widen), high=kept[-1] + widen, samples=n)


def _window_delay(elapsed: float, spread: RenderSpread, config: ScheduleConfig, rng: random.Random) -> float:
    """No progress, a learned spread: polls on a grid of `step` seconds from `spread.low` (the first
    one step and `window_late_share` of the window past it: nothing finishes before), so a finish
    inside the window waits at most a step (the few quickest a little more); past the window the
    interval grows by `overdue_growth` of the time over it."""
    span = spread.high - spread.low
    step = max(config.window_lag, span / config.window_polls, config.min_delay)
    origin = spread.low + config.window_late_share * span
    if elapsed >= spread.high:
        # past the window: a window learned from the quickest renders of a batch (the slow ones have
        # not finished yet) ends too soon, so keep the step a quarter of the window longer, then widen
        overdue = max(0.0, elapsed - spread.high - 0.25 * span)
        delay = min(config.max_delay, step + config.overdue_growth * overdue)
        return _jittered(delay, config.jitter * config.min_delay, rng)
    # the next grid point at least half a step away (a poll a little early or late, by jitter or a
    # busy loop, must not bring another one right after it), and never more than a step away (the
    # window moves as renders finish: a grid laid anew must not stretch a gap to 1.5 steps)
    k = max(1, math.floor((elapsed - origin) / step + 0.5) + 1)
    delay = origin + k * step - elapsed
    if elapsed > origin:
        delay = min(delay, step)
    return _jittered(max(config.min_delay, delay), config.jitter * config.min_delay, rng)


def _finish_estimate(elapsed: float, progress: int | None, previous: tuple[float, int | None] | None,
                     config: ScheduleConfig) -> tuple[float, bool] | None:
    """Extrapolated elapsed time at which progress reaches 100, and whether it rests on two
    observations of progress (reliable) or on one counted from submission (too late when the job
    sat in a queue first). None without usable progress. Integer progress p means somewhere in
    [p, p+1): p + 0.5 is the unbiased guess."""
    if progress is None or progress <= 0 or elapsed <= 0:
        return None
    done = min(progress + 0.5, 100.0)
    if previous is not None:
        then, before = previous
        if before and progress - before >= config.min_rate_points and elapsed > then:
            rate = (progress - before) / (elapsed - then)
            return elapsed + (100.0 - done) / rate, True
    return elapsed * 100.0 / done, False


def estimate_remaining(elapsed: float, expected: float, progress: int | None, *,
                       previous: tuple[float, int | None] | None = None,
                       config: ScheduleConfig = DEFAULT_CONFIG) -> float:
    """Seconds until the video is probably ready, for the "time left" members see (never < 0)."""
    estimate = _finish_estimate(elapsed, progress, previous, config)
    finish = expected if estimate is None else estimate[0]
    return max(0.0, finish - elapsed)


def _jittered(delay: float, spread: float, rng: random.Random) -> float:
    return delay + rng.uniform(-spread, spread)


def _base_delay(elapsed: float, expected: float, progress: int | None, state: VideoState | None,
                previous: tuple[float, int | None] | None, config: ScheduleConfig,
                rng: random.Random) -> float:
    first_poll_at = config.first_poll_share * expected
    estimate = _finish_estimate(elapsed, progress, previous, config)
    finish, reliable = estimate if estimate is not None else (None, False)
    if finish is None and elapsed < first_poll_at:
        delay = min(first_poll_at - elapsed, config.max_delay)
        return _jittered(delay, config.jitter * delay, rng)
    if state is VideoState.QUEUED and finish is None:
        delay = config.queued_share * expected
        return _jittered(delay, config.jitter * delay, rng)
    if finish is None:  # running without progress: the estimate is all we have
        overdue = max(0.0, elapsed - config.no_progress_horizon * expected)
        delay = config.no_progress_share * expected + config.overdue_growth * overdue
        return _jittered(delay, config.jitter * delay, rng)
    if progress is not None and previous is not None and previous[1] is not None and progress <= previous[1] < 100:
        # No progress since the last poll: widen geometrically up to the no-progress interval.
        since = max(0.0, elapsed - previous[0])
        cap = max(config.min_delay, min(config.stall_max, config.no_progress_share * expected))
        return min(cap, max(config.min_delay, config.stall_growth * since))
    remaining = finish - elapsed
    if remaining <= 0:  # past the extrapolated finish (e.g. stuck at 99 %): tight, widening slowly
        delay = config.min_delay + config.overdue_growth * -remaining
        return _jittered(delay, config.jitter * delay, rng)
    aim = remaining + config.end_margin
    if not reliable:
        # One observation: its rate is a lower bound (the job may have queued first), so take the
        # nearer of it and the expected pace, and come back partway for a second observation.
        at_expected_pace = (100.0 - min(progress or 0, 100)) / 100.0 * expected
        nearer = min(remaining, at_expected_pace)
        aim = min(aim, max(config.min_delay, config.unreliable_share * nearer))
    if aim <= config.max_delay:  # the finish is within reach: aim at it, barely jittered
        return _jittered(aim, config.jitter * config.min_delay, rng)
    return min(aim, _jittered(config.max_delay, config.jitter * config.max_delay, rng))


def _safety_net_delay(elapsed: float, expected: float, config: ScheduleConfig, rng: random.Random) -> float:
    """With webhooks on: first poll at `safety_net_first_share` × expected (scheduled at submission,
    elapsed 0), then at least an interval after each poll. (A poll earlier than the first mark, say
    because the expected time grew with history since, must not bring a second one right after.)"""
    assert config.safety_net_interval is not None
    first = config.safety_net_first_share * expected
    delay = first if elapsed <= 0 else max(config.safety_net_interval, first - elapsed)
    delay = max(config.min_delay, delay)
    return _jittered(delay, config.jitter * delay, rng)


def next_poll_delay(
    *,
    elapsed: float,
    expected: float,
    progress: int | None,
    state: VideoState | str | None,
    retry_after: float | None = None,
    poll_hint: float | None = None,
    attempt_errors: int = 0,
    rng: random.Random,
    previous: tuple[float, int | None] | None = None,
    config: ScheduleConfig = DEFAULT_CONFIG,
    spread: RenderSpread | None = None,
) -> float:
    """Seconds from now until the next status request for one job.

    `elapsed`: seconds since submission; `expected`: `expected_render_seconds(...)`; `progress` and
    `state`: the last answer (None before the first one); `previous`: (elapsed, progress) of the poll
    before that, if known; `retry_after` / `poll_hint`: the provider's wishes, honoured as floors;
    `attempt_errors`: consecutive failed polls (backs off exponentially); `spread`: the learned
    window of likely finishes (`render_spread`), used when the provider reports no progress."""
    if state is not None:
        state = VideoState(state)
    if state in (VideoState.COMPLETED, VideoState.FAILED):
        return 0.0
    if previous is not None and previous[0] >= elapsed:
        previous = None  # not an earlier observation (e.g. the latest one passed twice)
    if config.safety_net_interval is not None:
        delay = _safety_net_delay(max(0.0, elapsed), max(expected, config.min_delay), config, rng)
    elif progress is None and spread is not None:
        # No progress, a learned window: wait for it (`max_delay` not applied: nothing like it
        # finished sooner; one that does hastens its siblings, see the poller), then poll across it.
        delay = max(config.min_delay, _window_delay(max(0.0, elapsed), spread, config, rng))
    else:
        delay = _base_delay(max(0.0, elapsed), max(expected, config.min_delay), progress, state,
                            previous, config, rng)
        delay = min(max(config.min_delay, delay), config.max_delay)
    if attempt_errors > 0:  # backing off may go past max_delay
        backoff = min(config.error_base * 2 ** (attempt_errors - 1), config.error_max)
        delay = max(delay, _jittered(backoff, config.jitter * backoff, rng))
    for floor in (retry_after, poll_hint):
        if floor is not None and floor > delay:
            delay = floor + rng.uniform(0, config.jitter * config.min_delay)
    return delay
