"""Cancel and Again through the fake Discord, and the cropped first frame shown with the acceptance.

Cancel: one upstream slot (SORA_MAX_CONCURRENT_JOBS=1) and a slow render keep later jobs waiting
locally, where their status message carries the Cancel button."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.sandbox.fake_discord import ClientRefused, FakeDiscord, StoredMessage
from bot.sandbox.product import running_product
from tests.e2e.product import is_result, job_id_of, product_settings

RESULT_TIMEOUT = 30


def status_of(fake: FakeDiscord, job_id: int) -> StoredMessage | None:
    for message in fake.messages("general"):
        if message.author_id == fake.bot.id and not message.attachments and f"Video `{job_id}` for" in message.content:
            return message
    return None


async def ask(fake: FakeDiscord, user: str, prompt: str) -> int:
    handle = await fake.slash(user, "general", "sora", {"prompt": prompt})
    answer = await handle.followup()
    assert "accepted" in answer.content, answer.content
    return job_id_of(answer.content)


async def answer_to_click(fake: FakeDiscord, user: str, message: StoredMessage, custom_id: str) -> str:
    click = await fake.click(user, message, custom_id)
    assert await click.response_type() == 5
    answer = await click.followup()
    assert answer.ephemeral
    return answer.content


def one_slot(tmp_path, fake, **more):
    return product_settings(tmp_path, fake, **{"SORA_MAX_CONCURRENT_JOBS": 1, "SIMULATED_RENDER_SECONDS": 60, **more})


async def test_cancel_a_waiting_job_refunds_it_and_the_queue_moves_up(fake, tmp_path):
    await fake.add_member("carol")
    async with running_product(fake, one_slot(tmp_path, fake)) as product:
        repo = product.bot.repo
        first = await ask(fake, "alice", "a slow sunrise")
        await fake.wait_until(lambda: (s := status_of(fake, first)) and "can't be stopped" in s.content,
                              what="the first job is sent and says it can't be stopped", timeout=10)
        second = await ask(fake, "bob", "a waiting whale")
        third = await ask(fake, "carol", "a waiting walrus")
        status = await fake.wait_until(lambda: (s := status_of(fake, second)) and f"sora:cancel:{second}"
                                       in s.custom_ids and s, what="Cancel on the waiting job")
        with_button = status_of(fake, first)
        assert (await repo.get_job(first)).state != "requested" and with_button.custom_ids == []

        refused = await answer_to_click(fake, "alice", status, f"sora:cancel:{second}")  # not hers, not a manager
        assert "Only the member who asked" in refused and (await repo.get_job(second)).state == "requested"

        done = await answer_to_click(fake, "bob", status, f"sora:cancel:{second}")
        assert f"`{second}` is cancelled" in done and "nothing was charged" in done
        job = await repo.get_job(second)
        assert job.state == "cancelled"
        assert (await repo.ledger_entry(second))["status"] == "refunded"
        await fake.wait_until(lambda: "Cancelled before it was sent" in fake.message(status.id).content,
                              what="the status says it was cancelled")
        assert fake.message(status.id).custom_ids == []  # the button is gone
        # status edits are throttled (one per job per 10 s): carol's line reads #1 within that
        await fake.wait_until(lambda: "you are #1" in status_of(fake, third).content, what="the queue moved up",
                              timeout=20)
        with_quota = await (await fake.slash("bob", "general", "sora-quota")).followup()
        assert "0 of" in with_quota.content  # the cancelled video doesn't count

        with pytest.raises(ClientRefused):  # once sent there is no button to press
            await fake.click("alice", with_button, f"sora:cancel:{first}")
        assert (await repo.get_job(first)).state not in ("cancelled", "requested")

        # a manager may cancel anyone's waiting job
        walrus = status_of(fake, third)
        by_mod = await answer_to_click(fake, "mod", walrus, f"sora:cancel:{third}")
        assert "is cancelled" in by_mod and (await repo.get_job(third)).state == "cancelled"
        assert [v.prompt for v in await product.resources.provider.list()] == ["a slow sunrise"]


async def test_cancel_button_works_after_a_restart(fake, tmp_path):
    settings = one_slot(tmp_path, fake, SIMULATED_RENDER_SECONDS=600)
    async with running_product(fake, settings):
        first = await ask(fake, "alice", "a long render")
        await fake.wait_until(lambda: (s := status_of(fake, first)) and "can't be stopped" in s.content,
                              what="first sent", timeout=10)
        second = await ask(fake, "bob", "waits across a restart")
        status = await fake.wait_until(lambda: (s := status_of(fake, second)) and f"sora:cancel:{second}"
                                       in s.custom_ids and s, what="Cancel shown")
    async with running_product(fake, settings) as product:
        job = await product.bot.repo.get_job(second)
        if job.state == "requested":  # still waiting behind the first (the usual case)
            done = await answer_to_click(fake, "bob", status, f"sora:cancel:{second}")
            assert "is cancelled" in done and (await product.bot.repo.get_job(second)).state == "cancelled"
        else:  # the restart let it through first: then the answer says it can't be stopped
            with_button = fake.message(status.id)
            try:
                answer = await answer_to_click(fake, "bob", with_button, f"sora:cancel:{second}")
            except ClientRefused:  # the edit already removed the button
                return
            assert "can't be stopped" in answer or "nothing to cancel" in answer


async def test_again_makes_the_same_video_for_whoever_clicks_it_as_a_reply(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake, QUOTA_USER_VIDEOS_PER_DAY=1)) as product:
        handle = await fake.slash("alice", "general", "sora", {"prompt": "a red kite", "size": "720x1280",
                                                               "seconds": "8"})
        parent_id = job_id_of((await handle.followup()).content)
        parent = await fake.wait_for_message(lambda m: is_result(m, parent_id), channel="general",
                                             timeout=RESULT_TIMEOUT)
        assert f"sora:again:{parent_id}" in parent.custom_ids
        answer = await answer_to_click(fake, "bob", parent, f"sora:again:{parent_id}")
        assert "accepted" in answer
        again_id = job_id_of(answer)
        post = await fake.wait_for_message(lambda m: is_result(m, again_id), channel="general",
                                           timeout=RESULT_TIMEOUT)
        assert post.reference_id == parent.id and post.mentions == [fake.user("bob").id]
        old, new = await product.bot.repo.get_job(parent_id), await product.bot.repo.get_job(again_id)
        assert (new.prompt, new.model, new.size, new.seconds, new.user_id) == (
            old.prompt, old.model, old.size, old.seconds, fake.user("bob").id)
        # the same quota checks as /sora: alice has used her one video of the day
        refused = await answer_to_click(fake, "alice", parent, f"sora:again:{parent_id}")
        assert "accepted" not in refused and "1 of 1" in refused
        assert len(await product.resources.provider.list()) == 2


async def test_again_keeps_the_first_frame(fake, tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (720, 1280), (20, 160, 40)).save(buffer, "PNG")  # already the video's shape
    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        handle = await fake.slash("alice", "general", "sora", {"prompt": "from green", "size": "720x1280"},
                                  {"image": ("start.png", buffer.getvalue())})
        first = await handle.followup()
        assert first.attachments == []  # nothing was cropped: no preview
        parent_id = job_id_of(first.content)
        parent = await fake.wait_for_message(lambda m: is_result(m, parent_id), channel="general",
                                             timeout=RESULT_TIMEOUT)
        again_id = job_id_of(await answer_to_click(fake, "alice", parent, f"sora:again:{parent_id}"))
        job = await product.bot.repo.get_job(again_id)
        assert job.image_path is not None and job.image_path != (await product.bot.repo.get_job(parent_id)).image_path
        with Image.open(job.image_path) as frame:
            assert frame.size == (720, 1280) and frame.getpixel((10, 10))[:3] == (20, 160, 40)


async def test_the_cropped_first_frame_is_shown_with_the_acceptance(fake, tmp_path):
    buffer = io.BytesIO()
    picture = Image.new("RGB", (1200, 600), (0, 0, 255))
    picture.paste((255, 255, 0), (450, 0, 750, 600))  # a yellow band in the middle survives the crop
    picture.save(buffer, "JPEG")
    async with running_product(fake, product_settings(tmp_path, fake)):
        handle = await fake.slash("alice", "general", "sora", {"prompt": "from a wide photo", "size": "720x1280"},
                                  {"image": ("wide.jpg", buffer.getvalue())})
        answer = await handle.followup()
        assert answer.ephemeral and "accepted" in answer.content and "cropped to" in answer.content
        [attachment] = answer.attachments
        with Image.open(io.BytesIO(attachment.data)) as shown:
            assert shown.format in ("PNG", "JPEG")
            assert max(shown.size) <= 320 and abs(shown.width / shown.height - 720 / 1280) < 0.02
            centre = shown.convert("RGB").getpixel((shown.width // 2, shown.height // 2))
            assert centre[0] > 200 and centre[1] > 200 and centre[2] < 60  # the middle of the picture


async def test_again_on_a_remix_applies_the_same_change_to_the_same_video(fake, tmp_path):
    from tests.e2e.test_remix import fill_in, make_video, remix_result_of

    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        source = await make_video(fake, "alice", "a quiet harbour")
        source_id = job_id_of(source.content)
        click = await fake.click("alice", source, f"sora:remix:{source_id}")
        remix = await remix_result_of(fake, source, job_id_of((await fill_in(fake, "alice", "general", click,
                                                                               "at night")).content))
        remix_id = job_id_of(remix.content)
        answer = await answer_to_click(fake, "bob", remix, f"sora:again:{remix_id}")
        again_id = job_id_of(answer)
        post = await fake.wait_for_message(lambda m: is_result(m, again_id), channel="general",
                                           timeout=RESULT_TIMEOUT)
        assert post.reference_id == remix.id
        job = await product.bot.repo.get_job(again_id)
        assert (job.kind, job.parent_job_id, job.prompt, job.user_id) == ("remix", source_id, "at night",
                                                                          fake.user("bob").id)
