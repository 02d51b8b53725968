"""Remix refusals give nothing away (issue 12, item 8): the member must be able to see the parent
video's channel, and every refusal reads the same whatever the reason; the context menu is guild-only."""

from __future__ import annotations

from bot.sandbox.fake_discord import FakeDiscord, Perm
from bot.sandbox.product import running_product
from bot.texts import remix_refused
from tests.e2e.product import is_result, job_id_of, product_settings


async def slash_answer(fake: FakeDiscord, user: str, options: dict) -> str:
    handle = await fake.slash(user, "general", "sora-remix", options)
    ack = await handle.ack()
    answer = await (handle.original() if ack.type == 4 else handle.followup())
    assert answer.ephemeral
    return answer.content


async def test_remix_needs_the_parent_channel_and_refuses_in_one_voice(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        handle = await fake.slash("bob", "videos", "sora", {"prompt": "a secret garden"})
        job_id = job_id_of((await handle.followup()).content)
        await fake.wait_for_message(lambda m: is_result(m, job_id), channel="videos", timeout=30)
        await fake.set_overwrite("videos", fake.user("alice"), deny=Perm.VIEW_CHANNEL)
        hidden = await slash_answer(fake, "alice", {"video": str(job_id), "prompt": "add a door"})
        unknown = await slash_answer(fake, "alice", {"video": "424242", "prompt": "add a door"})
        huge = await slash_answer(fake, "alice", {"video": "9" * 25, "prompt": "add a door"})
        assert hidden == remix_refused(job_id) and unknown == remix_refused(424242)
        assert huge.startswith("I can't remix `") and huge.endswith(remix_refused(0).split("`")[-1])
        assert len(await product.resources.provider.list()) == 1, "no remix was sent upstream"
        seen = await slash_answer(fake, "bob", {"video": str(job_id), "prompt": "add a door"})
        assert f"remix of `{job_id}`" in seen, "the channel's viewer may remix it"


async def test_the_remix_context_menu_is_guild_only(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)):
        menu = fake.command("Remix with Sora", 3)
        assert menu["dm_permission"] is False or menu.get("contexts") == [0]
