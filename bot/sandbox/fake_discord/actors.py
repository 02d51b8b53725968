"""The member side: what a person does in the Discord client, turned into gateway events for the bot.

`MemberDriver` is mixed into `FakeDiscord`. Each action checks what the real client would refuse
(unknown or hidden command, missing required option, value outside `choices`, clicking a component
that is not on the message, no permission in the channel) and raises `ClientRefused`; otherwise it
dispatches INTERACTION_CREATE or MESSAGE_CREATE and returns a handle or the stored message.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from bot.sandbox.fake_discord.messages import MessageBody, create_message, store_file
from bot.sandbox.fake_discord.state import FakeChannel, FakeRole, FakeUser, Perm, StoredMessage
from bot.sandbox.fake_discord.webhooks import (
    AUTOCOMPLETE,
    COMMAND,
    COMPONENT,
    MODAL_SUBMIT,
    CallbackRecord,
    InteractionRecord,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.sandbox.fake_discord.fake import FakeDiscord
    from bot.sandbox.fake_discord.gateway import GatewayHub
    from bot.sandbox.fake_discord.state import SnowflakeFactory, World
    from bot.sandbox.fake_discord.webhooks import InteractionStore

FileArg = bytes | tuple[str, bytes]
OPTION_STRING, OPTION_INT, OPTION_BOOL, OPTION_USER, OPTION_CHANNEL = 3, 4, 5, 6, 7
OPTION_ROLE, OPTION_MENTIONABLE, OPTION_NUMBER, OPTION_ATTACHMENT = 8, 9, 10, 11


class ClientRefused(Exception):
    """The Discord client would not let the member do this (so nothing reaches the bot)."""


class InteractionFailed(Exception):
    """The member would see "This interaction failed": no accepted answer within the deadline."""


class InteractionHandle:
    """What a test holds after an interaction: wait for the bot's answer and read it."""

    def __init__(self, fake: FakeDiscord, record: InteractionRecord) -> None:
        self.fake, self.record = fake, record

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def delivered(self) -> bool:
        return self.record.delivered > 0

    @property
    def callbacks(self) -> list[CallbackRecord]:
        return self.record.callbacks

    async def response(self, timeout: float = 5.0) -> CallbackRecord:
        """The first callback the bot attempted, accepted or not (e.g. a late one answered 404 10062)."""
        return await self.fake.wait_until(lambda: self.record.callbacks[0] if self.record.callbacks else None,
                                          timeout, f"a callback to interaction {self.id}")

    async def ack(self, timeout: float = 5.0) -> CallbackRecord:
        """The accepted first answer (type 4/5/6/7/8/9); `InteractionFailed` as soon as none can come."""
        def accepted() -> CallbackRecord | None:
            if self.record.accepted is None and self.failed:
                tried = [f"type {c.type} -> {c.status} ({c.code})" for c in self.record.callbacks]
                raise InteractionFailed(f"interaction {self.id} ({self.record.name or self.record.type}) "
                                        f"got no accepted answer in time; callbacks: {tried or 'none'}")
            return self.record.accepted

        return await self.fake.wait_until(accepted, timeout, f"an accepted callback to interaction {self.id}")

    async def response_type(self, timeout: float = 5.0) -> int:
        return (await self.ack(timeout)).type

    async def original(self, timeout: float = 5.0, *, settled: bool = True) -> StoredMessage:
        """The original response message; with `settled`, only once it is no longer "thinking"."""
        def find() -> StoredMessage | None:
            msg = self.fake.world.messages.get(self.record.original_id or 0)
            return msg if msg is not None and not (settled and msg.loading) else None

        return await self.fake.wait_until(find, timeout, f"the original response of interaction {self.id}")

    async def followup(self, index: int = 0, timeout: float = 5.0) -> StoredMessage:
        def find() -> StoredMessage | None:
            ids = self.record.followup_ids
            return self.fake.world.messages[ids[index]] if len(ids) > index else None

        return await self.fake.wait_until(find, timeout, f"followup #{index} of interaction {self.id}")

    async def modal(self, timeout: float = 5.0) -> dict[str, Any]:
        return await self.fake.wait_until(lambda: self.record.modal, timeout, f"a modal for {self.id}")

    async def choices(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        ack = await self.ack(timeout)
        return list(ack.data.get("choices") or [])

    @property
    def failed(self) -> bool:
        """What the member would see as "This interaction failed": no accepted answer in time."""
        late = self.fake.now() - self.record.created_at > self.fake.interaction_deadline
        return self.record.accepted is None and late


def _as_file(name: str, value: FileArg) -> tuple[str, bytes]:
    return value if isinstance(value, tuple) else (name, value)


class MemberDriver:
    """Mixin for FakeDiscord: slash, context_menu, click, submit_modal, autocomplete, say."""

    if TYPE_CHECKING:  # what the mixin uses of FakeDiscord (declared so the type checker sees it)
        world: World
        gateway: GatewayHub
        interactions: InteractionStore
        snowflake: SnowflakeFactory
        everyone_may_use: set[str]
        now: Callable[[], float]
        notify: Callable[[], None]

        def user(self, key: str | int | FakeUser) -> FakeUser: ...
        def channel(self, key: str | int | FakeChannel) -> FakeChannel: ...
        def command(self, name: str, kind: int = 1) -> dict[str, Any] | None: ...

    @property
    def _fake(self) -> FakeDiscord:
        """This mixin as the FakeDiscord it is mixed into (the only class that mixes it in)."""
        return cast("FakeDiscord", self)

    # --- interactions -----------------------------------------------------------------------
    async def _interaction(self, itype: int, user: FakeUser, channel: FakeChannel,
                           data: dict[str, Any], *, name: str = "", message: StoredMessage | None = None,
                           size_limit: int | None = None, command_type: int | None = None) -> InteractionHandle:
        world = self.world
        perms = world.permissions(user.id, channel.id)
        if not perms & Perm.VIEW_CHANNEL:
            raise ClientRefused(f"{user.name} cannot see #{channel.name}")
        record = InteractionRecord(
            id=self.snowflake(), token="aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48), type=itype, name=name,
            user_id=user.id, channel_id=channel.id, created_at=self.now(), payload={},
            size_limit=size_limit or world.upload_limit, command_type=command_type,
            source_message_id=message.id if message is not None else None,
        )
        record.payload = {
            "id": str(record.id), "application_id": str(world.application_id), "type": itype,
            "token": record.token, "version": 1, "attachment_size_limit": record.size_limit,
            "guild_id": str(world.guild_id), "guild": {"id": str(world.guild_id), "locale": world.preferred_locale,
                                                   "features": []},
            "channel_id": str(channel.id), "channel": {**channel.payload(), "permissions": str(perms)},
            "member": world.member_payload(user.id, channel_id=channel.id),
            "app_permissions": str(world.permissions(world.bot.id, channel.id)),
            "locale": user.locale, "guild_locale": world.preferred_locale,
            "entitlements": [], "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(world.guild_id)}, "context": 0, "data": data,
        }
        if message is not None:
            record.payload["message"] = world.message_payload(message)
        self.interactions.add(record)
        record.delivered = await self.gateway.dispatch("INTERACTION_CREATE", record.payload)
        self.notify()
        return InteractionHandle(self._fake, record)

    def _command(self, user: FakeUser, channel: FakeChannel, name: str, kind: int) -> dict[str, Any]:
        cmd = self.command(name, kind)
        if cmd is None:
            raise ClientRefused(f"no synced command {name!r} of type {kind}")
        needed = cmd.get("default_member_permissions")
        overridden = name in self.everyone_may_use
        if needed is not None and not overridden and (
                self.world.permissions(user.id, channel.id) & int(needed)) != int(needed):
            raise ClientRefused(f"{user.name} lacks the permissions {needed} that {name!r} requires")
        return cmd

    def _resolve_path(self, user: FakeUser, channel: FakeChannel,
                      name: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """The command, the definitions of the leaf's options, and the option nesting to fill."""
        root, *subs = name.split()
        cmd = self._command(user, channel, root, 1)
        defs, nest = cmd.get("options") or [], []
        for sub in subs:
            found = next((o for o in defs if o["name"] == sub and o["type"] in (1, 2)), None)
            if found is None:
                raise ClientRefused(f"{root!r} has no subcommand {sub!r}")
            nest.append({"type": found["type"], "name": sub})
            defs = found.get("options") or []
        return cmd, defs, nest

    def _option(self, channel: FakeChannel, spec: dict[str, Any], value: Any,
                resolved: dict[str, dict[str, Any]]) -> dict[str, Any]:
        kind, world = spec["type"], self.world
        if kind == OPTION_ATTACHMENT:
            filename, data = _as_file(f"{spec['name']}.bin", value)
            att = store_file(self._fake, channel.id, filename, data)
            resolved.setdefault("attachments", {})[str(att.id)] = {**att.payload(), "ephemeral": True}
            return {"name": spec["name"], "type": kind, "value": str(att.id)}
        if kind in (OPTION_USER, OPTION_CHANNEL, OPTION_ROLE, OPTION_MENTIONABLE):
            target_id = value if isinstance(value, int) else value.id
            if target_id in world.users:
                resolved.setdefault("users", {})[str(target_id)] = world.users[target_id].payload()
                resolved.setdefault("members", {})[str(target_id)] = world.member_payload(
                    target_id, with_user=False, channel_id=channel.id)
            elif target_id in world.roles:
                resolved.setdefault("roles", {})[str(target_id)] = world.roles[target_id].payload()
            elif target_id in world.channels:
                chan = world.channels[target_id]
                resolved.setdefault("channels", {})[str(target_id)] = {
                    "id": str(chan.id), "name": chan.name, "type": chan.type, "parent_id": None,
                    "permissions": str(world.permissions(world.bot.id, chan.id))}
            else:
                raise ClientRefused(f"option {spec['name']!r}: nothing with id {target_id}")
            return {"name": spec["name"], "type": kind, "value": str(target_id)}
        converted = {OPTION_INT: int, OPTION_NUMBER: float, OPTION_BOOL: bool}.get(kind, str)(value)
        choices = spec.get("choices")
        if choices and converted not in [c["value"] for c in choices]:
            raise ClientRefused(f"option {spec['name']!r}: {converted!r} is not one of the choices")
        if kind == OPTION_STRING:
            text = str(converted)
            if len(text) < spec.get("min_length", 0) or len(text) > spec.get("max_length", 6000):
                raise ClientRefused(f"option {spec['name']!r}: length {len(text)} out of bounds")
        elif kind in (OPTION_INT, OPTION_NUMBER):
            low, high = spec.get("min_value"), spec.get("max_value")
            if (low is not None and converted < low) or (high is not None and converted > high):
                raise ClientRefused(f"option {spec['name']!r}: {converted} out of bounds")
        return {"name": spec["name"], "type": kind, "value": converted}

    @staticmethod
    def _nest(nest: list[dict[str, Any]], leaf: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for level in reversed(nest):
            leaf = [{**level, "options": leaf}]
        return leaf

    async def slash(self, user: FakeUser | str | int, channel: FakeChannel | str | int, name: str,
                    options: Mapping[str, Any] | None = None, attachments: Mapping[str, FileArg] | None = None,
                    *, attachment_size_limit: int | None = None) -> InteractionHandle:
        """Run `/name` (subcommands: "group sub") as `user` in `channel`; files go in `attachments`."""
        member, chan = self.user(user), self.channel(channel)
        cmd, defs, nest = self._resolve_path(member, chan, name)
        values = {**(options or {}), **(attachments or {})}
        by_name = {d["name"]: d for d in defs}
        unknown = set(values) - set(by_name)
        if unknown:
            raise ClientRefused(f"/{name} has no option(s) {sorted(unknown)}")
        missing = [d["name"] for d in defs if d.get("required") and d["name"] not in values]
        if missing:
            raise ClientRefused(f"/{name} needs the required option(s) {missing}")
        resolved: dict[str, dict[str, Any]] = {}
        leaf = [self._option(chan, by_name[key], value, resolved) for key, value in values.items()]
        data = _command_data(cmd, options=self._nest(nest, leaf))
        if resolved:
            data["resolved"] = resolved
        return await self._interaction(COMMAND, member, chan, data, name=cmd["name"],
                                       size_limit=attachment_size_limit, command_type=1)

    async def autocomplete(self, user: FakeUser | str | int, channel: FakeChannel | str | int,
                           command: str, options: Mapping[str, Any], focused: str,
                           *, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Type into option `focused` of `/command`; returns the choices the bot answered with."""
        member, chan = self.user(user), self.channel(channel)
        cmd, defs, nest = self._resolve_path(member, chan, command)
        by_name = {d["name"]: d for d in defs}
        if focused not in by_name or not by_name[focused].get("autocomplete"):
            raise ClientRefused(f"option {focused!r} of /{command} has no autocomplete")
        leaf = [{"name": k, "type": by_name[k]["type"], "value": str(v), **({"focused": True} if k == focused else {})}
                for k, v in options.items() if k in by_name]
        if focused not in options:
            leaf.append({"name": focused, "type": by_name[focused]["type"], "value": "", "focused": True})
        data = _command_data(cmd, options=self._nest(nest, leaf))
        handle = await self._interaction(AUTOCOMPLETE, member, chan, data, name=cmd["name"], command_type=1)
        return await handle.choices(timeout)

    async def context_menu(self, user: FakeUser | str | int, channel: FakeChannel | str | int,
                           name: str, target: StoredMessage | FakeUser) -> InteractionHandle:
        """Apps → `name` on a message (message command) or on a member (user command)."""
        member, chan = self.user(user), self.channel(channel)
        if isinstance(target, StoredMessage):
            cmd = self._command(member, chan, name, 3)
            resolved = {"messages": {str(target.id): self.world.message_payload(target)}}
        else:
            cmd = self._command(member, chan, name, 2)
            resolved = {"users": {str(target.id): target.payload()},
                        "members": {str(target.id): self.world.member_payload(target.id, with_user=False)}}
        data = _command_data(cmd, target_id=str(target.id), resolved=resolved)
        return await self._interaction(COMMAND, member, chan, data, name=name, command_type=cmd["type"])

    async def click(self, user: FakeUser | str | int, message: StoredMessage | int, custom_id: str,
                    *, values: list[str] | None = None) -> InteractionHandle:
        """Press a button (or pick `values` in a select) on a stored message."""
        msg = message if isinstance(message, StoredMessage) else self.world.messages[message]
        comp = msg.find_component(custom_id)
        if comp is None or msg.deleted:
            raise ClientRefused(f"message {msg.id} has no component {custom_id!r}")
        if comp.get("disabled"):
            raise ClientRefused(f"component {custom_id!r} is disabled")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": comp["type"]}
        if comp["type"] != 2:
            data["values"] = list(values or [])
        chan = self.world.channels[msg.channel_id]
        return await self._interaction(COMPONENT, self.user(user), chan, data, message=msg)

    async def submit_modal(self, user: FakeUser | str | int, channel: FakeChannel | str | int,
                           custom_id: str | None, values: Mapping[str, str],
                           *, opened_by: InteractionHandle | None = None) -> InteractionHandle:
        """Fill in and submit the modal the bot showed (the latest one shown to `user`, or `opened_by`'s)."""
        member, chan = self.user(user), self.channel(channel)
        opener = opened_by.record if opened_by else next(
            (r for r in reversed(list(self.interactions.by_id.values()))
             if r.modal and r.user_id == member.id and custom_id in (None, r.modal.get("custom_id"))), None)
        if opener is None or opener.modal is None:
            raise ClientRefused(f"no modal {custom_id!r} was shown to {member.name}")
        modal = opener.modal
        inputs = {c["custom_id"]: c for c in _text_inputs(modal.get("components") or [])}
        if set(values) - set(inputs):
            raise ClientRefused(f"modal has no field(s) {sorted(set(values) - set(inputs))}")
        for key, spec in inputs.items():
            text = values.get(key, spec.get("value") or "")
            if spec.get("required", True) and not text:
                raise ClientRefused(f"modal field {key!r} is required")
            if len(text) > spec.get("max_length", 4000) or len(text) < spec.get("min_length", 0):
                raise ClientRefused(f"modal field {key!r}: length {len(text)} out of bounds")
        data = {"custom_id": modal["custom_id"],
                "components": [_submitted(c, values) for c in modal.get("components") or []]}
        source = self.world.messages.get(opener.source_message_id or 0)
        return await self._interaction(MODAL_SUBMIT, member, chan, data, message=source)

    # --- messages ---------------------------------------------------------------------------
    async def say(self, user: FakeUser | str | int, channel: FakeChannel | str | int, content: str,
                  *, reply_to: StoredMessage | None = None, mention_bot: bool = False,
                  attachments: Mapping[str, bytes] | None = None) -> StoredMessage:
        """Post as a member. `mention_bot` pings the bot (reply ping when replying, `<@bot>` otherwise)."""
        member, chan = self.user(user), self.channel(channel)
        perms = self.world.permissions(member.id, chan.id)
        if not perms & Perm.SEND_MESSAGES or (attachments and not perms & Perm.ATTACH_FILES):
            raise ClientRefused(f"{member.name} cannot post in #{chan.name}")
        payload: dict[str, Any] = {"content": content}
        if reply_to is not None:
            payload["message_reference"] = {"message_id": str(reply_to.id), "fail_if_not_exists": True}
            if not mention_bot:
                payload["allowed_mentions"] = {"parse": ["users", "roles", "everyone"], "replied_user": False}
        elif mention_bot:
            payload["content"] = f"{self.world.bot.mention} {content}"
        files = {i: (name, data) for i, (name, data) in enumerate((attachments or {}).items())}
        payload["attachments"] = [{"id": i, "filename": name} for i, (name, _) in files.items()]
        return await create_message(self._fake, chan.id, member.id, MessageBody(payload, files),
                                    size_limit=self.world.upload_limit)


def _command_data(cmd: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """`data` of a command interaction; `guild_id` only for guild commands (discord.py looks it up)."""
    data = {"id": cmd["id"], "name": cmd["name"], "type": cmd["type"], **extra}
    if cmd.get("guild_id"):
        data["guild_id"] = cmd["guild_id"]
    return data


def _text_inputs(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for comp in components:
        if comp.get("type") == 4:
            found.append(comp)
        found.extend(_text_inputs(comp.get("components") or []))
        if isinstance(comp.get("component"), dict):
            found.extend(_text_inputs([comp["component"]]))
    return found


def _submitted(comp: dict[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """The modal-submit shape of one top-level modal component (action row or label)."""
    if comp.get("type") == 4:
        value = values.get(comp["custom_id"], comp.get("value") or "")
        out = {"type": 4, "custom_id": comp["custom_id"], "value": value}
        return {**out, "id": comp["id"]} if "id" in comp else out
    if comp.get("type") == 18 and isinstance(comp.get("component"), dict):
        return {"type": 18, "id": comp.get("id", 0), "component": _submitted(comp["component"], values)}
    return {"type": comp.get("type", 1), "components": [_submitted(c, values) for c in comp.get("components") or []]}


__all__ = ["ClientRefused", "FakeRole", "InteractionFailed", "InteractionHandle", "MemberDriver"]
