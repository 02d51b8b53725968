"""Extend through the fake Discord: the button only where the provider can continue the video, the
modal, a new job charged once at the extension's length, the longer video posted as a reply that says
it is an extension; refusals (over quota, a model that can't be continued) private, with nothing sent
upstream and nothing charged; the button after a restart; the context menu."""

from __future__ import annotations

from typing import Any

import pytest

from bot import media
from bot.sandbox.fake_discord import ClientRefused, FakeDiscord, InteractionHandle, StoredMessage
from bot.sandbox.product import running_product
from tests.e2e.product import is_result, job_id_of, product_settings
from tests.e2e.test_openrouter import KEY, openrouter_settings, settled
from tests.e2e.test_remix import make_video
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.relay import FakeRelay

TIMEOUT = 30


def text_inputs(modal: dict[str, Any]) -> list[dict[str, Any]]:
    found, stack = [], list(modal.get("components") or [])
    while stack:
        comp = stack.pop(0)
        if comp.get("type") == 4:
            found.append(comp)
        stack = list(comp.get("components") or []) + stack
    return found


async def extend_via(fake: FakeDiscord, user: str, opener: InteractionHandle, next_words: str,
                     seconds: str | None = None) -> StoredMessage:
    """Fill in the Extend modal `opener` showed; return the private answer."""
    modal = await opener.modal()
    assert modal["title"] == "Extend with Sora"
    fields = text_inputs(modal)
    values = {fields[0]["custom_id"]: next_words}
    if seconds is not None:
        values[fields[1]["custom_id"]] = seconds
    submitted = await fake.submit_modal(user, "general", modal["custom_id"], values, opened_by=opener)
    assert await submitted.response_type() == 5
    answer = await submitted.followup()
    assert answer.ephemeral
    return answer


async def private_answer(handle: InteractionHandle) -> str:
    response = await handle.response()
    assert response.type == 4 and response.data.get("flags", 0) & 64, response  # ephemeral message
    return response.data["content"]


async def probe_attachment(data: bytes, tmp_path) -> media.MediaInfo:
    path = tmp_path / f"post-{len(data)}.mp4"
    path.write_bytes(data)
    return await media.probe(path)


async def test_extend_makes_a_longer_video_charged_once_for_the_added_seconds(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake, PRICE_PER_SECOND='{"sora-2": "0.10"}')) as p:
        parent = await make_video(fake, "alice", "a red kite over hills")
        parent_id = job_id_of(parent.content)
        assert f"sora:extend:{parent_id}" in parent.custom_ids  # the simulated provider continues videos
        source = await p.bot.repo.get_job(parent_id)

        opener = await fake.click("bob", parent, f"sora:extend:{parent_id}")
        modal = await opener.modal()
        [next_field, length_field] = text_inputs(modal)
        assert next_field["label"] == "What happens next?" and length_field["label"] == "Seconds to add"
        assert length_field["value"] == str(source.seconds) and "4, 8 or 12" in length_field["placeholder"]
        answer = await extend_via(fake, "bob", opener, "it climbs into the clouds", "8 s")
        assert "accepted" in answer.content and f"extension of `{parent_id}`" in answer.content, answer.content
        extension_id = job_id_of(answer.content)

        post = await fake.wait_for_message(lambda m: is_result(m, extension_id), channel="general", timeout=TIMEOUT)
        assert post.reference_id == parent.id and post.mentions == [fake.user("bob").id]
        assert f"extension of `{parent_id}`" in post.content and "it climbs into the clouds" in post.content
        info = await probe_attachment(post.attachments[0].data, tmp_path)
        assert abs(info.duration - (source.seconds + 8)) < 0.6  # the source, then 8 s more

        job = await p.bot.repo.get_job(extension_id)
        assert (job.kind, job.parent_job_id, job.seconds, job.model, job.size, job.user_id) == (
            "extend", parent_id, 8, source.model, source.size, fake.user("bob").id)
        entry = await settled(p, extension_id)
        assert entry["status"] == "settled" and entry["seconds"] == 8 and entry["usd"] == pytest.approx(0.80)
        assert f"sora:extend:{extension_id}" in post.custom_ids  # an extension can be extended again
        assert len(await p.resources.provider.list()) == 2

        # Again on an extension: the same continuation of the same source, for whoever presses it
        again = await fake.click("alice", post, f"sora:again:{extension_id}")
        again_id = job_id_of((await again.followup()).content)
        repeat = await p.bot.repo.get_job(again_id)
        assert (repeat.kind, repeat.parent_job_id, repeat.seconds, repeat.prompt, repeat.user_id) == (
            "extend", parent_id, 8, "it climbs into the clouds", fake.user("alice").id)
        again_post = await fake.wait_for_message(lambda m: is_result(m, again_id), channel="general",
                                                 timeout=TIMEOUT)
        assert again_post.reference_id == post.id


async def test_a_chinese_client_gets_the_extend_box_and_answers_in_chinese(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake, QUOTA_USER_VIDEOS_PER_DAY=1)):
        parent = await make_video(fake, "alice", "a paper lantern")
        parent_id = job_id_of(parent.content)
        fake.user("alice").locale = "zh-CN"
        opener = await fake.click("alice", parent, f"sora:extend:{parent_id}")
        modal = await opener.modal()
        assert modal["title"] == "用 Sora 延长"
        assert [f["label"] for f in text_inputs(modal)] == ["接下来发生什么？", "延长秒数"]
        fields = text_inputs(modal)
        submitted = await fake.submit_modal("alice", "general", modal["custom_id"],
                                            {fields[0]["custom_id"]: "灯笼飘向夜空", fields[1]["custom_id"]: "7"},
                                            opened_by=opener)
        answer = await submitted.followup()
        assert answer.ephemeral and "这段视频可以延长 4, 8 或 12 秒" in answer.content, answer.content


async def test_extend_is_refused_privately_over_quota_and_for_a_bad_length(fake, tmp_path):
    settings = product_settings(tmp_path, fake, QUOTA_USER_VIDEOS_PER_DAY=1)
    async with running_product(fake, settings) as p:
        parent = await make_video(fake, "alice", "a quiet harbour")
        parent_id = job_id_of(parent.content)

        over = await extend_via(fake, "alice", await fake.click("alice", parent, f"sora:extend:{parent_id}"),
                                "boats come in", "4")
        assert "accepted" not in over.content and "1 of 1" in over.content, over.content
        wrong = await extend_via(fake, "bob", await fake.click("bob", parent, f"sora:extend:{parent_id}"),
                                 "boats come in", "7")
        assert "4, 8 or 12" in wrong.content and "Nothing was charged" in wrong.content
        typo = await extend_via(fake, "bob", await fake.click("bob", parent, f"sora:extend:{parent_id}"),
                                "boats come in", "@here")
        assert "@here" not in typo.content and "4, 8 or 12" in typo.content

        assert len(await p.resources.provider.list()) == 1  # nothing more was sent upstream
        quota = await (await fake.slash("bob", "general", "sora-quota")).followup()
        assert "0 of" in quota.content  # and nothing charged to bob
        assert await p.bot.repo.get_job(parent_id + 1) is None  # no job was written for any of them


async def test_the_extend_button_works_after_a_restart(fake, tmp_path):
    settings = product_settings(tmp_path, fake)
    async with running_product(fake, settings):
        parent = await make_video(fake, "alice", "a lighthouse at dusk")
    parent_id = job_id_of(parent.content)
    async with running_product(fake, settings) as p:
        answer = await extend_via(fake, "alice", await fake.click("alice", parent, f"sora:extend:{parent_id}"),
                                  "the light turns on", "4")
        extension_id = job_id_of(answer.content)
        post = await fake.wait_for_message(lambda m: is_result(m, extension_id), channel="general", timeout=TIMEOUT)
        assert post.reference_id == parent.id
        assert (await p.bot.repo.get_job(extension_id)).kind == "extend"


async def test_context_menu_extends_and_says_why_not_on_other_messages(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)):
        parent = await make_video(fake, "alice", "a fox in the snow")
        answer = await extend_via(fake, "bob", await fake.context_menu("bob", "general", "Extend with Sora", parent),
                                  "it runs into the woods", "4")
        extension_id = job_id_of(answer.content)
        post = await fake.wait_for_message(lambda m: is_result(m, extension_id), channel="general", timeout=TIMEOUT)
        assert post.reference_id == parent.id

        chat = await fake.say("bob", "general", "just chatting")
        refused = await private_answer(await fake.context_menu("bob", "general", "Extend with Sora", chat))
        assert "nothing to extend" in refused


async def test_openrouter_offers_extend_only_on_models_that_continue(fake, tmp_path):
    async with FakeOpenRouter(api_key=KEY, render_seconds=0.4, cost_per_second=0.05) as router:
        settings = openrouter_settings(tmp_path, fake, router, SORA_DEFAULT_MODEL="google/veo-3.1")
        async with running_product(fake, settings) as p:
            veo = await make_video(fake, "alice", "a paper boat")
            veo_id = job_id_of(veo.content)
            handle = await fake.slash("alice", "general", "sora", {"prompt": "a tin robot", "model": "alibaba/wan-2.6",
                                                                   "seconds": "5"})
            wan_id = job_id_of((await handle.followup()).content)
            wan = await fake.wait_for_message(lambda m: is_result(m, wan_id), channel="general", timeout=TIMEOUT)

            assert f"sora:extend:{veo_id}" in veo.custom_ids
            assert not any(c.startswith("sora:extend:") for c in wan.custom_ids)  # wan can't be continued
            sent = router.create_count
            why = await private_answer(await fake.context_menu("bob", "general", "Extend with Sora", wan))
            assert "can't be extended" in why and "alibaba/wan-2.6" in why
            with pytest.raises(ClientRefused):
                await fake.click("bob", wan, f"sora:extend:{wan_id}")
            assert router.create_count == sent

            opener = await fake.click("bob", veo, f"sora:extend:{veo_id}")
            [_, length] = text_inputs(await opener.modal())
            assert "4, 6 or 8" in length["placeholder"]  # the model's own durations
            answer = await extend_via(fake, "bob", opener, "it sails out to sea", "8")
            extension_id = job_id_of(answer.content)
            post = await fake.wait_for_message(lambda m: is_result(m, extension_id), channel="general",
                                               timeout=TIMEOUT)
            assert post.reference_id == veo.id and f"extension of `{veo_id}`" in post.content
            source = await p.bot.repo.get_job(veo_id)
            upstream = router.jobs[(await p.bot.repo.get_job(extension_id)).provider_id]
            assert (upstream.remixed_from, upstream.seconds, upstream.model) == (source.provider_id, 8,
                                                                                 "google/veo-3.1")
            entry = await settled(p, extension_id)
            assert entry["status"] == "settled" and entry["usd"] == pytest.approx(0.05 * 8)


@pytest.mark.parametrize(("dialect", "paths", "offered"), [("openai", "{}", True), ("juheapi", "{}", False),
                                                           ("juheapi", '{"extend": "/videos/extensions"}', True)])
async def test_openai_style_relays_extend_where_the_endpoint_is_served(fake, tmp_path, dialect, paths, offered):
    async with FakeRelay(dialect=dialect, api_key="sk-relay", render_seconds=0.4) as relay:
        settings = product_settings(tmp_path, fake, SORA_PROVIDER=dialect, SORA_BASE_URL=relay.base_url,
                                    SORA_API_KEY="sk-relay", SORA_PATHS=paths, SORA_TRUSTED_ORIGINS=relay.cdn_origin)
        async with running_product(fake, settings) as p:
            parent = await make_video(fake, "alice", "waves on a beach")
            parent_id = job_id_of(parent.content)
            assert (f"sora:extend:{parent_id}" in parent.custom_ids) is offered
            if not offered:
                why = await private_answer(await fake.context_menu("alice", "general", "Extend with Sora", parent))
                assert "can't be extended" in why and relay.extend_count == 0
                return
            answer = await extend_via(fake, "alice", await fake.click("alice", parent, f"sora:extend:{parent_id}"),
                                      "a surfer rides in", "4")
            extension_id = job_id_of(answer.content)
            post = await fake.wait_for_message(lambda m: is_result(m, extension_id), channel="general",
                                               timeout=TIMEOUT)
            assert post.reference_id == parent.id and relay.extend_count == 1
            source = await p.bot.repo.get_job(parent_id)
            info = await probe_attachment(post.attachments[0].data, tmp_path)
            assert abs(info.duration - (source.seconds + 4)) < 0.6  # the relay's stitched total
            entry = await settled(p, extension_id)
            assert entry["seconds"] == 4  # charged for the 4 s added, not the stitched total

