"""Start-up: the command surface is synced with the contract's names, and channels where the bot
can't deliver are reported in the log, not a crash."""

from __future__ import annotations

import logging

from bot.sandbox.fake_discord import FakeDiscord, Perm
from bot.sandbox.product import running_product
from tests.e2e.product import product_settings


async def test_commands_are_synced_with_the_contract_names(tmp_path):
    async with FakeDiscord() as fake, running_product(fake, product_settings(tmp_path, fake)):
        for name in ("sora", "sora-remix", "sora-jobs", "sora-quota", "sora-admin"):
            assert fake.command(name) is not None, name
        assert fake.command("Remix with Sora", kind=3) is not None
        options = {o["name"] for o in fake.command("sora")["options"]}
        assert options == {"prompt", "model", "size", "seconds", "image"}
        labels = {c["name"] for o in fake.command("sora")["options"] if o["name"] == "size" for c in o["choices"]}
        assert "landscape 1280×720" in labels and "portrait 720×1280" in labels


async def test_channels_the_bot_cannot_deliver_to_are_reported(tmp_path, caplog):
    async with FakeDiscord() as fake:
        await fake.deny_bot("videos", Perm.ATTACH_FILES)
        with caplog.at_level(logging.WARNING, logger="bot.app"):
            async with running_product(fake, product_settings(tmp_path, fake)) as product:
                guild = product.bot.get_guild(fake.world.guild_id)
                assert product.bot.report_missing_permissions(guild) == ["#videos: missing attach_files"]
        assert any("can't deliver videos in #videos" in r.getMessage() for r in caplog.records)


async def test_shutting_down_answers_new_commands_instead_of_starting_them(tmp_path):
    async with FakeDiscord() as fake, running_product(fake, product_settings(tmp_path, fake)) as product:
        product.bot.closing = True  # what close() sets first, before in-flight work is given its grace
        handle = await fake.slash("alice", "general", "sora", {"prompt": "too late"})
        answer = await handle.original()
        assert answer.ephemeral and "restarting" in answer.content
        assert await product.resources.provider.list() == []
