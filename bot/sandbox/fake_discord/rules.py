"""Discord's rules as pure functions: error bodies, message and embed limits, upload limits, mentions.

Each check raises `DiscordError` carrying the status, JSON code and message Discord answers with, so
the REST layer only has to turn it into a response. Numbers are Discord's documented limits.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from aiohttp import web

from bot.sandbox.fake_discord.state import ROLE_MENTION, USER_MENTION

CONTENT_MAX = 2000
# The locales Discord accepts as keys of `name_localizations` / `description_localizations`.
DISCORD_LOCALES = frozenset({
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl", "no", "pl",
    "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th", "zh-CN", "ja", "zh-TW",
    "ko",
})
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_FIELD_LIMITS = {"title": 256, "description": 4096}
CUSTOM_ID_MAX = 100

# Codes Discord answers with (https://discord.com/developers/docs/topics/opcodes-and-status-codes).
UNKNOWN_CHANNEL, UNKNOWN_MESSAGE, UNKNOWN_WEBHOOK, UNKNOWN_INTERACTION = 10003, 10008, 10015, 10062
UNKNOWN_MEMBER, UNKNOWN_USER, UNKNOWN_COMMAND = 10007, 10013, 10063
ENTITY_TOO_LARGE, ALREADY_ACKNOWLEDGED = 40005, 40060
MISSING_ACCESS, EMPTY_MESSAGE, EDIT_OTHERS_MESSAGE = 50001, 50006, 50005
MISSING_PERMISSIONS, INVALID_WEBHOOK_TOKEN, INVALID_FORM_BODY = 50013, 50027, 50035
REPLY_WITHOUT_HISTORY = 160002


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response whose Content-Type is exactly `application/json`, as discord.py requires."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(body).encode(), status=status, headers=all_headers)


class DiscordError(Exception):
    """An error answered the way Discord does: `{message, code}` plus optional `errors`."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def response(self) -> web.Response:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return json_response(body, self.status)


def form_error(path: list[str | int], code: str, message: str) -> DiscordError:
    """400 50035 with Discord's nested `errors` object pointing at the offending field."""
    errors: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        errors = {str(key): errors}
    return DiscordError(400, INVALID_FORM_BODY, "Invalid Form Body", errors)


def too_long(path: list[str | int], limit: int) -> DiscordError:
    return form_error(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def missing_permissions() -> DiscordError:
    return DiscordError(403, MISSING_PERMISSIONS, "Missing Permissions")


def too_large() -> DiscordError:
    return DiscordError(413, ENTITY_TOO_LARGE, "Request entity too large")


def unknown(code: int, what: str) -> DiscordError:
    return DiscordError(404, code, f"Unknown {what}")


def embed_size(embed: dict[str, Any]) -> int:
    fields = embed.get("fields") or []
    parts = [
        embed.get("title"), embed.get("description"),
        (embed.get("footer") or {}).get("text"), (embed.get("author") or {}).get("name"),
        *(f.get("name") for f in fields), *(f.get("value") for f in fields),
    ]
    return sum(len(p) for p in parts if p)


def check_embeds(embeds: list[dict[str, Any]]) -> None:
    if len(embeds) > EMBEDS_MAX:
        raise form_error(["embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length.")
    for index, embed in enumerate(embeds):
        for key, limit in EMBED_FIELD_LIMITS.items():
            if len(embed.get(key) or "") > limit:
                raise too_long(["embeds", index, key], limit)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            raise too_long(["embeds", index, "fields"], 25)
        for fi, item in enumerate(fields):
            if len(item.get("name") or "") > 256:
                raise too_long(["embeds", index, "fields", fi, "name"], 256)
            if len(item.get("value") or "") > 1024:
                raise too_long(["embeds", index, "fields", fi, "value"], 1024)
        if len((embed.get("footer") or {}).get("text") or "") > 2048:
            raise too_long(["embeds", index, "footer", "text"], 2048)
        if len((embed.get("author") or {}).get("name") or "") > 256:
            raise too_long(["embeds", index, "author", "name"], 256)
    if sum(embed_size(e) for e in embeds) > EMBED_TOTAL_MAX:
        raise form_error(["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def check_components(components: list[dict[str, Any]], path: list[str | int] | None = None) -> None:
    path = path or ["components"]
    for index, comp in enumerate(components):
        custom_id = comp.get("custom_id")
        if custom_id is not None and len(custom_id) > CUSTOM_ID_MAX:
            raise too_long([*path, index, "custom_id"], CUSTOM_ID_MAX)
        if comp.get("type") == 2 and len(comp.get("label") or "") > 80:
            raise too_long([*path, index, "label"], 80)
        check_components(comp.get("components") or [], [*path, index, "components"])


def check_message(payload: dict[str, Any], file_sizes: list[int], size_limit: int, *, creating: bool) -> None:
    """Validate a message body: content, embeds, components, files. Raises `DiscordError`."""
    content = payload.get("content")
    if content is not None and len(str(content)) > CONTENT_MAX:
        raise too_long(["content"], CONTENT_MAX)
    check_embeds(payload.get("embeds") or [])
    check_components(payload.get("components") or [])
    if any(size > size_limit for size in file_sizes):
        raise too_large()
    nonce = payload.get("nonce")
    if nonce is not None and len(str(nonce)) > 25:
        raise too_long(["nonce"], 25)
    if creating and not (content or payload.get("embeds") or file_sizes or payload.get("components")
                         or payload.get("sticker_ids") or payload.get("poll")):
        raise DiscordError(400, EMPTY_MESSAGE, "Cannot send an empty message")


def resolve_mentions(
    content: str,
    allowed: dict[str, Any] | None,
    *,
    known_users: set[int],
    known_roles: set[int],
    replied_author: int | None,
    can_mention_everyone: bool,
) -> tuple[list[int], list[int], bool]:
    """Users, roles and @everyone actually pinged by `content` under `allowed_mentions`.

    Without `allowed_mentions` Discord parses everything (and pings the replied-to author); with it,
    only what `parse`/`users`/`roles`/`replied_user` allow.
    """
    users = [u for u in dict.fromkeys(int(m) for m in USER_MENTION.findall(content)) if u in known_users]
    roles = [r for r in dict.fromkeys(int(m) for m in ROLE_MENTION.findall(content)) if r in known_roles]
    everyone = ("@everyone" in content or "@here" in content) and can_mention_everyone
    ping_reply = True
    if allowed is not None:
        parse = set(allowed.get("parse") or [])
        explicit_users = {int(u) for u in allowed.get("users") or []}
        explicit_roles = {int(r) for r in allowed.get("roles") or []}
        users = [u for u in users if "users" in parse or u in explicit_users]
        roles = [r for r in roles if "roles" in parse or r in explicit_roles]
        everyone = everyone and "everyone" in parse
        ping_reply = bool(allowed.get("replied_user", False))
    if replied_author is not None and ping_reply and replied_author not in users:
        users.append(replied_author)
    return users, roles, everyone


def localized_name_ok(name: str) -> bool:
    """Discord's rule for a chat command's (or option's) name, localized or not:
    `^[-_\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$`, and lowercase where the script has case."""
    if not 1 <= len(name) <= 32 or name != name.lower():
        return False
    for char in name:
        if char in "-_" or unicodedata.category(char)[0] in "LN":
            continue
        script = unicodedata.name(char, "").split(" ", 1)[0]
        if script not in ("DEVANAGARI", "THAI"):
            return False
    return True
