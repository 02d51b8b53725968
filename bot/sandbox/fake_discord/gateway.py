"""The fake gateway (`/gw`): HELLO, heartbeats, IDENTIFY/RESUME, READY + GUILD_CREATE, then dispatches.

Frames are sent as TEXT JSON even when the client asks for zlib-stream (discord.py only inflates
binary frames). IDENTIFY's `shard: [id, count]` is honoured like Discord does: a session gets only
the guilds (READY, GUILD_CREATE) and the guild events of its shard, `(guild_id >> 22) % count`;
events without a guild (DMs) go to shard 0. IDENTIFY records the intents; privileged intents the
fake was not told to allow close the socket with 4014, a wrong token with 4004. A session that
drops without a clean close keeps its events in a buffer so RESUME replays them; a clean close
(1000/1001) ends the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from bot.sandbox.fake_discord.state import PRIVILEGED_INTENTS, Intent, StoredMessage

if TYPE_CHECKING:
    from bot.sandbox.fake_discord.fake import FakeDiscord

log = logging.getLogger(__name__)

OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME, OP_RECONNECT = 0, 1, 2, 6, 7
OP_REQUEST_MEMBERS, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 8, 9, 10, 11
CLOSE_AUTH_FAILED, CLOSE_DISALLOWED_INTENTS = 4004, 4014
BUFFER_MAX = 2000


@dataclass
class GatewaySession:
    id: str
    intents: int
    seq: int = 0
    ws: web.WebSocketResponse | None = field(default=None, repr=False)
    buffer: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=BUFFER_MAX), repr=False)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    ready: bool = False
    shard: tuple[int, int] = (0, 1)  # (id, count) from IDENTIFY

    def has(self, intent: int) -> bool:
        return bool(self.intents & intent)

    def owns(self, guild_id: int | None) -> bool:
        """Whether this session's shard receives `guild_id`'s events (None: a DM, shard 0's)."""
        shard_id, count = self.shard
        return shard_for(guild_id, count) == shard_id


def shard_for(guild_id: int | None, count: int) -> int:
    """Discord's routing: `(guild_id >> 22) % shard_count`; DMs are shard 0's."""
    return 0 if guild_id is None else (int(guild_id) >> 22) % count


def _event_guild(event: str, payload: dict[str, Any]) -> int | None:
    guild = payload.get("guild_id")
    if guild is None and event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"):
        guild = payload.get("id")
    return int(guild) if guild is not None else None


@dataclass
class Identify:
    """What one IDENTIFY asked for (tests assert on intents)."""

    intents: int
    session_id: str | None
    accepted: bool
    close_code: int | None = None
    shard: tuple[int, int] = (0, 1)


def _shard_of(value: Any) -> tuple[int, int]:
    """IDENTIFY's `shard` ([id, count]); absent or malformed: the one shard of one."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        shard_id, count = value
        if count >= 1 and 0 <= shard_id < count:
            return shard_id, count
    return 0, 1


class GatewayHub:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: dict[str, GatewaySession] = {}
        self.identifies: list[Identify] = []
        self.resumes: list[str] = []
        self._sockets: set[web.WebSocketResponse] = set()

    @property
    def connected(self) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if s.ws is not None and s.ready and not s.ws.closed]

    # --- connection -------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        session: GatewaySession | None = None
        try:
            interval = int(self.fake.heartbeat_interval * 1000)
            await ws.send_str(json.dumps({"op": OP_HELLO, "d": {"heartbeat_interval": interval}, "s": None}))
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                message = json.loads(frame.data)
                session = await self._on_op(ws, session, message.get("op"), message.get("d")) or session
        finally:
            self._sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
                if ws.close_code in (1000, 1001):
                    self.sessions.pop(session.id, None)
            self.fake.notify()
        return ws

    async def _on_op(self, ws: web.WebSocketResponse, session: GatewaySession | None, op: Any,
                     data: Any) -> GatewaySession | None:
        if op == OP_HEARTBEAT:
            await ws.send_str(json.dumps({"op": OP_HEARTBEAT_ACK}))
        elif op == OP_IDENTIFY:
            return await self._identify(ws, data or {})
        elif op == OP_RESUME:
            return await self._resume(ws, data or {})
        elif op == OP_REQUEST_MEMBERS and session is not None:
            await self._send(session, "GUILD_MEMBERS_CHUNK", {
                "guild_id": str(self.fake.world.guild_id), "chunk_index": 0, "chunk_count": 1,
                "members": [self.fake.world.member_payload(u) for u in self.fake.world.users],
                "nonce": (data or {}).get("nonce"), "not_found": [],
            })
        return None

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> GatewaySession | None:
        intents = int(data.get("intents") or 0)
        if data.get("token") != self.fake.token:
            self.identifies.append(Identify(intents, None, False, CLOSE_AUTH_FAILED))
            await ws.close(code=CLOSE_AUTH_FAILED, message=b"Authentication failed.")
            return None
        disallowed = intents & PRIVILEGED_INTENTS & ~self.fake.privileged_intents
        if disallowed:
            self.identifies.append(Identify(intents, None, False, CLOSE_DISALLOWED_INTENTS))
            log.info("IDENTIFY asked for privileged intents %s that are not enabled", disallowed)
            await ws.close(code=CLOSE_DISALLOWED_INTENTS, message=b"Disallowed intent(s).")
            return None
        shard = _shard_of(data.get("shard"))
        session = GatewaySession(id=secrets.token_hex(16), intents=intents, ws=ws, shard=shard)
        self.sessions[session.id] = session
        self.identifies.append(Identify(intents, session.id, True, shard=shard))
        world = self.fake.world
        mine = session.owns(world.guild_id)
        await self._send(session, "READY", {
            "v": 10, "user": {**world.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(world.guild_id), "unavailable": True}] if mine else [], "session_id": session.id,
            "resume_gateway_url": self.fake.gateway_url, "application": {"id": str(world.application_id),
                                                                          "flags": 0},
            "private_channels": [], "relationships": [], "presences": [], "user_settings": {},
            "session_type": "normal", "shard": list(shard),
        })
        if mine and session.has(Intent.GUILDS):
            guild = world.guild_payload(include_members=session.has(Intent.GUILD_MEMBERS))
            await self._send(session, "GUILD_CREATE", guild)
        session.ready = True
        self.fake.notify()
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> GatewaySession | None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.fake.token:
            await ws.send_str(json.dumps({"op": OP_INVALID_SESSION, "d": False}))
            return None
        self.resumes.append(session.id)
        seq = int(data.get("seq") or 0)
        async with session.lock:
            session.ws = ws
            for frame in [f for f in session.buffer if f["s"] > seq]:
                await ws.send_str(json.dumps(frame))
        await self._send(session, "RESUMED", {})
        self.fake.notify()
        return session

    # --- dispatch ---------------------------------------------------------------------------
    async def _send(self, session: GatewaySession, event: str, data: dict[str, Any]) -> bool:
        """Sequence and buffer the event; True when it went out on a live connection."""
        async with session.lock:
            session.seq += 1
            frame = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
            session.buffer.append(frame)
            if session.ws is None or session.ws.closed:
                return False
            try:
                await session.ws.send_str(json.dumps(frame))
            except (ConnectionError, RuntimeError):
                return False
            return True

    async def dispatch(self, event: str, data: dict[str, Any] | Callable[[GatewaySession], dict | None],
                       *, intent: int = 0) -> int:
        """Send an event to every identified session (live, or buffered for RESUME); returns how many
        live connections got it (0: no bot is connected right now)."""
        live = 0
        for session in list(self.sessions.values()):
            if intent and not session.has(intent):
                continue
            payload = data(session) if callable(data) else data
            if payload is not None and session.owns(_event_guild(event, payload)):
                live += await self._send(session, event, payload)
        return live

    async def dispatch_message(self, event: str, msg: StoredMessage) -> None:
        world = self.fake.world

        def build(session: GatewaySession) -> dict[str, Any]:
            blank = (not session.has(Intent.MESSAGE_CONTENT) and msg.author_id != world.bot.id
                     and world.bot.id not in msg.mentions and msg.guild_id is not None)
            payload = world.message_payload(msg, blank=blank)
            if msg.guild_id is not None and msg.author_id in world.users and msg.webhook_id is None:
                payload["member"] = world.member_payload(msg.author_id, with_user=False)
            return payload

        await self.dispatch(event, build, intent=Intent.GUILD_MESSAGES)

    async def drop(self, code: int = 4000, *, reconnect_op: bool = False) -> None:
        """Cut every gateway connection uncleanly (the client resumes); or send op 7 RECONNECT."""
        for session in list(self.sessions.values()):
            ws = session.ws
            if ws is None or ws.closed:
                continue
            if reconnect_op:
                await ws.send_str(json.dumps({"op": OP_RECONNECT, "d": None}))
            else:
                session.ws = None  # detached first: the session stays resumable whatever the client answers
                await ws.close(code=code, message=b"fake gateway dropped the connection")

    async def close(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"fake Discord shutting down")
        self.sessions.clear()
