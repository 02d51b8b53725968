"""Poll scheduling: expected render times, the shape of the delays, and a simulated render world
checking the goals (≤ 8 requests per job, completion noticed within 6 s) in a pure loop."""

from __future__ import annotations

import itertools
import random
import statistics
import sys
from pathlib import Path

import pytest

from bot.engine.schedule import (
    DEFAULT_CONFIG,
    RenderSpread,
    ScheduleConfig,
    estimate_remaining,
    expected_render_seconds,
    next_poll_delay,
    render_spread,
)
from bot.sora.models import VideoState

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.poll_bound import bound


def test_expected_render_seconds_baseline_and_history():
    assert expected_render_seconds("sora-2", "1280x720", 4) == pytest.approx(108)
    assert expected_render_seconds("sora-2", "720x1280", 12) == pytest.approx(204)
    assert expected_render_seconds("sora-2-pro", "1280x720", 8) == pytest.approx(156 * 2.5)
    assert expected_render_seconds("sora-2-pro", "1792x1024", 8) == pytest.approx(156 * 2.5 * 1.5)
    assert expected_render_seconds("sora-2", "1280x720", 4, time_scale=1 / 60) == pytest.approx(108 / 60)
    # history pulls the estimate toward the median of what really happened, more with more samples
    one = expected_render_seconds("sora-2", "1280x720", 4, history=[200])
    many = expected_render_seconds("sora-2", "1280x720", 4, history=[200, 190, 210, 205, 9999, 1])
    assert 108 < one < many < 205
    assert many == pytest.approx(0.25 * 108 + 0.75 * 202.5)  # 6 samples: weight 6/8
    assert expected_render_seconds("sora-2", "1280x720", 4, history=[150] * 50) == pytest.approx(0.2 * 108 + 0.8 * 150)
    assert expected_render_seconds("sora-2", "1280x720", 4, history=[0, -3]) == pytest.approx(108)


def delay(**kw) -> float:
    values = dict(elapsed=0.0, expected=200.0, progress=None, state=VideoState.QUEUED, retry_after=None,
                  poll_hint=None, attempt_errors=0, rng=random.Random(1))
    values.update(kw)
    return next_poll_delay(**values)


def test_first_poll_after_a_share_of_the_expected_time_capped_at_max_delay():
    assert delay(expected=60.0) == pytest.approx(39, rel=0.11)
    assert delay(expected=200.0) == pytest.approx(60, rel=0.11) and delay(expected=200.0) <= 60
    assert delay(expected=60.0, elapsed=30.0) == pytest.approx(9, rel=0.11)


def test_delays_tighten_as_progress_nears_the_end():
    far = delay(elapsed=60, expected=100, progress=20, state="running", previous=(30, 10))
    near = delay(elapsed=60, expected=100, progress=90, state="running", previous=(30, 50))
    assert far == pytest.approx(60, rel=0.11)  # 240 s left: capped at max_delay
    # 60 s for 40 points → 1.5 s per point: 9.5 points left ≈ 7.1 s, plus the 1 s margin
    assert near == pytest.approx(9.5 * 0.75 + 1, abs=0.25)
    done = delay(elapsed=60, expected=100, progress=100, state="running", previous=(50, 95))
    assert done == pytest.approx(DEFAULT_CONFIG.min_delay, rel=0.11)


def test_past_the_estimate_the_interval_starts_small_and_widens():
    no_progress = [delay(elapsed=e, expected=100, state="running") for e in (70, 150, 400)]
    assert no_progress[0] == pytest.approx(10, rel=0.11)  # 10 % of the expected time
    assert no_progress[0] <= no_progress[1] < no_progress[2] <= DEFAULT_CONFIG.max_delay
    stalled = [delay(elapsed=100 + since, expected=100, progress=99, state="running",
                     previous=(100, 99)) for since in (2, 4, 8, 30)]
    assert stalled == sorted(stalled) and stalled[0] >= DEFAULT_CONFIG.min_delay
    assert stalled[-1] <= DEFAULT_CONFIG.stall_max


def test_hints_are_floors_and_errors_back_off():
    assert delay(elapsed=90, expected=100, progress=95, state="running", retry_after=30) >= 30
    assert delay(elapsed=90, expected=100, progress=95, state="running", poll_hint=12.5) >= 12.5
    # a hint below our own delay changes nothing
    base = delay(elapsed=10, expected=100)
    assert delay(elapsed=10, expected=100, poll_hint=1) == base
    backoffs = [delay(elapsed=90, expected=100, progress=99, state="running", attempt_errors=n)
                for n in range(1, 9)]
    assert backoffs[0] == pytest.approx(5, rel=0.11)
    assert all(b2 > b1 for b1, b2 in itertools.pairwise(backoffs[:7]))
    assert backoffs[-1] == pytest.approx(DEFAULT_CONFIG.error_max, rel=0.11)


def test_finished_states_need_no_poll_and_strings_are_accepted():
    assert delay(state=VideoState.COMPLETED) == 0
    assert delay(state="failed") == 0
    with pytest.raises(ValueError):
        delay(state="exploded")


def test_jitter_stays_within_ten_percent():
    values = [delay(elapsed=0, expected=60, rng=random.Random(seed)) for seed in range(200)]
    assert min(values) >= 39 * 0.9 and max(values) <= 39 * 1.1
    assert len(set(values)) > 150


def test_scaled_config_shrinks_every_absolute_duration():
    fast = ScheduleConfig().scaled(1 / 60)
    assert fast.min_delay == pytest.approx(2 / 60) and fast.max_delay == pytest.approx(1)
    assert fast.first_poll_share == DEFAULT_CONFIG.first_poll_share
    assert delay(expected=200 / 60, config=fast) == pytest.approx(1, rel=0.11)


def test_estimate_remaining():
    assert estimate_remaining(30, 100, None) == 70
    assert estimate_remaining(130, 100, None) == 0
    assert estimate_remaining(50, 100, 49) == pytest.approx(50 * 100 / 49.5 - 50)
    assert estimate_remaining(50, 100, 60, previous=(40, 40)) == pytest.approx(39.5 / 2)


# --- the simulated world ---------------------------------------------------------------------------

def simulate(render: float, expected: float, seed: int, *, queue: float = 0.0, with_previous: bool = True,
             config: ScheduleConfig = DEFAULT_CONFIG) -> tuple[int, float]:
    """A job queued `queue` s then rendering `render` s with linear progress. Returns the number of
    status requests and how late the completion was noticed."""
    rng = random.Random(seed)
    now, state, progress, previous = 0.0, VideoState.QUEUED, 0, None
    for requests in range(1, 100):
        wait = next_poll_delay(elapsed=now, expected=expected, progress=progress, state=state,
                               retry_after=None, poll_hint=None, attempt_errors=0, rng=rng,
                               previous=previous if with_previous else None, config=config)
        observed = (now, progress) if now > 0 else None
        now += wait
        if now >= queue + render:
            return requests, now - queue - render
        if now >= queue:
            state, progress = VideoState.RUNNING, int(100 * (now - queue) / render)
        previous = observed
    raise AssertionError("the schedule never noticed completion")


RENDERS = range(60, 301, 15)
ERRORS = (0.5, 0.75, 1.0, 1.25, 1.5)  # expected = actual × error


@pytest.mark.parametrize("queue", [0.0, 30.0])
def test_goal_few_requests_and_quick_detection_for_one_to_five_minute_renders(queue):
    counts, lags = [], []
    for render in RENDERS:
        for error in ERRORS:
            for seed in range(8):
                requests, lag = simulate(render, render * error, seed, queue=queue)
                counts.append(requests)
                lags.append(lag)
    assert max(counts) <= 8, max(counts)
    assert statistics.mean(counts) <= 5.5
    assert max(lags) <= 6.0, max(lags)
    assert statistics.quantiles(lags, n=20)[-1] <= 4.0  # p95


def test_goal_holds_at_one_sixtieth_speed():
    config = ScheduleConfig().scaled(1 / 60)
    for render in RENDERS:
        for error in ERRORS:
            requests, lag = simulate(render / 60, render * error / 60, 7, config=config)
            assert requests <= 8 and lag <= 6 / 60


def test_without_the_previous_observation_detection_stays_quick_at_a_cost_in_requests():
    results = [simulate(render, render * error, seed, with_previous=False)
               for render in RENDERS for error in ERRORS for seed in range(4)]
    assert max(lag for _, lag in results) <= 6.0
    assert max(requests for requests, _ in results) <= 18  # pass `previous` to get back under 8


def simulate_no_progress(render: float, expected: float, seed: int) -> tuple[int, float]:
    rng = random.Random(seed)
    now, state = 0.0, VideoState.QUEUED
    for requests in range(1, 100):
        now += next_poll_delay(elapsed=now, expected=expected, progress=None, state=state, rng=rng)
        if now >= render:
            return requests, now - render
        state = VideoState.RUNNING
    raise AssertionError("the schedule never noticed completion")


def test_without_any_progress_the_lag_is_a_tenth_of_the_expected_time():
    for render in RENDERS:
        for error in ERRORS:
            requests, lag = simulate_no_progress(render, render * error, 3)
            expected = render * error
            assert lag <= 0.11 * expected + 0.1 * max(0.0, render - 1.5 * expected) + 1
            assert requests <= 20


# --- no progress, a learned window (issue 11) -----------------------------------------------------

def test_render_spread_is_robust_and_widens_with_few_samples():
    assert render_spread([]) is None and render_spread([0, -1]) is None
    one = render_spread([80.0])
    assert (one.low, one.high, one.samples) == (pytest.approx(40), pytest.approx(120), 1)  # ±50 %
    many = render_spread([60.0, 70.0, 80.0, 90.0, 100.0, 110.0, 120.0])
    # the fastest and slowest widened by the mean gap (10 s; 50 %·90/7 ≈ 6.4 s is less)
    assert (many.low, many.high, many.samples) == (pytest.approx(50), pytest.approx(130), 7)
    odd = render_spread([40.0, 41.0, 42.0, 43.0, 900.0, 1.0])  # a stuck render and an instant one
    assert odd.samples == 4 and 30 < odd.low < 40 and 43 < odd.high < 55


def window_polls(render: float, spread, *, config: ScheduleConfig = DEFAULT_CONFIG, seed: int = 1,
                 progress: int | None = None) -> list[float]:
    rng, now, polls = random.Random(seed), 0.0, []
    while now < render:
        now += next_poll_delay(elapsed=now, expected=90.0, progress=progress, state="running", rng=rng,
                               config=config, spread=spread)
        polls.append(now)
    return polls


def test_without_progress_polls_wait_for_the_window_then_step_across_it():
    spread = render_spread([60.0, 70.0, 80.0, 90.0, 100.0, 110.0, 120.0])  # window 50–130 s
    polls = window_polls(118.0, spread)
    # a step of 80/15 s (more than 5 s); the first poll at 50 + 4 % of 80 + a step ≈ 58.5 s (max_delay,
    # 60 s, does not pull it earlier), then one every step
    step = 80 / 15
    assert polls[0] == pytest.approx(50 + 3.2 + step, abs=0.25)
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert all(g == pytest.approx(step, abs=0.45) for g in gaps), gaps
    assert polls[-1] - 118.0 <= step + 0.25 and len(polls) == 13  # 58.5 + 11 steps = 117.2 < 118
    # a render past the window: a quarter window more of steps, then wider by 10 % of the time over, ≤ max_delay
    late = window_polls(400.0, spread)
    past = [b - a for a, b in itertools.pairwise(late) if a > 140]
    assert all(b >= a - 0.5 for a, b in itertools.pairwise(past)) and past[-1] > past[0] + 5
    assert max(past) <= DEFAULT_CONFIG.max_delay + 0.25
    # a wide window is stepped more sparsely (≤ 15 steps), a narrow one never under 5 s
    wide = render_spread([100.0, 400.0])
    gaps = [b - a for a, b in itertools.pairwise(window_polls(600.0, wide)) if a < wide.high - 30]
    assert min(gaps) >= (wide.high - wide.low) / 15 - 0.5


def test_a_poll_a_little_early_or_late_does_not_bring_another_right_after():
    spread = RenderSpread(low=60.0, high=120.0, samples=20)
    grid = 60.0 + 0.04 * 60 + 5.0  # 67.4, then every 5 s
    for elapsed in (grid - 0.4, grid, grid + 0.4, grid + 2.0, grid + 2.6, grid + 4.9):
        wait = delay(elapsed=elapsed, expected=90, progress=None, state="running", spread=spread)
        assert 2.3 <= wait <= 5.2, elapsed  # at least half a step, at most a step (± jitter)
        off = (elapsed + wait - grid) % 5.0
        if elapsed <= grid + 2.0:  # back on the grid
            assert min(off, 5.0 - off) <= 0.65, elapsed


def test_the_window_is_only_for_providers_without_progress_or_push():
    spread = RenderSpread(low=60.0, high=120.0, samples=20)
    with_progress = delay(elapsed=0, expected=90, progress=0, state="queued", spread=spread)
    assert with_progress == delay(elapsed=0, expected=90, progress=0, state="queued")  # 65 % of 90
    assert delay(elapsed=0, expected=90, progress=None, state="queued", spread=spread) > 60
    safety_net = DEFAULT_CONFIG.with_webhooks()
    assert delay(elapsed=0, expected=90, progress=None, state="queued", spread=spread, config=safety_net) \
        == pytest.approx(135, rel=0.11)  # the push says when: the safety net, not the window
    fast = DEFAULT_CONFIG.scaled(0.2)
    assert fast.window_lag == pytest.approx(1.0)
    scaled = RenderSpread(low=12.0, high=24.0, samples=20)
    assert delay(elapsed=0, expected=18, progress=None, state="queued", spread=scaled, config=fast) \
        == pytest.approx(12.0 + 0.04 * 12 + 1.0, abs=0.05)


def test_goal_no_progress_within_one_request_of_the_best_possible():
    """Renders uniform 60–120 s, 20 earlier ones known (as noticed: 0–3 s late): p95 detection
    within 6 s (5 s aimed: posting takes the rest), and a mean within one request of the best any
    schedule can do (bench/poll_bound.py: 5.05)."""
    rng = random.Random(5)
    counts, lags = [], []
    for trial in range(3000):
        history = [rng.uniform(60, 120) + rng.uniform(0, 3) for _ in range(20)]
        render = rng.uniform(60, 120)
        polls = window_polls(render, render_spread(history), seed=trial)
        counts.append(len(polls))
        lags.append(polls[-1] - render)
    best = bound(60, 120, lag=6.0).mean_requests
    assert statistics.mean(counts) <= best + 1.0, statistics.mean(counts)
    assert statistics.quantiles(lags, n=20)[-1] <= 6.0
    assert statistics.median(lags) <= 3.0
    # and the mean is not bought with a slower median or tail than a plain 5 s loop over the range
    assert statistics.mean(counts) < 1 + sum(1 - 5 * i / 60 for i in range(1, 12))
