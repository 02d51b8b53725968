"""The quota service: a member's limits from settings, server and role tiers, and a manager's changes
as one read-modify-write transaction each, on SQLite and PostgreSQL (`store_url`). Two managers
(here: two processes' repositories on the same database) changing settings at once lose nothing."""

from __future__ import annotations

import asyncio
import contextlib

from bot.catalog.service import CatalogService
from bot.engine.quota_service import QuotaService
from bot.settings import Settings
from db.database import open_store
from db.repository import GuildConfig, Repository

GUILD = 77
FIELDS = ["user_videos_per_day", "user_seconds_per_day", "guild_seconds_per_month", "user_concurrent",
          "guild_concurrent", "user_cooldown_seconds", "max_seconds"]


def _settings() -> Settings:
    return Settings(_env_file=None)


@contextlib.asynccontextmanager
async def _two_managers(store_url: str):
    """Two quota services, each on its own connection (pool) to one database, as two processes are."""
    first, second = await open_store(store_url), await open_store(store_url)
    try:
        services = []
        for db in (first, second):
            repo = Repository(db)
            services.append(QuotaService(repo, _settings(), CatalogService(repo, object(), _settings())))
        yield services
    finally:
        await first.close()
        await second.close()


async def test_two_managers_changing_limits_at_once_lose_nothing(store_url):
    async with _two_managers(store_url) as (a, b):
        # Each manager changes every limit, one command at a time, both at once: 14 transactions.
        await asyncio.gather(
            *(a.set_limits(GUILD, {field: 10 + i}, by=1, detail=f"{field}={10 + i}") for i, field in enumerate(FIELDS)),
            *(b.set_price(GUILD, f"model-{i}", f"0.{i + 1}", by=2) for i in range(len(FIELDS))),
        )
        config = await a.repo.guild_config(GUILD)
        assert config.limits == {field: 10 + i for i, field in enumerate(FIELDS)}
        assert config.prices == {f"model-{i}": f"0.{i + 1}" for i in range(len(FIELDS))}
        log = await b.repo.admin_log(GUILD, limit=100)
        assert sorted(r["action"] for r in log) == ["limits.set"] * len(FIELDS) + ["price.set"] * len(FIELDS)


async def test_two_managers_changing_one_role_tier_and_the_channels_at_once_lose_nothing(store_url):
    async with _two_managers(store_url) as (a, b):
        await asyncio.gather(
            a.set_tier(GUILD, 900, "user_videos_per_day", 50, by=1),
            b.set_tier(GUILD, 900, "allowed_models", ["sora-2-pro"], by=2),
            a.set_tier(GUILD, 900, "max_seconds", "unlimited", by=1),
            *(m.set_channels(GUILD, "add", channel, by=i) for i, (m, channel) in
              enumerate([(a, 11), (b, 12), (a, 13), (b, 14)])),
        )
        assert (await a.repo.role_tiers(GUILD))[900] == {
            "user_videos_per_day": 50, "allowed_models": ["sora-2-pro"], "max_seconds": "unlimited"}
        assert sorted((await b.repo.guild_config(GUILD)).channels or []) == [11, 12, 13, 14]


async def test_a_change_keeps_the_rest_of_the_settings_and_clearing_the_last_setting_removes_a_tier(store_url):
    async with _two_managers(store_url) as (a, _):
        await a.repo.save_guild_config(GuildConfig(GUILD, {"max_seconds": 8}, [5], {"sora-2": "0.1"}), by=1,
                                       action="limits.set", detail="x")
        await a.set_limits(GUILD, {"user_concurrent": None}, by=1, detail="user_concurrent=None")
        assert await a.repo.guild_config(GUILD) == GuildConfig(
            GUILD, {"max_seconds": 8, "user_concurrent": None}, [5], {"sora-2": "0.1"})
        assert await a.set_channels(GUILD, "remove", 5, by=1) == []
        assert (await a.repo.guild_config(GUILD)).channels is None  # no list: every channel
        await a.set_price(GUILD, "sora-2", None, by=1)
        assert (await a.repo.guild_config(GUILD)).prices is None
        assert await a.set_tier(GUILD, 900, "max_seconds", 4, by=1) == {"max_seconds": 4}
        assert await a.set_tier(GUILD, 900, "max_seconds", None, clear=True, by=1) == {}
        assert await a.repo.role_tiers(GUILD) == {}


async def test_limits_for_a_member_combine_settings_server_and_the_most_generous_tier(store_url):
    async with _two_managers(store_url) as (a, _):
        await a.set_limits(GUILD, {"user_videos_per_day": 2, "guild_concurrent": 3}, by=1, detail="x")
        await a.set_tier(GUILD, 900, "user_videos_per_day", 5, by=1)
        await a.set_tier(GUILD, 901, "user_videos_per_day", "unlimited", by=1)
        assert (await a.limits_for(GUILD)).user_videos_per_day == 2
        assert (await a.limits_for(GUILD, [900])).user_videos_per_day == 5
        assert (await a.limits_for(GUILD, [900, 901])).user_videos_per_day is None
        assert await a.guild_cap(GUILD) == 3
        assert (await a.limits_for(None)) == a.base_limits()
