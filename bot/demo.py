"""`python -m bot demo`: the whole product in a minute, for free, on any machine.

No Discord token and no provider key: the real bot (discord.py, cogs, job engine) runs against the
loopback fake Discord and the `simulated` provider (real MP4s made by ffmpeg). A scripted member types
`/sora`, watches the status message, gets the video, remixes it by replying and extends it with the
**Extend** button (the simulated provider makes a real longer MP4). Everything a member
would see is printed; the MP4s' paths come last. Its files live under DATA_DIR/demo/.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import textwrap
from pathlib import Path
from typing import TextIO

from bot.settings import Settings

log = logging.getLogger(__name__)

RENDER_SECONDS = 6.0
# The simulated render takes seconds, not minutes: run the engine's clock as fast.
TIME_SCALE = 0.06


class Transcript:
    """Prints each message the first time it is seen and again when its text changes."""

    def __init__(self, fake, out: TextIO) -> None:
        self.fake = fake
        self.out = out
        self.seen: dict[int, str] = {}

    def who(self, user_id: int) -> str:
        try:
            return self.fake.user(user_id).name
        except KeyError:
            return str(user_id)

    def show(self, speaker: str, text: str, note: str = "") -> None:
        body = textwrap.indent(text.strip(), "    │ ")
        self.out.write(f"  {speaker}{note}\n{body}\n")
        self.out.flush()

    def scan(self) -> None:
        for channel in ("general",):
            for message in self.fake.messages(channel):
                key = f"{message.content}|{len(message.attachments)}"
                if self.seen.get(message.id) == key:
                    continue
                edited = message.id in self.seen
                self.seen[message.id] = key
                text = self.render_mentions(message.content)
                for attachment in message.attachments:
                    text += f"\n📎 {attachment.filename} ({attachment.size / 1e6:.2f} MB)"
                buttons = [c.split(":")[1] for c in message.custom_ids if c.startswith("sora:")]
                if buttons:
                    text += "\n[ " + " ] [ ".join(b.capitalize() for b in buttons) + " ]"
                note = " (edited)" if edited else ""
                self.show(self.who(message.author_id), text, note)

    def render_mentions(self, text: str) -> str:
        import re

        return re.sub(r"<@!?(\d+)>", lambda m: "@" + self.who(int(m.group(1))), text)

    async def follow(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.scan()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)
        self.scan()


async def demo(settings: Settings, *, out: TextIO = sys.stdout, render_seconds: float = RENDER_SECONDS) -> int:
    from bot.logs import setup_logging
    from bot.sandbox.fake_discord import FakeDiscord
    from bot.sandbox.product import running_product

    setup_logging("WARNING", settings.log_format)
    logging.getLogger("discord").setLevel(logging.ERROR)  # no voice-support warnings in a demo
    root = Path(settings.data_dir) / "demo"
    root.mkdir(parents=True, exist_ok=True)
    demo_settings = settings.model_copy(update={
        "sora_provider": settings.sora_provider.SIMULATED, "sora_api_key": None, "discord_token": None,
        "data_dir": root, "database_url": f"sqlite:///{root / 'demo.db'}", "simulated_render_seconds": render_seconds,
        "quota_user_cooldown_seconds": 0, "quota_user_videos_per_day": None, "discord_guild_ids": []})
    out.write("sora-bot demo: the real bot against a loopback Discord and the free simulated provider.\n\n")
    async with FakeDiscord(guild_name="Demo Server") as fake:
        transcript = Transcript(fake, out)
        stop = asyncio.Event()
        async with running_product(fake, demo_settings, time_scale=TIME_SCALE, progress_interval=1.0) as product:
            follower = asyncio.create_task(transcript.follow(stop))
            try:
                paths = await _script(fake, product, transcript)
            finally:
                stop.set()
                await follower
    out.write("\nThe videos it made:\n")
    for path in paths:
        out.write(f"  {path}\n")
    out.write("\nNext: create a Discord application (README → 'Setting up the Discord application'), put its\n"
              "token in .env as DISCORD_TOKEN and run `python -m bot`.\n")
    return 0


async def _script(fake, product, transcript: Transcript) -> list[Path]:
    alice = fake.user("alice")
    transcript.show("alice", "/sora prompt: a paper boat sailing down a rainy street, golden hour")
    handle = await fake.slash(alice, "general", "sora",
                              {"prompt": "a paper boat sailing down a rainy street, golden hour", "seconds": 4})
    reply = await handle.followup(timeout=10)
    transcript.show("SoraBot", transcript.render_mentions(reply.content), " (only you can see this)")
    first = await fake.wait_for_message(lambda m: bool(m.attachments), channel="general", timeout=120)
    transcript.scan()
    transcript.show("alice", "(replies to the video, pinging the bot) @SoraBot make it night, with neon lights")
    await fake.say(alice, "general", "make it night, with neon lights", reply_to=first, mention_bot=True)
    second = await fake.wait_for_message(lambda m: bool(m.attachments) and m.id != first.id, channel="general",
                                         timeout=120)
    transcript.scan()
    await _extend(fake, transcript, first, "the boat drifts into a harbour full of lanterns", seconds="4")
    await fake.wait_for_message(lambda m: bool(m.attachments) and m.id not in (first.id, second.id),
                                channel="general", timeout=120)
    transcript.scan()
    jobs = await product.bot.repo.recent_jobs(alice.id, fake.world.guild_id, limit=10)
    return [Path(job.file_path).resolve() for job in reversed(jobs) if job.file_path]


async def _extend(fake, transcript: Transcript, video, next_words: str, *, seconds: str) -> None:
    """Press Extend under `video` and fill in the box: what happens next, and the seconds to add."""
    button = next(c for c in video.custom_ids if c.startswith("sora:extend:"))
    transcript.show("alice", f"(presses [ Extend ]) what happens next: {next_words} · seconds to add: {seconds}")
    opener = await fake.click("alice", video, button)
    modal = await opener.modal(timeout=10)
    fields, stack = [], list(modal.get("components") or [])
    while stack:
        comp = stack.pop(0)
        if comp.get("type") == 4:  # a text input
            fields.append(comp["custom_id"])
        stack = list(comp.get("components") or []) + stack
    values = dict(zip(fields, (next_words, seconds), strict=False))
    submitted = await fake.submit_modal("alice", "general", modal["custom_id"], values, opened_by=opener)
    answer = await submitted.followup(timeout=10)
    transcript.show("SoraBot", transcript.render_mentions(answer.content), " (only you can see this)")
