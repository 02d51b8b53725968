"""Cancel and Again in the engine (no Discord): the state machine, the race with the poller, refunds."""

from __future__ import annotations

import pytest

from bot import texts_controls as words
from bot.domain.jobs import TERMINAL, JobState, can_transition
from bot.engine.controls import again, cancel_job
from bot.sandbox.recording import member
from bot.sora.simulated import SimulatedProvider
from bot.texts import MAX_CONTENT, JobView, discord_len, status_text
from tests.engine_harness import Harness, make_settings


@pytest.fixture
async def harness(tmp_path):
    settings = make_settings(tmp_path)
    provider = SimulatedProvider(settings.data_dir / "sim", render_seconds=30)
    async with Harness(settings, provider, time_scale=1.0, max_upstream=1) as h:
        yield h


def test_cancelled_is_terminal_and_reached_from_requested_only():
    assert JobState.CANCELLED in TERMINAL
    assert can_transition(JobState.REQUESTED, JobState.CANCELLED)
    for state in JobState:
        if state not in (JobState.REQUESTED, JobState.CANCELLED):
            assert not can_transition(state, JobState.CANCELLED), state
        if state != JobState.CANCELLED:
            assert not can_transition(JobState.CANCELLED, state), state


async def test_cancel_loses_the_race_with_the_poller_and_says_why(harness):
    first = (await harness.service.request_video(member(1), prompt="upstream first")).job
    await harness.wait_for(first.id, "queued", "running")
    second = (await harness.service.request_video(member(2), prompt="waiting second")).job
    assert (await harness.repo.get_job(second.id)).state == JobState.REQUESTED
    # the poller claims it just before the click lands
    assert await harness.repo.claim_requested(second.id, harness.ctx.clock()) is not None
    result = await cancel_job(harness.service, member(2), second.id)
    assert not result.cancelled and "can't be stopped now" in result.message
    assert (await harness.repo.ledger_entry(second.id))["status"] == "reserved"  # still owed: it may render


async def test_cancel_refunds_and_publishes_the_cancelled_status_without_the_button(harness):
    first = (await harness.service.request_video(member(1), prompt="upstream first")).job
    await harness.wait_for(first.id, "queued", "running")
    second = (await harness.service.request_video(member(2), prompt="waiting second")).job
    assert not (await cancel_job(harness.service, member(3), second.id)).cancelled  # someone else
    assert (await cancel_job(harness.service, member(3, bypass=True), second.id)).cancelled  # a manager
    job = await harness.repo.get_job(second.id)
    assert job.state == JobState.CANCELLED and (await harness.repo.ledger_entry(second.id))["status"] == "refunded"
    last = [p for p in harness.publisher.progress if p.job_id == second.id][-1]
    assert "Cancelled before it was sent" in last.text
    again_answer = await cancel_job(harness.service, member(2), second.id)
    assert "nothing to cancel" in again_answer.message
    assert "nothing to cancel" in (await cancel_job(harness.service, member(2, guild_id=99), second.id)).message


async def test_again_of_another_servers_video_is_refused(harness):
    job = (await harness.service.request_video(member(1), prompt="here")).job
    outcome = await again(harness.service, member(1, guild_id=99), job, reply_to=None)
    assert not outcome.accepted and f"`{job.id}`" in outcome.message


def test_status_texts_fit_and_say_when_the_job_can_no_longer_be_stopped():
    view = JobView(job_id="7", user_id=1, prompt="x" * 5000, model="sora-2", size="1280x720", seconds=4)
    for state in ("requested", "submitting", "queued", "running", "delivered", "cancelled"):
        base = status_text(view, state=state)
        text = words.status_with_controls(view, state, base)
        assert discord_len(text) <= MAX_CONTENT
        assert ("can't be stopped" in text) == (state in ("submitting", "queued", "running"))
    assert "Cancelled before it was sent" in words.status_with_controls(view, "cancelled", "")
    mention = JobView(job_id="7", user_id=1, prompt="@everyone hi", model="m", size="1280x720", seconds=4)
    assert "@everyone" not in words.cancelled_status(mention)
