"""`FakeDiscord`: the loopback server object that ties state, REST, webhooks, gateway and driver together.

It owns the configuration (token, guild, boost tier, privileged intents, the 3 s / 15 min clocks),
the fake clock (`now`, `advance`), the change signal tests wait on (`notify`, `wait_until`), the REST
call log, fault injection, and `run_bot`, which logs a real discord.py client in and waits for ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from bot.sandbox.fake_discord.actors import MemberDriver
from bot.sandbox.fake_discord.gateway import GatewayHub
from bot.sandbox.fake_discord.rest import RestRoutes
from bot.sandbox.fake_discord.rules import DISCORD_LOCALES
from bot.sandbox.fake_discord.server import Fault, FaultInjector, RestCall, build_app
from bot.sandbox.fake_discord.state import (
    DEFAULT_MEMBER_PERMISSIONS,
    FakeChannel,
    FakeRole,
    FakeUser,
    Intent,
    Overwrite,
    Perm,
    SnowflakeFactory,
    StoredMessage,
    World,
)
from bot.sandbox.fake_discord.webhooks import InteractionStore
from bot.sandbox.fake_discord.wiring import point_discord_py_at

if TYPE_CHECKING:
    import discord

log = logging.getLogger(__name__)
T = TypeVar("T")


class FakeDiscord(MemberDriver):
    def __init__(
        self,
        *,
        token: str | None = None,
        guild_id: int | None = None,
        guild_name: str = "Sora Sandbox",
        premium_tier: int = 0,
        bot_name: str = "SoraBot",
        bot_id: int | None = None,
        application_id: int | None = None,
        bot_permissions: int = DEFAULT_MEMBER_PERMISSIONS,
        channels: Iterable[str] = ("general", "videos"),
        members: Iterable[str] = ("alice", "bob"),
        managers: Iterable[str] = ("mod",),
        privileged_intents: int = 0,
        interaction_deadline: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        nonce_lifetime: float = 300.0,
        heartbeat_interval: float = 41.25,
        edit_rate_limit: tuple[int, float] | None = None,
        edit_bucket: tuple[int, float] | None = None,
        post_bucket: tuple[int, float] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if premium_tier not in (0, 1, 2, 3):
            raise ValueError("premium_tier must be 0..3")
        self.token = token or f"fake.{secrets.token_urlsafe(24)}"
        self.privileged_intents = privileged_intents
        self.interaction_deadline = interaction_deadline
        self.token_lifetime = token_lifetime
        self.nonce_lifetime = nonce_lifetime
        self.heartbeat_interval = heartbeat_interval
        self.edit_rate_limit = edit_rate_limit  # a limit that sends no headers (a sub-limit, say)
        self.edit_bucket = edit_bucket  # per-channel edits as Discord limits them, with X-RateLimit-* headers
        self.post_bucket = post_bucket  # per-channel message posts, likewise
        self.host, self.port = host, port
        self.snowflake = SnowflakeFactory()
        gid = guild_id or self.snowflake()
        bot = FakeUser(bot_id or self.snowflake(), bot_name, bot=True)
        self.world = World(gid, guild_name, premium_tier, bot, application_id or bot.id)
        self.world.roles[gid] = FakeRole(gid, "@everyone", DEFAULT_MEMBER_PERMISSIONS)
        self.bot_role = self._add_role(bot_name, bot_permissions, managed=True)
        self.manager_role = self._add_role("Manager", int(Perm.MANAGE_GUILD | Perm.MANAGE_MESSAGES))
        self.world.users[bot.id] = bot
        bot.roles.append(self.bot_role.id)
        self.world.owner_id = self._new_member("owner").id
        for name in channels:
            self._new_channel(name)
        for name in members:
            self._new_member(name)
        for name in managers:
            self._new_member(name, [self.manager_role.id])
        self.synced_commands: dict[int | None, list[dict[str, Any]]] = {}
        # Commands a server admin opened to everyone under Server Settings > Integrations: the
        # client then offers them whatever their default_member_permissions say.
        self.everyone_may_use: set[str] = set()
        self.left_guilds: list[int] = []  # guilds the bot left (DELETE /users/@me/guilds/{id})
        self.other_guilds: dict[int, dict[str, Any]] = {}  # guilds the bot was added to besides the world's
        self.calls: list[RestCall] = []
        self.cdn_downloads: list[int] = []
        self.gateway = GatewayHub(self)
        self.interactions = InteractionStore(self)
        self.rest = RestRoutes(self)
        self.faults = FaultInjector(self)
        self.stopping = asyncio.Event()
        self._clock_offset = 0.0
        self._tick = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._unwire: Callable[[], None] | None = None

    # --- lifecycle --------------------------------------------------------------------------
    async def start(self) -> FakeDiscord:
        self._runner = web.AppRunner(build_app(self), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # the listening socket tells us the random port
        assert server is not None and hasattr(server, "sockets"), "a started TCPSite has its server"
        self.port = server.sockets[0].getsockname()[1]
        log.info("fake Discord listening on %s", self.url)
        return self

    async def close(self) -> None:
        self.unwire()
        self.stopping.set()
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        self.wire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def wire(self) -> None:
        """Point discord.py (this process) at the fake until `unwire` or `close`."""
        if self._unwire is None:
            self._unwire = point_discord_py_at(self.url)

    def unwire(self) -> None:
        if self._unwire is not None:
            self._unwire()
            self._unwire = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gw"

    # --- clock and change signal ------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self._clock_offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward (interaction deadlines, token and nonce lifetimes)."""
        self._clock_offset += seconds
        self.notify()

    def notify(self) -> None:
        self._tick.set()
        self._tick = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], T | None], timeout: float = 5.0, what: str = "condition") -> T:
        """Wait until `predicate()` is truthy (re-checked on every change in the fake) and return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"fake Discord: timed out after {timeout}s waiting for {what}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._tick.wait(), min(remaining, 0.25))

    # --- world editing ----------------------------------------------------------------------
    def _add_role(self, name: str, permissions: int, *, managed: bool = False) -> FakeRole:
        role = FakeRole(self.snowflake(), name, permissions, len(self.world.roles), managed)
        self.world.roles[role.id] = role
        return role

    def _new_channel(self, name: str) -> FakeChannel:
        channel = FakeChannel(self.snowflake(), name, self.world.guild_id, len(self.world.channels))
        self.world.channels[channel.id] = channel
        return channel

    def _new_member(self, name: str, roles: Iterable[int] = ()) -> FakeUser:
        user = FakeUser(self.snowflake(), name, roles=list(roles))
        self.world.users[user.id] = user
        return user

    # World edits are announced on the gateway like Discord does, so they may happen while a bot runs.
    async def add_role(self, name: str, permissions: int) -> FakeRole:
        role = self._add_role(name, permissions)
        await self.gateway.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(self.world.guild_id), "role": role.payload()})
        return role

    async def add_channel(self, name: str) -> FakeChannel:
        channel = self._new_channel(name)
        await self.gateway.dispatch("CHANNEL_CREATE", channel.payload(), intent=Intent.GUILDS)
        return channel

    async def add_member(self, name: str, *, roles: Iterable[int] = (), manager: bool = False) -> FakeUser:
        user = self._new_member(name, [*roles, *([self.manager_role.id] if manager else [])])
        payload = {**self.world.member_payload(user.id), "guild_id": str(self.world.guild_id)}
        await self.gateway.dispatch("GUILD_MEMBER_ADD", payload, intent=Intent.GUILD_MEMBERS)
        return user

    @property
    def bot(self) -> FakeUser:
        return self.world.bot

    def user(self, key: str | int | FakeUser) -> FakeUser:
        if isinstance(key, FakeUser):
            return key
        for user in self.world.users.values():
            if key in (user.id, user.name):
                return user
        raise KeyError(f"no member {key!r}")

    def channel(self, key: str | int | FakeChannel) -> FakeChannel:
        if isinstance(key, FakeChannel):
            return key
        for channel in self.world.channels.values():
            if key in (channel.id, channel.name):
                return channel
        raise KeyError(f"no channel {key!r}")

    async def set_overwrite(self, channel: str | int | FakeChannel, target: FakeUser | FakeRole | int,
                            *, allow: int = 0, deny: int = 0) -> None:
        """Channel permission overwrite for a member or role (e.g. deny the bot Attach Files)."""
        chan = self.channel(channel)
        target_id = target if isinstance(target, int) else target.id
        kind = 0 if target_id in self.world.roles else 1
        chan.overwrites[target_id] = Overwrite(target_id, kind, int(allow), int(deny))
        await self.gateway.dispatch("CHANNEL_UPDATE", chan.payload(), intent=Intent.GUILDS)

    async def add_bot_to_guild(self, name: str = "Another Server") -> int:
        """Someone adds the bot to a second server: GUILD_CREATE for it, as Discord sends on a join.
        That server is a shell (one channel, the bot its only member): only leaving it is served."""
        gid = self.snowflake()
        world = self.world
        channel = FakeChannel(self.snowflake(), "welcome", gid)
        guild = {**world.guild_payload(include_members=False), "id": str(gid), "name": name,
                 "owner_id": str(world.owner_id), "member_count": 1, "system_channel_id": str(channel.id),
                 "roles": [FakeRole(gid, "@everyone", DEFAULT_MEMBER_PERMISSIONS).payload()],
                 "channels": [channel.payload()],
                 "members": [{**world.member_payload(world.bot.id), "roles": []}]}
        guild.pop("unavailable", None)  # a join carries no `unavailable` (False means "back after an outage")
        self.other_guilds[gid] = guild
        await self.gateway.dispatch("GUILD_CREATE", guild, intent=Intent.GUILDS)
        return gid

    def override_command_permissions(self, name: str) -> None:
        """What a server admin does under Integrations: let every member use command `name`."""
        self.everyone_may_use.add(name)

    async def deny_bot(self, channel: str | int | FakeChannel, permissions: int) -> None:
        await self.set_overwrite(channel, self.world.bot, deny=permissions)

    async def set_preferred_locale(self, locale: str) -> None:
        """The server's language (e.g. "zh-CN"): carried by GUILD_CREATE, GUILD_UPDATE (sent now) and
        every interaction's `guild_locale`. A member's own client language is `fake.user(name).locale`."""
        if locale not in DISCORD_LOCALES:
            raise ValueError(f"not a Discord locale: {locale!r}")
        self.world.preferred_locale = locale
        guild = self.world.guild_payload(include_members=False, rest=True)
        await self.gateway.dispatch("GUILD_UPDATE", guild, intent=Intent.GUILDS)

    async def set_premium_tier(self, tier: int) -> None:
        """Boost tier 0..3: the upload limit becomes 10/10/50/100 MiB (GUILD_UPDATE is sent)."""
        if tier not in (0, 1, 2, 3):
            raise ValueError("premium_tier must be 0..3")
        self.world.premium_tier = tier
        guild = self.world.guild_payload(include_members=False, rest=True)
        await self.gateway.dispatch("GUILD_UPDATE", guild, intent=Intent.GUILDS)

    # --- faults and call log ----------------------------------------------------------------
    def inject_fault(self, method: str, path: str, *, status: int = 500, times: int = 1,
                     retry_after: float = 0.05, hang: bool = False, delay: float = 0.0) -> Fault:
        """The next `times` REST calls whose method matches (or "*") and whose path (after /api/v10)
        matches the regex `path` answer `status` (429 is retryable), or hang until the fake closes,
        or are answered normally after `delay` seconds."""
        return self.faults.add(Fault(method.upper(), path, status, times, retry_after, hang, delay))

    def calls_to(self, method: str | None = None, route: str | None = None, *,
                 status: int | None = None) -> list[RestCall]:
        """REST calls filtered by method, a regex searched in the matched route pattern, and status."""
        return [
            c for c in self.calls
            if (method is None or c.method == method.upper())
            and (route is None or re.search(route, c.route) is not None or re.search(route, c.path) is not None)
            and (status is None or c.status == status)
        ]

    def command(self, name: str, kind: int = 1) -> dict[str, Any] | None:
        """A synced command as the fake echoed it (guild commands shadow global ones)."""
        for scope in (self.world.guild_id, None):
            for cmd in self.synced_commands.get(scope, []):
                if cmd["name"] == name and cmd["type"] == kind:
                    return cmd
        return None

    async def drop_gateway(self, code: int = 4000) -> None:
        """Close the bot's gateway connection uncleanly; discord.py reconnects and RESUMEs."""
        await self.gateway.drop(code)

    # --- messages ---------------------------------------------------------------------------
    def messages(self, channel: str | int | FakeChannel) -> list[StoredMessage]:
        """The channel's visible messages, oldest first (not ephemeral, not deleted)."""
        return self.world.visible_history(self.channel(channel).id)

    def message(self, message_id: int) -> StoredMessage:
        return self.world.messages[message_id]

    async def wait_for_message(self, predicate: Callable[[StoredMessage], bool], *,
                               channel: str | int | FakeChannel | None = None, timeout: float = 5.0,
                               include_ephemeral: bool = False) -> StoredMessage:
        """The first stored message (oldest first) matching `predicate`, waiting for it if needed."""
        channel_id = self.channel(channel).id if channel is not None else None

        def find() -> StoredMessage | None:
            for msg in list(self.world.messages.values()):
                if msg.deleted or (msg.ephemeral and not include_ephemeral):
                    continue
                if channel_id is not None and msg.channel_id != channel_id:
                    continue
                if predicate(msg):
                    return msg
            return None

        return await self.wait_until(find, timeout, "a matching message")

    # --- running a real discord.py client ---------------------------------------------------
    @contextlib.asynccontextmanager
    async def run_bot(self, client: discord.Client, *, timeout: float = 5.0) -> AsyncIterator[discord.Client]:
        """Log `client` in with this fake's token, connect, wait for `on_ready`; close it on exit."""
        self.wire()
        await client.login(self.token)
        connect = asyncio.create_task(client.connect(reconnect=True), name="fake-discord-bot-connect")
        ready = asyncio.create_task(client.wait_until_ready())
        try:
            done, _ = await asyncio.wait({connect, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if connect in done:
                connect.result()  # raises why the client stopped (bad intents, ...)
                raise RuntimeError("the client stopped before it was ready")
            if ready not in done:
                raise TimeoutError(f"the client was not ready within {timeout}s")
            yield client
        finally:
            ready.cancel()
            await client.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(connect, 5)
