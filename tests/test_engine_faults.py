"""The engine against the fake relay and a recording publisher: expired links, Discord's 413, a
database that can't be written, first-frame images, retention."""

from __future__ import annotations

import asyncio
import io
import os
import time

import pytest
from PIL import Image

from bot.engine import retention
from bot.engine.ports import DeliveryRejected, UploadTooLarge
from bot.sora.factory import build_provider
from bot.sora.retry import RetryPolicy
from bot.sora.simulated import SimulatedProvider
from tests.engine_harness import Harness, RecordingPublisher, make_settings, member
from tests.fakes.relay import FakeRelay


def relay_settings(tmp_path, relay: FakeRelay, dialect: str):
    return make_settings(tmp_path, SORA_PROVIDER=dialect, SORA_BASE_URL=relay.base_url, SORA_API_KEY="k",
                         SORA_TRUSTED_ORIGINS=relay.cdn_origin)


async def test_expired_direct_link_falls_back_to_content(tmp_path):
    async with FakeRelay(dialect="juheapi", api_key="k", render_seconds=0.5) as relay:
        settings = relay_settings(tmp_path, relay, "juheapi")
        async with Harness(settings, build_provider(settings)) as h:
            out = await h.service.request_video(member(), prompt="a harbour at dawn")
            await h.wait_for(out.job.id, "queued", "running")
            relay.expire_urls()  # meta_data.url answers 403: /content still serves it
            job = await h.wait_for(out.job.id, "delivered")
            assert relay.count("file") >= 1 and relay.count("content") >= 1
            assert h.publisher.results[0].job_id == job.id


async def test_video_that_cannot_be_fetched_ends_expired_refunded_and_told(tmp_path):
    async with FakeRelay(dialect="juheapi", api_key="k", render_seconds=0.5) as relay:
        settings = relay_settings(tmp_path, relay, "juheapi")
        async with Harness(settings, build_provider(settings)) as h:
            out = await h.service.request_video(member(), prompt="gone too soon")
            await h.wait_for(out.job.id, "queued", "running")
            relay.expire_urls()
            relay.expire_content()
            job = await h.wait_for(out.job.id, "expired")
            assert (await h.repo.ledger_entry(job.id))["status"] == "refunded"
            [failure] = h.publisher.failures
            assert "expired" in failure.text and "does not count against your quota" in failure.text
            assert h.publisher.results == []


class TooLargeOnce(RecordingPublisher):
    """Discord answers 413 to the first post, with or without saying its limit (it usually doesn't)."""

    def __init__(self, says_limit: bool) -> None:
        super().__init__()
        self.says_limit = says_limit
        self.refused: list[int] = []

    async def publish_result(self, job, video, caption):
        if not self.refused:
            self.refused.append(video.stat().st_size)
            raise UploadTooLarge("413", limit_bytes=video.stat().st_size - 1 if self.says_limit else None)
        return await super().publish_result(job, video, caption)


@pytest.mark.parametrize("says_limit", [True, False])
async def test_discord_413_fits_again_smaller_and_posts_once(tmp_path, says_limit):
    settings = make_settings(tmp_path)
    publisher = TooLargeOnce(says_limit)
    async with Harness(settings, SimulatedProvider(settings.data_dir / "sim", render_seconds=0.3),
                      publisher=publisher) as h:
        out = await h.service.request_video(member(), prompt="a 413 from Discord", seconds=8)
        job = await h.wait_for(out.job.id, "delivered")
        [posted] = publisher.results
        assert posted.path.name.endswith(".fit.mp4") and posted.size < publisher.refused[0] <= job.file_size
        assert "compressed to fit" in posted.text


async def _read_only(h: Harness, on: bool) -> None:
    """Make the harness's database refuse writes (or accept them again): SQLite's `query_only`, or on
    PostgreSQL the database's default of read-only transactions, the pool's sessions renewed."""
    if h.conn is not None:
        await h.conn.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")
        return
    from tests.pgtools import _admin

    admin = await _admin()
    try:
        name = h.settings.database_url.rpartition("/")[2]
        await admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {"on" if on else "off"}')
    finally:
        await admin.close()
    await h.db.pool.expire_connections()  # sessions opened from now on take the new default


async def test_database_that_cannot_be_written_submits_nothing(tmp_path):
    settings = make_settings(tmp_path)
    provider = SimulatedProvider(settings.data_dir / "sim", render_seconds=0.3)
    h = await Harness(settings, provider).start()
    try:
        await _read_only(h, True)
        with pytest.raises(Exception, match=r"readonly|read-only|query_only|attempt to write"):
            await h.service.request_video(member(), prompt="never fail open")
        assert await provider.list() == []
    finally:
        await _read_only(h, False)
        await h.stop()


async def test_first_frame_image_is_fitted_and_sent(tmp_path):
    async with FakeRelay(dialect="openai", api_key="k", render_seconds=0.3) as relay:
        settings = relay_settings(tmp_path, relay, "openai")
        async with Harness(settings, build_provider(settings)) as h:
            buf = io.BytesIO()
            Image.new("RGB", (640, 640), "red").save(buf, "PNG")  # square: cropped to 1280x720
            out = await h.service.request_video(member(), prompt="from this frame", image=buf.getvalue())
            assert out.accepted, out.message
            await h.wait_for(out.job.id, "delivered")
            [job] = relay.jobs.values()
            # the relay refuses a first frame that doesn't match the size (400): it took this one
            assert job.image_mime in ("image/png", "image/jpeg") and job.size == "1280x720"


async def test_wrong_image_type_is_refused_before_anything_is_sent(tmp_path):
    settings = make_settings(tmp_path)
    provider = SimulatedProvider(settings.data_dir / "sim", render_seconds=0.3)
    async with Harness(settings, provider) as h:
        out = await h.service.request_video(member(), prompt="gif", image=b"GIF89a" + b"\0" * 100)
        assert not out.accepted and "JPEG, PNG or WebP" in out.message
        assert await h.repo.count_by_state() == {} and await provider.list() == []


async def test_retention_deletes_old_deliveries_and_keeps_undelivered_files(tmp_path):
    settings = make_settings(tmp_path)
    async with Harness(settings, SimulatedProvider(settings.data_dir / "sim", render_seconds=0.2)) as h:
        old = await h.service.request_video(member(), prompt="old one")
        await h.wait_for(old.job.id, "delivered")
        new = await h.service.request_video(member(), prompt="new one")
        new_job = await h.wait_for(new.job.id, "delivered")
        old_job = await h.repo.get_job(old.job.id)
        await h.repo.update(old_job.id, delivered_at=time.time() - 10_000)
        owed = h.ctx.videos_dir() / "job-999.mp4"  # a file whose job isn't delivered: never deleted
        owed.write_bytes(b"x" * 1000)

        report = await retention.sweep(h.ctx, retention_seconds=3600, max_bytes=10**9)
        assert report.deleted_files == 1
        assert not os.path.exists(old_job.file_path) and os.path.exists(new_job.file_path)
        assert (await h.repo.get_job(old_job.id)).file_path is None

        report = await retention.sweep(h.ctx, retention_seconds=3600, max_bytes=2000)  # the cap
        assert not os.path.exists(new_job.file_path) and owed.exists()
        assert report.total_bytes == 1000


async def test_provider_refusing_every_submit_gives_up_refunds_and_tells(tmp_path):
    """429s are certain refusals (a 5xx might have been processed, so it is reconciled instead)."""
    async with FakeRelay(dialect="openai", api_key="k", render_seconds=0.3) as relay:
        relay.rate_limit(100, retry_after=0, kind="create")
        settings = relay_settings(tmp_path, relay, "openai")
        provider = build_provider(settings, retry=RetryPolicy(max_attempts=1))
        async with Harness(settings, provider, time_scale=0.001) as h:
            out = await h.service.request_video(member(), prompt="while the relay is down")
            job = await h.wait_for(out.job.id, "failed")
            assert job.error_code == "unavailable" and relay.create_count == 0
            assert relay.count("create") == h.ctx.config.submit_attempts
            assert (await h.repo.ledger_entry(job.id))["status"] == "refunded"
            [failure] = h.publisher.failures
            assert "unavailable right now" in failure.text and "does not count against your quota" in failure.text


async def test_unconfirmable_create_is_not_resent_and_the_member_is_told(tmp_path):
    """xingchaoyiqing has no list endpoint and no idempotency: a create whose answer was lost can't
    be found again, so the job ends failed and refunded; it is never sent a second time."""
    async with FakeRelay(dialect="xingchaoyiqing", api_key="k", render_seconds=0.3) as relay:
        relay.fail_next_create_after_recording()
        settings = relay_settings(tmp_path, relay, "xingchaoyiqing")
        async with Harness(settings, build_provider(settings, retry=RetryPolicy(max_attempts=1))) as h:
            out = await h.service.request_video(member(), prompt="lost in transit")
            job = await h.wait_for(out.job.id, "failed")
            assert job.error_code == "unknown_outcome" and relay.create_count == 1
            assert (await h.repo.ledger_entry(job.id))["status"] == "refunded"
            [failure] = h.publisher.failures
            assert "not sent again" in failure.text


async def test_remix_on_a_provider_without_remix_is_refused_up_front(tmp_path):
    async with FakeRelay(dialect="xingchaoyiqing", api_key="k", render_seconds=0.2) as relay:
        settings = relay_settings(tmp_path, relay, "xingchaoyiqing")
        async with Harness(settings, build_provider(settings)) as h:
            out = await h.service.request_video(member(), prompt="a kite")
            parent = await h.wait_for(out.job.id, "delivered")
            refused = await h.service.request_remix(member(user_id=2), parent, "make it two kites")
            assert not refused.accepted and "doesn't support remixing" in refused.message
            assert relay.count("remix") == 0 and len(await h.repo.recent_jobs(2, 10)) == 0


class Undeliverable(RecordingPublisher):
    async def publish_result(self, job, video, caption):
        raise DeliveryRejected("the channel no longer exists")


async def test_video_that_can_never_be_posted_is_refunded(tmp_path):
    settings = make_settings(tmp_path)
    async with Harness(settings, SimulatedProvider(settings.data_dir / "sim", render_seconds=0.2),
                      publisher=Undeliverable()) as h:
        out = await h.service.request_video(member(), prompt="into the void")
        job = await h.wait_for(out.job.id, "failed")
        assert job.error_code == "undeliverable"
        assert (await h.repo.ledger_entry(job.id))["status"] == "refunded"
        assert os.path.exists(job.file_path)  # the file is kept …
        await retention.sweep(h.ctx, retention_seconds=0, max_bytes=10**9)
        assert not os.path.exists(job.file_path)  # … until retention says the job has ended long enough


async def test_member_concurrency_cap_follows_tiers_and_bypass(tmp_path):
    settings = make_settings(tmp_path, QUOTA_USER_CONCURRENT=1)
    async with Harness(settings, SimulatedProvider(settings.data_dir / "sim", render_seconds=3),
                      time_scale=0.03) as h:
        a1 = await h.service.request_video(member(user_id=1), prompt="a1")
        a2 = await h.service.request_video(member(user_id=1), prompt="a2")
        m1 = await h.service.request_video(member(user_id=2, bypass=True), prompt="m1")
        m2 = await h.service.request_video(member(user_id=2, bypass=True), prompt="m2")
        for out in (a1, m1, m2):
            await h.wait_for(out.job.id, "queued", "running")
        assert (await h.repo.get_job(a2.job.id)).state.value == "requested"  # capped at 1, waits its turn
        assert "starts as soon as one of them finishes" in a2.message
        await h.wait_for(a2.job.id, "delivered", timeout=60)


class BrokenLimit(RecordingPublisher):
    async def upload_limit(self, job):
        raise RuntimeError("a bug on the Discord side")


async def test_unexpected_error_in_a_step_is_retried_then_failed_with_an_error_id(tmp_path, caplog):
    settings = make_settings(tmp_path)
    async with Harness(settings, SimulatedProvider(settings.data_dir / "sim", render_seconds=0.2),
                      publisher=BrokenLimit(), unexpected_attempts=3) as h:
        out = await h.service.request_video(member(), prompt="meets a bug")
        job = await h.wait_for(out.job.id, "failed")
        assert job.error_code == "unexpected"
        assert (await h.repo.ledger_entry(job.id))["status"] == "refunded"
        [failure] = h.publisher.failures
        assert f"job-{job.id}" in failure.text  # an id the member can hand to an admin
        crashes = [r for r in caplog.records if r.getMessage() == "unexpected error in a job step"]
        assert len(crashes) >= 2 and all(getattr(r, "job", None) == job.id for r in crashes)  # retried first


async def test_render_that_never_finishes_times_out_refunded(tmp_path):
    settings = make_settings(tmp_path)
    async with Harness(settings, SimulatedProvider(settings.data_dir / "sim", render_seconds=1000),
                      time_scale=0.01, deadline_factor=2.0, min_deadline=0.0) as h:
        out = await h.service.request_video(member(), prompt="forever rendering")
        job = await h.wait_for(out.job.id, "failed")
        assert job.error_code == "timed_out"
        assert (await h.repo.ledger_entry(job.id))["status"] == "refunded"
        await h.ctx.outbox.drain()  # the notice follows the state change through the outbox
        assert "never finished" in h.publisher.failures[0].text


async def test_reconcile_adopts_only_an_unambiguous_match(tmp_path):
    """After a lost create answer, the list has two videos with our prompt: neither is adopted."""
    async with FakeRelay(dialect="openai", api_key="k", render_seconds=0.3) as relay:
        settings = relay_settings(tmp_path, relay, "openai")
        provider = build_provider(settings, retry=RetryPolicy(max_attempts=1))
        async with Harness(settings, provider, reconcile_window=1.0) as h:
            from bot.sora.models import CreateVideo

            await provider.create(CreateVideo(prompt="twins", seconds=4))  # someone else's, same prompt
            relay.fail_next_create_after_recording()
            out = await h.service.request_video(member(), prompt="twins")
            job = await h.wait_for(out.job.id, "failed")
            assert job.error_code == "unknown_outcome" and job.provider_id is None
            assert relay.create_count == 2  # and never a third


async def test_a_step_longer_than_its_lease_keeps_renewing_it_and_delivers_once(tmp_path):
    """A slow upload (3x the lease) is not cut at the lease: the lease is renewed while it runs."""
    leases: list[float] = []

    class SlowUpload(RecordingPublisher):
        async def publish_result(self, job, video, caption):
            for _ in range(6):
                await asyncio.sleep(0.15)
                leases.append((await harness.repo.get_job(job.id)).claimed_until or 0.0)
            return await super().publish_result(job, video, caption)

    settings = make_settings(tmp_path)
    provider = SimulatedProvider(settings.data_dir / "sim", render_seconds=0.1)
    async with Harness(settings, provider, publisher=SlowUpload(), lease_seconds=0.3, step_deadline=0.2,
                       download_deadline=10.0) as harness:
        out = await harness.service.request_video(member(), prompt="slow upload")
        await harness.wait_for(out.job.id, "delivered", timeout=30)
        assert [p.job_id for p in harness.publisher.results] == [out.job.id]
        assert max(leases) > min(leases), "the lease was renewed during the upload"
