"""/sora-gallery through the fake Discord: newest first, paged with buttons, links to the results,
private; managers may look at another member's videos, members may not."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.domain.jobs import JobState
from bot.sandbox.fake_discord import ClientRefused
from bot.sandbox.product import Product, running_product
from tests.e2e.product import is_result, job_id_of, product_settings


async def make_videos(fake, product: Product, user: str, prompts: list[str]) -> list[tuple[int, int]]:
    """(job id, result message id) of each, in order, once each is recorded as delivered: the result
    is posted before the delivered state is written, and the gallery lists delivered jobs only."""
    made = []
    for prompt in prompts:
        handle = await fake.slash(user, "general", "sora", {"prompt": prompt})
        job_id = job_id_of((await handle.followup()).content)
        made.append(job_id)
    results = []
    for job_id in made:
        post = await fake.wait_for_message(lambda m, j=job_id: is_result(m, j), channel="general", timeout=60)
        results.append((job_id, post.id))
    async with asyncio.timeout(30):
        while [job.state for job in (await product.bot.repo.jobs_by_ids(made)).values()] != \
                [JobState.DELIVERED] * len(made):
            await asyncio.sleep(0.05)
    return results


def listed(content: str) -> list[int]:
    return [int(x) for x in re.findall(r"^`(\d+)`", content, re.M)]


async def test_gallery_pages_newest_first_with_links(fake, tmp_path):
    settings = product_settings(tmp_path, fake, QUOTA_USER_VIDEOS_PER_DAY=20, QUOTA_USER_CONCURRENT=12)
    async with running_product(fake, settings) as product:
        made = await make_videos(fake, product, "alice", [f"clip number {i}" for i in range(12)])
        delivered = sorted([(await product.bot.repo.get_job(j)) for j, _ in made],
                           key=lambda job: (job.delivered_at, job.id), reverse=True)
        newest_first = [job.id for job in delivered]
        handle = await fake.slash("alice", "general", "sora-gallery")
        page = await handle.followup()
        assert page.ephemeral and "12 in all" in page.content and "page 1 of 2" in page.content
        assert listed(page.content) == newest_first[:10]
        channel = fake.channel("general").id
        for job in delivered[:10]:
            link = f"https://discord.com/channels/{fake.world.guild_id}/{channel}/{job.result_message_id}"
            assert link in page.content
        [previous, following] = page.custom_ids
        assert page.find_component(previous).get("disabled")
        with pytest.raises(ClientRefused):
            await fake.click("alice", page, previous)
        turn = await fake.click("alice", page, following)
        assert await turn.response_type() == 7  # the private message is updated in place
        await fake.wait_until(lambda: "page 2 of 2" in fake.message(page.id).content, what="page 2")
        assert listed(fake.message(page.id).content) == newest_first[10:]
        bob_clicks = await fake.click("bob", fake.message(page.id), fake.message(page.id).custom_ids[0])
        assert "belong to the member who opened" in (await bob_clicks.original()).content


async def test_gallery_of_another_member_is_for_managers_only(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)) as product:
        [(job_id, _)] = await make_videos(fake, product, "alice", ["a heron"])
        alice = fake.user("alice")
        refused = await (await fake.slash("bob", "general", "sora-gallery", {"member": alice})).original()
        assert refused.ephemeral and "Only server managers" in refused.content
        seen = await (await fake.slash("mod", "general", "sora-gallery", {"member": alice})).followup()
        assert seen.ephemeral and listed(seen.content) == [job_id] and seen.mentions == []
        assert seen.custom_ids == []  # one page: no buttons
        empty = await (await fake.slash("bob", "general", "sora-gallery")).followup()
        assert "no finished videos" in empty.content
