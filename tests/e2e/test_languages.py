"""Languages through the fake Discord: a member's client language for private answers, the server's
(Discord's preferred locale, or `/sora-admin language`) for what the bot posts in the channel, and
commands synced with their Chinese names and descriptions."""

from __future__ import annotations

from bot.sandbox.fake_discord import FakeDiscord
from bot.sandbox.fake_discord.rules import localized_name_ok
from bot.sandbox.product import running_product
from tests.e2e.product import is_result, job_id_of, product_settings


async def ask(fake: FakeDiscord, user: str, command: str, options: dict | None = None) -> str:
    handle = await fake.slash(user, "general", command, options)
    ack = await handle.ack()
    answer = await (handle.original() if ack.type == 4 else handle.followup())
    assert answer.ephemeral, answer.content
    return answer.content


async def final_status(fake: FakeDiscord, job_id: int, done: str):
    def found():
        return [m for m in fake.messages("general") if m.author_id == fake.bot.id and not m.attachments
                and f"`{job_id}`" in m.content and done in m.content]
    [status] = await fake.wait_until(found, timeout=30)
    return status


async def test_a_chinese_member_gets_chinese_private_answers_in_an_english_server(fake, tmp_path):
    fake.user("alice").locale = "zh-CN"
    async with running_product(fake, product_settings(tmp_path, fake)):
        accepted = await ask(fake, "alice", "sora", {"prompt": "a paper boat on a river"})
        assert "已受理" in accepted and "预计" in accepted and "accepted" not in accepted
        job_id = job_id_of(accepted)
        assert (await ask(fake, "alice", "sora-jobs")).startswith("**你最近的视频**")
        assert (await ask(fake, "alice", "sora-quota")).startswith("**你的 Sora 额度**")
        assert (await ask(fake, "bob", "sora-quota")).startswith("**Your Sora quota**")  # bob's client is English
        result = await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=30)
        assert "your video is ready!" in result.content  # public: the server's language (English)
        await final_status(fake, job_id, "Done")


async def test_admin_language_makes_the_public_messages_chinese(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)):
        said = await ask(fake, "mod", "sora-admin language", {"language": "zh_CN"})
        assert said == "✅ Public messages in this server are now in 简体中文."  # mod's own client: English
        assert "**Language of public messages:** 简体中文" in await ask(fake, "mod", "sora-admin show")
        accepted = await ask(fake, "bob", "sora", {"prompt": "a lighthouse in a storm"})
        assert "accepted" in accepted  # private: bob's client language
        job_id = job_id_of(accepted)
        result = await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=30)
        assert f"<@{fake.user('bob').id}> 你的视频好了！" in result.content and "横屏 1280×720" in result.content
        assert "回复这条消息" in result.content and result.mentions == [fake.user("bob").id]
        labels = {c["custom_id"].split(":")[1]: c["label"] for row in result.components for c in row["components"]}
        assert labels["remix"] == "改编" and labels["again"] == "再来一次"
        status = await final_status(fake, job_id, "完成")
        assert "的视频" in status.content and status.mentions == []

        # back to the server's own Discord language (English here)
        assert "(the server's Discord language)" in await ask(fake, "mod", "sora-admin language",
                                                              {"language": "default"})
        again = job_id_of(await ask(fake, "bob", "sora", {"prompt": "a quiet harbour"}))
        second = await fake.wait_for_message(lambda m: is_result(m, again), channel="general", timeout=30)
        assert "your video is ready!" in second.content


async def test_the_server_s_discord_language_is_used_without_an_override(fake, tmp_path):
    await fake.set_preferred_locale("zh-CN")
    async with running_product(fake, product_settings(tmp_path, fake)):
        job_id = job_id_of(await ask(fake, "alice", "sora", {"prompt": "snow on a red roof"}))
        result = await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=30)
        assert "你的视频好了" in result.content
        assert "**Language of public messages:** 简体中文 (the server's Discord language)" in await ask(
            fake, "mod", "sora-admin show")


async def test_commands_sync_with_chinese_names_and_descriptions(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)):
        sora = fake.command("sora")
        assert sora["name_localizations"]["zh-CN"] == "生成视频"
        assert sora["description_localizations"]["zh-CN"] == "生成一段短视频"
        options = {o["name"]: o for o in sora["options"]}
        assert options["prompt"]["name_localizations"]["zh-CN"] == "提示词"
        assert set(sora["name_localizations"]) == {"zh-CN"}  # nothing invented for other languages
        admin = fake.command("sora-admin")
        subs = {o["name"]: o for o in admin["options"]}
        assert subs["language"]["name_localizations"]["zh-CN"] == "语言"
        limit_choices = {o["name"]: o for o in subs["limit"]["options"]}["limit"]["choices"]
        assert {c["name_localizations"]["zh-CN"] for c in limit_choices} >= {"每位成员每 24 小时视频数"}
        assert fake.command("Remix with Sora", 3)["name_localizations"]["zh-CN"] == "用 Sora 改编"

        # every chat command, group and option has a Chinese name that follows Discord's rule, and a
        # Chinese description wherever it has an English one
        def walk(items, path):
            for item in items:
                if int(item.get("type") or 1) > 2 and path:  # an option's value, not a command
                    yield item, path
                    continue
                yield item, path
                yield from walk(item.get("options") or [], [*path, item["name"]])

        chat = [c for c in fake.synced_commands[fake.world.guild_id] if c["type"] == 1]
        checked = list(walk(chat, []))
        assert len(checked) > 40
        for item, path in checked:
            where = "/".join([*path, item["name"]])
            name = (item.get("name_localizations") or {}).get("zh-CN")
            assert name and localized_name_ok(name), where
            if item.get("description") not in (None, "", "…"):
                assert (item.get("description_localizations") or {}).get("zh-CN"), where
