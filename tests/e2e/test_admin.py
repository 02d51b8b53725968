"""`/sora-admin …` through the fake Discord: only managers see it, and each change shows in what
members are allowed to do, in the usage report and in the change log (with who made it)."""

from __future__ import annotations

import pytest

from bot.sandbox.fake_discord import ClientRefused, FakeDiscord, Perm
from bot.sandbox.product import running_product
from tests.e2e.product import is_result, job_id_of, product_settings


async def ask(fake: FakeDiscord, user: str, command: str, options: dict | None = None, *,
              channel: str = "general") -> str:
    """Run a command and return its private answer (the first accepted answer or the first followup)."""
    handle = await fake.slash(user, channel, command, options)
    ack = await handle.ack()
    answer = await (handle.original() if ack.type == 4 else handle.followup())
    assert answer.ephemeral, answer.content
    return answer.content


async def assert_report_chart(fake: FakeDiscord) -> None:
    """The report's answer carries a real PNG chart of a sensible size."""
    import io

    from PIL import Image

    handle = await fake.slash("mod", "general", "sora-admin report")
    answer = await handle.followup()
    [chart] = answer.attachments
    assert chart.filename.endswith(".png") and chart.data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(chart.data)) as image:
        image.verify()
    with Image.open(io.BytesIO(chart.data)) as image:
        assert image.format == "PNG" and 600 <= image.width <= 2000 and 300 <= image.height <= 1200
        assert len(image.convert("RGB").getcolors(1 << 20) or []) > 10  # drawn, not a blank canvas


async def wait_delivered(fake: FakeDiscord, accepted: str) -> None:
    job_id = job_id_of(accepted)
    await fake.wait_for_message(lambda m: is_result(m, job_id), timeout=30)


async def test_admin_group_is_for_managers_only(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)):
        synced = fake.command("sora-admin")
        assert int(synced["default_member_permissions"]) == Perm.MANAGE_GUILD
        assert synced["dm_permission"] is False or synced.get("contexts") == [0]
        subcommands = {o["name"] for o in synced["options"]}
        assert {"limit", "allow", "tier", "channels", "block", "unblock", "report", "log"} <= subcommands
        with pytest.raises(ClientRefused):  # the member's client doesn't even offer it
            await fake.slash("alice", "general", "sora-admin show")
        shown = await ask(fake, "mod", "sora-admin show")
        assert shown.startswith("**Sora settings for this server**")
        assert "videos per member per 24 h: **3**" in shown and "**Channels:** all channels" in shown


async def test_limit_and_allowed_models_change_what_members_may_do(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)):
        refused = await ask(fake, "alice", "sora", {"prompt": "a glass city", "model": "sora-2-pro"})
        assert "isn't enabled" in refused and "job" not in refused.lower()
        said = await ask(fake, "mod", "sora-admin allow", {"what": "allowed_models", "values": "sora-2,sora-2-pro"})
        assert "sora-2-pro" in said and said.startswith("✅")
        accepted = await ask(fake, "alice", "sora", {"prompt": "a glass city", "model": "sora-2-pro"})
        assert "accepted" in accepted and "sora-2-pro" in accepted

        said = await ask(fake, "mod", "sora-admin limit", {"limit": "user_videos_per_day", "value": "1"})
        assert said == "✅ videos per member per 24 h: **1**."
        second = await ask(fake, "alice", "sora", {"prompt": "another one"})
        assert "1 of 1 video for today" in second and "<t:" in second
        assert "accepted" in await ask(fake, "bob", "sora", {"prompt": "bob's first"})  # per member

        bad = await ask(fake, "mod", "sora-admin limit", {"limit": "user_videos_per_day", "value": "lots"})
        assert "isn't a number" in bad
        await wait_delivered(fake, accepted)


async def test_role_tier_lifts_a_limit_for_holders_of_the_role(fake, tmp_path):
    supporter = await fake.add_role("Supporter", 0)
    fake.user("bob").roles.append(supporter.id)
    async with running_product(fake, product_settings(tmp_path, fake)):
        said = await ask(fake, "mod", "sora-admin tier",
                         {"role": supporter, "setting": "allowed_models", "value": "sora-2,sora-2-pro"})
        assert said == f"✅ Tier for <@&{supporter.id}>: models: sora-2, sora-2-pro."
        accepted = await ask(fake, "bob", "sora", {"prompt": "a supporter's film", "model": "sora-2-pro"})
        assert "accepted" in accepted and "sora-2-pro" in accepted
        refused = await ask(fake, "alice", "sora", {"prompt": "me too", "model": "sora-2-pro"})
        assert "isn't enabled" in refused
        shown = await ask(fake, "mod", "sora-admin show")
        assert f"<@&{supporter.id}>: models: sora-2, sora-2-pro" in shown
        await wait_delivered(fake, accepted)


async def test_channels_add_restricts_sora_to_the_listed_channels(fake, tmp_path):
    videos = fake.channel("videos")
    async with running_product(fake, product_settings(tmp_path, fake)):
        said = await ask(fake, "mod", "sora-admin channels", {"action": "add", "channel": videos})
        assert said == f"✅ Sora answers in <#{videos.id}>."
        refused = await ask(fake, "alice", "sora", {"prompt": "in the wrong place"})
        assert refused == f"Videos can't be made in this channel. Try <#{videos.id}>."
        accepted = await ask(fake, "alice", "sora", {"prompt": "in the right place"}, channel="videos")
        assert "accepted" in accepted
        await wait_delivered(fake, accepted)
        said = await ask(fake, "mod", "sora-admin channels", {"action": "everywhere"})
        assert said == "✅ Sora answers in every channel."


async def test_block_and_unblock_a_member(fake, tmp_path):
    alice = fake.user("alice")
    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        said = await ask(fake, "mod", "sora-admin block", {"member": alice, "reason": "spam"})
        assert said == f"✅ <@{alice.id}> can no longer make videos here."
        refused = await ask(fake, "alice", "sora", {"prompt": "let me in"})
        assert "can't make videos in this server" in refused
        assert await product.resources.provider.list() == []
        said = await ask(fake, "mod", "sora-admin unblock", {"member": alice})
        assert said == f"✅ <@{alice.id}> can make videos again."
        accepted = await ask(fake, "alice", "sora", {"prompt": "let me in"})
        assert "accepted" in accepted
        await wait_delivered(fake, accepted)


async def test_report_and_log_show_usage_and_who_changed_what(fake, tmp_path):
    alice, mod = fake.user("alice"), fake.user("mod")
    async with running_product(fake, product_settings(tmp_path, fake)):
        assert await ask(fake, "mod", "sora-admin log") == "No changes yet."
        await ask(fake, "mod", "sora-admin allow", {"what": "allowed_models", "values": "sora-2,sora-2-pro"})
        await ask(fake, "mod", "sora-admin limit", {"limit": "user_videos_per_day", "value": "5"})
        await ask(fake, "mod", "sora-admin block", {"member": fake.user("bob"), "reason": "testing"})
        accepted = await ask(fake, "alice", "sora", {"prompt": "a pro clip", "model": "sora-2-pro"})
        await wait_delivered(fake, accepted)

        report = await ask(fake, "mod", "sora-admin report")
        assert report.splitlines() == ["**Usage this month:** 1 video · 4 s · about $1.20",
                                       f"1. <@{alice.id}> — 1 video, 4 s, $1.20"]
        await assert_report_chart(fake)
        log = (await ask(fake, "mod", "sora-admin log")).splitlines()
        assert log[0] == "**Recent changes**"
        changes = [line.split("> ", 1)[1] for line in log[1:]]  # drop the <t:…:f> timestamp
        assert changes == [f"<@{mod.id}> block user={fake.user('bob').id} testing",
                           f"<@{mod.id}> limits.set user_videos_per_day=5",
                           f"<@{mod.id}> limits.set allowed_models=sora-2,sora-2-pro"]


async def test_price_budget_cooldown_and_seconds_limits_each_refuse_in_words(fake, tmp_path):
    settings = product_settings(tmp_path, fake, QUOTA_USER_VIDEOS_PER_DAY="none")
    async with running_product(fake, settings) as product:
        # a price change moves the budget: $20 a month at $3/s is 6 s, so a 4 s video fits once
        said = await ask(fake, "mod", "sora-admin price", {"key": "sora-2", "usd_per_second": "3"})
        assert said.startswith("✅") and "$3" in said
        first = await ask(fake, "alice", "sora", {"prompt": "pricey", "seconds": 4})
        assert "accepted" in first and "$12.00" in first
        over = await ask(fake, "bob", "sora", {"prompt": "too pricey", "seconds": 4})
        assert "budget" in over and "$12.00 of $20.00" in over and "<t:" in over  # used, and when it renews
        assert "accepted" not in over
        await ask(fake, "mod", "sora-admin price", {"key": "sora-2", "usd_per_second": "none"})

        await ask(fake, "mod", "sora-admin limit", {"limit": "user_cooldown_seconds", "value": "600"})
        cooled = await ask(fake, "alice", "sora", {"prompt": "right after"})
        assert "<t:" in cooled and "accepted" not in cooled
        await ask(fake, "mod", "sora-admin limit", {"limit": "user_cooldown_seconds", "value": "none"})

        await ask(fake, "mod", "sora-admin limit", {"limit": "user_seconds_per_day", "value": "6"})
        seconds = await ask(fake, "alice", "sora", {"prompt": "four more seconds", "seconds": 4})
        assert "accepted" not in seconds and "4 s" in seconds

        await ask(fake, "mod", "sora-admin limit", {"limit": "guild_seconds_per_month", "value": "5"})
        monthly = await ask(fake, "bob", "sora", {"prompt": "server is out", "seconds": 4})
        assert "accepted" not in monthly and "month" in monthly
        assert len(await product.resources.provider.list()) == 1  # only the one accepted video went upstream
        await wait_delivered(fake, first)


async def test_admin_group_is_checked_by_the_bot_when_a_server_overrides_the_default(fake, tmp_path, caplog):
    alice = fake.user("alice")
    fake.override_command_permissions("sora-admin")  # Integrations: "everyone may use /sora-admin"
    async with running_product(fake, product_settings(tmp_path, fake)):
        refused = await ask(fake, "alice", "sora-admin limit", {"limit": "user_videos_per_day", "value": "1000"})
        assert refused == "Only server managers (Manage Server or Administrator) can use `/sora-admin`."
        assert await ask(fake, "alice", "sora-admin block", {"member": fake.user("bob")}) == refused
        assert any("refused /sora-admin" in r.getMessage() and str(alice.id) in r.getMessage()
                   for r in caplog.records), "the refusal is logged"
        assert await ask(fake, "mod", "sora-admin log") == "No changes yet.", "nothing was changed"
        shown = await ask(fake, "mod", "sora-admin show")
        assert "videos per member per 24 h: **3**" in shown
