"""The catalog service against a real SQLite database: refresh, storage, a restart with the provider
down, failed and junk refreshes that keep the last good catalog; and the repository's catalog and
default-model methods."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from bot.catalog.service import BUILTIN, LIVE, STORED, CatalogService, lister_of
from bot.metrics import Metrics
from bot.settings import Settings
from bot.sora.metered import MeteredProvider
from db.database import open_store
from db.repository import GuildConfig, Repository
from tests.catalog_doubles import Listing, ListingSimulatedProvider, snapshot_records
from tests.pgtools import database_url


@pytest.fixture
async def repo(tmp_path):
    conn = await open_store(database_url(tmp_path))
    yield Repository(conn, clock=lambda: 1_800_000_000.0)
    await conn.close()


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)


async def test_the_stored_catalog_round_trips(repo):
    assert await repo.stored_model_catalog("openrouter") is None
    await repo.save_model_catalog("openrouter", [{"id": "a"}], 10.0)
    await repo.save_model_catalog("openrouter", [{"id": "b"}], 20.0)
    await repo.save_model_catalog("other", [{"id": "c"}], 30.0)
    assert await repo.stored_model_catalog("openrouter") == ([{"id": "b"}], 20.0)
    assert await repo.stored_model_catalog("other") == ([{"id": "c"}], 30.0)


async def test_the_default_model_is_kept_apart_from_the_other_guild_settings(repo):
    assert await repo.guild_default_model(5) is None
    await repo.set_guild_default_model(5, "google/veo-3.1", by=9)
    await repo.save_guild_config(GuildConfig(5, {"user_videos_per_day": 1}, None, None), by=9,
                                 action="limits.set", detail="x")
    assert await repo.guild_default_model(5) == "google/veo-3.1"  # saving limits keeps it
    assert (await repo.guild_config(5)).limits == {"user_videos_per_day": 1}
    await repo.set_guild_default_model(5, None, by=9)
    assert await repo.guild_default_model(5) is None
    actions = [r["action"] for r in await repo.admin_log(5)]
    assert actions.count("default_model.set") == 2


async def test_a_provider_without_a_models_endpoint_gets_the_builtin_profile(repo):
    service = CatalogService(repo, object(), settings())
    await service.start()
    catalog = service.current()
    assert not service.live and catalog.source == BUILTIN and catalog.ids == ["sora-2", "sora-2-pro"]
    assert await repo.stored_model_catalog("provider") is None  # nothing fetched, nothing stored
    await service.stop()


async def test_refresh_stores_a_good_answer_and_a_restart_with_the_service_down_uses_it(repo, caplog):
    listing = Listing({"data": snapshot_records()})
    first = CatalogService(repo, listing, settings())
    assert await first.refresh()
    assert first.current().source == LIVE and len(first.current().models) == 22
    records, fetched_at = await repo.stored_model_catalog("listing")
    assert len(records) == 22 and fetched_at == pytest.approx(first.current().fetched_at)

    down = Listing(httpx.ConnectError("connection refused"))
    second = CatalogService(repo, down, settings())
    with caplog.at_level(logging.WARNING, logger="bot.catalog.service"):
        await second.start()
        await second.refreshed.wait()
    await second.stop()
    assert down.calls == 1
    catalog = second.current()
    assert catalog.source == STORED and catalog.ids == first.current().ids
    assert catalog.get("google/veo-3.1") == first.current().get("google/veo-3.1")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "ConnectError" in warnings[0].getMessage()  # one line


@pytest.mark.parametrize("junk", [[], {"data": []}, {"data": [{"id": 7}, "x", None]}, "<html>", None,
                                  {"data": [{"id": "runway/aleph-2", "supported_durations": None}]}])
async def test_an_empty_or_junk_answer_never_replaces_a_good_catalog(repo, junk):
    listing = Listing(snapshot_records())
    service = CatalogService(repo, listing, settings())
    assert await service.refresh()
    good = service.current()
    listing.answer = junk
    assert not await service.refresh()
    assert service.current() is good
    assert len((await repo.stored_model_catalog("listing"))[0]) == 22


async def test_a_later_good_answer_replaces_the_catalog(repo):
    listing = Listing(snapshot_records())
    service = CatalogService(repo, listing, settings())
    await service.refresh()
    listing.answer = {"data": [r for r in snapshot_records() if r["id"] == "google/veo-3.1"]}
    assert await service.refresh()
    assert service.current().ids == ["google/veo-3.1"]
    assert [r["id"] for r in (await repo.stored_model_catalog("listing"))[0]] == ["google/veo-3.1"]


async def test_the_background_task_refreshes_on_its_interval(repo):
    listing = Listing(snapshot_records())
    service = CatalogService(repo, listing, settings(CATALOG_REFRESH_HOURS="0.00001"))  # 36 ms
    await service.start()
    for _ in range(200):
        if listing.calls >= 3:
            break
        await asyncio.sleep(0.02)
    await service.stop()
    assert listing.calls >= 3
    calls = listing.calls
    await asyncio.sleep(0.1)
    assert listing.calls == calls  # stopped means stopped


async def test_the_lister_is_found_through_the_metered_wrapper(tmp_path):
    provider = ListingSimulatedProvider(data_dir=tmp_path / "sim")
    metered = MeteredProvider(provider, Metrics())
    lister = lister_of(metered)
    assert lister is not None and lister == metered.list_models  # timed by the wrapper, then the inner one's
    assert await lister() == await provider.list_models()
    assert lister_of(object()) is None
