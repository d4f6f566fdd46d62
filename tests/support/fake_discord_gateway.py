"""The fake Discord's gateway: one websocket endpoint speaking gateway v10 with JSON encoding.

Flow, as on Discord: the server sends HELLO (op 10, ``heartbeat_interval`` in ms); the client
sends IDENTIFY (op 2: token, intents); the server answers READY (op 0, ``t=READY``: user,
``application {id, flags}``, ``session_id``, ``resume_gateway_url``, every guild as
unavailable) and then one GUILD_CREATE per guild. HEARTBEAT (op 1) gets HEARTBEAT_ACK (op 11),
before or after IDENTIFY. RESUME (op 6) with a known session replays the dispatches the client
missed (sequence numbers are per session) and sends RESUMED; an unknown session gets
INVALID_SESSION (op 9, ``d=false``). REQUEST_GUILD_MEMBERS (op 8) gets one
GUILD_MEMBERS_CHUNK. ``reconnect_all()`` sends RECONNECT (op 7).

Close codes, as Discord's: 4001 unknown opcode, 4002 decode error, 4003 not authenticated,
4004 authentication failed, 4005 already authenticated, 4012 invalid API version, 4013
invalid intents, 4014 disallowed (privileged, not enabled) intents.

Transport compression: discord.py 2.7 always connects with ``compress=zlib-stream`` (or
``zstd-stream`` when the ``zstandard`` module or Python 3.14's ``compression.zstd`` is
importable) and has no option to turn it off. For ``zlib-stream`` the fake keeps one zlib
stream per connection and sends every payload as a binary frame ending in ``Z_SYNC_FLUSH``
(``00 00 ff ff``), which is what discord.py's decompressor waits for. For anything else it
sends plain text frames, which discord.py also accepts (it only decompresses binary frames).

Events are filtered by the intents the session identified with (GUILDS for guild, channel and
thread events, GUILD_MEMBERS for member events, GUILD_MESSAGES for guild message events);
INTERACTION_CREATE always goes through.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.support.fake_discord import FakeDiscord

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
ALL_INTENTS = (1 << 26) - 1

_INTENT_OF_EVENT = {
    "GUILD_CREATE": GUILDS,
    "GUILD_UPDATE": GUILDS,
    "GUILD_DELETE": GUILDS,
    "GUILD_ROLE_CREATE": GUILDS,
    "GUILD_ROLE_UPDATE": GUILDS,
    "GUILD_ROLE_DELETE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "CHANNEL_UPDATE": GUILDS,
    "CHANNEL_DELETE": GUILDS,
    "THREAD_CREATE": GUILDS,
    "THREAD_UPDATE": GUILDS,
    "THREAD_DELETE": GUILDS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
}


@dataclass(eq=False)
class GatewaySession:
    id: str
    intents: int
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    connection: GatewayConnection | None = None


@dataclass(eq=False)
class GatewayConnection:
    """One websocket. ``compression`` is the ``compress`` query value the client asked for."""

    ws: web.WebSocketResponse
    compression: str | None
    session: GatewaySession | None = None
    heartbeats: int = 0
    close_code: int | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)
    _zlib: Any = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, payload: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        text = json.dumps(payload, separators=(",", ":"))
        async with self._lock:  # one zlib stream: frames must leave in compression order
            self.sent.append(payload)
            try:
                if self.compression == "zlib-stream":
                    if self._zlib is None:
                        self._zlib = zlib.compressobj()
                    data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(text)
            except ConnectionError:
                pass

    async def close(self, code: int, reason: str) -> None:
        self.close_code = code
        await self.ws.close(code=code, message=reason.encode())


class Gateway:
    """Sessions and connections of one ``FakeDiscord``; ``handle`` is the aiohttp handler."""

    def __init__(self, dc: FakeDiscord) -> None:
        self.dc = dc
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[GatewayConnection] = []
        self.identifies: list[dict[str, Any]] = []  # IDENTIFY payloads, token redacted
        self.resumes = 0
        self.heartbeat_acks = 0

    @property
    def live(self) -> list[GatewayConnection]:
        return [c for c in self.connections if c.session is not None and not c.ws.closed]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = GatewayConnection(ws, request.query.get("compress"))
        self.connections.append(conn)
        try:
            if request.query.get("v", "10") != "10":
                await conn.close(4012, "Invalid API version")
                return ws
            interval_ms = round(self.dc.heartbeat_interval * 1000)
            await conn.send(_frame(10, {"heartbeat_interval": interval_ms}))
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    await conn.close(4002, "Error while decoding payload.")
                    break
                try:
                    payload = json.loads(msg.data)
                    op = payload["op"]
                except (ValueError, KeyError, TypeError):
                    await conn.close(4002, "Error while decoding payload.")
                    break
                await self._on_payload(conn, op, payload.get("d"))
        finally:
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
            self.dc.notify()
        return ws

    async def _on_payload(self, conn: GatewayConnection, op: int, data: Any) -> None:
        if op == 1:
            conn.heartbeats += 1
            self.heartbeat_acks += 1
            await conn.send(_frame(11, None))
        elif op == 2:
            await self._identify(conn, data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        elif conn.session is None:
            await conn.close(4003, "Not authenticated.")
        elif op == 8:
            await self._request_members(conn, data or {})
        elif op in (3, 4):  # presence / voice state updates: accepted, ignored
            pass
        else:
            await conn.close(4001, "Unknown opcode.")
        self.dc.notify()

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        self.identifies.append({**data, "token": "[redacted]"})
        if conn.session is not None:
            await conn.close(4005, "Already authenticated.")
            return
        if data.get("token") != self.dc.token:
            await conn.close(4004, "Authentication failed.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~ALL_INTENTS:
            await conn.close(4013, "Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS & ~self.dc.privileged_intents:
            await conn.close(4014, "Disallowed intent(s).")
            return
        session = GatewaySession(secrets.token_hex(16), intents, connection=conn)
        self.sessions[session.id] = session
        conn.session = session
        dc = self.dc
        ready = {
            "v": 10,
            "user": {**dc.bot.payload(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in dc.guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": dc.gateway_url,
            "application": {"id": str(dc.application_id), "flags": dc.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
            "_trace": ['["fake-discord-gateway",{"micros":1}]'],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        await self._send_dispatch(session, "READY", ready)
        all_members = bool(intents & GUILD_MEMBERS)
        for guild in dc.guilds:
            payload = guild.payload(bot_id=dc.bot.id, all_members=all_members)
            await self._send_dispatch(session, "GUILD_CREATE", payload)

    async def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = self.sessions.get(data.get("session_id") or "")
        if data.get("token") != self.dc.token:
            await conn.close(4004, "Authentication failed.")
            return
        if session is None:
            await conn.send(_frame(9, False))
            return
        self.resumes += 1
        session.connection = conn
        conn.session = session
        after = data.get("seq") or 0
        for event in [e for e in session.events if e["s"] > after]:
            await conn.send(event)
        await self._send_dispatch(session, "RESUMED", {"_trace": []})

    async def _request_members(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        assert conn.session is not None
        guild = self.dc.find_guild(int(data.get("guild_id") or 0))
        if guild is None:
            return
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in guild.members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._send_dispatch(conn.session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _send_dispatch(self, session: GatewaySession, event: str, data: Any) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.events.append(frame)
        del session.events[:-500]
        if session.connection is not None:
            await session.connection.send(frame)

    async def dispatch(
        self, event: str, data: Any, *, only: Callable[[GatewaySession], bool] | None = None
    ) -> int:
        """Send a dispatch to every identified session whose intents cover it (sessions that
        dropped keep it for a RESUME). Returns how many connected sessions got it."""
        needed = _INTENT_OF_EVENT.get(event, 0)
        if event.startswith("MESSAGE_") and isinstance(data, dict) and "guild_id" not in data:
            needed = 1 << 12  # DIRECT_MESSAGES
        count = 0
        for session in list(self.sessions.values()):
            if needed and not session.intents & needed:
                continue
            if only is not None and not only(session):
                continue
            await self._send_dispatch(session, event, data)
            count += session.connection is not None
        self.dc.notify()
        return count

    async def reconnect_all(self) -> None:
        for conn in self.live:
            await conn.send(_frame(7, None))

    async def close_all(self, code: int = 1001) -> None:
        for conn in self.connections:
            if not conn.ws.closed:
                await conn.close(code, "Going away")


def _frame(op: int, data: Any) -> dict[str, Any]:
    return {"op": op, "d": data, "s": None, "t": None}
