"""The one home of a member's limits and prices: the settings' defaults, the fetched catalog, the
server's own limits, channels and prices, and role tiers come together here, and every change a
manager makes with `/sora-admin` is a read-modify-write in ONE transaction (`db.repository`'s
`update_guild_config` / `update_role_tier`), so two managers changing settings at once both keep theirs.

The arithmetic stays pure in `bot.quota` (decide, summarize), `bot.pricing` (prices, settlement) and
`bot.admin` (what a manager typed → stored form); SQL stays in `db/`.

    service = QuotaService(repo, settings, catalog)
    limits = await service.limits_for(guild_id, role_ids)        # settings ∘ catalog ∘ guild ∘ tiers
    prices = await service.prices_for(guild_id, model)
    await service.set_limits(guild_id, {"user_videos_per_day": 5}, by=manager_id, detail="…")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot import admin, quota
from bot.catalog import choices
from bot.catalog.service import Catalog, CatalogService
from bot.domain.records import GuildConfig, UsageRows
from bot.domain.store import QuotaStore
from bot.settings import Settings


class QuotaService:
    def __init__(self, repo: QuotaStore, settings: Settings, catalog: CatalogService) -> None:
        self.repo = repo
        self.settings = settings
        self.catalog = catalog

    # --- reading ------------------------------------------------------------------------------------
    def base_limits(self) -> quota.Limits:
        """The bot-wide limits: the settings' defaults as the current catalog reads them."""
        return _catalog_defaults(quota.Limits.from_settings(self.settings), self.catalog.current())

    async def guild_limits(self, guild_id: int) -> quota.Limits:
        """The server's limits before role tiers (what `/sora-admin show` lists)."""
        return admin.guild_limits(quota.Limits.from_settings(self.settings),
                                  (await self.repo.guild_config(guild_id)).limits)

    async def tiers(self, guild_id: int) -> dict[int, dict[str, Any]]:
        """The server's role tiers as stored (role id → the settings it changes)."""
        return await self.repo.role_tiers(guild_id)

    async def channels(self, guild_id: int) -> list[int]:
        """The channels the bot answers in (empty: every channel)."""
        return list((await self.repo.guild_config(guild_id)).channels or [])

    async def limits_for(self, guild_id: int | None, role_ids: Iterable[int] = ()) -> quota.Limits:
        """A member's limits: the bot's, the server's over them, the most generous of the member's
        role tiers over those."""
        base = self.base_limits()
        if guild_id is None:
            return base
        guild = admin.guild_limits(base, (await self.repo.guild_config(guild_id)).limits)
        stored = await self.tiers(guild_id)
        tiers = [admin.tier_from_json(role_id, data) for role_id, data in stored.items()]
        return quota.resolve_limits(guild, tiers, role_ids)

    async def guild_cap(self, guild_id: int | None) -> int | None:
        """The server's cap on videos in progress upstream (the poller's admission asks)."""
        return (await self.limits_for(guild_id)).guild_concurrent

    async def guild_prices(self, guild_id: int | None) -> dict[str, str] | None:
        """The server's own prices (`/sora-admin price`), None when it set none."""
        return (await self.repo.guild_config(guild_id)).prices if guild_id is not None else None

    async def prices_for(self, guild_id: int | None, model: str | None = None) -> dict[str, str]:
        """PRICE_PER_SECOND with the server's own prices over it; with `model`, that model's SKU
        prices from the catalog too (a server's price for the model still wins)."""
        guild = await self.guild_prices(guild_id)
        caps = self.catalog.current().get(model) if model else None
        if caps is None:
            return {**self.settings.price_per_second, **(guild or {})}
        return choices.merge_prices(self.settings.price_per_second, choices.catalog_prices(caps), guild, caps.id)

    async def usage(self, guild_id: int | None, user_id: int, now: datetime) -> quota.Usage:
        rows = await self.repo.usage(guild_id, user_id, month_start=quota.month_start(now).timestamp())
        return usage_from_rows(rows)

    # --- a manager's changes (each one transaction) ---------------------------------------------------
    async def set_limits(self, guild_id: int, changes: Mapping[str, Any], *, by: int, detail: str) -> GuildConfig:
        """Merge `changes` (field → value; None = no limit) into the server's limits."""
        def change(config: GuildConfig) -> tuple[GuildConfig, str]:
            merged = admin.apply_changes(config.limits, changes)
            return GuildConfig(config.guild_id, merged, config.channels, config.prices), detail

        return await self.repo.update_guild_config(guild_id, change, by=by, action="limits.set")

    async def set_channels(self, guild_id: int, action: str, channel_id: int | None, *, by: int) -> list[int]:
        """`add` or `remove` one channel, or answer `everywhere`; returns the channels now kept."""
        def change(config: GuildConfig) -> tuple[GuildConfig, str]:
            current = list(config.channels or [])
            if action == "everywhere":
                current = []
            elif action == "add" and channel_id is not None and channel_id not in current:
                current.append(channel_id)
            elif action == "remove" and channel_id in current:
                current.remove(channel_id)
            detail = ",".join(map(str, current)) or "everywhere"
            return GuildConfig(config.guild_id, config.limits, current or None, config.prices), detail

        return list((await self.repo.update_guild_config(guild_id, change, by=by, action="channels.set")).channels
                    or [])

    async def set_price(self, guild_id: int, key: str, usd_per_second: str | None, *, by: int) -> None:
        """The server's USD per second for `key` (model or model@size); None goes back to the default."""
        def change(config: GuildConfig) -> tuple[GuildConfig, str]:
            prices = dict(config.prices or {})
            if usd_per_second is None:
                prices.pop(key, None)
            else:
                prices[key] = usd_per_second
            return (GuildConfig(config.guild_id, config.limits, config.channels, prices or None),
                    f"{key}={usd_per_second}")

        await self.repo.update_guild_config(guild_id, change, by=by, action="price.set")

    async def set_tier(self, guild_id: int, role_id: int, setting: str, value: Any, *, by: int,
                       clear: bool = False) -> dict[str, Any]:
        """One setting of a role's tier (`clear`: remove it); the tier goes when nothing is left.
        Returns the tier as stored now."""
        def change(data: dict[str, Any]) -> dict[str, Any]:
            data = dict(data)
            if clear:
                data.pop(setting, None)
            else:
                data[setting] = value
            return data

        return await self.repo.update_role_tier(guild_id, role_id, change, by=by)


def usage_from_rows(rows: UsageRows) -> quota.Usage:
    """The repository's usage rows (epoch seconds, floats) as `quota.Usage`."""
    def at(ts: float) -> datetime:
        return datetime.fromtimestamp(ts, UTC)

    return quota.Usage(
        user_entries=tuple(quota.UsageEntry(at(e.at), e.seconds, Decimal(str(e.usd))) for e in rows.user_entries_24h),
        guild_month_seconds=rows.guild_month_seconds,
        guild_month_usd=Decimal(str(rows.guild_month_usd)),
        user_active_jobs=rows.user_active,
        guild_active_jobs=rows.guild_active,
        user_last_submission=at(rows.user_last_submit_at) if rows.user_last_submit_at else None,
        bot_month_usd=Decimal(str(rows.bot_month_usd)),
    )


def _catalog_defaults(base: quota.Limits, catalog: Catalog) -> quota.Limits:
    """A fetched catalog's models carry their own sizes and durations, so the built-in profile's
    lists (SORA_ALLOWED_SIZES, QUOTA_DEFAULT_SECONDS) don't narrow them; QUOTA_DEFAULT_MODELS keeps
    the models it names that the catalog has (none of them: every model). Admins narrow further with
    /sora-admin allow."""
    if catalog.builtin:
        return base
    models = frozenset(base.allowed_models or ()) & frozenset(catalog.ids)
    return base.replace(allowed_sizes=None, allowed_seconds=None, allowed_models=models or None)
