"""Model capabilities at run time, through the fake Discord: a provider that lists its models (a
`simulated` renderer with `list_models` returning the 24-model OpenRouter snapshot, read through the
same refresh as OpenRouter's) drives what /sora offers and accepts, /sora-models, and the admin's
model allow-list and server default model."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import AsyncIterator

import httpx

from bot.app import Resources
from bot.metrics import Metrics
from bot.sandbox.fake_discord import FakeDiscord
from bot.sandbox.product import Product, running_product
from bot.sora.metered import MeteredProvider
from db.database import open_store
from db.repository import Repository
from tests.catalog_doubles import ListingSimulatedProvider
from tests.e2e.product import is_result, job_id_of, product_settings


@contextlib.asynccontextmanager
async def catalog_product(fake: FakeDiscord, tmp_path, *, down: BaseException | None = None,
                          **overrides: object) -> AsyncIterator[Product]:
    settings = product_settings(tmp_path, fake, **overrides)
    conn = await open_store(settings.database_url)
    provider = ListingSimulatedProvider(data_dir=settings.data_dir / "simulated",
                                        render_seconds=settings.simulated_render_seconds, down=down)
    metrics = Metrics()
    resources = Resources(settings, Repository(conn), MeteredProvider(provider, metrics), metrics)
    try:
        async with running_product(fake, settings, resources=resources) as product:
            await product.bot.catalog.refreshed.wait()
            assert provider.list_calls == 1
            yield product
    finally:
        await resources.aclose()


async def answer(fake: FakeDiscord, user: str, command: str, options: dict, attachments: dict | None = None) -> str:
    handle = await fake.slash(user, "general", command, options, attachments)
    ack = await handle.ack()
    reply = await (handle.original() if ack.type == 4 else handle.followup())
    assert reply.ephemeral, reply.content
    return reply.content


def by_value(found: list[dict]) -> dict:
    return {c["value"]: c["name"] for c in found}


async def test_model_autocompletes_by_display_name_with_a_price_hint(fake, tmp_path):
    async with catalog_product(fake, tmp_path):
        found = await fake.autocomplete("alice", "general", "sora", {"prompt": "x"}, focused="model")
        assert len(found) == 22  # every usable model of the snapshot (the upscaler and aleph-2 offer nothing)
        names = by_value(found)
        assert names["google/veo-3.1"] == "Google: Veo 3.1 · ~$0.40/s"
        assert names["openai/sora-2-pro"] == "OpenAI: Sora 2 Pro · ~$0.30/s"
        assert names["bytedance/seedance-2.0"] == "ByteDance: Seedance 2.0"  # priced in tokens: no hint
        typed = await fake.autocomplete("alice", "general", "sora", {"model": "veo"}, focused="model")
        assert [c["value"] for c in typed] == ["google/veo-3.1", "google/veo-3.1-fast", "google/veo-3.1-lite"]


async def test_size_and_seconds_autocomplete_from_the_chosen_model(fake, tmp_path):
    async with catalog_product(fake, tmp_path):
        sizes = by_value(await fake.autocomplete("alice", "general", "sora", {"model": "google/veo-3.1"},
                                                 focused="size"))
        assert set(sizes) == {"1280x720", "1080x1920", "1920x1080", "720x1280", "3840x2160", "2160x3840"}
        assert sizes["1280x720"] == "1280×720 (16:9 · 720p)" and sizes["3840x2160"] == "3840×2160 (16:9 · 4K)"
        hailuo = by_value(await fake.autocomplete("alice", "general", "sora", {"model": "minimax/hailuo-3"},
                                                  focused="size"))
        assert "2560x1440" in hailuo and "1280x720" not in hailuo
        seconds = await fake.autocomplete("alice", "general", "sora", {"model": "google/veo-3.1-lite"},
                                          focused="seconds")
        assert [(c["name"], c["value"]) for c in seconds] == [("4 seconds", 4), ("6 seconds", 6), ("8 seconds", 8)]
        wan = await fake.autocomplete("alice", "general", "sora", {"model": "alibaba/wan-2.6", "seconds": "1"},
                                      focused="seconds")
        assert [c["value"] for c in wan] == [10]


async def test_a_value_the_model_does_not_take_is_refused_naming_what_it_takes(fake, tmp_path):
    async with catalog_product(fake, tmp_path) as product:
        text = await answer(fake, "alice", "sora", {"prompt": "a fox", "model": "google/veo-3.1", "seconds": 5})
        assert "5 seconds isn't available" in text and "4, 6 or 8" in text
        text = await answer(fake, "alice", "sora", {"prompt": "a fox", "model": "minimax/hailuo-3",
                                                    "size": "1280x720"})
        assert "1280x720 isn't an available size" in text and "2560x1440" in text
        text = await answer(fake, "alice", "sora", {"prompt": "a fox", "model": "runway/aleph-2"})
        assert "`runway/aleph-2` isn't a model this bot offers" in text and "`google/veo-3.1`" in text
        png = io.BytesIO()
        from PIL import Image

        Image.new("RGB", (64, 36), (0, 90, 200)).save(png, "PNG")
        text = await answer(fake, "alice", "sora", {"prompt": "a fox", "model": "openai/sora-2-pro"},
                            {"image": ("first.png", png.getvalue())})
        assert "OpenAI: Sora 2 Pro can't start from an image" in text
        assert await product.resources.provider.list() == []  # nothing was sent, nothing reserved
        assert await product.bot.repo.recent_jobs(fake.user("alice").id, fake.world.guild_id) == []


async def test_an_accepted_job_carries_the_choice_and_shows_the_estimate(fake, tmp_path):
    async with catalog_product(fake, tmp_path) as product:
        text = await answer(fake, "alice", "sora", {"prompt": "a paper boat", "model": "google/veo-3.1",
                                                    "size": "720x1280", "seconds": 8})
        assert "accepted" in text and "Estimated cost: $3.20" in text  # 8 s x $0.40 (with audio)
        job = await product.bot.repo.get_job(job_id_of(text))
        assert (job.model, job.size, job.seconds) == ("google/veo-3.1", "720x1280", 8)
        entry = await product.bot.repo.ledger_entry(job.id)
        assert entry["usd"] == 3.2
        result = await fake.wait_for_message(lambda m: is_result(m, job.id), channel="general", timeout=30)
        assert "google/veo-3.1" in result.content


async def test_sora_models_lists_what_each_allowed_model_offers(fake, tmp_path):
    async with catalog_product(fake, tmp_path):
        handle = await fake.slash("alice", "general", "sora-models")
        await handle.ack()
        pages = [await handle.followup(0)]
        with contextlib.suppress(TimeoutError, AssertionError, Exception):
            for index in range(1, 5):
                pages.append(await handle.followup(index, timeout=1))
        assert all(p.ephemeral and len(p.content) <= 2000 for p in pages)
        text = "\n".join(p.content for p in pages)
        assert len(pages) >= 2  # 22 models do not fit in one message
        assert "**Google: Veo 3.1** (`google/veo-3.1`) — about $0.40/s" in text
        assert "4, 6, 8 s" in text and "first and last frame" in text
        assert "**OpenAI: Sora 2 Pro** (`openai/sora-2-pro`) — about $0.30/s" in text
        assert "1–15 s" in text  # grok's 1..15 as a range
        assert "ByteDance: Seedance 2.0" in text and "price not listed" in text


async def test_admin_allows_models_with_autocomplete_and_members_see_only_those(fake, tmp_path):
    async with catalog_product(fake, tmp_path):
        found = await fake.autocomplete("mod", "general", "sora-admin allow",
                                        {"what": "allowed_models", "values": "alibaba/wan-2.6,veo"}, focused="values")
        assert [c["value"] for c in found] == ["alibaba/wan-2.6,google/veo-3.1", "alibaba/wan-2.6,google/veo-3.1-fast",
                                               "alibaba/wan-2.6,google/veo-3.1-lite"]
        assert found[0]["name"] == "alibaba/wan-2.6,google/veo-3.1 (Google: Veo 3.1)"
        text = await answer(fake, "mod", "sora-admin allow", {"what": "allowed_models",
                                                              "values": "alibaba/wan-2.6,google/veo-3.1"})
        assert "✅" in text
        refused = await answer(fake, "mod", "sora-admin allow", {"what": "allowed_models", "values": "sora-2"})
        assert "isn't offered" in refused and "google/veo-3.1" in refused
        member = await fake.autocomplete("alice", "general", "sora", {}, focused="model")
        assert [c["value"] for c in member] == ["alibaba/wan-2.6", "google/veo-3.1"]
        text = await answer(fake, "alice", "sora", {"prompt": "x", "model": "kwaivgi/kling-v3.0-pro"})
        assert "isn't enabled on this server" in text and "google/veo-3.1" in text


async def test_server_default_model_is_used_when_a_member_names_none(fake, tmp_path):
    async with catalog_product(fake, tmp_path) as product:
        found = await fake.autocomplete("mod", "general", "sora-admin default-model", {"model": "wan 2.6"},
                                        focused="model")
        assert [c["value"] for c in found] == ["alibaba/wan-2.6"]
        text = await answer(fake, "mod", "sora-admin default-model", {"model": "nobody/none"})
        assert "isn't a model this bot offers" in text
        text = await answer(fake, "mod", "sora-admin default-model", {"model": "alibaba/wan-2.6"})
        assert "alibaba/wan-2.6" in text
        # no model chosen yet: size and seconds come from the server's default model
        seconds = await fake.autocomplete("alice", "general", "sora", {}, focused="seconds")
        assert [c["value"] for c in seconds] == [5, 10]
        text = await answer(fake, "alice", "sora", {"prompt": "a quiet lake"})
        job = await product.bot.repo.get_job(job_id_of(text))
        assert (job.model, job.size, job.seconds) == ("alibaba/wan-2.6", "1280x720", 5)  # 4 s isn't offered
        assert "Estimated cost: $0.40" in text  # 5 s x $0.08 (text-to-video, 720p)
        show = await answer(fake, "mod", "sora-admin show", {})
        assert "**Default model:** alibaba/wan-2.6" in show
        quota = await answer(fake, "alice", "sora-quota", {})
        assert "$0.40" in quota  # a typical video: the default model at its own usual length
        await answer(fake, "mod", "sora-admin default-model", {"model": "default"})
        assert await product.bot.repo.guild_default_model(fake.world.guild_id) is None
        await answer(fake, "mod", "sora-admin allow", {"what": "allowed_models", "values": "google/veo-3.1"})
        text = await answer(fake, "mod", "sora-admin default-model", {"model": "alibaba/wan-2.6"})
        assert "isn't in this server's allowed models" in text


async def test_a_restart_with_the_models_endpoint_down_offers_the_stored_catalog(fake, tmp_path, caplog):
    async with catalog_product(fake, tmp_path) as first:
        assert first.bot.catalog.current().source == "live"
    with caplog.at_level(logging.WARNING, logger="bot.catalog.service"):
        async with catalog_product(fake, tmp_path, down=httpx.ConnectError("refused")) as second:
            assert second.bot.catalog.current().source == "stored"
            found = await fake.autocomplete("alice", "general", "sora", {"model": "veo"}, focused="model")
            assert [c["value"] for c in found] == ["google/veo-3.1", "google/veo-3.1-fast", "google/veo-3.1-lite"]
            text = await answer(fake, "alice", "sora", {"prompt": "x", "model": "google/veo-3.1", "seconds": 8})
            assert "accepted" in text and "Estimated cost: $3.20" in text
    assert [r.getMessage() for r in caplog.records if "refresh failed" in r.getMessage()] == [
        "model catalog refresh failed (ConnectError); keeping the stored catalog of 22 model(s)"]


async def test_the_builtin_profile_keeps_its_fixed_choices_and_lists_in_sora_models(fake, tmp_path):
    async with running_product(fake, product_settings(tmp_path, fake)):
        options = {o["name"]: o for o in fake.command("sora")["options"]}
        assert [c["value"] for c in options["model"]["choices"]] == ["sora-2", "sora-2-pro"]
        assert [c["value"] for c in options["seconds"]["choices"]] == [4, 8, 12]
        assert not options["size"].get("autocomplete")
        assert options["prompt"]["max_length"] == 6000
        handle = await fake.slash("alice", "general", "sora-models")
        await handle.ack()
        page = await handle.followup()
        assert page.ephemeral and "**sora-2** · default — about $0.10/s" in page.content
        assert "4, 8 s" in page.content and "first frame" in page.content
        assert "sora-2-pro" not in page.content  # QUOTA_DEFAULT_MODELS allows sora-2 only
