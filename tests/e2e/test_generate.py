"""/sora through the fake Discord: what a member sees, from the private answer to the posted MP4."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox.fake_discord import FakeDiscord
from bot.sandbox.fake_providers.relay import FakeRelay
from bot.sandbox.product import running_product
from tests.e2e.product import is_result, job_id_of, product_settings


async def test_sora_posts_the_video_mentioning_only_the_requester(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)):
        h = await fake.slash("alice", "general", "sora", {"prompt": "a paper boat on a river @everyone"})
        ack = await h.ack()
        assert ack.type == 5  # deferred within the 3 s rule
        reply = await h.followup()
        assert reply.ephemeral and "accepted" in reply.content
        job_id = job_id_of(reply.content)
        result = await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=30)
        alice = fake.user("alice")
        assert result.mentions == [alice.id]  # the requester, and nobody else (@everyone in the prompt stays text)
        assert f"<@{alice.id}>" in result.content and "paper boat" in result.content
        assert "sora-2" in result.content and "1280×720" in result.content and "4 s" in result.content
        [video] = result.attachments
        assert video.filename.endswith(".mp4") and video.data[4:8] == b"ftyp"
        # the status message was posted with the bot token and edited to its final state
        def final_status():
            return [m for m in fake.messages("general")
                    if m.author_id == fake.bot.id and not m.attachments and "Done" in m.content]

        [status] = await fake.wait_until(final_status, timeout=5)
        assert status.mentions == [] and str(job_id) in status.content
        assert fake.calls_to("POST", r"/webhooks/", status=401) == []


async def test_bad_option_is_refused_privately_and_nothing_is_sent(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        h = await fake.slash("alice", "general", "sora", {"prompt": "x", "model": "sora-2-pro"})
        await h.ack()
        reply = await h.followup()
        assert reply.ephemeral and "sora-2-pro" in reply.content
        assert await product.resources.provider.list() == []
        assert [m for m in fake.messages("general") if not m.ephemeral] == []


async def test_member_over_quota_is_told_which_limit_and_when(fake, tmp_path):
    settings = product_settings(tmp_path, fake, QUOTA_USER_VIDEOS_PER_DAY=1)
    async with running_product(fake, settings):
        first = await fake.slash("bob", "general", "sora", {"prompt": "first"})
        assert "accepted" in (await first.followup()).content
        second = await fake.slash("bob", "general", "sora", {"prompt": "second"})
        refusal = await second.followup()
        assert refusal.ephemeral and "1 of 1" in refusal.content and "<t:" in refusal.content


async def test_result_larger_than_the_channel_limit_is_compressed_to_fit(tmp_path):
    """A 12 MiB video from the relay, a tier-0 server (10 MiB per file): fitted, posted, and said."""
    async with FakeDiscord(premium_tier=0) as fake, \
            FakeRelay(dialect="openai", api_key="k", render_seconds=0.5, download_bytes=12 * 1024 * 1024) as relay:
        settings = product_settings(tmp_path, fake, SORA_PROVIDER="openai", SORA_BASE_URL=relay.base_url,
                                    SORA_API_KEY="k")
        async with running_product(fake, settings) as product:
            h = await fake.slash("alice", "general", "sora", {"prompt": "detailed city", "seconds": 8})
            job_id = job_id_of((await h.followup()).content)
            result = await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=60)
            assert result.attachments[0].size <= 10 * 1024 * 1024
            assert "compressed to fit: original" in result.content and "12.6 MB" in result.content
            original = Path((await product.bot.repo.get_job(job_id)).file_path)
            assert original.stat().st_size == 12 * 1024 * 1024  # the original stays on disk, untouched
            assert fake.calls_to("POST", r"/channels/\d+/messages", status=413) == []


async def test_first_frame_image_is_fitted_to_the_size_and_used(fake, tmp_path):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (400, 400), (200, 30, 30)).save(buffer, "PNG")  # square, red
    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        h = await fake.slash("alice", "general", "sora", {"prompt": "from my picture", "size": "720x1280"},
                             {"image": ("start.png", buffer.getvalue())})
        job_id = job_id_of((await h.followup()).content)
        await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=30)
        job = await product.bot.repo.get_job(job_id)
        assert job.image_path is not None
        with Image.open(job.image_path) as fitted:
            assert fitted.size == (720, 1280)  # cropped to fill the portrait video
            assert fitted.getpixel((360, 640))[:3] == (200, 30, 30)


async def test_a_file_that_is_not_an_image_is_refused_privately(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        h = await fake.slash("alice", "general", "sora", {"prompt": "from my notes"},
                             {"image": ("notes.txt", b"just some text, not a picture")})
        answer = await h.followup()
        assert answer.ephemeral and "JPEG, PNG or WebP" in answer.content
        assert await product.resources.provider.list() == []
