"""Discord's rules and the failures a member can meet, through the fake Discord: a job that outlives its
interaction token, a provider's content-policy refusal, a channel where the bot can't attach files,
Discord failing the result post, and a bug answered privately with an error id."""

from __future__ import annotations

import pytest

from bot.sandbox.fake_discord import FakeDiscord, Perm
from bot.sandbox.product import running_product
from tests.e2e.product import is_result, job_id_of, product_settings

MESSAGES = r"^/channels/\d+/messages$"


async def accepted_job(fake: FakeDiscord, user: str, prompt: str, channel: str = "general") -> int:
    handle = await fake.slash(user, channel, "sora", {"prompt": prompt})
    answer = await handle.followup()
    assert answer.ephemeral and "accepted" in answer.content, answer.content
    return job_id_of(answer.content)


def results_of(fake: FakeDiscord, job_id: int, channel: str = "general") -> list:
    return [m for m in fake.messages(channel) if is_result(m, job_id)]


async def test_a_job_that_outlives_the_interaction_token_is_still_delivered(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)):
        job_id = await accepted_job(fake, "alice", "a very slow sunset")
        webhook_calls = len(fake.calls_to(route=r"/webhooks/"))
        fake.advance(fake.token_lifetime + 60)  # every interaction token from now on is dead
        result = await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=30)
        assert result.mentions == [fake.user("alice").id] and "a very slow sunset" in result.content
        assert fake.calls_to(route=r"/webhooks/", status=401) == []
        assert len(fake.calls_to(route=r"/webhooks/")) == webhook_calls  # nothing more went through the token
        status = await fake.wait_until(lambda: [m for m in fake.messages("general")
                                                if f"`{job_id}`" in m.content and "Done" in m.content])
        assert status[0].edits >= 1  # progress was edited with the bot token after the token died


async def test_content_policy_refusal_is_explained_and_not_charged(fake, tmp_path):
    settings = product_settings(tmp_path, fake, QUOTA_USER_VIDEOS_PER_DAY=3)
    async with running_product(fake, settings) as product:
        job_id = await accepted_job(fake, "alice", "something forbidden")
        alice = fake.user("alice").id
        def told() -> list:
            return [m for m in fake.messages("general") if f"`{job_id}` could not be made" in m.content]

        [failure] = await fake.wait_until(told, timeout=30)
        status = fake.message((await product.bot.repo.get_job(job_id)).status_message_id)
        # the status message says so too, quietly, and points to the message that explains it once
        assert "could not be made. See the message below." in status.content and status.mentions == []
        assert failure.mentions == [alice] and failure.content.startswith(f"<@{alice}>")
        assert "content policy" in failure.content and "does not count against your quota" in failure.content
        assert not failure.attachments and results_of(fake, job_id) == []
        assert (await product.bot.repo.ledger_entry(job_id))["status"] == "refunded"
        quota = await (await fake.slash("alice", "general", "sora-quota")).followup()
        assert "**Your videos today:** 0 of 3 used" in quota.content


async def test_channel_without_attach_files_is_refused_before_anything_is_sent(fake, tmp_path):
    await fake.deny_bot("videos", Perm.ATTACH_FILES)
    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        handle = await fake.slash("alice", "videos", "sora", {"prompt": "a paper boat"})
        answer = await handle.followup()
        assert answer.ephemeral and "missing the **Attach Files** permission" in answer.content
        assert await product.resources.provider.list() == []
        assert await product.bot.repo.recent_jobs(fake.user("alice").id, fake.world.guild_id) == []
        assert fake.messages("videos") == []


async def test_reply_remix_where_the_bot_cant_attach_files_is_refused_before_it_is_paid(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        job_id = await accepted_job(fake, "alice", "a kite", channel="videos")
        parent = await fake.wait_for_message(lambda m: is_result(m, job_id), channel="videos", timeout=30)
        await fake.deny_bot("videos", Perm.ATTACH_FILES)  # an admin changes the channel afterwards
        request = await fake.say("alice", "videos", "two kites", reply_to=parent, mention_bot=True)
        answer = await fake.wait_for_message(lambda m: m.reference_id == request.id, channel="videos")
        assert "missing the **Attach Files** permission" in answer.content and answer.mentions == []
        assert len(await product.bot.repo.recent_jobs(fake.user("alice").id, fake.world.guild_id)) == 1


@pytest.mark.parametrize("status", [500, 503], ids=["500-retried-by-discord.py", "503-retried-by-the-engine"])
async def test_discord_5xx_on_the_result_post_still_delivers_exactly_once(fake, tmp_path, status):
    async with running_product(fake, product_settings(tmp_path, fake)):
        job_id = await accepted_job(fake, "alice", "a lantern festival")
        posts_before = len(fake.calls_to("POST", MESSAGES))
        fault = fake.inject_fault("POST", MESSAGES, status=status)
        result = await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=30)
        assert fault.hits == 1
        assert [c.status for c in fake.calls_to("POST", MESSAGES)[posts_before:]] == [status, 200]
        await fake.wait_until(lambda: [m for m in fake.messages("general") if "Done" in m.content])
        assert results_of(fake, job_id) == [result]
        assert result.mentions == [fake.user("alice").id]


async def test_first_delivery_does_not_search_the_channel_history(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)):
        job_id = await accepted_job(fake, "alice", "a quiet pond")
        await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=30)
        assert fake.calls_to("GET", MESSAGES) == []  # the history is read only when a post may already exist


async def test_an_unexpected_error_is_answered_privately_with_an_error_id(fake, tmp_path, monkeypatch, caplog):
    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        async def broken(who):
            raise RuntimeError("database on fire")

        monkeypatch.setattr(product.bot.jobs, "quota_lines", broken)
        answer = await (await fake.slash("alice", "general", "sora-quota")).followup()
        assert answer.ephemeral and "error id `" in answer.content and "fire" not in answer.content
        error_id = answer.content.split("error id `", 1)[1].split("`", 1)[0]
        assert any(error_id in r.getMessage() for r in caplog.records)  # an admin finds it in the logs
