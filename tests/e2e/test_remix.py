"""Remix, four ways, through the fake Discord: a reply to a result, the `Remix with Sora` context menu,
the persistent `Remix` button (also after a restart) and `/sora-remix` with autocomplete. Each test
asserts on what a member sees: the private answers, and the remix posted as a reply to its parent."""

from __future__ import annotations

from typing import Any

from bot.sandbox.fake_discord import FakeDiscord, InteractionHandle, StoredMessage
from bot.sandbox.product import running_product
from tests.e2e.product import is_result, job_id_of, product_settings

RESULT_TIMEOUT = 30


async def make_video(fake: FakeDiscord, user: str, prompt: str, channel: str = "general") -> StoredMessage:
    """`/sora` as `user` and wait for the posted result."""
    handle = await fake.slash(user, channel, "sora", {"prompt": prompt})
    job_id = job_id_of((await handle.followup()).content)
    return await fake.wait_for_message(lambda m: is_result(m, job_id), channel=channel, timeout=RESULT_TIMEOUT)


async def remix_result_of(fake: FakeDiscord, parent: StoredMessage, remix_id: int) -> StoredMessage:
    return await fake.wait_for_message(lambda m: is_result(m, remix_id) and m.reference_id == parent.id,
                                       channel=parent.channel_id, timeout=RESULT_TIMEOUT)


def text_input_id(modal: dict[str, Any]) -> str:
    """The custom id of the (only) text field of a modal, wherever it is nested."""
    stack = list(modal.get("components") or [])
    while stack:
        comp = stack.pop(0)
        if comp.get("type") == 4:
            return comp["custom_id"]
        stack.extend(comp.get("components") or [])
        if isinstance(comp.get("component"), dict):
            stack.append(comp["component"])
    raise AssertionError(f"no text input in {modal}")


async def fill_in(fake: FakeDiscord, user: str, channel: str, opener: InteractionHandle,
                  change: str) -> StoredMessage:
    """Submit the modal `opener` showed with `change`; return the private answer."""
    modal = await opener.modal()
    assert modal["title"] == "Remix with Sora"
    submitted = await fake.submit_modal(user, channel, modal["custom_id"], {text_input_id(modal): change},
                                        opened_by=opener)
    assert await submitted.response_type() == 5  # deferred at once, the answer follows
    answer = await submitted.followup()
    assert answer.ephemeral
    return answer


def assert_remix_post(fake: FakeDiscord, post: StoredMessage, *, by: str, parent_id: int, change: str) -> None:
    member = fake.user(by)
    assert post.mentions == [member.id]  # the remixer, and only the remixer
    assert post.content.startswith(f"<@{member.id}> your video is ready!")
    assert f"remix of `{parent_id}`" in post.content and change in post.content
    [video] = post.attachments
    assert video.filename.endswith(".mp4") and video.data[4:8] == b"ftyp"


# --- 1. a reply to a result ------------------------------------------------------------------------

async def test_reply_that_pings_the_bot_is_a_remix_posted_as_a_reply(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        parent = await make_video(fake, "alice", "a paper boat on a river")
        parent_id = job_id_of(parent.content)
        request = await fake.say("alice", "general", "make it night", reply_to=parent, mention_bot=True)
        assert request.content == "make it night"
        post = await fake.wait_for_message(
            lambda m: is_result(m) and m.reference_id == parent.id, channel="general", timeout=RESULT_TIMEOUT)
        remix_id = job_id_of(post.content)
        assert remix_id != parent_id
        assert_remix_post(fake, post, by="alice", parent_id=parent_id, change="make it night")
        job = await product.bot.repo.get_job(remix_id)
        assert job.kind == "remix" and job.parent_job_id == parent_id
        assert "🎬" in fake.message(request.id).reactions  # the request was acknowledged in place


async def test_reply_without_readable_text_points_to_the_button_and_menu(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        parent = await make_video(fake, "alice", "a lighthouse in fog")
        quiet = await fake.say("alice", "general", "make it sunny", reply_to=parent)  # no ping, no intent
        hint = await fake.wait_for_message(lambda m: m.reference_id == quiet.id, channel="general")
        assert hint.author_id == fake.bot.id and hint.mentions == []
        assert "Remix" in hint.content and "Remix with Sora" in hint.content
        assert len(await product.bot.repo.recent_jobs(fake.user("alice").id, fake.world.guild_id)) == 1


async def test_remixing_another_members_video_is_charged_to_the_remixer(fake, tmp_path):
    settings = product_settings(tmp_path, fake, QUOTA_USER_VIDEOS_PER_DAY=3)
    async with running_product(fake, settings) as product:
        parent = await make_video(fake, "alice", "a fox in the snow")
        parent_id = job_id_of(parent.content)
        await fake.say("bob", "general", "the fox wears a scarf", reply_to=parent, mention_bot=True)
        post = await fake.wait_for_message(lambda m: is_result(m) and m.reference_id == parent.id,
                                           channel="general", timeout=RESULT_TIMEOUT)
        assert_remix_post(fake, post, by="bob", parent_id=parent_id, change="the fox wears a scarf")
        remix_id = job_id_of(post.content)
        bob, alice = fake.user("bob").id, fake.user("alice").id
        assert (await product.bot.repo.ledger_entry(remix_id))["user_id"] == bob
        bob_quota = await (await fake.slash("bob", "general", "sora-quota")).followup()
        alice_quota = await (await fake.slash("alice", "general", "sora-quota")).followup()
        assert bob_quota.ephemeral and "1 of 3" in bob_quota.content
        assert "1 of 3" in alice_quota.content  # her own video only; bob's remix isn't hers
        assert alice not in post.mentions


# --- 2. the context menu ---------------------------------------------------------------------------

async def test_context_menu_opens_the_modal_and_the_remix_follows(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)):
        parent = await make_video(fake, "alice", "a city at dusk")
        parent_id = job_id_of(parent.content)
        opener = await fake.context_menu("bob", "general", "Remix with Sora", parent)
        assert await opener.response_type() == 9  # a modal, as the first answer
        answer = await fill_in(fake, "bob", "general", opener, "add rain")
        assert "accepted" in answer.content and f"remix of `{parent_id}`" in answer.content
        post = await remix_result_of(fake, parent, job_id_of(answer.content))
        assert_remix_post(fake, post, by="bob", parent_id=parent_id, change="add rain")


async def test_context_menu_on_an_ordinary_message_says_there_is_nothing_to_remix(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        chat = await fake.say("bob", "general", "look at my cat")
        handle = await fake.context_menu("alice", "general", "Remix with Sora", chat)
        answer = await handle.original()
        assert answer.ephemeral and "isn't a finished Sora video" in answer.content
        assert await product.resources.provider.list() == []


# --- 3. the Remix button ---------------------------------------------------------------------------

async def test_remix_button_opens_the_modal_and_the_remix_follows(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)):
        parent = await make_video(fake, "alice", "a hot air balloon")
        parent_id = job_id_of(parent.content)
        click = await fake.click("alice", parent, f"sora:remix:{parent_id}")
        assert await click.response_type() == 9
        answer = await fill_in(fake, "alice", "general", click, "at sunrise")
        post = await remix_result_of(fake, parent, job_id_of(answer.content))
        assert_remix_post(fake, post, by="alice", parent_id=parent_id, change="at sunrise")
        assert f"sora:remix:{job_id_of(post.content)}" in post.custom_ids  # remixes are remixable too


async def test_two_members_remix_the_same_video_at_once(fake, tmp_path):
    """Each opening of the modal is its own: bob's submit isn't lost because alice submitted first."""
    async with running_product(fake, product_settings(tmp_path, fake)):
        parent = await make_video(fake, "alice", "a lighthouse")
        parent_id = job_id_of(parent.content)
        alice_opens = await fake.click("alice", parent, f"sora:remix:{parent_id}")
        bob_opens = await fake.click("bob", parent, f"sora:remix:{parent_id}")
        assert (await alice_opens.modal())["custom_id"] != (await bob_opens.modal())["custom_id"]
        alice_answer = await fill_in(fake, "alice", "general", alice_opens, "in fog")
        bob_answer = await fill_in(fake, "bob", "general", bob_opens, "in snow")
        assert "accepted" in alice_answer.content and "accepted" in bob_answer.content
        for answer in (alice_answer, bob_answer):
            await remix_result_of(fake, parent, job_id_of(answer.content))


async def test_remix_button_keeps_working_after_a_restart(fake, tmp_path):
    settings = product_settings(tmp_path, fake)
    async with running_product(fake, settings):
        parent = await make_video(fake, "alice", "a windmill")
        parent_id = job_id_of(parent.content)
    async with running_product(fake, settings):  # a new process's bot: same database, nothing in memory
        click = await fake.click("bob", parent, f"sora:remix:{parent_id}")
        answer = await fill_in(fake, "bob", "general", click, "in a storm")
        post = await remix_result_of(fake, parent, job_id_of(answer.content))
        assert_remix_post(fake, post, by="bob", parent_id=parent_id, change="in a storm")
    assert len([i for i in fake.gateway.identifies if i.accepted]) == 2


# --- 4. /sora-remix with autocomplete --------------------------------------------------------------

async def test_sora_remix_autocompletes_the_callers_own_videos(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)):
        boat = await make_video(fake, "alice", "a paper boat")
        train = await make_video(fake, "alice", "a toy train")
        boat_id, train_id = job_id_of(boat.content), job_id_of(train.content)
        choices = await fake.autocomplete("alice", "general", "sora-remix", {"video": ""}, focused="video")
        assert [c["value"] for c in choices] == [str(train_id), str(boat_id)]  # newest first
        assert [c["name"] for c in choices] == [f"{train_id} · a toy train", f"{boat_id} · a paper boat"]
        typed = await fake.autocomplete("alice", "general", "sora-remix", {"video": "boat"}, focused="video")
        assert [c["value"] for c in typed] == [str(boat_id)]
        assert await fake.autocomplete("bob", "general", "sora-remix", {"video": ""}, focused="video") == []

        handle = await fake.slash("alice", "general", "sora-remix", {"video": str(boat_id), "prompt": "sails up"})
        answer = await handle.followup()
        assert answer.ephemeral and f"remix of `{boat_id}`" in answer.content
        post = await remix_result_of(fake, boat, job_id_of(answer.content))
        assert_remix_post(fake, post, by="alice", parent_id=boat_id, change="sails up")


async def test_sora_remix_of_an_unknown_video_is_refused_privately(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        handle = await fake.slash("alice", "general", "sora-remix", {"video": "999", "prompt": "x"})
        answer = await handle.followup()
        assert answer.ephemeral and "`999`" in answer.content
        assert await product.resources.provider.list() == []
