"""The aiohttp application: routing, the bot-token check, fault injection and the record of REST calls.

Every request under `/api/v10` passes one middleware that (1) answers an injected fault if one matches
(500, 429 with `Via` + `retry_after` so discord.py retries, a hang, or a delay), (2) checks
`Authorization: Bot <token>` except for webhook and interaction-callback routes whose token is in the
path, (3) turns `DiscordError` into Discord's JSON answer, and (4) appends a `RestCall` to the log.
Attachments are served back at `/attachments/{channel}/{id}/{filename}`, like Discord's CDN.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sandbox.fake_discord.messages import BODY_KEY
from bot.sandbox.fake_discord.rules import DiscordError, json_response

if TYPE_CHECKING:
    from bot.sandbox.fake_discord.fake import FakeDiscord

log = logging.getLogger(__name__)

API = "/api/v10"
_NO_AUTH = re.compile(r"^/(webhooks|interactions)/")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class RestCall:
    """One REST request the fake answered (the bot's view of Discord)."""

    method: str
    path: str  # path after /api/v10, with real ids
    route: str  # the matched pattern, e.g. /channels/{channel_id}/messages
    status: int
    at: float
    code: int | None = None  # Discord's JSON error code, when there is one
    body: Any = None  # the JSON (or payload_json) the client sent, when there was one
    fault: bool = False

    def __str__(self) -> str:
        shown = self.route if "{token}" in self.route else self.path  # keep interaction tokens out of logs
        return f"{self.method} {shown} -> {self.status}" + (f" ({self.code})" if self.code else "")


@dataclass
class Fault:
    """Make the next `times` calls matching `method` and the `path` regex fail (or hang or lag)."""

    method: str
    path: str
    status: int = 500
    times: int = 1
    retry_after: float = 0.05
    hang: bool = False
    delay: float = 0.0
    hits: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method in ("*", method) and bool(self._pattern.search(path))


def _error_code(response: web.StreamResponse) -> int | None:
    if isinstance(response, web.Response) and response.status >= 400 and isinstance(response.body, bytes | bytearray):
        try:
            body = json.loads(bytes(response.body))
        except (ValueError, TypeError):
            return None
        return body.get("code") if isinstance(body, dict) else None
    return None


class FaultInjector:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.times -= 1
                fault.hits += 1
                return fault
        return None

    async def answer(self, fault: Fault, request: web.Request, handler: Handler) -> web.StreamResponse | None:
        if fault.hang:
            await self.fake.stopping.wait()
            return json_response({"message": "503: Service Unavailable", "code": 0}, 503)
        if fault.delay:
            await asyncio.sleep(fault.delay)
            return None
        if fault.status == 429:
            body = {"message": "You are being rate limited.", "retry_after": fault.retry_after, "global": False}
            headers = {"Via": "1.1 google", "Retry-After": str(fault.retry_after), "X-RateLimit-Scope": "user"}
            return json_response(body, 429, headers)
        return json_response({"message": f"{fault.status}: injected fault", "code": 0}, fault.status)


async def _answer(fake: FakeDiscord, request: web.Request, handler: Handler, path: str,
                  fault: Fault | None) -> web.StreamResponse:
    """One API call's answer: the injected `fault`'s, 401 without the bot token, else the route's."""
    try:
        if fault is not None and (faulted := await fake.faults.answer(fault, request, handler)) is not None:
            return faulted
        if not _NO_AUTH.match(path) and request.headers.get("Authorization") != f"Bot {fake.token}":
            raise DiscordError(401, 0, "401: Unauthorized")
        return await handler(request)
    except DiscordError as exc:
        return exc.response()
    except web.HTTPNotFound:
        return json_response({"message": "404: Not Found", "code": 0}, 404)
    except web.HTTPMethodNotAllowed:
        return json_response({"message": "405: Method Not Allowed", "code": 0}, 405)


def build_app(fake: FakeDiscord) -> web.Application:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API + "/"):
            return await handler(request)
        path = request.path[len(API):]
        resource = request.match_info.route.resource
        route = resource.canonical[len(API):] if resource is not None else path
        fault = fake.faults.take(request.method, path)
        response = await _answer(fake, request, handler, path, fault)
        call = RestCall(request.method, path, route, response.status, fake.now(), _error_code(response),
                        request.get(BODY_KEY), fault is not None and fault.delay == 0)
        fake.calls.append(call)
        if response.status >= 400:
            log.debug("fake Discord answered %s", call)
        fake.notify()
        return response

    async def attachment(request: web.Request) -> web.StreamResponse:
        stored = fake.world.files.get(int(request.match_info["attachment_id"]))
        if stored is None or stored.filename != request.match_info["filename"]:
            raise web.HTTPNotFound()
        fake.cdn_downloads.append(stored.id)
        return web.Response(body=stored.data, headers={"Content-Type": stored.content_type})

    async def not_found(request: web.Request) -> web.StreamResponse:
        return json_response({"message": "404: Not Found", "code": 0}, 404)

    app = web.Application(middlewares=[middleware], client_max_size=512 * 1024 * 1024)
    app.router.add_get("/gw", fake.gateway.handle)
    app.router.add_get("/gw/", fake.gateway.handle)
    app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", attachment)
    app.router.add_post(f"{API}/interactions/{{interaction_id}}/{{token}}/callback", fake.interactions.callback)
    hook = f"{API}/webhooks/{{application_id}}/{{token}}"
    app.router.add_post(hook, fake.interactions.followup)
    for method in ("GET", "PATCH", "DELETE"):
        app.router.add_route(method, hook + "/messages/{message_id}", fake.interactions.webhook_message)
    fake.rest.register(app.router, API)
    app.router.add_route("*", API + "/{tail:.*}", not_found)
    return app
