# Over 400 lines on purpose: every rule the fake Discord enforces, against the real discord.py.
"""The fake Discord against the real discord.py 2.7 client: happy paths end to end, and every rule
the fake enforces answered with Discord's status and code."""

from __future__ import annotations

import asyncio
import io
import time

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from bot.sandbox.fake_discord import ClientRefused, FakeDiscord, Intent, InteractionFailed, Perm

MIB = 1024 * 1024


class RemixModal(discord.ui.Modal, title="Remix"):
    def __init__(self, job: str, *, labelled: bool = False) -> None:
        super().__init__(custom_id=f"remix-modal:{job}")
        self.job = job
        self.change = discord.ui.TextInput(label="Change", custom_id="change", max_length=500)
        self.add_item(discord.ui.Label(text="What to change", component=self.change) if labelled else self.change)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"remix {self.job}: {self.change.value}", ephemeral=True)


class RemixButton(discord.ui.DynamicItem[discord.ui.Button], template=r"remix:(?P<job>[0-9a-z]+)"):
    def __init__(self, job: str) -> None:
        super().__init__(discord.ui.Button(label="Remix", custom_id=f"remix:{job}"))
        self.job = job

    @classmethod
    async def from_custom_id(cls, interaction, item, match):  # type: ignore[override]
        return cls(match["job"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(RemixModal(self.job))


class AckButton(discord.ui.DynamicItem[discord.ui.Button], template=r"ack:(?P<mode>edit|defer)"):
    def __init__(self, mode: str) -> None:
        super().__init__(discord.ui.Button(label=mode, custom_id=f"ack:{mode}"))
        self.mode = mode

    @classmethod
    async def from_custom_id(cls, interaction, item, match):  # type: ignore[override]
        return cls(match["mode"])

    async def callback(self, interaction: discord.Interaction) -> None:
        if self.mode == "edit":
            await interaction.response.edit_message(content="edited by button")  # type 7
        else:
            await interaction.response.defer()  # type 6 on a component
            await interaction.edit_original_response(content="edited after defer")


class ProbeBot(commands.Bot):
    """A tiny bot exercising every surface the product uses."""

    def __init__(self, fake: FakeDiscord, *, message_content: bool = False) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(command_prefix="!", intents=intents, guild_ready_timeout=0.1)
        self.fake_guild = discord.Object(fake.world.guild_id)
        self.errors: list[Exception] = []
        self.seen: list[discord.Message] = []
        self.app_perms: list[discord.Permissions] = []
        self.fetched: list[str] = []
        self.slow_delay = 0.0
        self.cc_user_id = fake.user("bob").id  # named in the result, never pinged
        self.release = asyncio.Event()

    async def setup_hook(self) -> None:  # noqa: C901 (one small nested handler per test command)
        guild, tree = self.fake_guild, self.tree

        @tree.command(name="make", description="Make a video", guild=guild)
        @app_commands.describe(prompt="What to make")
        async def make(inter: discord.Interaction, prompt: str, image: discord.Attachment | None = None) -> None:
            self.app_perms.append(inter.app_permissions)
            await inter.response.defer(thinking=True)
            size = len(await image.read()) if image else 0
            await inter.followup.send(f"queued {prompt} (image {size} bytes)")
            await inter.followup.send("only for you", ephemeral=True)
            await inter.channel.send(
                f"{inter.user.mention} done: {prompt} cc <@{self.cc_user_id}>",
                file=discord.File(io.BytesIO(b"\x00\x00\x00\x18ftypmp42video"), "job1.mp4"),
                allowed_mentions=discord.AllowedMentions(users=[inter.user]),
                view=discord.ui.View(timeout=None).add_item(RemixButton("job1")),
            )

        @tree.command(name="slow", description="Answers late", guild=guild)
        async def slow(inter: discord.Interaction) -> None:
            await asyncio.sleep(self.slow_delay)
            try:
                await inter.response.send_message("late")
            except discord.HTTPException as exc:
                self.errors.append(exc)

        @tree.command(name="later", description="Followup after a wait", guild=guild)
        async def later(inter: discord.Interaction) -> None:
            await inter.response.defer(ephemeral=True, thinking=True)
            await self.release.wait()
            try:
                await inter.followup.send("finally")
            except discord.HTTPException as exc:
                self.errors.append(exc)

        @tree.command(name="upload", description="Followup with a file", guild=guild)
        async def upload(inter: discord.Interaction, size: int) -> None:
            await inter.response.defer()
            try:
                await inter.followup.send(file=discord.File(io.BytesIO(b"x" * size), "blob.bin"))
            except discord.HTTPException as exc:
                self.errors.append(exc)

        @tree.command(name="panel", description="Buttons", guild=guild)
        async def panel(inter: discord.Interaction) -> None:
            view = discord.ui.View(timeout=None).add_item(AckButton("edit")).add_item(AckButton("defer"))
            await inter.response.send_message("panel", view=view)

        @tree.command(name="cleanup", description="Answer, read back, delete", guild=guild)
        async def cleanup(inter: discord.Interaction) -> None:
            await inter.response.send_message("temporary")
            self.fetched.append((await inter.original_response()).content)
            await inter.delete_original_response()

        @tree.command(name="pick", description="Pick a video", guild=guild)
        async def pick(inter: discord.Interaction, video: str) -> None:
            await inter.response.send_message(f"picked {video}", ephemeral=True)

        @pick.autocomplete("video")
        async def pick_video(inter: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            jobs = ["cat-1", "cat-2", "dog-1"]
            return [app_commands.Choice(name=j, value=j) for j in jobs if j.startswith(current)]

        @tree.command(name="admin-only", description="Managers only", guild=guild)
        @app_commands.default_permissions(manage_guild=True)
        async def admin_only(inter: discord.Interaction) -> None:
            await inter.response.send_message("ok", ephemeral=True)

        @tree.context_menu(name="Remix this", guild=guild)
        async def remix_this(inter: discord.Interaction, message: discord.Message) -> None:
            await inter.response.send_modal(RemixModal(str(message.id), labelled=True))

        self.add_dynamic_items(RemixButton, AckButton)
        await tree.sync(guild=guild)

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        self.seen.append(message)
        ref = message.reference
        if ref and isinstance(ref.resolved, discord.Message) and ref.resolved.author == self.user:
            await message.reply(f"got: {message.content!r}", mention_author=False)


def general(bot: ProbeBot, fake: FakeDiscord) -> discord.TextChannel:
    channel = bot.get_channel(fake.channel("general").id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_ready_fast_commands_synced_and_hidden_commands_refused(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = ProbeBot(fake)
    started = time.perf_counter()
    async with fake.run_bot(bot):
        assert time.perf_counter() - started < 1.0
        assert bot.user is not None and bot.user.id == fake.bot.id
        make = fake.command("make")
        assert make is not None and [(o["name"], o["type"], o.get("required", False)) for o in make["options"]] == [
            ("prompt", 3, True), ("image", 11, False)]
        menu = fake.command("Remix this", kind=3)
        assert menu is not None and menu["description"] == ""
        admin = fake.command("admin-only")
        assert admin is not None and int(admin["default_member_permissions"]) == Perm.MANAGE_GUILD
        with pytest.raises(ClientRefused):
            await fake.slash("alice", "general", "admin-only")
        with pytest.raises(ClientRefused):
            await fake.slash("alice", "general", "make", {})  # required option missing
        handle = await fake.slash("mod", "general", "admin-only")
        assert (await handle.original()).content == "ok"
        assert (await handle.original()).ephemeral
    assert fake.gateway.identifies[0].intents == discord.Intents.default().value
    assert not fake.calls_to(status=401)


async def test_wrong_token_is_refused_like_discord(fake_discord: FakeDiscord) -> None:
    bot = ProbeBot(fake_discord)
    with pytest.raises(discord.LoginFailure):
        await bot.login("not-the-token")
    await bot.close()
    assert [(c.route, c.status) for c in fake_discord.calls] == [("/users/@me", 401)]


async def test_slash_defer_followup_and_channel_file_with_only_the_requester_pinged(fake_discord: FakeDiscord):
    fake = fake_discord
    bot = ProbeBot(fake)
    async with fake.run_bot(bot):
        handle = await fake.slash("alice", "general", "make", {"prompt": "a cat"}, {"image": ("cat.png", b"P" * 300)})
        assert await handle.response_type() == 5
        original = await handle.original()
        assert original.content == "queued a cat (image 300 bytes)" and not original.ephemeral
        private = await handle.followup(1)
        assert private.content == "only for you" and private.ephemeral
        assert handle.record.followup_ids[0] == original.id  # the first followup replaced "thinking"
        result = await fake.wait_for_message(lambda m: m.attachments != [], channel="general")
        alice, bob = fake.user("alice"), fake.user("bob")
        assert result.content == f"<@{alice.id}> done: a cat cc <@{bob.id}>"
        assert result.mentions == [alice.id]  # bob is named but not pinged
        assert result.file("job1.mp4").startswith(b"\x00\x00\x00\x18ftyp")
        assert result.attachments[0].content_type == "video/mp4"
        assert result.custom_ids == ["remix:job1"]
        async with aiohttp.ClientSession() as http, http.get(result.attachments[0].url) as resp:
            assert await resp.read() == result.attachments[0].data
        assert len(fake.cdn_downloads) == 2  # the bot read the input image; the test read the video
        assert bot.app_perms[0].attach_files
        assert private not in fake.messages("general") and original in fake.messages("general")
    assert all(c.status < 400 for c in fake.calls), [str(c) for c in fake.calls]


async def test_first_answer_after_the_deadline_is_unknown_interaction(fake_discord_factory) -> None:
    fake = await fake_discord_factory(interaction_deadline=0.2)
    bot = ProbeBot(fake)
    bot.slow_delay = 0.35
    async with fake.run_bot(bot):
        handle = await fake.slash("alice", "general", "slow")
        first = await handle.response()
        assert (first.status, first.code) == (404, 10062)
        await fake.wait_until(lambda: bot.errors)
        assert isinstance(bot.errors[0], discord.NotFound) and bot.errors[0].code == 10062
        assert handle.failed
        with pytest.raises(InteractionFailed, match="404"):
            await handle.ack()


async def test_second_callback_is_already_acknowledged(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with fake.run_bot(ProbeBot(fake)):
        handle = await fake.slash("alice", "general", "pick", {"video": "cat-1"})
        await handle.ack()
        url = f"{fake.api_url}/interactions/{handle.id}/{handle.record.token}/callback"
        async with aiohttp.ClientSession() as http, http.post(url, json={"type": 4, "data": {"content": "x"}}) as r:
            assert r.status == 400 and (await r.json())["code"] == 40060
            assert r.headers["Content-Type"] == "application/json"


async def test_webhook_after_token_lifetime_is_invalid_token(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = ProbeBot(fake)
    async with fake.run_bot(bot):
        handle = await fake.slash("alice", "general", "later")
        assert (await handle.original(settled=False)).ephemeral
        fake.advance(15 * 60 + 1)
        bot.release.set()
        await fake.wait_until(lambda: bot.errors)
        assert isinstance(bot.errors[0], discord.HTTPException)
        assert (bot.errors[0].status, bot.errors[0].code) == (401, 50027)
        assert [c.status for c in fake.calls_to("POST", r"^/webhooks/")] == [401]


async def test_upload_limits_follow_boost_tier_and_interaction_limit(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = ProbeBot(fake)
    async with fake.run_bot(bot):
        channel = general(bot, fake)
        with pytest.raises(discord.HTTPException) as too_big:
            await channel.send(file=discord.File(io.BytesIO(b"v" * (10 * MIB + 1)), "big.mp4"))
        assert (too_big.value.status, too_big.value.code) == (413, 40005)
        await fake.set_premium_tier(2)
        await fake.wait_until(lambda: channel.guild.premium_tier == 2)  # GUILD_UPDATE reached discord.py
        assert channel.guild.filesize_limit == 50 * MIB
        sent = await channel.send(file=discord.File(io.BytesIO(b"v" * (10 * MIB + 1)), "big.mp4"))
        assert sent.attachments[0].size == 10 * MIB + 1
        handle = await fake.slash("alice", "general", "upload", {"size": 1001}, attachment_size_limit=1000)
        await fake.wait_until(lambda: bot.errors)
        assert (bot.errors[0].status, bot.errors[0].code) == (413, 40005)
        assert handle.record.followup_ids == []
        ok = await fake.slash("alice", "general", "upload", {"size": 1000}, attachment_size_limit=1000)
        assert (await ok.original()).attachments[0].size == 1000


async def test_content_and_embed_limits_are_invalid_form_body(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    bot = ProbeBot(fake)
    async with fake.run_bot(bot):
        channel = general(bot, fake)
        assert (await channel.send("x" * 2000)).content == "x" * 2000
        oversized = [
            {"content": "x" * 2001},
            {"embed": discord.Embed(title="t" * 257)},
            {"embed": discord.Embed(description="d" * 4097)},
            {"embeds": [discord.Embed(description="d" * 4000), discord.Embed(description="d" * 2001)]},
        ]
        for kwargs in oversized:
            with pytest.raises(discord.HTTPException) as bad:
                await channel.send(**kwargs)
            assert (bad.value.status, bad.value.code) == (400, 50035), kwargs.keys()
        assert [m.content for m in fake.messages("general")] == ["x" * 2000]


async def test_nonce_with_enforce_nonce_returns_the_original(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with fake.run_bot(bot := ProbeBot(fake)):
        channel = general(bot, fake)
        first = await channel.send("result", nonce=4242)
        again = await channel.send("result", nonce=4242)
        assert again.id == first.id and len(fake.messages("general")) == 1
        assert fake.calls_to("POST", "messages")[1].body["enforce_nonce"] is True
        fake.advance(fake.nonce_lifetime + 1)
        later = await channel.send("result", nonce=4242)
        assert later.id != first.id and len(fake.messages("general")) == 2


async def test_channel_overwrite_denies_the_bot(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    await fake.deny_bot("videos", Perm.ATTACH_FILES)
    bot = ProbeBot(fake)
    async with fake.run_bot(bot):
        videos = bot.get_channel(fake.channel("videos").id)
        assert isinstance(videos, discord.TextChannel)
        assert not videos.permissions_for(videos.guild.me).attach_files  # overwrites reach discord.py
        with pytest.raises(discord.Forbidden) as denied:
            await videos.send(file=discord.File(io.BytesIO(b"v"), "v.mp4"))
        assert denied.value.code == 50013
        assert (await videos.send("text only")).content == "text only"
        await fake.slash("alice", "videos", "make", {"prompt": "p"})
        await fake.wait_until(lambda: bot.app_perms)
        assert not bot.app_perms[0].attach_files and bot.app_perms[0].send_messages
        await fake.deny_bot("videos", Perm.SEND_MESSAGES)
        await fake.wait_until(lambda: not videos.permissions_for(videos.guild.me).send_messages)  # CHANNEL_UPDATE
        with pytest.raises(discord.Forbidden):
            await videos.send("nope")


async def test_faults_500_and_429_are_retried_and_hang_hangs(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with fake.run_bot(bot := ProbeBot(fake)):
        channel = general(bot, fake)
        fake.inject_fault("POST", r"^/channels/\d+/messages$", status=429, times=2, retry_after=0.05)
        assert (await channel.send("after 429s")).content == "after 429s"
        fake.inject_fault("POST", r"^/channels/\d+/messages$", status=500)
        assert (await channel.send("after a 500")).content == "after a 500"
        assert [c.status for c in fake.calls_to("POST", r"/messages$")] == [429, 429, 200, 500, 200]
        fault = fake.inject_fault("PATCH", r"/messages/", hang=True)
        message = fake.messages("general")[-1]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(channel.get_partial_message(message.id).edit(content="x"), 0.3)
        assert fault.hits == 1 and message.edits == 0


async def test_context_menu_opens_modal_and_submit_answers(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with fake.run_bot(ProbeBot(fake)):
        target = await fake.say("bob", "general", "look at this")
        handle = await fake.context_menu("alice", "general", "Remix this", target)
        modal = await handle.modal()
        assert modal["custom_id"] == f"remix-modal:{target.id}" and modal["components"][0]["type"] == 18
        submitted = await fake.submit_modal("alice", "general", None, {"change": "make it night"})
        answer = await submitted.original()
        assert answer.content == f"remix {target.id}: make it night" and answer.ephemeral
        assert answer not in fake.messages("general")
        with pytest.raises(ClientRefused):
            await fake.submit_modal("alice", "general", None, {"nope": "x"})


async def test_persistent_button_works_after_a_restart(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with fake.run_bot(ProbeBot(fake)):
        await fake.slash("alice", "general", "make", {"prompt": "a cat"})
        result = await fake.wait_for_message(lambda m: m.attachments != [])
    async with fake.run_bot(ProbeBot(fake)):
        click = await fake.click("alice", result, "remix:job1")
        await click.modal()
        submitted = await fake.submit_modal("alice", "general", "remix-modal:job1", {"change": "rain"},
                                            opened_by=click)
        assert (await submitted.original()).content == "remix job1: rain"
        assert submitted.record.payload["message"]["id"] == str(result.id)
    assert len([i for i in fake.gateway.identifies if i.accepted]) == 2


async def test_autocomplete_returns_the_bots_choices(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with fake.run_bot(ProbeBot(fake)):
        choices = await fake.autocomplete("alice", "general", "pick", {"video": "cat"}, focused="video")
        assert [c["value"] for c in choices] == ["cat-1", "cat-2"]
        handle = await fake.slash("alice", "general", "pick", {"video": "dog-1"})
        assert (await handle.original()).content == "picked dog-1"


async def test_message_content_is_blank_without_the_intent_unless_the_bot_is_pinged(fake_discord):
    fake = fake_discord
    async with fake.run_bot(bot := ProbeBot(fake)):
        bot_post = await general(bot, fake).send("a result")
        await fake.say("alice", "general", "just chatting")
        await fake.say("alice", "general", "hey bot", mention_bot=True)
        quiet = await fake.say("alice", "general", "make it blue", reply_to=fake.message(bot_post.id))
        loud = await fake.say("alice", "general", "make it red", reply_to=fake.message(bot_post.id),
                              mention_bot=True)
        await fake.wait_until(lambda: len(bot.seen) == 4)
        assert [m.content for m in bot.seen] == ["", f"<@{fake.bot.id}> hey bot", "", "make it red"]
        reply = await fake.wait_for_message(lambda m: m.reference_id == loud.id)
        assert reply.content == "got: 'make it red'" and reply.mentions == []
        assert quiet.mentions == [] and loud.mentions == [fake.bot.id]


async def test_privileged_intent_needs_enabling(fake_discord_factory) -> None:
    closed = await fake_discord_factory()
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with closed.run_bot(ProbeBot(closed, message_content=True)):
            pass
    assert closed.gateway.identifies[-1].close_code == 4014
    opened = await fake_discord_factory(privileged_intents=Intent.MESSAGE_CONTENT)
    async with opened.run_bot(bot := ProbeBot(opened, message_content=True)):
        await opened.say("alice", "general", "just chatting")
        await opened.wait_until(lambda: bot.seen)
        assert bot.seen[0].content == "just chatting"


async def test_history_edit_delete_and_gateway_resume(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with fake.run_bot(bot := ProbeBot(fake)):
        channel = general(bot, fake)
        sent = [await channel.send(f"m{i}") for i in range(5)]
        assert [m.content async for m in channel.history(limit=3)] == ["m4", "m3", "m2"]
        assert [m.content async for m in channel.history(after=sent[1], oldest_first=True)] == ["m2", "m3", "m4"]
        assert [m.content async for m in channel.history(before=sent[2])] == ["m1", "m0"]
        await sent[0].edit(content="edited")
        assert fake.message(sent[0].id).content == "edited" and fake.message(sent[0].id).edits == 1
        await sent[1].delete()
        with pytest.raises(discord.NotFound):
            await channel.fetch_message(sent[1].id)
        await fake.drop_gateway()
        await fake.wait_until(lambda: fake.gateway.resumes and fake.gateway.connected)
        await fake.say("alice", "general", "after resume", mention_bot=True)
        await fake.wait_until(lambda: bot.seen)
        assert bot.seen[0].content.endswith("after resume")


async def test_edit_rate_limit_answers_429_that_discord_py_waits_out(fake_discord_factory) -> None:
    fake = await fake_discord_factory(edit_rate_limit=(2, 0.3))
    async with fake.run_bot(bot := ProbeBot(fake)):
        message = await general(bot, fake).send("progress 0%")
        started = time.perf_counter()
        for pct in (10, 20, 30):
            await message.edit(content=f"progress {pct}%")
        assert time.perf_counter() - started >= 0.2
        assert fake.message(message.id).content == "progress 30%"
        assert [c.status for c in fake.calls_to("PATCH", "messages")] == [200, 200, 429, 200]


async def test_component_updates_and_original_read_and_delete(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with fake.run_bot(bot := ProbeBot(fake)):
        panel = await (await fake.slash("alice", "general", "panel")).original()
        assert sorted(panel.custom_ids) == ["ack:defer", "ack:edit"]
        edit = await fake.click("bob", panel, "ack:edit")
        assert await edit.response_type() == 7
        assert fake.message(panel.id).content == "edited by button"
        defer = await fake.click("bob", panel, "ack:defer")
        assert await defer.response_type() == 6
        await fake.wait_until(lambda: fake.message(panel.id).content == "edited after defer")
        assert fake.message(panel.id).edits == 2 and fake.message(panel.id).custom_ids == panel.custom_ids
        temp = await fake.slash("alice", "general", "cleanup")
        await fake.wait_until(lambda: temp.record.original_id and fake.message(temp.record.original_id).deleted)
        assert bot.fetched == ["temporary"]
        assert [c.method for c in fake.calls_to(route=r"/messages/@original$")] == ["PATCH", "GET", "DELETE"]


async def test_fetch_routes_and_unknown_ids(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    async with fake.run_bot(bot := ProbeBot(fake)):
        guild = await bot.fetch_guild(fake.world.guild_id)
        assert (guild.name, guild.premium_tier) == ("Sora Sandbox", 0)
        member = await guild.fetch_member(fake.user("mod").id)
        assert member.guild_permissions.manage_guild
        assert not (await guild.fetch_member(fake.user("alice").id)).guild_permissions.manage_guild
        assert {r.name for r in await guild.fetch_roles()} >= {"@everyone", "Manager"}
        videos = await bot.fetch_channel(fake.channel("videos").id)
        assert isinstance(videos, discord.TextChannel) and videos.name == "videos"
        assert (await bot.fetch_user(fake.user("bob").id)).name == "bob"
        with pytest.raises(discord.NotFound) as no_user:
            await bot.fetch_user(1)
        with pytest.raises(discord.NotFound) as no_channel:
            await bot.fetch_channel(2)
        assert (no_user.value.code, no_channel.value.code) == (10013, 10003)
