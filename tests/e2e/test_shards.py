"""Discord shards through the fake Discord: DISCORD_SHARD_COUNT/DISCORD_SHARD_IDS make the bot an
AutoShardedBot that IDENTIFYs with `shard: [id, count]`; the fake hands each guild (and its events)
to the shard `(guild_id >> 22) % count` only; commands are synced by the process holding shard 0
alone; settings refuse a malformed shard spec."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.app import ShardedSoraBot
from bot.sandbox.fake_discord import FakeDiscord
from bot.sandbox.fake_discord.gateway import shard_for
from bot.sandbox.product import running_product
from bot.settings import parse_shard_ids
from tests.e2e.product import product_settings


def test_shard_id_specs():
    assert parse_shard_ids("0-3", 4) == [0, 1, 2, 3]
    assert parse_shard_ids("0,2", 4) == [0, 2]
    assert parse_shard_ids("0-1, 4", 8) == [0, 1, 4]
    assert parse_shard_ids(None, 4) is None
    for bad, count in (("3-1", 4), ("0,x", 4), ("4", 4), ("", 4), ("0", None)):
        with pytest.raises(ValueError, match="DISCORD_SHARD"):
            parse_shard_ids(bad, count)


def test_a_malformed_shard_spec_is_a_settings_error(tmp_path):
    with pytest.raises(ValidationError, match="DISCORD_SHARD_IDS"):
        product_settings(tmp_path, DISCORD_SHARD_COUNT=2, DISCORD_SHARD_IDS="0-5")


async def test_each_shard_gets_only_its_guilds_and_only_shard_0_syncs(tmp_path):
    async with FakeDiscord() as fake:
        gid = fake.world.guild_id
        owner = shard_for(gid, 2)
        other = 1 - owner
        settings = {i: product_settings(tmp_path / f"p{i}", fake, DISCORD_SHARD_COUNT=2, DISCORD_SHARD_IDS=str(i))
                    for i in (0, 1)}
        async with running_product(fake, settings[1]) as one:
            assert isinstance(one.bot, ShardedSoraBot) and one.bot.shard_ids == [1]
            assert fake.command("sora") is None  # shard 1's process leaves the sync to shard 0's
            async with running_product(fake, settings[0]) as zero:
                assert fake.command("sora") is not None
                bots = {0: zero.bot, 1: one.bot}
                assert sorted(i.shard for i in fake.gateway.identifies if i.accepted) == [(0, 2), (1, 2)]
                assert bots[owner].get_guild(gid) is not None
                assert bots[other].get_guild(gid) is None and list(bots[other].guilds) == []
                # a member's command reaches the guild's shard, which answers it
                handle = await fake.slash("alice", "general", "sora-quota", {})
                assert handle.record.delivered == 1  # one live session: the guild's shard
                answer = await handle.original()
                assert answer.ephemeral and answer.content


def test_rest_calls_can_go_through_a_shared_rate_limit_proxy():
    from discord.http import Route

    from bot.app import point_rest_at

    old = Route.BASE
    try:
        assert point_rest_at("http://nirn-proxy:8080/") == "http://nirn-proxy:8080/api/v10"
        assert Route("GET", "/channels/{channel_id}", channel_id=1).url == "http://nirn-proxy:8080/api/v10/channels/1"
    finally:
        Route.BASE = old
