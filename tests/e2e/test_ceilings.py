"""The operator's hard ceilings through the fake Discord (issue 12, item 5): DISCORD_ALLOWED_GUILD_IDS
makes the bot leave any other server, saying why, and refuse whatever reaches it from there."""

from __future__ import annotations

import asyncio

from bot.sandbox.fake_discord import FakeDiscord
from bot.sandbox.product import running_product
from bot.texts import GUILD_NOT_ALLOWED
from tests.e2e.product import product_settings

ELSEWHERE = "123456789012345678"  # a server id that is not the fake's


async def ask(fake: FakeDiscord, user: str, command: str, options: dict | None = None) -> str:
    handle = await fake.slash(user, "general", command, options)
    ack = await handle.ack()
    answer = await (handle.original() if ack.type == 4 else handle.followup())
    assert answer.ephemeral, answer.content
    return answer.content


async def test_a_server_not_allowed_is_told_why_and_left(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake, DISCORD_ALLOWED_GUILD_IDS=ELSEWHERE)):
        goodbye = await fake.wait_for_message(lambda m: "I'm leaving now" in m.content, timeout=15)
        assert "private" in goodbye.content and "nothing was charged" in goodbye.content
        for _ in range(100):
            if fake.left_guilds:
                break
            await asyncio.sleep(0.05)
        assert fake.left_guilds == [fake.world.guild_id]


async def test_a_server_not_allowed_gets_no_service_even_if_leaving_failed(fake, tmp_path):
    fake.inject_fault("DELETE", r"/users/@me/guilds/", status=403, times=5)
    settings = product_settings(tmp_path, fake, DISCORD_ALLOWED_GUILD_IDS=ELSEWHERE)
    async with running_product(fake, settings) as product:
        await fake.wait_for_message(lambda m: "I'm leaving now" in m.content, timeout=15)
        assert fake.left_guilds == []
        assert await ask(fake, "alice", "sora", {"prompt": "a lighthouse"}) == GUILD_NOT_ALLOWED
        assert await ask(fake, "mod", "sora-quota") == GUILD_NOT_ALLOWED
        assert await product.resources.provider.list() == [], "nothing was sent upstream"


async def test_an_allowed_server_is_served(fake, tmp_path):
    settings = product_settings(tmp_path, fake, DISCORD_ALLOWED_GUILD_IDS=f"{ELSEWHERE},{fake.world.guild_id}")
    async with running_product(fake, settings):
        answer = await ask(fake, "alice", "sora", {"prompt": "a lighthouse"})
        assert "accepted" in answer
        assert fake.left_guilds == []


async def test_the_bot_leaves_a_server_it_is_added_to_later(fake, tmp_path):
    settings = product_settings(tmp_path, fake, DISCORD_ALLOWED_GUILD_IDS=str(fake.world.guild_id))
    async with running_product(fake, settings):
        stranger = await fake.add_bot_to_guild("Stranger Things Fan Club")
        for _ in range(100):
            if fake.left_guilds:
                break
            await asyncio.sleep(0.05)
        assert fake.left_guilds == [stranger], "left the new server, kept the allowed one"
        assert "accepted" in await ask(fake, "alice", "sora", {"prompt": "still served here"})
