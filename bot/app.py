"""The discord.py Bot subclass and `serve()`, which builds every resource, runs, and releases them.

Resources are built here (in `build_resources`) and injected: the database connection, the
repository, the provider client, metrics. `setup_hook` loads the cogs, registers the persistent
Remix button, syncs the commands and starts the job engine; `close()` stops them in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

import discord
from discord.ext import commands

from bot import i18n
from bot.engine.context import EngineConfig
from bot.engine.wiring import build_engine, engine_config
from bot.logs import setup_logging
from bot.metrics import Metrics
from bot.settings import Settings
from bot.sora.base import VideoProvider
from bot.sora.factory import build_provider
from bot.sora.metered import MeteredProvider
from bot.texts import guild_not_allowed, leaving_guild_text
from cogs.common import NEEDED
from cogs.publisher import DiscordPublisher
from cogs.ratelimits import RateLimits
from cogs.translator import CatalogTranslator
from cogs.views import RemixButton
from db.database import open_store
from db.repository import Repository

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.errors", "cogs.generate", "cogs.remix", "cogs.account", "cogs.admin", "cogs.models",
              "cogs.controls", "cogs.gallery", "cogs.extend")


@dataclass
class Resources:
    settings: Settings
    repo: Repository
    provider: VideoProvider
    metrics: Metrics

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.provider.aclose()
        await self.repo.close()


async def build_resources(settings: Settings) -> Resources:
    db = await open_store(settings.database_url)
    try:
        provider = build_provider(settings)
    except Exception:
        await db.close()
        raise
    several = settings.database_is_postgres or settings.discord_shard_count is not None
    metrics = Metrics(process=settings.instance_name, shards=settings.discord_shard_ids) if several else Metrics()
    return Resources(settings, Repository(db, owner=settings.instance_name), MeteredProvider(provider, metrics),
                     metrics)


class SoraBot(commands.Bot):
    def __init__(self, resources: Resources, *, engine: EngineConfig | None = None,
                 extensions: tuple[str, ...] = EXTENSIONS, **options) -> None:
        settings = resources.settings
        intents = discord.Intents.default()
        intents.message_content = settings.discord_message_content
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        rate_limits = RateLimits()  # learns each channel's post and edit buckets from Discord's headers
        options.setdefault("http_trace", rate_limits.trace)
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, help_command=None, **options)
        self.settings = settings
        self.resources = resources
        self.repo = resources.repo
        self.metrics = resources.metrics
        self.extensions_to_load = extensions
        self.publisher = DiscordPublisher(self, rate_limits)
        self.engine = build_engine(resources.repo, resources.provider, self.publisher, settings,
                                   engine or engine_config(settings), metrics=resources.metrics)
        self.engine_ctx = self.engine.ctx
        self.poller = self.engine.poller
        self.catalog = self.engine.catalog
        self.jobs = self.engine.service
        self.commands_synced = asyncio.Event()
        self.closing = False
        # A per-instance check instead of a CommandTree subclass: it needs this bot's state.
        self.tree.interaction_check = self._accepting  # type: ignore[method-assign]
        self._left_guilds: set[int] = set()  # servers outside DISCORD_ALLOWED_GUILD_IDS already left

    async def setup_hook(self) -> None:
        await self.tree.set_translator(CatalogTranslator())  # command names in each member's language
        for name in self.extensions_to_load:
            try:
                await self.load_extension(name)
            except Exception:
                log.exception("could not load extension %s", name)
        self.add_dynamic_items(RemixButton)
        self.metrics.set_job_counts_source(self.repo.count_by_state)
        await self.catalog.start()  # the stored model catalog now; a fresh one in the background
        await self.poller.start()
        self._sync_task = asyncio.create_task(self._sync_commands(), name="sync-commands")

    @property
    def syncs_commands(self) -> bool:
        """Several processes (shards): only the one holding shard 0 syncs the slash commands."""
        ids = self.settings.shard_ids
        return ids is None or 0 in ids

    async def _sync_commands(self) -> None:
        if not self.syncs_commands:
            log.info("shards %s: commands are synced by the process holding shard 0", self.settings.shard_ids)
            self.commands_synced.set()
            return
        try:
            if self.settings.discord_guild_ids:
                for guild_id in self.settings.discord_guild_ids:
                    guild = discord.Object(guild_id)
                    self.tree.copy_global_to(guild=guild)
                    await self.tree.sync(guild=guild)
                log.info("commands synced to %d guild(s)", len(self.settings.discord_guild_ids))
            else:
                await self.tree.sync()
                log.info("commands synced globally (they can take up to an hour to appear)")
        except discord.HTTPException as exc:
            log.error("command sync failed: %s", exc)
        finally:
            self.commands_synced.set()

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands here: a mention is a remix reply (cogs/remix.py listens), not a command."""

    async def on_ready(self) -> None:
        log.info("ready as %s in %d guild(s)", self.user, len(self.guilds))
        for guild in self.guilds:
            if not await self.leave_if_not_allowed(guild):
                self.report_missing_permissions(guild)

    # --- DISCORD_ALLOWED_GUILD_IDS: answer only there, leave anywhere else ----------------------
    def guild_allowed(self, guild_id: int | None) -> bool:
        allowed = self.settings.discord_allowed_guild_ids
        return not allowed or guild_id in allowed

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.leave_if_not_allowed(guild)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self.leave_if_not_allowed(guild)

    async def leave_if_not_allowed(self, guild: discord.Guild) -> bool:
        """Leave a server DISCORD_ALLOWED_GUILD_IDS does not list, saying why where the bot can post."""
        if self.guild_allowed(guild.id):
            return False
        if guild.id in self._left_guilds:  # ready and guild_available both report it: say goodbye once
            return True
        self._left_guilds.add(guild.id)
        log.warning("guild %s is not in DISCORD_ALLOWED_GUILD_IDS: leaving it", guild.id, extra={"guild": guild.id})
        me = guild.me
        candidates = [guild.system_channel, *guild.text_channels]
        channel = next((c for c in candidates if c is not None and me is not None
                        and c.permissions_for(me).send_messages and c.permissions_for(me).view_channel), None)
        if channel is not None:
            try:
                await channel.send(leaving_guild_text(locale=i18n.normalize(guild.preferred_locale)))
            except discord.HTTPException as exc:
                log.info("could not say goodbye in guild %s: %s", guild.id, exc)
        try:
            await guild.leave()
        except discord.HTTPException as exc:
            log.error("could not leave guild %s (the bot refuses its commands anyway): %s", guild.id, exc)
        return True

    def report_missing_permissions(self, guild: discord.Guild) -> list[str]:
        """Log the text channels where the bot can't deliver videos; never raise."""
        problems = []
        me = guild.me
        if me is None:
            return problems
        for channel in guild.text_channels:
            perms = channel.permissions_for(me)
            missing = [name for name in NEEDED if name != "view_channel" and not getattr(perms, name)]
            if perms.view_channel and missing:
                problems.append(f"#{channel.name}: missing {', '.join(missing)}")
        if problems:
            log.warning("guild %s: the bot can't deliver videos in %s", guild.id, "; ".join(problems))
        return problems

    async def _accepting(self, interaction: discord.Interaction) -> bool:
        """While shutting down, new commands are answered, not started; outside the allowed servers
        (DISCORD_ALLOWED_GUILD_IDS) nothing is. Every private answer to this interaction from here on
        speaks the member's client language (the context's locale, see bot/i18n.py)."""
        i18n.set_current(interaction.locale)
        if not self.guild_allowed(interaction.guild_id):
            log.warning("refused an interaction from guild %s: not in DISCORD_ALLOWED_GUILD_IDS",
                        interaction.guild_id, extra={"guild": interaction.guild_id, "user": interaction.user.id})
            if interaction.type is not discord.InteractionType.autocomplete:
                await interaction.response.send_message(guild_not_allowed(), ephemeral=True)
            return False
        if self.closing:
            if interaction.type is discord.InteractionType.autocomplete:
                return False  # an autocomplete can't carry a message
            await interaction.response.send_message(i18n.tr("bot.restarting"), ephemeral=True)
            return False
        return True

    async def close(self) -> None:
        self.closing = True  # stop taking commands first, then let in-flight work finish
        await self.poller.stop()
        await self.catalog.stop()
        await super().close()


class ShardedSoraBot(SoraBot, commands.AutoShardedBot):
    """DISCORD_SHARD_COUNT set: this process runs shards DISCORD_SHARD_IDS (default: all) of that
    count, each its own gateway connection. Any process delivers any job: results and status edits go
    through REST with the bot token, whichever shard the guild is on."""


def make_bot(resources: Resources, **kwargs) -> SoraBot:
    """The Bot for these settings: sharded when DISCORD_SHARD_COUNT is set, else one connection."""
    settings = resources.settings
    if settings.discord_shard_count is None:
        return SoraBot(resources, **kwargs)
    return ShardedSoraBot(resources, shard_count=settings.discord_shard_count, shard_ids=settings.shard_ids,
                          **kwargs)


def _point_discord_at(settings: Settings, point_discord_at: Callable[[str], object] | None) -> None:
    """DISCORD_API_URL (the loopback fake, for tests; `point_discord_at` is the sandbox's, passed in by
    bot/runner.py) or DISCORD_REST_URL (a REST proxy), when set."""
    if settings.discord_api_url:
        if point_discord_at is None:
            raise RuntimeError("DISCORD_API_URL is set but nothing points discord.py at it (bot/runner.py does)")
        log.warning("connecting to a fake Discord at %s (DISCORD_API_URL is for tests)", settings.discord_api_url)
        point_discord_at(settings.discord_api_url)
    if settings.discord_rest_url:
        point_rest_at(settings.discord_rest_url)


async def serve(settings: Settings, *, point_discord_at: Callable[[str], object] | None = None) -> int:
    """Run the bot until SIGTERM / SIGINT; exit cleanly within the grace period. `point_discord_at`:
    how to send discord.py to DISCORD_API_URL (the sandbox's, passed in by bot/runner.py)."""
    setup_logging(settings.log_level, settings.log_format, settings.secret_values())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _point_discord_at(settings, point_discord_at)
    resources = await build_resources(settings)
    bot = make_bot(resources, engine=engine_config(settings, time_scale=settings.engine_time_scale))
    from bot.health import health_server_from_settings

    health = health_server_from_settings(settings, health_checks(bot), resources.metrics)
    if health is not None:
        await health.start()
    from bot.webhooks.receiver import webhook_receiver_from_settings

    receiver = webhook_receiver_from_settings(settings, resources.repo, bot.poller, resources.provider.name,
                                              resources.metrics)
    if receiver is not None:
        try:
            await receiver.start()
        except BaseException:
            if health is not None:
                await health.stop()
            await resources.aclose()
            raise
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        async with bot:
            runner = asyncio.create_task(bot.start(settings.require_discord()))
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if runner in done and (failure := runner.exception()) is not None:
                raise failure
            log.info("shutting down")
            await bot.close()
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(runner, timeout=5)
    except discord.LoginFailure:
        log.error("Discord refused DISCORD_TOKEN: check the token in the developer portal")
        return 2
    except discord.PrivilegedIntentsRequired:
        log.error("DISCORD_MESSAGE_CONTENT=true needs the Message Content intent: turn it on in the developer "
                  "portal (Bot → Privileged Gateway Intents), or set DISCORD_MESSAGE_CONTENT=false")
        return 2
    finally:
        if receiver is not None:
            await receiver.stop()
        if health is not None:
            await health.stop()
        await resources.aclose()
    return 0


def point_rest_at(base_url: str) -> str:
    """Send every Discord REST call through `base_url` (a shared rate-limit proxy such as nirn-proxy,
    which forwards to discord.com keeping one view of the buckets for all processes). The gateway
    still goes to Discord. Returns the API base now in use."""
    from discord.http import Route

    Route.BASE = base_url.rstrip("/") + "/api/v10"
    log.info("Discord REST goes through %s", base_url.rstrip("/"))
    return Route.BASE


def health_checks(bot: SoraBot) -> dict:
    async def gateway() -> bool:
        return bot.is_ready() and not bot.is_closed()

    async def poller() -> bool:
        return bot.poller.alive

    async def database() -> bool:
        try:
            await bot.repo.ping_write()
        except Exception:
            return False
        return True

    return {"gateway": gateway, "poller": poller, "database": database}
