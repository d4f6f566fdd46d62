"""A fake Discord on 127.0.0.1 (random port): REST under ``/api/v10`` and the gateway
websocket, for the real discord.py 2.7 client over real HTTP and websockets::

    async with FakeDiscord(heartbeat_interval=0.05) as dc:
        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        async with running_client(dc, client):        # login, connect, wait_until_ready
            channel = client.get_channel(dc.news.id)
            await channel.send("hi", allowed_mentions=discord.AllowedMentions.none())
            inter = await dc.interact(dc.command_interaction("digest", user=dc.admin))
            assert inter.callback.ephemeral
        assert dc.channel_messages(dc.news.id)[0].body["allowed_mentions"] == {"parse": []}

Pointing discord.py here (``point_discord_py_at(dc)``, used by ``running_client``) patches two
class attributes and restores them afterwards: ``discord.http.Route.BASE`` (every REST and
interaction-webhook URL is ``Route.BASE + path``; a ``Route`` computes its URL when created)
and ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (a plain ``discord.Client`` never
calls ``GET /gateway/bot``; it connects to DEFAULT_GATEWAY and later resumes at READY's
``resume_gateway_url``, which the fake sets to itself). ``GET /gateway/bot`` answers the local
URL too, for ``AutoShardedClient``. Pass ``guild_ready_timeout`` small: discord.py waits that
long (default 2 s) after the last GUILD_CREATE before READY fires.

The world (``fake_discord_world``): ``dc.bot`` (its user id is ``dc.application_id``, as for
modern apps), guild ``dc.guild`` with text channels ``dc.news`` and ``dc.general``, a public
thread ``dc.thread``, role ``dc.moderators`` (MANAGE_CHANNELS), members ``dc.admin`` (a
Moderator) and ``dc.member`` (no roles).

What the bot did is recorded: ``requests`` (every REST call, Authorization redacted),
``messages`` (``FakeMessage``: request ``body``, answered ``data``, ``pings``),
``interactions``/``callbacks``, ``global_commands``/``guild_commands``/``command_syncs``,
``threads_created``, ``nonce_replays``, ``pings``; the gateway's ``identifies``,
``heartbeat_acks``, ``resumes`` and ``connections`` live on ``dc.gateway``.

Failures: ``fail_next(target, failure)`` answers the next request(s) matching ``target`` (a
channel id, ``"POST /channels/*/messages"`` or ``"/channels/*"`` with fnmatch wildcards) with
a ready-made ``rate_limited``/``missing_access``/``missing_permissions``/``unknown_channel``/
``unknown_message``/``invalid_form_body``/``server_error`` or any ``(status, body, headers)``.
``delete_channel(id)`` makes later requests to the channel 404 10003; ``forbid_channel(id)``
makes them 403 50001. Nothing here logs, and no record holds the token.
"""

# These helpers wait on the fake with a ``timeout`` argument, as their callers expect.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from tests.support.fake_discord_client import point_discord_py_at, running_client
from tests.support.fake_discord_failures import (
    Failure,
    FailureBook,
    RecordedRequest,
    invalid_form_body,
    missing_access,
    missing_permissions,
    rate_limited,
    server_error,
    unknown_channel,
    unknown_message,
)
from tests.support.fake_discord_gateway import PRIVILEGED_INTENTS, Gateway
from tests.support.fake_discord_interactions import (
    FakeInteraction,
    InteractionCallback,
    base_payload,
    command_data,
    component_payload,
)
from tests.support.fake_discord_messages import FakeMessage
from tests.support.fake_discord_rest import Rest
from tests.support.fake_discord_world import (
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeUser,
    Perm,
    default_world,
)

__all__ = [
    "DEFAULT_TOKEN",
    "Failure",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeMessage",
    "FakeUser",
    "InteractionCallback",
    "Perm",
    "RecordedRequest",
    "invalid_form_body",
    "missing_access",
    "missing_permissions",
    "point_discord_py_at",
    "rate_limited",
    "running_client",
    "server_error",
    "unknown_channel",
    "unknown_message",
]

HOST = "127.0.0.1"
DEFAULT_TOKEN = "MTAfake.discord-bot.token-not-a-secret"
# Gateway intent limits an application may carry in READY's application.flags.
_INTENT_FLAGS = {1 << 8: 1 << 13, 1 << 1: 1 << 15, 1 << 15: 1 << 19}


class FakeDiscord:
    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        heartbeat_interval: float = 41.25,
        privileged_intents: int = 0,
        nonce_window: float = 300.0,
        interaction_deadline: float = 3.0,
    ) -> None:
        """``privileged_intents``: the privileged intents (bits of GUILD_MEMBERS 1<<1,
        GUILD_PRESENCES 1<<8, MESSAGE_CONTENT 1<<15) "enabled in the developer portal";
        identifying with others closes the gateway with 4014 as Discord does.
        ``nonce_window``: seconds an ``enforce_nonce`` nonce stays unique in a channel.
        ``interaction_deadline``: seconds to answer an interaction before it is unknown."""
        self.token = token
        self.heartbeat_interval = heartbeat_interval
        self.privileged_intents = privileged_intents & PRIVILEGED_INTENTS
        self.nonce_window = nonce_window
        self.interaction_deadline = interaction_deadline
        world = default_world()
        self.bot, self.owner, self.guild = world.bot, world.owner, world.guild
        self.news, self.general, self.thread = world.news, world.general, world.thread
        self.moderators, self.admin, self.member = world.moderators, world.admin, world.member
        self.application_id = self.bot.id
        self.guilds: list[FakeGuild] = [world.guild]
        self.requests: list[RecordedRequest] = []
        self.messages: list[FakeMessage] = []
        self.interactions: dict[int, FakeInteraction] = {}
        self.callbacks: list[InteractionCallback] = []
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.command_syncs: list[tuple[int | None, list[dict[str, Any]]]] = []
        self.threads_created: list[FakeChannel] = []
        self.nonce_replays = 0
        self.deleted_channels: set[int] = set()
        self.forbidden_channels: set[int] = set()
        self.gateway = Gateway(self)
        self.failures = FailureBook()
        self._tick = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        Rest(self).install(app)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/", self.gateway.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((HOST, 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def api_base(self) -> str:
        return f"http://{HOST}:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{HOST}:{self.port}/gateway"

    @property
    def application_flags(self) -> int:
        flags = 1 << 23  # APPLICATION_COMMAND_BADGE
        for intent, flag in _INTENT_FLAGS.items():
            if self.privileged_intents & intent:
                flags |= flag
        return flags

    # -- the world ----------------------------------------------------------------------------

    def add_guild(self, name: str) -> FakeGuild:
        """Another guild with @everyone and the bot as a member; add channels and members with
        ``FakeGuild.add_*``. Add it before clients connect, or dispatch GUILD_CREATE."""
        guild = FakeGuild.create(name, owner_id=self.owner.id)
        guild.add_member(self.bot)
        self.guilds.append(guild)
        return guild

    def find_guild(self, guild_id: int) -> FakeGuild | None:
        return next((g for g in self.guilds if g.id == guild_id), None)

    def find_channel(self, channel_id: int) -> tuple[FakeGuild, FakeChannel] | None:
        for guild in self.guilds:
            channel = guild.channel(channel_id)
            if channel is not None:
                return guild, channel
        return None

    def delete_channel(self, channel_id: int) -> dict[str, Any]:
        """Remove a channel: later requests to it answer 404 10003 "Unknown Channel". Returns
        its payload, for ``await dc.dispatch("CHANNEL_DELETE", payload)`` when the test wants
        the bot told (Discord tells connected bots; one that was offline only learns on send)."""
        found = self.find_channel(channel_id)
        if found is None:
            raise ValueError(f"no channel {channel_id}")
        guild, channel = found
        guild.channels.remove(channel)
        self.deleted_channels.add(channel_id)
        return channel.payload()

    def forbid_channel(self, channel_id: int) -> None:
        """The bot lost access: later requests to the channel answer 403 50001."""
        self.forbidden_channels.add(channel_id)

    def guild_member_payload(self, guild_id: int) -> dict[str, Any] | None:
        guild = self.find_guild(guild_id)
        member = guild.member(self.bot.id) if guild else None
        return None if member is None else member.payload(with_user=False)

    # -- gateway and interactions ---------------------------------------------------------------

    async def dispatch(self, event: str, data: Any) -> int:
        """Push any gateway event (``op 0``, next sequence number) to every identified session
        whose intents cover it; returns how many connected sessions got it. An
        INTERACTION_CREATE is also registered so the fake accepts its callback."""
        if event == "INTERACTION_CREATE":
            interaction = FakeInteraction(int(data["id"]), data["token"], data["type"], data)
            self.interactions[interaction.id] = interaction
        return await self.gateway.dispatch(event, data)

    async def reconnect_clients(self) -> None:
        """Send RECONNECT (op 7): discord.py closes and RESUMEs at ``resume_gateway_url``."""
        await self.gateway.reconnect_all()

    def command_interaction(
        self,
        name: str,
        options: dict[str, Any] | list[dict[str, Any]] | None = None,
        *,
        user: FakeMember | FakeUser | None = None,
        channel: FakeChannel | None = None,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE data for ``/name`` (type 2) by ``user`` (default ``dc.member``)
        in ``channel`` (default ``dc.news``). ``options`` maps option names to values (a
        ``FakeChannel``, ``FakeMember`` or ``FakeRole`` for those option types) or is a raw
        option list."""
        payload = base_payload(self, 2, {}, user, channel)
        perms = int(payload["member"]["permissions"])
        payload["data"] = command_data(self, name, options, channel, permissions=perms)
        return payload

    def autocomplete_interaction(
        self,
        name: str,
        options: dict[str, Any],
        focused: str,
        *,
        user: FakeMember | FakeUser | None = None,
        channel: FakeChannel | None = None,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE data for autocomplete (type 4): ``options[focused]`` is what the
        user has typed so far, sent as a string with ``focused: true``."""
        payload = base_payload(self, 4, {}, user, channel)
        perms = int(payload["member"]["permissions"])
        payload["data"] = command_data(
            self, name, options, channel, permissions=perms, focused=focused
        )
        return payload

    def component_interaction(
        self,
        custom_id: str,
        *,
        message: FakeMessage | int | None = None,
        values: list[str] | None = None,
        user: FakeMember | FakeUser | None = None,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE data for a click (type 3) on the component ``custom_id`` of
        ``message`` (default: the newest message the bot sent that has it); ``values`` for a
        select menu."""
        return component_payload(self, custom_id, message=message, values=values, user=user)

    async def interact(
        self, payload: dict[str, Any], *, timeout: float = 3.0, answered: bool = True
    ) -> FakeInteraction:
        """Dispatch an INTERACTION_CREATE and (with ``answered``) wait for its callback."""
        if await self.dispatch("INTERACTION_CREATE", payload) == 0:
            raise AssertionError("no connected gateway session received the interaction")
        interaction = self.interactions[int(payload["id"])]
        if answered:
            data = payload["data"]
            await self.wait_until(
                lambda: interaction.callback is not None or interaction.late_callbacks > 0,
                timeout,
                what=f"a callback for {data.get('name') or data.get('custom_id')}",
            )
        return interaction

    # -- records ----------------------------------------------------------------------------

    def record(
        self, method: str, path: str, query: dict[str, str], body: Any, headers: Mapping[str, str]
    ) -> RecordedRequest:
        safe = {k: v for k, v in headers.items()}
        if "Authorization" in safe:
            safe["Authorization"] = "Bot [redacted]"
        request = RecordedRequest(method, path, query, body, safe)
        self.requests.append(request)
        return request

    def requests_to(self, method: str | None = None, path: str = "*") -> list[RecordedRequest]:
        """Recorded requests by method and fnmatch path, e.g. ``("POST", "/channels/*")``."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and fnmatch.fnmatchcase(r.path, path)
        ]

    def message(self, message_id: int) -> FakeMessage | None:
        return next((m for m in self.messages if m.id == message_id), None)

    def channel_messages(self, channel_id: int, *, deleted: bool = False) -> list[FakeMessage]:
        """What the channel shows: messages posted there (not ephemeral), oldest first."""
        return [
            m
            for m in self.messages
            if m.channel_id == channel_id and not m.ephemeral and (deleted or not m.deleted)
        ]

    def nonce_match(self, channel_id: int, nonce: str) -> FakeMessage | None:
        now = time.monotonic()
        for m in self.messages:
            same = m.source == "channel" and m.channel_id == channel_id
            if same and str(m.body.get("nonce")) == nonce and now - m.created < self.nonce_window:
                return m
        return None

    @property
    def pings(self) -> int:
        """How many messages would have notified someone (see ``fake_discord_rules``)."""
        return sum(1 for m in self.messages if m.pings)

    def notify(self) -> None:
        self._tick.set()
        self._tick = asyncio.Event()

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 3.0, *, what: str = "the condition"
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"fake Discord: timed out after {timeout}s waiting for {what}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._tick.wait(), remaining)

    def fail_next(
        self,
        target: int | str,
        failure: Failure | int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests matching ``target`` with ``failure`` (or with
        ``status, body, headers``). ``target``: a channel id (any request under
        ``/channels/<id>``), or ``"METHOD /path"`` / ``"/path"`` with fnmatch wildcards and
        ``{placeholders}`` (read as ``*``)."""
        if isinstance(failure, int):
            failure = Failure(failure, body if body is not None else {}, dict(headers or {}))
        self.failures.add(target, failure, times)

    def take_failure(self, method: str, path: str) -> Failure | None:
        return self.failures.take(method, path)
