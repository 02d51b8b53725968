"""Interactions on the fake: the record of each one, its callback, `@original` and followups.

Discord's clock rules are enforced here: the first callback must arrive within the deadline (3 s by
default, else 404 10062), a second callback is 400 40060, and every webhook call (`@original`,
followups) after the token lifetime (15 min by default) is 401 50027. Uploads through an interaction
are capped by its `attachment_size_limit` (413 40005). Webhook calls need no Authorization header.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sandbox.fake_discord.messages import (
    MessageBody,
    create_message,
    delete_message,
    edit_message,
    is_ephemeral,
    read_body,
)
from bot.sandbox.fake_discord.rules import (
    ALREADY_ACKNOWLEDGED,
    INVALID_WEBHOOK_TOKEN,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    DiscordError,
    form_error,
    json_response,
    unknown,
)
from bot.sandbox.fake_discord.state import (
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    TYPE_CHAT_INPUT,
    TYPE_CONTEXT_MENU,
    TYPE_DEFAULT,
    StoredMessage,
)

if TYPE_CHECKING:
    from bot.sandbox.fake_discord.fake import FakeDiscord

log = logging.getLogger(__name__)

PING, COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
PONG, MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, AUTOCOMPLETE_RESULT, MODAL = 1, 4, 5, 6, 7, 8, 9
ALLOWED_CALLBACKS = {
    PING: {PONG},
    COMMAND: {MESSAGE, DEFERRED_MESSAGE, MODAL},
    COMPONENT: {MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL},
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
}


@dataclass
class CallbackRecord:
    """One POST to the callback endpoint, accepted or not."""

    type: int
    data: dict[str, Any]
    status: int
    code: int | None
    at: float


@dataclass
class InteractionRecord:
    id: int
    token: str
    type: int
    name: str
    user_id: int
    channel_id: int
    created_at: float
    payload: dict[str, Any]
    size_limit: int
    source_message_id: int | None = None
    command_type: int | None = None
    callbacks: list[CallbackRecord] = field(default_factory=list)
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    delivered: int = 0

    @property
    def accepted(self) -> CallbackRecord | None:
        return next((c for c in self.callbacks if c.status < 300), None)

    @property
    def response_type(self) -> int | None:
        accepted = self.accepted
        return accepted.type if accepted else None

    @property
    def modal(self) -> dict[str, Any] | None:
        accepted = self.accepted
        return accepted.data if accepted and accepted.type == MODAL else None

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        accepted = self.accepted
        return list(accepted.data.get("choices") or []) if accepted and accepted.type == AUTOCOMPLETE_RESULT else None


class InteractionStore:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.by_id: dict[int, InteractionRecord] = {}
        self.by_token: dict[str, InteractionRecord] = {}

    def add(self, record: InteractionRecord) -> None:
        self.by_id[record.id] = record
        self.by_token[record.token] = record

    def _metadata(self, record: InteractionRecord, *, followup: bool = False) -> dict[str, Any]:
        world = self.fake.world
        meta: dict[str, Any] = {
            "id": str(record.id), "type": record.type, "user": world.users[record.user_id].payload(),
            "authorizing_integration_owners": {"0": str(world.guild_id)},
        }
        if record.type == COMMAND:
            meta["name"] = record.name
            meta["command_type"] = record.command_type or 1
        if record.source_message_id is not None:
            meta["interacted_message_id"] = str(record.source_message_id)
        if followup and record.original_id is not None:
            meta["original_response_message_id"] = str(record.original_id)
        return meta

    def _message_type(self, record: InteractionRecord) -> int:
        if record.type == COMMAND:
            return TYPE_CHAT_INPUT if record.command_type in (None, 1) else TYPE_CONTEXT_MENU
        return TYPE_DEFAULT

    # --- callback ---------------------------------------------------------------------------
    async def callback(self, request: web.Request) -> web.Response:
        fake = self.fake
        body = await read_body(request)
        cb_type = int(body.payload.get("type") or 0)
        data = dict(body.payload.get("data") or {})
        record = self.by_id.get(int(request.match_info["interaction_id"]))
        now = fake.now()
        try:
            if record is None or record.token != request.match_info["token"]:
                raise unknown(UNKNOWN_INTERACTION, "interaction")
            if record.accepted is not None:
                raise DiscordError(400, ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged.")
            if now - record.created_at > fake.interaction_deadline:
                log.info("late interaction callback %.2fs after interaction %s", now - record.created_at, record.id)
                raise unknown(UNKNOWN_INTERACTION, "interaction")
            if cb_type not in ALLOWED_CALLBACKS.get(record.type, set()):
                raise form_error(["type"], "INTERACTION_RESPONSE_TYPE_INVALID",
                                 f"Response type {cb_type} is invalid for interaction type {record.type}")
            message = await self._apply_callback(record, cb_type, data, MessageBody(data, body.files))
        except DiscordError as exc:
            if record is not None:
                record.callbacks.append(CallbackRecord(cb_type, data, exc.status, exc.code, now))
                fake.notify()
            raise
        record.callbacks.append(CallbackRecord(cb_type, data, 200, None, now))
        fake.notify()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        resource: dict[str, Any] = {"type": cb_type}
        if message is not None:
            resource["message"] = fake.world.message_payload(message)
        return json_response({
            "interaction": {
                "id": str(record.id), "type": record.type, "activity_instance_id": None,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": bool(message and message.loading),
                "response_message_ephemeral": bool(message and message.ephemeral),
            },
            "resource": resource,
        })

    async def _apply_callback(self, record: InteractionRecord, cb_type: int, data: dict[str, Any],
                              body: MessageBody) -> StoredMessage | None:
        fake = self.fake
        if cb_type in (MESSAGE, DEFERRED_MESSAGE):
            flags = FLAG_EPHEMERAL if is_ephemeral(data) else 0
            if cb_type == DEFERRED_MESSAGE:
                flags |= FLAG_LOADING
                body = MessageBody({"flags": data.get("flags")})
            msg = await create_message(
                fake, record.channel_id, fake.world.bot.id, body, size_limit=record.size_limit, flags=flags,
                msg_type=self._message_type(record), webhook_id=fake.world.application_id,
                interaction_metadata=self._metadata(record), allow_empty=cb_type == DEFERRED_MESSAGE,
            )
            record.original_id = msg.id
            return msg
        if cb_type in (DEFERRED_UPDATE, UPDATE_MESSAGE):
            if record.source_message_id is None:
                raise form_error(["type"], "INTERACTION_RESPONSE_TYPE_INVALID", "This interaction has no message")
            record.original_id = record.source_message_id
            source = fake.world.messages[record.source_message_id]
            if cb_type == UPDATE_MESSAGE:
                await edit_message(fake, source, body, size_limit=record.size_limit)
            return source
        if cb_type == MODAL and not (data.get("custom_id") and data.get("title")):
            raise form_error(["data"], "MODAL_INVALID", "A modal needs a custom_id and a title")
        return None

    # --- webhooks ---------------------------------------------------------------------------
    def _record_for_webhook(self, request: web.Request) -> InteractionRecord:
        fake = self.fake
        record = self.by_token.get(request.match_info["token"])
        if record is None or int(request.match_info["application_id"]) != fake.world.application_id:
            raise DiscordError(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
        if fake.now() - record.created_at > fake.token_lifetime:
            log.info("webhook call with an expired interaction token (interaction %s)", record.id)
            raise DiscordError(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
        return record

    def _message_for_webhook(self, record: InteractionRecord, message_id: str) -> StoredMessage:
        if message_id == "@original":
            target = record.original_id
        else:
            target = int(message_id)
            if target != record.original_id and target not in record.followup_ids:
                target = None
        msg = self.fake.world.messages.get(target) if target is not None else None
        if msg is None or msg.deleted:
            raise unknown(UNKNOWN_MESSAGE, "Message")
        return msg

    async def followup(self, request: web.Request) -> web.Response:
        fake = self.fake
        record = self._record_for_webhook(request)
        body = await read_body(request)
        if record.accepted is None or record.response_type in (AUTOCOMPLETE_RESULT, MODAL):
            raise unknown(UNKNOWN_WEBHOOK, "Webhook")
        original = fake.world.messages.get(record.original_id) if record.original_id else None
        if original is not None and original.loading and record.response_type == DEFERRED_MESSAGE:
            # Discord: the first followup after a deferred "thinking" answer replaces that message.
            msg = await edit_message(fake, original, body, size_limit=record.size_limit)
        else:
            flags = FLAG_EPHEMERAL if is_ephemeral(body.payload) else 0
            msg = await create_message(
                fake, record.channel_id, fake.world.bot.id, body, size_limit=record.size_limit, flags=flags,
                webhook_id=fake.world.application_id, interaction_metadata=self._metadata(record, followup=True),
            )
        record.followup_ids.append(msg.id)
        fake.notify()
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(fake.world.message_payload(msg))
        return web.Response(status=204)

    async def webhook_message(self, request: web.Request) -> web.Response:
        fake = self.fake
        record = self._record_for_webhook(request)
        msg = self._message_for_webhook(record, request.match_info["message_id"])
        if request.method == "GET":
            return json_response(fake.world.message_payload(msg))
        if request.method == "DELETE":
            await delete_message(fake, msg)
            return web.Response(status=204)
        body = await read_body(request)
        await edit_message(fake, msg, body, size_limit=record.size_limit)
        return json_response(fake.world.message_payload(msg))
