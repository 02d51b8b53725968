"""Render times are learned per model string, size and length: the schedule's prior is the median of
recent actual renders, for any model name (no list of known ones)."""

from __future__ import annotations

import pytest

from bot.engine.schedule import learned_render_seconds
from bot.sora.openrouter import OpenRouterProvider
from db.database import open_store
from db.repository import NewJob, Repository
from tests.engine_harness import Harness, make_settings, member
from tests.fakes.openrouter import FakeOpenRouter
from tests.pgtools import database_url


def test_prior_is_the_median_of_history_else_the_constants():
    assert learned_render_seconds("sora-2", "1280x720", 4) == pytest.approx(108)
    assert learned_render_seconds("sora-2", "1280x720", 4, time_scale=0.1) == pytest.approx(10.8)
    assert learned_render_seconds("sora-2", "1280x720", 4, [11.0]) == pytest.approx(11.0)  # one is enough
    assert learned_render_seconds("google/veo-3.1", "1280x720", 8, [40, 42, 900, 41, 1]) == pytest.approx(41)
    assert learned_render_seconds("x", "1280x720", 4, [0, -2]) == pytest.approx(108)  # nonsense ignored


async def test_history_is_kept_per_model_size_and_length(tmp_path):
    conn = await open_store(database_url(tmp_path))
    repo = Repository(conn)
    renders = [("google/veo-3.1", "1280x720", 8, 30.0), ("google/veo-3.1", "1280x720", 8, 34.0),
               ("google/veo-3.1", "720x1280", 8, 90.0), ("google/veo-3.1", "1280x720", 4, 12.0),
               ("sora-2", "1280x720", 8, 150.0)]
    for i, (model, size, seconds, took) in enumerate(renders):
        job, _ = await repo.create_job(
            NewJob(guild_id=1, channel_id=2, user_id=3, kind="generate", prompt="p", model=model, size=size,
                   seconds=seconds, provider="openrouter", idempotency_key=f"k{i}"),
            decide=lambda usage: True, allowed=bool, reserve_seconds=seconds, reserve_usd=0, month_start=0)
        await repo.update(job.id, submitted_at=1000.0 + i, completed_at=1000.0 + i + took)
    found = await repo.recent_render_seconds("google/veo-3.1", size="1280x720", seconds=8)
    assert found == pytest.approx([34.0, 30.0])  # newest first, other sizes and lengths left out
    assert sorted(await repo.recent_render_seconds("google/veo-3.1")) == pytest.approx([12, 30, 34, 90])
    assert await repo.recent_render_seconds("never/seen") == []
    await conn.close()


async def test_a_finished_render_brings_its_siblings_next_polls_forward(tmp_path):
    """No progress reported: when one render of a shape finishes in R seconds, each sibling still
    upstream is looked at again when it has run 0.9 R (now, if already past), never later than planned."""
    conn = await open_store(database_url(tmp_path))
    repo = Repository(conn)

    async def job(i: int, *, model: str = "google/veo-3.1", size: str = "1280x720", state: str = "running",
                  submitted: float, next_poll: float):
        made, _ = await repo.create_job(
            NewJob(guild_id=1, channel_id=2, user_id=3, kind="generate", prompt="p", model=model, size=size,
                   seconds=8, provider="openrouter", idempotency_key=f"s{i}"),
            decide=lambda usage: True, allowed=bool, reserve_seconds=8, reserve_usd=0, month_start=0)
        await repo.update(made.id, state=state, submitted_at=submitted, next_poll_at=next_poll)
        return made.id

    done = await job(0, submitted=1000.0, next_poll=1100.0)
    older = await job(1, submitted=990.0, next_poll=1300.0)  # past 0.9 R already: now
    younger = await job(2, submitted=1050.0, next_poll=1300.0)  # at its 0.9 R
    early = await job(3, submitted=1050.0, next_poll=1060.0)  # already sooner: unchanged
    other_size = await job(4, size="720x1280", submitted=990.0, next_poll=1300.0)
    other_model = await job(5, model="alibaba/wan-2.6", submitted=990.0, next_poll=1300.0)
    queued = await job(6, state="queued", submitted=990.0, next_poll=1300.0)
    moved = await repo.hasten_siblings(await repo.get_job(done), 100.0, now=1100.0)
    polls = {i: (await repo.get_job(i)).next_poll_at for i in (done, older, younger, early, other_size,
                                                               other_model, queued)}
    assert moved == 3
    assert polls == {done: 1100.0, older: 1100.0, younger: pytest.approx(1140.0), early: 1060.0,
                     other_size: 1300.0, other_model: 1300.0, queued: 1100.0}
    await conn.close()


async def test_a_no_progress_job_waits_for_the_learned_window_then_steps_across_it(tmp_path):
    """OpenRouter reports no progress: with renders of this model/size/length known to take 2.5–3.5 s,
    the job is not asked about before ~2.4 s (the old schedule asked at 65 % of the median, ~2 s, and
    every 10 % after), then every step (0.25 s here: 5 s at 1/20 speed), so a 3 s render is seen
    within about a step, with ≤ 4 status requests."""
    model = "google/veo-3.1"
    settings = make_settings(tmp_path, SORA_ALLOWED_MODELS=model, QUOTA_DEFAULT_MODELS=model,
                             SORA_ALLOWED_SECONDS="4,8", QUOTA_DEFAULT_SECONDS="4,8", SORA_DEFAULT_MODEL=model,
                             PRICE_PER_SECOND='{"google/veo-3.1": "0.40"}')
    async with FakeOpenRouter(api_key="sk-or-v1-window", render_seconds=3.0) as fake:
        provider = OpenRouterProvider(base_url=fake.base_url, api_key="sk-or-v1-window")
        async with Harness(settings, provider, time_scale=0.05) as h:
            for i in range(11):  # earlier renders: 2.5, 2.6 … 3.5 s
                made, _ = await h.repo.create_job(
                    NewJob(guild_id=1, channel_id=2, user_id=3, kind="generate", prompt="earlier", model=model,
                           size="1280x720", seconds=8, provider="openrouter", idempotency_key=f"earlier-{i}"),
                    decide=lambda usage: True, allowed=bool, reserve_seconds=0, reserve_usd=0, month_start=0)
                await h.repo.update(made.id, state="delivered", submitted_at=100.0 * i,
                                    completed_at=100.0 * i + 2.5 + 0.1 * i)
            outcome = await h.service.request_video(member(), prompt="a kite", model=model, size="1280x720",
                                                    seconds=8)
            assert outcome.accepted, outcome.message
            job = await h.wait_for(outcome.job.id, "delivered")
        await provider.aclose()
        upstream = fake.jobs[job.provider_id]
        polls = [r.at - upstream.started for r in fake.requests
                 if r.kind == "status" and r.path.endswith(job.provider_id)]
    assert polls and polls[0] >= 2.4, polls  # nothing like it ever finished sooner
    done = upstream.render_seconds
    seen = min(t for t in polls if t >= done)
    assert len(polls) <= 4, polls
    assert seen - done <= 0.25 + 0.5, polls  # a step, and room for a loaded machine
