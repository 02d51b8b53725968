"""A busy channel must never hold a finished video back (issue 11).

Fifty jobs in one channel, renders of 60–120 s, against a fake Discord that limits edits (and posts)
per channel to 5 per 5 s and says so in `X-RateLimit-*` headers, the real discord.py client, at 1/10
speed. Before the outbox, each poll step awaited its status edit: twenty messages wanting an edit
every ~10 s asked for more than the channel allows, the edits queued without bound behind each
other, and a finished video waited behind them (minutes, unscaled). Now no step waits for an edit.
"""

from __future__ import annotations

import random

from bot.sandbox.busy_channel import PlannedJob, run_busy_channel
from tests.pgtools import database_url

SCALE = 0.1
# Unscaled seconds. The target is 15 s; the margin is for a loaded 2-core machine, where the
# download, ffmpeg probe and upload (real time, here counted ×10) get slow. The stall was > 60 s.
LATENCY_MAX = 30.0


async def test_a_busy_channel_does_not_hold_finished_videos_back(tmp_path):
    rng = random.Random(11)
    plan = [PlannedJob(arrival=rng.uniform(0, 20), render=rng.uniform(60, 120)) for _ in range(50)]
    plan.sort(key=lambda j: j.arrival)
    run = await run_busy_channel("openai", plan, scale=SCALE, timeout=60,
                                 database_url=database_url(tmp_path))  # TEST_DATABASE=postgres: on PostgreSQL
    assert run.delivered == len(plan), run.states
    assert max(run.latency) <= LATENCY_MAX, sorted(run.latency)
    assert not [route for route in run.refusals if route.startswith("PATCH")], run.refusals
    assert min(run.edits_per_message) >= 1  # every status message got its last words ("Done") …
    # … and most showed progress on the way (a refresh a newer one superseded is dropped unsent)
    assert sum(1 for edits in run.edits_per_message if edits >= 2) >= len(plan) // 2, run.edits_per_message
