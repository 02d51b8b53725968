"""The job engine end to end on the free `simulated` provider (real MP4s via ffmpeg), a real SQLite
file, and a recording publisher: generate, remix, content-policy failure with refund, retried
delivery posting once, crash recovery without a second paid create, fair local queue."""

from __future__ import annotations

import asyncio

import pytest

from bot.engine.jobs import JobState
from bot.media import probe
from bot.sora.simulated import SimulatedProvider
from tests.engine_harness import Harness, RecordingPublisher, make_settings, member


@pytest.fixture
async def harness(tmp_path):
    settings = make_settings(tmp_path)
    async with Harness(settings, SimulatedProvider(settings.data_dir / "sim", render_seconds=0.6)) as h:
        yield h


async def test_generate_is_delivered_once_and_settled(harness):
    outcome = await harness.service.request_video(member(), prompt="a red fox in snow", seconds=4)
    assert outcome.accepted, outcome.message
    assert f"`{outcome.job.id}`" in outcome.message
    job = await harness.wait_for(outcome.job.id, "delivered")
    results = harness.publisher.results
    assert [r.job_id for r in results] == [job.id]
    assert "<@1>" in results[0].text and "a red fox in snow" in results[0].text
    info = await probe(results[0].path)
    assert (info.width, info.height) == (1280, 720) and abs(info.duration - 4) < 0.5
    assert job.result_message_id == results[0].message_id and job.status_message_id is not None
    entry = await harness.repo.ledger_entry(job.id)
    assert entry["status"] == "settled" and entry["seconds"] == pytest.approx(min(4, info.duration), abs=0.01)
    # the status message was created once and then edited
    assert {p.message_id for p in harness.publisher.progress if p.job_id == job.id} == {job.status_message_id}


async def test_content_policy_failure_is_refunded_and_explained(harness):
    outcome = await harness.service.request_video(member(), prompt="something forbidden")
    job = await harness.wait_for(outcome.job.id, "failed")
    assert (await harness.repo.ledger_entry(job.id))["status"] == "refunded"
    [failure] = harness.publisher.failures
    assert "content policy" in failure.text and "<@1>" in failure.text
    assert harness.publisher.results == []


async def test_remix_of_a_delivered_video(harness):
    first = await harness.service.request_video(member(), prompt="a lighthouse")
    parent = await harness.wait_for(first.job.id, "delivered")
    outcome = await harness.service.request_remix(member(user_id=2), parent, "make it night")
    assert outcome.accepted, outcome.message
    child = await harness.wait_for(outcome.job.id, "delivered")
    assert child.parent_job_id == parent.id and child.user_id == 2  # charged to the remixer
    assert child.reply_to_message_id == parent.result_message_id
    assert f"remix of `{parent.id}`" in harness.publisher.results[-1].text


async def test_invalid_request_changes_nothing(harness):
    outcome = await harness.service.request_video(member(), prompt="   ")
    assert not outcome.accepted and "empty" in outcome.message.lower()
    outcome = await harness.service.request_video(member(), prompt="x", size="999x999")
    assert not outcome.accepted and "999x999" in outcome.message
    assert await harness.repo.count_by_state() == {}
    assert await harness.provider.list() == []


async def test_retried_delivery_posts_exactly_once(tmp_path):
    settings = make_settings(tmp_path)
    publisher = RecordingPublisher(fail_results=2)
    async with Harness(settings, SimulatedProvider(settings.data_dir / "sim", render_seconds=0.3),
                      publisher=publisher) as h:
        outcome = await h.service.request_video(member(), prompt="retry me")
        job = await h.wait_for(outcome.job.id, "delivered")
        assert [r.job_id for r in publisher.results] == [job.id]


async def test_restart_mid_submission_reconciles_without_a_second_create(tmp_path):
    """A crash after the upstream create but before its id was stored: the restart finds the same
    upstream job (idempotency key) instead of paying for a second one."""
    settings = make_settings(tmp_path)
    provider = SimulatedProvider(settings.data_dir / "sim", render_seconds=0.3)
    h = await Harness(settings, provider).start()
    await h.poller.stop(grace=0)  # nothing runs: we play the crash by hand
    outcome = await h.service.request_video(member(), prompt="crash between POST and commit")
    job = await h.repo.claim_requested(outcome.job.id, h.repo.clock())
    from bot.sora.models import CreateVideo

    await provider.create(CreateVideo(prompt=job.prompt, seconds=4), idempotency_key=job.idempotency_key)
    await h.db.close()  # the process dies: no graceful stop

    async with Harness(settings, provider) as h2:
        done = await h2.wait_for(job.id, "delivered")
        assert len(await provider.list()) == 1
        assert done.provider_id == (await provider.list())[0].id
        assert len(h2.publisher.results) == 1


async def test_local_queue_is_fair_across_members(tmp_path):
    settings = make_settings(tmp_path)
    async with Harness(settings, SimulatedProvider(settings.data_dir / "sim", render_seconds=0.3),
                      max_upstream=1) as h:
        a = [await h.service.request_video(member(user_id=1), prompt=f"a{i}") for i in range(3)]
        b = await h.service.request_video(member(user_id=2), prompt="b0")
        await h.wait_for(b.job.id, "delivered", timeout=60)
        # member 2's single job is not stuck behind all of member 1's jobs: once member 1 has been
        # served (a0, a1), member 2 goes before member 1's third
        b_started = (await h.repo.get_job(b.job.id)).submit_started_at
        a2 = await h.repo.get_job(a[2].job.id)
        assert a2.submit_started_at is None or b_started < a2.submit_started_at
        waiting_texts = [p.text for p in h.publisher.progress if "Waiting in line" in p.text]
        assert waiting_texts, "queued members see their place in line"
        for out in a:
            await h.wait_for(out.job.id, "delivered", timeout=60)
        assert sorted(r.job_id for r in h.publisher.results) == sorted([*(o.job.id for o in a), b.job.id])
        assert all(job.state is JobState.DELIVERED for job in await h.repo.recent_jobs(1, 10))


async def test_waiting_jobs_do_not_make_the_loop_spin(tmp_path):
    """With every provider slot taken, waiting jobs wait for a wake-up, not in a busy loop."""
    settings = make_settings(tmp_path)
    async with Harness(settings, SimulatedProvider(settings.data_dir / "sim", render_seconds=5),
                      max_upstream=1, time_scale=0.05) as h:
        for i in range(3):
            await h.service.request_video(member(user_id=i + 1), prompt=f"slot {i}")
        await h.wait_for(1, "queued", "running")
        before = h.poller.turns
        await asyncio.sleep(1.0)
        assert h.poller.turns - before < 30
        assert [j.state for j in await h.repo.jobs_in_states([JobState.REQUESTED])] == [JobState.REQUESTED] * 2
