"""The fake Discord's data model: one guild, its roles, channels and members, stored messages and files.

Everything here is plain data plus the JSON shapes discord.py 2.7 parses (user, member, role, channel,
guild, message). Permission arithmetic follows Discord's rules: @everyone and member roles, owner and
Administrator bypass, then channel overwrites (@everyone, roles, member). No I/O lives here.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from dataclasses import dataclass, field
from enum import IntFlag
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
MIB = 1024 * 1024
UPLOAD_LIMITS = {0: 10 * MIB, 1: 10 * MIB, 2: 50 * MIB, 3: 100 * MIB}


class Perm(IntFlag):
    """Discord permission bits the fake computes and enforces."""

    CREATE_INSTANT_INVITE = 1 << 0
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    USE_APPLICATION_COMMANDS = 1 << 31


ALL_PERMISSIONS = (1 << 50) - 1
DEFAULT_MEMBER_PERMISSIONS = int(
    Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES | Perm.EMBED_LINKS | Perm.ATTACH_FILES | Perm.READ_MESSAGE_HISTORY
    | Perm.ADD_REACTIONS | Perm.USE_EXTERNAL_EMOJIS | Perm.USE_APPLICATION_COMMANDS | Perm.CREATE_INSTANT_INVITE
)


class Intent(IntFlag):
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    MESSAGE_CONTENT = 1 << 15


PRIVILEGED_INTENTS = int(Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT)

# Message flags and types used by the fake.
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
TYPE_DEFAULT, TYPE_REPLY, TYPE_CHAT_INPUT, TYPE_CONTEXT_MENU = 0, 19, 20, 23


class SnowflakeFactory:
    """Unique, increasing snowflakes whose timestamp part is the wall clock (discord.py reads it)."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._last = 0

    def __call__(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | (1 << 17) | (next(self._counter) & 0xFFF)
        self._last = value = max(value, self._last + 1)
        return value


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


@dataclass
class FakeUser:
    id: int
    name: str
    bot: bool = False
    roles: list[int] = field(default_factory=list)
    joined_at: float = field(default_factory=time.time)
    locale: str = "en-US"  # the member's client language: an interaction's `locale`

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id), "username": self.name, "global_name": self.name, "discriminator": "0",
            "avatar": None, "bot": self.bot, "public_flags": 0,
        }

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id), "name": self.name, "permissions": str(self.permissions),
            "position": self.position, "color": 0, "hoist": False, "managed": self.managed,
            "mentionable": False, "flags": 0, "icon": None, "unicode_emoji": None,
        }


@dataclass
class Overwrite:
    target_id: int
    type: int  # 0 role, 1 member
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, Any]:
        return {"id": str(self.target_id), "type": self.type, "allow": str(self.allow), "deny": str(self.deny)}


@dataclass
class FakeChannel:
    id: int
    name: str
    guild_id: int
    position: int = 0
    type: int = 0
    topic: str | None = None
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    last_message_id: int | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id), "type": self.type, "guild_id": str(self.guild_id), "name": self.name,
            "position": self.position, "topic": self.topic, "nsfw": False, "parent_id": None,
            "rate_limit_per_user": 0, "flags": 0,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "permission_overwrites": [o.payload() for o in self.overwrites.values()],
        }

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"


@dataclass
class StoredAttachment:
    id: int
    filename: str
    data: bytes
    content_type: str
    url: str
    description: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(self.id), "filename": self.filename, "size": self.size, "url": self.url,
            "proxy_url": self.url, "content_type": self.content_type, "flags": 0,
        }
        if self.description:
            body["description"] = self.description
        return body


@dataclass
class StoredMessage:
    """A message as the fake keeps it; tests read these fields directly."""

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[StoredAttachment] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    mentions: list[int] = field(default_factory=list)  # users actually pinged (allowed_mentions applied)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    reference_id: int | None = None
    type: int = TYPE_DEFAULT
    flags: int = 0
    created_at: float = field(default_factory=time.time)
    edited_at: float | None = None
    nonce: str | int | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    allowed_mentions: dict[str, Any] | None = None
    deleted: bool = False
    edits: int = 0
    reactions: dict[str, set[int]] = field(default_factory=dict)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & FLAG_LOADING)

    @property
    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in walk_components(self.components) if c.get("custom_id")]

    def find_component(self, custom_id: str) -> dict[str, Any] | None:
        return next((c for c in walk_components(self.components) if c.get("custom_id") == custom_id), None)

    def file(self, filename: str) -> bytes:
        for attachment in self.attachments:
            if attachment.filename == filename:
                return attachment.data
        raise KeyError(filename)


def walk_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every component, depth first: action rows, containers, sections, labels and their children."""
    out: list[dict[str, Any]] = []
    for comp in components:
        out.append(comp)
        out.extend(walk_components(comp.get("components") or []))
        for key in ("component", "accessory"):
            if isinstance(comp.get(key), dict):
                out.extend(walk_components([comp[key]]))
    return out


USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")


@dataclass
class World:
    """One guild with its members and channels, plus every message and file the fake holds."""

    guild_id: int
    guild_name: str
    premium_tier: int
    bot: FakeUser
    application_id: int
    owner_id: int = 0
    users: dict[int, FakeUser] = field(default_factory=dict)
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    history: dict[int, list[int]] = field(default_factory=dict)  # channel id -> message ids, oldest first
    files: dict[int, StoredAttachment] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    preferred_locale: str = "en-US"  # the server's language (Server Settings → Community)

    @property
    def upload_limit(self) -> int:
        return UPLOAD_LIMITS[self.premium_tier]

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.guild_id]

    # --- permissions ------------------------------------------------------------------------
    def base_permissions(self, user_id: int) -> int:
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        user = self.users[user_id]
        perms = self.everyone.permissions
        for role_id in user.roles:
            if role_id in self.roles:
                perms |= self.roles[role_id].permissions
        return ALL_PERMISSIONS if perms & Perm.ADMINISTRATOR else perms

    def permissions(self, user_id: int, channel_id: int) -> int:
        perms = self.base_permissions(user_id)
        if perms & Perm.ADMINISTRATOR or user_id == self.owner_id:
            return ALL_PERMISSIONS
        channel = self.channels[channel_id]
        user = self.users[user_id]
        everyone = channel.overwrites.get(self.guild_id)
        if everyone:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in user.roles:
            ow = channel.overwrites.get(role_id)
            if ow and ow.type == 0:
                allow, deny = allow | ow.allow, deny | ow.deny
        perms = (perms & ~deny) | allow
        member = channel.overwrites.get(user_id)
        if member and member.type == 1:
            perms = (perms & ~member.deny) | member.allow
        if not perms & Perm.VIEW_CHANNEL:
            return 0
        return perms

    # --- payloads ---------------------------------------------------------------------------
    def member_payload(self, user_id: int, *, with_user: bool = True, channel_id: int | None = None) -> dict:
        user = self.users[user_id]
        body: dict[str, Any] = {
            "roles": [str(r) for r in user.roles], "joined_at": iso(user.joined_at), "nick": None,
            "avatar": None, "deaf": False, "mute": False, "flags": 0, "pending": False,
            "premium_since": None, "communication_disabled_until": None,
        }
        if with_user:
            body["user"] = user.payload()
        if channel_id is not None:
            body["permissions"] = str(self.permissions(user_id, channel_id))
        return body

    def guild_payload(self, *, include_members: bool, rest: bool = False) -> dict[str, Any]:
        """GUILD_CREATE's shape; `rest` drops what GET /guilds/{id} and GUILD_UPDATE do not carry."""
        member_ids = list(self.users) if include_members else [self.bot.id]
        body = {
            "id": str(self.guild_id), "name": self.guild_name, "icon": None, "owner_id": str(self.owner_id),
            "unavailable": False, "premium_tier": self.premium_tier, "premium_subscription_count": 0,
            "member_count": len(self.users), "large": False, "features": [],
            "preferred_locale": self.preferred_locale,
            "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
            "mfa_level": 0, "nsfw_level": 0, "system_channel_id": None, "afk_timeout": 300,
            "joined_at": iso(self.created_at), "emojis": [], "stickers": [], "threads": [],
            "voice_states": [], "presences": [], "stage_instances": [], "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "roles": [r.payload() for r in self.roles.values()],
            "channels": [c.payload() for c in self.channels.values()],
            "members": [self.member_payload(uid) for uid in member_ids],
        }
        if rest:
            for key in ("members", "channels", "threads", "voice_states", "presences", "joined_at"):
                body.pop(key, None)
        return body

    def message_payload(self, msg: StoredMessage, *, blank: bool = False, nested: bool = False) -> dict:
        author = self.users.get(msg.author_id) or FakeUser(msg.author_id, "unknown")
        body: dict[str, Any] = {
            "id": str(msg.id), "channel_id": str(msg.channel_id), "type": msg.type,
            "author": author.payload(), "content": "" if blank else msg.content,
            "embeds": [] if blank else msg.embeds,
            "attachments": [] if blank else [a.payload() for a in msg.attachments],
            "components": [] if blank else msg.components,
            "mentions": [self.users[u].payload() for u in msg.mentions if u in self.users],
            "mention_roles": [str(r) for r in msg.mention_roles], "mention_everyone": msg.mention_everyone,
            "timestamp": iso(msg.created_at), "edited_timestamp": iso(msg.edited_at) if msg.edited_at else None,
            "flags": msg.flags, "tts": False, "pinned": False, "sticker_items": [],
            "reactions": [
                {"emoji": {"id": None, "name": e}, "count": len(u), "me": self.bot.id in u, "burst_count": 0}
                for e, u in msg.reactions.items() if u
            ],
        }
        if msg.guild_id is not None:
            body["guild_id"] = str(msg.guild_id)
        if msg.nonce is not None:
            body["nonce"] = msg.nonce
        if msg.webhook_id is not None:
            body["webhook_id"] = str(msg.webhook_id)
        if msg.application_id is not None:
            body["application_id"] = str(msg.application_id)
        if msg.interaction_metadata is not None:
            body["interaction_metadata"] = msg.interaction_metadata
        if msg.reference_id is not None:
            ref = self.messages.get(msg.reference_id)
            body["message_reference"] = {
                "type": 0, "message_id": str(msg.reference_id), "channel_id": str(msg.channel_id),
                "guild_id": str(msg.guild_id) if msg.guild_id else None, "fail_if_not_exists": False,
            }
            if not nested:
                alive = ref if ref is not None and not ref.deleted else None
                body["referenced_message"] = self.message_payload(alive, nested=True) if alive else None
        return body

    def visible_history(self, channel_id: int) -> list[StoredMessage]:
        msgs = (self.messages[i] for i in self.history.get(channel_id, []))
        return [m for m in msgs if not m.deleted]
