"""The best any polling schedule can do for a provider that reports no progress (pure computation).

A render takes T seconds, T uniform on [low, high] (issue 11's busy channel: 60–120 s), and a status
request says only "done" or "not yet" (xingchaoyiqing; OpenRouter polled without webhooks). A
schedule is the list of elapsed times t1 < t2 < … at which a job is polled; a job finishing at T is
noticed at the first t_i ≥ T, after i requests, with detection lag t_i − T. (One request sees one
job: OpenRouter has no list endpoint, specs/OPENROUTER.md A.1.)

For a lag target d, a share `miss` of jobs allowed a lag over d (p95: 5 %) and a hard cap on the lag:
in a gap of g seconds between polls, the finishes in its first g − d seconds are late, so the late
seconds over the whole window may total `miss` × (high − low); each gap is ≤ the cap. The mean
number of requests is 1 + Σ_{i<n} P(T > t_i) (poll i+1 is made only by jobs not yet done), which
falls as each t_i moves later, so the best deterministic schedule puts every t_i as late as the
constraints allow: t_i = low + min(i·d + budget, i·cap). That greedy is checked against a dynamic
programme over a 0.1 s grid. A schedule may also be random (a mix of deterministic ones, say by
jitter): the late share and the mean requests then mix linearly, so the best mix is the lower convex
hull of f(budget) (the deterministic minimum for a late-seconds budget) at the allowed budget.

    python bench/poll_bound.py                  # JSON: the bound at d = 6 s and around it
    python bench/poll_bound.py --low 60 --high 120 --lag 6 --miss 0.05 --cap 15
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Bound:
    polls: tuple[float, ...]  # elapsed seconds of the best deterministic schedule
    mean_requests: float  # … its mean status requests per job
    late_share: float  # … the share of jobs noticed more than `lag` after they finished
    max_lag: float  # … the longest detection lag
    mixed_mean_requests: float  # the best random mix of deterministic schedules (≤ mean_requests)


def mean_requests(polls: list[float] | tuple[float, ...], low: float, high: float) -> float:
    """Mean requests per job, T uniform on [low, high]: 1 + Σ over all but the last poll of P(T > t)."""
    survive = [min(1.0, max(0.0, (high - t) / (high - low))) for t in polls[:-1]]
    return 1.0 + sum(survive)


def late_share(polls: list[float] | tuple[float, ...], low: float, high: float, lag: float) -> float:
    """Share of T in [low, high] noticed more than `lag` seconds late."""
    late, before = 0.0, low
    for t in polls:
        start, end = max(before, low), min(t - lag, high)
        late += max(0.0, end - start)
        before = t
    return late / (high - low)


def greedy_polls(low: float, high: float, lag: float, budget: float, cap: float) -> list[float]:
    """Every poll as late as allowed: gaps of `lag`, the late-seconds `budget` spent at once (the
    first gaps, where most jobs are still running), no gap over `cap`, the last poll at ≥ high."""
    polls: list[float] = []
    t, left = low, budget
    while t < high:
        extra = min(left, cap - lag)
        t, left = t + lag + extra, left - extra
        polls.append(t)
    return polls


def dp_min_mean(low: float, high: float, lag: float, budget: float, cap: float, step: float = 0.1) -> float:
    """The deterministic minimum by brute force over a `step` grid (checks `greedy_polls`)."""
    n = round((high - low) / step)
    units, lag_u, cap_u = round(budget / step), round(lag / step), round(cap / step)
    # best[i][b]: least expected number of further polls for a job known unfinished at grid point i
    # (elapsed low + i·step), having spent b late units; a job reaching the last grid point is done.
    inf = math.inf
    best = [[inf] * (units + 1) for _ in range(n + 1)]
    best[n] = [0.0] * (units + 1)
    for i in range(n - 1, -1, -1):
        alive = (n - i) / n  # P(T > low + i·step) … the next poll is made by these jobs
        for b in range(units + 1):
            value = inf
            for gap in range(1, cap_u + 1):
                late = max(0, gap - lag_u)
                if b + late > units:
                    break
                j = min(n, i + gap)
                value = min(value, alive + best[j][b + late] if j < n else alive)
            best[i][b] = value
    # normalised: `alive` at i = 0 is 1, so best[0][0] is the mean requests per job
    return best[0][0]


def bound(low: float = 60.0, high: float = 120.0, lag: float = 6.0, miss: float = 0.05,
          cap: float = 15.0, grid: float = 0.25) -> Bound:
    span = high - low
    budget = miss * span
    polls = greedy_polls(low, high, lag, budget, cap)
    best = mean_requests(polls, low, high)
    # f(b) for late-seconds budgets b on a grid; the best mix is the hull at `budget`
    points = [(b * grid, mean_requests(greedy_polls(low, high, lag, b * grid, cap), low, high))
              for b in range(int(span * (cap - lag) / cap / grid) + 2)]
    mixed = best
    for b1, f1 in points:
        for b2, f2 in points:
            if b1 <= budget < b2:
                share = (b2 - budget) / (b2 - b1)
                mixed = min(mixed, share * f1 + (1 - share) * f2)
    lags = [t - prev for prev, t in zip([low, *polls], polls, strict=False)]
    return Bound(polls=tuple(round(t, 3) for t in polls), mean_requests=round(best, 3),
                 late_share=round(late_share(polls, low, high, lag), 4), max_lag=round(max(lags), 3),
                 mixed_mean_requests=round(mixed, 3))


def least_lag_for(requests: float, low: float = 60.0, high: float = 120.0, miss: float = 0.05,
                  cap: float = 15.0) -> float:
    """The smallest p95 lag target any deterministic schedule meets with ≤ `requests` per job."""
    lo, hi = 0.01, cap
    for _ in range(60):
        mid = (lo + hi) / 2
        if bound(low, high, mid, miss, cap).mean_requests <= requests:
            hi = mid
        else:
            lo = mid
    return round(hi, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--low", type=float, default=60.0)
    parser.add_argument("--high", type=float, default=120.0)
    parser.add_argument("--lag", type=float, default=6.0, help="detection lag target (p95), seconds")
    parser.add_argument("--miss", type=float, default=0.05, help="share of jobs allowed over the target")
    parser.add_argument("--cap", type=float, default=15.0, help="longest allowed lag, seconds")
    args = parser.parse_args()
    main_bound = bound(args.low, args.high, args.lag, args.miss, args.cap)
    curve = {}
    for lag in (3.0, 4.0, 4.5, 5.0, 6.0, 7.5, 10.0):
        b = bound(args.low, args.high, lag, args.miss, args.cap)
        curve[f"{lag:g}"] = {"mean_requests": b.mean_requests, "mixed_mean_requests": b.mixed_mean_requests,
                             "polls": len(b.polls)}
    result = {
        "benchmark": "poll_bound",
        "world": f"render uniform on [{args.low:g}, {args.high:g}] s, no progress, one request sees one job",
        "target": {"lag_p95_s": args.lag, "late_share_max": args.miss, "lag_max_s": args.cap},
        "best_deterministic": {"polls_elapsed_s": list(main_bound.polls), "mean_requests": main_bound.mean_requests,
                               "late_share": main_bound.late_share, "max_lag_s": main_bound.max_lag},
        "dp_check_mean_requests": round(dp_min_mean(args.low, args.high, args.lag, args.miss * (args.high - args.low),
                                                    args.cap), 3),
        "best_random_mix_mean_requests": main_bound.mixed_mean_requests,
        "no_late_jobs_at_all_mean_requests": bound(args.low, args.high, args.lag, 0.0, args.cap).mean_requests,
        "mean_requests_by_lag_target_s": curve,
        "least_p95_lag_with_4_requests_s": least_lag_for(4.0, args.low, args.high, args.miss, args.cap),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
