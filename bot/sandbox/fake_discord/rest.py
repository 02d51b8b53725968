# Over 400 lines on purpose: every REST route the bot calls, sharing Discord's checks.
"""REST routes authenticated with the bot token: users, application, command sync, channels, guild.

Channel messages honour permissions (403 50001/50013 from the bot's overwrites), the boost tier's
upload limit (413 40005), content/embed limits (400 50035), `nonce` + `enforce_nonce` (a repeat in the
nonce lifetime returns the original message) and, when enabled, a per-channel edit rate limit (429).
"""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sandbox.fake_discord.messages import create_message, delete_message, edit_message, read_body
from bot.sandbox.fake_discord.ratelimits import ChannelBucket
from bot.sandbox.fake_discord.rules import (
    DISCORD_LOCALES,
    EDIT_OTHERS_MESSAGE,
    MISSING_ACCESS,
    REPLY_WITHOUT_HISTORY,
    UNKNOWN_CHANNEL,
    UNKNOWN_COMMAND,
    UNKNOWN_MEMBER,
    UNKNOWN_MESSAGE,
    UNKNOWN_USER,
    DiscordError,
    form_error,
    json_response,
    localized_name_ok,
    missing_permissions,
    too_long,
    unknown,
)
from bot.sandbox.fake_discord.state import FakeChannel, Intent, Perm, StoredMessage

if TYPE_CHECKING:
    from bot.sandbox.fake_discord.fake import FakeDiscord

COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")


def _int(request: web.Request, key: str) -> int:
    try:
        return int(request.match_info[key])
    except ValueError:
        raise form_error([key], "NUMBER_TYPE_COERCE", "Value is not snowflake.") from None


def check_command(cmd: dict[str, Any], path: list[str | int]) -> None:
    """Discord's validation of a command definition (names, descriptions, option order and counts)."""
    name, kind = str(cmd.get("name") or ""), int(cmd.get("type") or 1)
    chat = kind == 1
    if not name or len(name) > 32 or (chat and (name != name.lower() or not COMMAND_NAME.match(name))):
        raise form_error([*path, "name"], "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")
    if chat and not 1 <= len(cmd.get("description") or "") <= 100:
        raise form_error([*path, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    check_localizations(cmd, path, names_strict=chat)
    options = cmd.get("options") or []
    if len(options) > 25:
        raise too_long([*path, "options"], 25)
    seen_optional = False
    for index, option in enumerate(options):
        if int(option.get("type") or 0) in (1, 2):
            check_command({**option, "type": 1}, [*path, "options", index])
            continue
        check_command({"name": option.get("name"), "description": option.get("description")},
                      [*path, "options", index])
        if option.get("required") and seen_optional:
            raise form_error([*path, "options"], "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                             "Required options must be placed before non-required options")
        seen_optional = seen_optional or not option.get("required")
        if len(option.get("choices") or []) > 25:
            raise too_long([*path, "options", index, "choices"], 25)
        check_localizations(option, [*path, "options", index], names_strict=True)
        for number, choice in enumerate(option.get("choices") or []):
            check_localizations(choice, [*path, "options", index, "choices", number], names_strict=False,
                                name_limit=100)


def check_localizations(item: dict[str, Any], path: list[str | int], *, names_strict: bool,
                        name_limit: int = 32) -> None:
    """`name_localizations` / `description_localizations`: known locales only; localized names of chat
    commands and options follow Discord's name rule, other names and descriptions 1..32 / 1..100."""
    for key, limit in (("name_localizations", name_limit), ("description_localizations", 100)):
        found = item.get(key) or {}
        if not isinstance(found, dict):
            raise form_error([*path, key], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        for locale, text in found.items():
            if locale not in DISCORD_LOCALES:
                raise form_error([*path, key, locale], "LOCALE_INVALID", f"Invalid locale: {locale!r}")
            text = str(text or "")
            bad_name = key == "name_localizations" and names_strict and not localized_name_ok(text)
            if bad_name or not 1 <= len(text) <= limit:
                raise form_error([*path, key, locale], "APPLICATION_COMMAND_INVALID_NAME" if bad_name
                                 else "BASE_TYPE_BAD_LENGTH", f"Invalid localization: {text!r}")


class RestRoutes:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self._edits: dict[int, deque[float]] = {}
        # Discord-like buckets with X-RateLimit-* headers (None: that route is not limited)
        self.edit_bucket = ChannelBucket(*fake.edit_bucket, fake.now, "edit") if fake.edit_bucket else None
        self.post_bucket = ChannelBucket(*fake.post_bucket, fake.now, "post") if fake.post_bucket else None

    def register(self, router: web.UrlDispatcher, api: str) -> None:
        add = router.add_route
        add("GET", f"{api}/users/@me", self.me)
        add("GET", f"{api}/users/{{user_id}}", self.user)
        add("GET", f"{api}/oauth2/applications/@me", self.application)
        add("GET", f"{api}/applications/@me", self.application)
        add("GET", f"{api}/gateway", self.gateway_url)
        add("GET", f"{api}/gateway/bot", self.gateway_url)
        for scope in ("", "/guilds/{guild_id}"):
            base = f"{api}/applications/{{application_id}}{scope}/commands"
            add("GET", base, self.list_commands)
            add("PUT", base, self.sync_commands)
            add("POST", base, self.upsert_command)
            add("GET", base + "/{command_id}", self.one_command)
            add("PATCH", base + "/{command_id}", self.one_command)
            add("DELETE", base + "/{command_id}", self.one_command)
        add("GET", f"{api}/channels/{{channel_id}}", self.channel)
        add("GET", f"{api}/channels/{{channel_id}}/messages", self.history)
        add("POST", f"{api}/channels/{{channel_id}}/messages", self.send)
        for method in ("GET", "PATCH", "DELETE"):
            add(method, f"{api}/channels/{{channel_id}}/messages/{{message_id}}", self.message)
        add("POST", f"{api}/channels/{{channel_id}}/typing", self.no_content)
        for method in ("PUT", "DELETE"):
            add(method, f"{api}/channels/{{channel_id}}/messages/{{message_id}}/reactions/{{emoji}}/@me",
                self.reaction)
        add("GET", f"{api}/guilds/{{guild_id}}", self.guild)
        add("DELETE", f"{api}/users/@me/guilds/{{guild_id}}", self.leave_guild)
        add("GET", f"{api}/guilds/{{guild_id}}/channels", self.guild_channels)
        add("GET", f"{api}/guilds/{{guild_id}}/roles", self.guild_roles)
        add("GET", f"{api}/guilds/{{guild_id}}/members", self.guild_members)
        add("GET", f"{api}/guilds/{{guild_id}}/members/{{user_id}}", self.guild_member)

    # --- users and application --------------------------------------------------------------
    async def me(self, request: web.Request) -> web.Response:
        bot = self.fake.world.bot
        return json_response({**bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0, "bio": ""})

    async def user(self, request: web.Request) -> web.Response:
        user = self.fake.world.users.get(_int(request, "user_id"))
        if user is None:
            raise unknown(UNKNOWN_USER, "User")
        return json_response(user.payload())

    async def application(self, request: web.Request) -> web.Response:
        world = self.fake.world
        owner = world.users.get(world.owner_id)
        return json_response({
            "id": str(world.application_id), "name": world.bot.name, "description": "", "icon": None,
            "bot_public": True, "bot_require_code_grant": False, "verify_key": "0" * 64, "flags": 0,
            "owner": owner.payload() if owner else world.bot.payload(), "team": None,
            "bot": world.bot.payload(), "tags": [], "redirect_uris": [], "interactions_endpoint_url": None,
        })

    async def gateway_url(self, request: web.Request) -> web.Response:
        return json_response({"url": self.fake.gateway_url, "shards": 1, "session_start_limit": {
            "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}})

    async def no_content(self, request: web.Request) -> web.Response:
        self._channel(request)
        return web.Response(status=204)

    # --- commands ---------------------------------------------------------------------------
    def _scope(self, request: web.Request) -> int | None:
        if _int(request, "application_id") != self.fake.world.application_id:
            raise DiscordError(403, 20012, "You are not authorized to perform this action on this application")
        return _int(request, "guild_id") if "guild_id" in request.match_info else None

    def _echo(self, cmd: dict[str, Any], scope: int | None, old: dict[str, Any] | None) -> dict[str, Any]:
        kind = int(cmd.get("type") or 1)
        out = {
            "options": [], "default_member_permissions": None, "dm_permission": True, "nsfw": False,
            "contexts": None, "integration_types": [0], **cmd, "type": kind,
            "id": old["id"] if old else str(self.fake.snowflake()),
            "application_id": str(self.fake.world.application_id), "version": str(self.fake.snowflake()),
        }
        if kind != 1:
            out["description"] = ""
        if scope is not None:
            out["guild_id"] = str(scope)
        return out

    async def list_commands(self, request: web.Request) -> web.Response:
        return json_response(self.fake.synced_commands.get(self._scope(request), []))

    async def sync_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body = await read_body(request)
        commands: list[Any] = body.payload if isinstance(body.payload, list) else []
        for index, cmd in enumerate(commands):
            check_command(cmd, [index])
        old = {(c["name"], c["type"]): c for c in self.fake.synced_commands.get(scope, [])}
        echoed = [self._echo(c, scope, old.get((c["name"], int(c.get("type") or 1)))) for c in commands]
        self.fake.synced_commands[scope] = echoed
        self.fake.notify()
        return json_response(echoed)

    async def upsert_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        cmd = (await read_body(request)).payload
        check_command(cmd, [])
        current = self.fake.synced_commands.setdefault(scope, [])
        key = (cmd["name"], int(cmd.get("type") or 1))
        old = next((c for c in current if (c["name"], c["type"]) == key), None)
        echoed = self._echo(cmd, scope, old)
        current[:] = [c for c in current if c is not old] + [echoed]
        self.fake.notify()
        return json_response(echoed, 200 if old else 201)

    async def one_command(self, request: web.Request) -> web.Response:
        current = self.fake.synced_commands.setdefault(self._scope(request), [])
        found = next((c for c in current if c["id"] == request.match_info["command_id"]), None)
        if found is None:
            raise unknown(UNKNOWN_COMMAND, "application command")
        if request.method == "DELETE":
            current.remove(found)
            return web.Response(status=204)
        if request.method == "PATCH":
            found.update((await read_body(request)).payload)
        return json_response(found)

    # --- channels and messages --------------------------------------------------------------
    def _channel(self, request: web.Request) -> FakeChannel:
        channel = self.fake.world.channels.get(_int(request, "channel_id"))
        if channel is None:
            raise unknown(UNKNOWN_CHANNEL, "Channel")
        if not self.fake.world.permissions(self.fake.world.bot.id, channel.id) & Perm.VIEW_CHANNEL:
            raise DiscordError(403, MISSING_ACCESS, "Missing Access")
        return channel

    def _message(self, request: web.Request, channel: FakeChannel) -> StoredMessage:
        msg = self.fake.world.messages.get(_int(request, "message_id"))
        if msg is None or msg.deleted or msg.channel_id != channel.id or msg.ephemeral:
            raise unknown(UNKNOWN_MESSAGE, "Message")
        return msg

    async def channel(self, request: web.Request) -> web.Response:
        return json_response(self._channel(request).payload())

    async def history(self, request: web.Request) -> web.Response:
        world = self.fake.world
        channel = self._channel(request)
        if not world.permissions(world.bot.id, channel.id) & Perm.READ_MESSAGE_HISTORY:
            return json_response([])
        limit = max(1, min(100, int(request.query.get("limit", 50))))
        msgs = world.visible_history(channel.id)  # oldest first
        if "before" in request.query:
            before = int(request.query["before"])
            picked = [m for m in msgs if m.id < before][-limit:]
        elif "after" in request.query:
            after = int(request.query["after"])
            picked = [m for m in msgs if m.id > after][:limit]
        elif "around" in request.query:
            around = int(request.query["around"])
            older = [m for m in msgs if m.id <= around][-(limit // 2 + limit % 2):]
            picked = older + [m for m in msgs if m.id > around][: limit // 2]
        else:
            picked = msgs[-limit:]
        return json_response([world.message_payload(m) for m in reversed(picked)])

    async def send(self, request: web.Request) -> web.Response:
        fake, world = self.fake, self.fake.world
        channel = self._channel(request)
        body = await read_body(request)
        perms = world.permissions(world.bot.id, channel.id)
        payload = body.payload
        if not perms & Perm.SEND_MESSAGES:
            raise missing_permissions()
        if body.files and not perms & Perm.ATTACH_FILES:
            raise missing_permissions()
        if payload.get("embeds") and not perms & Perm.EMBED_LINKS:
            raise missing_permissions()
        if payload.get("message_reference") and not perms & Perm.READ_MESSAGE_HISTORY:
            raise DiscordError(400, REPLY_WITHOUT_HISTORY, "Cannot reply without permission to read message history")
        limited = self._limited(self.post_bucket, channel.id)
        if isinstance(limited, web.Response):
            return limited
        nonce = payload.get("nonce")
        key = (channel.id, str(nonce))
        if nonce is not None and payload.get("enforce_nonce"):
            seen = self._nonces.get(key)
            if seen and fake.now() - seen[1] <= fake.nonce_lifetime:
                original = world.messages.get(seen[0])
                if original is not None and not original.deleted:
                    return json_response(world.message_payload(original), headers=limited)
        msg = await create_message(fake, channel.id, world.bot.id, body, size_limit=world.upload_limit)
        if nonce is not None:
            self._nonces[key] = (msg.id, fake.now())
        return json_response(world.message_payload(msg), headers=limited)

    @staticmethod
    def _limited(bucket: ChannelBucket | None, channel_id: int) -> dict[str, str] | web.Response | None:
        """The rate-limit headers for an allowed request, or the 429 answer for a refused one."""
        if bucket is None:
            return None
        allowed, headers, refusal = bucket.take(channel_id)
        return headers if allowed else json_response(refusal, 429, headers)

    def _edit_allowed(self, channel_id: int) -> float | None:
        """Seconds to wait if the per-channel edit bucket is empty, else None (and take a token)."""
        limit = self.fake.edit_rate_limit
        if limit is None:
            return None
        count, per = limit
        now = self.fake.now()
        window = self._edits.setdefault(channel_id, deque())
        while window and now - window[0] >= per:
            window.popleft()
        if len(window) >= count:
            return round(per - (now - window[0]), 3)
        window.append(now)
        return None

    async def message(self, request: web.Request) -> web.Response:
        fake, world = self.fake, self.fake.world
        channel = self._channel(request)
        msg = self._message(request, channel)
        perms = world.permissions(world.bot.id, channel.id)
        if request.method == "GET":
            if not perms & Perm.READ_MESSAGE_HISTORY:
                raise missing_permissions()
            return json_response(world.message_payload(msg))
        if request.method == "DELETE":
            if msg.author_id != world.bot.id and not perms & Perm.MANAGE_MESSAGES:
                raise missing_permissions()
            await delete_message(fake, msg)
            return web.Response(status=204)
        if msg.author_id != world.bot.id:
            raise DiscordError(403, EDIT_OTHERS_MESSAGE, "Cannot edit a message authored by another user")
        wait = self._edit_allowed(channel.id)
        if wait is not None:
            return json_response({"message": "You are being rate limited.", "retry_after": wait, "global": False},
                                 429, {"Via": "1.1 google", "Retry-After": str(wait), "X-RateLimit-Scope": "user"})
        limited = self._limited(self.edit_bucket, channel.id)
        if isinstance(limited, web.Response):
            return limited
        body = await read_body(request)
        if body.files and not perms & Perm.ATTACH_FILES:
            raise missing_permissions()
        await edit_message(fake, msg, body, size_limit=world.upload_limit)
        return json_response(world.message_payload(msg), headers=limited)

    async def reaction(self, request: web.Request) -> web.Response:
        world = self.fake.world
        channel = self._channel(request)
        msg = self._message(request, channel)
        if request.method == "PUT" and not world.permissions(world.bot.id, channel.id) & Perm.ADD_REACTIONS:
            raise missing_permissions()
        users = msg.reactions.setdefault(request.match_info["emoji"], set())
        (users.add if request.method == "PUT" else users.discard)(world.bot.id)
        self.fake.notify()
        return web.Response(status=204)

    # --- guild ------------------------------------------------------------------------------
    def _guild(self, request: web.Request) -> None:
        if _int(request, "guild_id") != self.fake.world.guild_id:
            raise unknown(10004, "Guild")

    async def leave_guild(self, request: web.Request) -> web.Response:
        """The bot leaves the guild: 204, then GUILD_DELETE (no `unavailable`: it was removed)."""
        guild_id = _int(request, "guild_id")
        if guild_id in self.fake.other_guilds:
            del self.fake.other_guilds[guild_id]
        else:
            self._guild(request)
        self.fake.left_guilds.append(guild_id)
        await self.fake.gateway.dispatch("GUILD_DELETE", {"id": str(guild_id)}, intent=Intent.GUILDS)
        return web.Response(status=204)

    async def guild(self, request: web.Request) -> web.Response:
        self._guild(request)
        return json_response(self.fake.world.guild_payload(include_members=False, rest=True))

    async def guild_channels(self, request: web.Request) -> web.Response:
        self._guild(request)
        return json_response([c.payload() for c in self.fake.world.channels.values()])

    async def guild_roles(self, request: web.Request) -> web.Response:
        self._guild(request)
        return json_response([r.payload() for r in self.fake.world.roles.values()])

    async def guild_members(self, request: web.Request) -> web.Response:
        self._guild(request)
        world = self.fake.world
        after = int(request.query.get("after", 0))
        limit = max(1, min(1000, int(request.query.get("limit", 1))))
        ids = sorted(u for u in world.users if u > after)[:limit]
        return json_response([world.member_payload(u) for u in ids])

    async def guild_member(self, request: web.Request) -> web.Response:
        self._guild(request)
        user_id = _int(request, "user_id")
        if user_id not in self.fake.world.users:
            raise unknown(UNKNOWN_MEMBER, "Member")
        return json_response(self.fake.world.member_payload(user_id))
