"""Creating, editing and deleting messages: shared by channel REST, interaction callbacks and webhooks.

A body arrives as JSON or as multipart (`payload_json` + `files[n]`). It is validated (rules.py),
attachments are stored and served back by the fake at their `url`, mentions are resolved under
`allowed_mentions`, and the change is published on the gateway (MESSAGE_CREATE/UPDATE/DELETE).
"""

from __future__ import annotations

import json
import logging
import mimetypes
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from bot.sandbox.fake_discord.rules import check_message, form_error, resolve_mentions
from bot.sandbox.fake_discord.state import (
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    TYPE_DEFAULT,
    TYPE_REPLY,
    Perm,
    StoredAttachment,
    StoredMessage,
)

if TYPE_CHECKING:
    from bot.sandbox.fake_discord.fake import FakeDiscord

log = logging.getLogger(__name__)

# Flags a sender may set; the rest (crossposted, loading...) are Discord's to set.
SETTABLE_FLAGS = (1 << 2) | (1 << 12) | (1 << 15)
BODY_KEY = web.RequestKey("fake_discord_body", object)  # the parsed body, for the call log
_MAGIC = [
    (b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"),
    (b"RIFF", "image/webp"), (b"\x1aE\xdf\xa3", "video/webm"),
]


@dataclass
class MessageBody:
    payload: dict[str, Any]
    files: dict[int, tuple[str, bytes]] = field(default_factory=dict)  # index -> (filename, bytes)

    @property
    def file_sizes(self) -> list[int]:
        return [len(data) for _, data in self.files.values()]


async def read_body(request: web.Request) -> MessageBody:
    """Parse a JSON or multipart message body; remembers the JSON on the request for the call log."""
    if request.content_type.startswith("multipart/"):
        payload: dict[str, Any] = {}
        files: dict[int, tuple[str, bytes]] = {}
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):  # a nested multipart: Discord reads none either
                continue
            name = part.name or ""
            if name == "payload_json":
                payload = json.loads(await part.text())
            elif name.startswith("files[") and name.endswith("]"):
                data = await part.read(decode=False)
                files[int(name[6:-1])] = (part.filename or f"file{name[6:-1]}", bytes(data))
        body = MessageBody(payload, files)
    else:
        raw = await request.read()
        body = MessageBody(json.loads(raw) if raw else {})
    request[BODY_KEY] = body.payload
    return body


def guess_type(filename: str, data: bytes) -> str:
    guessed = mimetypes.guess_type(filename)[0]
    if guessed:
        return guessed
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return next((kind for magic, kind in _MAGIC if data.startswith(magic)), "application/octet-stream")


def store_file(fake: FakeDiscord, channel_id: int, filename: str, data: bytes,
               description: str | None = None) -> StoredAttachment:
    att_id = fake.snowflake()
    url = f"{fake.url}/attachments/{channel_id}/{att_id}/{filename}"
    attachment = StoredAttachment(att_id, filename, data, guess_type(filename, data), url, description)
    fake.world.files[att_id] = attachment
    return attachment


def _attachments(fake: FakeDiscord, channel_id: int, body: MessageBody,
                 existing: list[StoredAttachment]) -> list[StoredAttachment]:
    listed = body.payload.get("attachments")
    described = {int(a["id"]): a for a in listed or [] if "id" in a}
    kept = list(existing) if listed is None else [a for a in existing if a.id in described]
    for index, (filename, data) in sorted(body.files.items()):
        meta = described.get(index, {})
        kept.append(store_file(fake, channel_id, meta.get("filename") or filename, data, meta.get("description")))
    return kept


def _mentions(fake: FakeDiscord, msg: StoredMessage, allowed: dict[str, Any] | None) -> None:
    world = fake.world
    replied = world.messages.get(msg.reference_id) if msg.reference_id else None
    known_author = msg.author_id in world.users and msg.channel_id in world.channels
    can_everyone = known_author and bool(world.permissions(msg.author_id, msg.channel_id) & Perm.MENTION_EVERYONE)
    msg.mentions, msg.mention_roles, msg.mention_everyone = resolve_mentions(
        msg.content, allowed, known_users=set(world.users), known_roles=set(world.roles),
        replied_author=replied.author_id if replied and not replied.deleted else None,
        can_mention_everyone=can_everyone,
    )


def _reference(fake: FakeDiscord, channel_id: int, payload: dict[str, Any]) -> int | None:
    ref = payload.get("message_reference")
    if not ref or not ref.get("message_id"):
        return None
    target = fake.world.messages.get(int(ref["message_id"]))
    if target is None or target.deleted or target.channel_id != channel_id:
        if ref.get("fail_if_not_exists", True):
            raise form_error(["message_reference"], "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
        return None
    return target.id


async def create_message(
    fake: FakeDiscord,
    channel_id: int,
    author_id: int,
    body: MessageBody,
    *,
    size_limit: int,
    flags: int = 0,
    msg_type: int | None = None,
    webhook_id: int | None = None,
    interaction_metadata: dict[str, Any] | None = None,
    allow_empty: bool = False,
) -> StoredMessage:
    """Validate and store a new message, then publish it (ephemeral ones are only stored)."""
    payload = body.payload
    check_message(payload, body.file_sizes, size_limit, creating=not allow_empty)
    reference_id = _reference(fake, channel_id, payload)
    channel = fake.world.channels.get(channel_id)
    msg = StoredMessage(
        id=fake.snowflake(), channel_id=channel_id, guild_id=channel.guild_id if channel else None,
        author_id=author_id, content=str(payload.get("content") or ""), embeds=list(payload.get("embeds") or []),
        components=list(payload.get("components") or []), reference_id=reference_id,
        type=msg_type if msg_type is not None else (TYPE_REPLY if reference_id else TYPE_DEFAULT),
        flags=flags | (int(payload.get("flags") or 0) & SETTABLE_FLAGS), created_at=fake.now(),
        nonce=payload.get("nonce"), webhook_id=webhook_id,
        application_id=fake.world.application_id if author_id == fake.world.bot.id else None,
        interaction_metadata=interaction_metadata, allowed_mentions=payload.get("allowed_mentions"),
    )
    msg.attachments = _attachments(fake, channel_id, body, [])
    _mentions(fake, msg, msg.allowed_mentions)
    fake.world.messages[msg.id] = msg
    if not msg.ephemeral:
        fake.world.history.setdefault(channel_id, []).append(msg.id)
        if channel:
            channel.last_message_id = msg.id
        await fake.gateway.dispatch_message("MESSAGE_CREATE", msg)
    log.debug("message %s created in channel %s by %s", msg.id, channel_id, author_id)
    fake.notify()
    return msg


async def edit_message(fake: FakeDiscord, msg: StoredMessage, body: MessageBody, *, size_limit: int) -> StoredMessage:
    payload = body.payload
    check_message(payload, body.file_sizes, size_limit, creating=False)
    if "content" in payload:
        msg.content = str(payload["content"] or "")
    if "embeds" in payload:
        msg.embeds = list(payload["embeds"] or [])
    if "components" in payload:
        msg.components = list(payload["components"] or [])
    if "flags" in payload and payload["flags"] is not None:
        msg.flags = (msg.flags & ~SETTABLE_FLAGS) | (int(payload["flags"]) & SETTABLE_FLAGS)
    if "attachments" in payload or body.files:
        msg.attachments = _attachments(fake, msg.channel_id, body, msg.attachments)
    if payload.get("allowed_mentions") is not None:
        msg.allowed_mentions = payload["allowed_mentions"]
    _mentions(fake, msg, msg.allowed_mentions)
    msg.flags &= ~FLAG_LOADING
    msg.edited_at, msg.edits = fake.now(), msg.edits + 1
    if not msg.ephemeral:
        await fake.gateway.dispatch_message("MESSAGE_UPDATE", msg)
    fake.notify()
    return msg


async def delete_message(fake: FakeDiscord, msg: StoredMessage) -> None:
    msg.deleted = True
    if not msg.ephemeral:
        await fake.gateway.dispatch("MESSAGE_DELETE", {
            "id": str(msg.id), "channel_id": str(msg.channel_id), "guild_id": str(msg.guild_id),
        }, intent=1 << 9)
    fake.notify()


def is_ephemeral(payload: dict[str, Any]) -> bool:
    return bool(int(payload.get("flags") or 0) & FLAG_EPHEMERAL)
