"""`/sora-jobs` and `/sora-quota` through the fake Discord: private answers about the caller only."""

from __future__ import annotations

import re

from bot.sandbox.fake_discord import FakeDiscord
from bot.sandbox.product import running_product
from tests.e2e.product import is_result, job_id_of, product_settings

IN_PROGRESS_WORDS = ("waiting in line", "sending", "checking", "queued", "rendering", "fetching", "posting")


async def ask(fake: FakeDiscord, user: str, command: str, options: dict | None = None) -> str:
    """Run a command and return its private answer's text."""
    handle = await fake.slash(user, "general", command, options)
    answer = await handle.followup()
    assert answer.ephemeral, answer.content
    return answer.content


def line_of(text: str, job_id: int) -> str:
    [line] = [ln for ln in text.splitlines() if ln.startswith(f"`{job_id}`")]
    return line


async def test_sora_jobs_lists_the_callers_jobs_with_state_and_a_link(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)):
        assert "no videos yet" in await ask(fake, "alice", "sora-jobs")
        done_id = job_id_of(await ask(fake, "alice", "sora", {"prompt": "a paper boat"}))
        result = await fake.wait_for_message(lambda m: is_result(m, done_id), channel="general", timeout=30)
        refused_id = job_id_of(await ask(fake, "alice", "sora", {"prompt": "something forbidden"}))
        await fake.wait_for_message(lambda m: f"`{refused_id}` could not be made" in m.content, channel="general",
                                    timeout=30)
        running_id = job_id_of(await ask(fake, "alice", "sora", {"prompt": "a slow glacier"}))

        listing = await ask(fake, "alice", "sora-jobs")
        assert listing.startswith("**Your recent videos**")
        ids = [int(m) for m in re.findall(r"^`(\d+)`", listing, flags=re.M)]
        assert ids == [running_id, refused_id, done_id]  # newest first
        done = line_of(listing, done_id)
        link = f"https://discord.com/channels/{fake.world.guild_id}/{result.channel_id}/{result.id}"
        assert "delivered" in done and f"[open]({link})" in done and "a paper boat" in done
        assert "failed" in line_of(listing, refused_id) and "open" not in line_of(listing, refused_id)
        assert any(word in line_of(listing, running_id) for word in IN_PROGRESS_WORDS)

        assert "no videos yet" in await ask(fake, "bob", "sora-jobs")  # only the caller's own jobs
        await fake.wait_for_message(lambda m: is_result(m, running_id), channel="general", timeout=30)


async def test_sora_quota_shows_used_left_reset_and_typical_cost(fake, tmp_path):
    settings = product_settings(tmp_path, fake, QUOTA_USER_VIDEOS_PER_DAY=3, QUOTA_USER_SECONDS_PER_DAY=20,
                                QUOTA_GUILD_USD_PER_MONTH=10)
    async with running_product(fake, settings):
        fresh = await ask(fake, "alice", "sora-quota")
        assert fresh.startswith("**Your Sora quota**")
        assert "**Your videos today:** 0 of 3 used, 3 left" in fresh
        assert "A typical video (sora-2, landscape 1280×720, 4 s) costs the server about $0.40." in fresh
        job_id = job_id_of(await ask(fake, "alice", "sora", {"prompt": "a red kite", "seconds": 8}))
        await fake.wait_for_message(lambda m: is_result(m, job_id), channel="general", timeout=30)

        used = await ask(fake, "alice", "sora-quota")
        lines = {ln.split(":**")[0].strip("*"): ln for ln in used.splitlines() if ":**" in ln}
        assert lines["Your videos today"].startswith("**Your videos today:** 1 of 3 used, 2 left · resets <t:")
        assert "8 s of 20 s used, 12 s left" in lines["Your video seconds today"]
        assert "$0.80 of $10.00 used, $9.20 left" in lines["Server budget this month"]
        assert "**In progress:** 0" in used and "models: `sora-2`" in used
        assert "0 of 3 used" in await ask(fake, "bob", "sora-quota")  # alice's use is hers alone
