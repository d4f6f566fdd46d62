"""The Discord platform of ``python -m bot``: one discord.py client for the slash commands,
the buttons and the delivery worker's sender.

``build(settings, app)`` (registered in ``bot.platforms``) returns a ``DiscordPlatform``:

- ``sender``: ``DiscordSender`` (``bot.discord.sender``), posting over HTTP with the
  shared client; it calls ``login`` first, so a worker-only process never opens the gateway.
- ``serve(stop)``: log in, sync the slash commands (to ``DISCORD_GUILD_ID`` when set:
  guild commands update at once, which is handy while developing; else globally), connect
  to the gateway and answer interactions until ``stop`` is set (the connection is closed by
  ``aclose``, after the worker's last sends).
- ``aclose()``: close the gateway and the client and give discord.py back its own
  endpoints.

Interactions nothing else answers (a button or a command from an older release) are
answered by ``bot.discord.stale``.

The client: default intents without Message Content (slash commands and components need no
privileged intent, so the bot needs nothing enabled in the developer portal), allowed
mentions none for every message (nothing the bot posts may ping), and
``max_ratelimit_timeout`` 30 s (discord.py's minimum): a longer 429 wait is raised as
``discord.RateLimited`` for the delivery worker to schedule instead of being slept inside
a send.

Endpoints: discord.py keeps its REST base and gateway URL in two class attributes
(``discord.http.Route.BASE``, ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``), for the
whole process. They are set from ``DISCORD_API_BASE_URL`` / ``DISCORD_GATEWAY_URL`` only
when those differ from Discord's own (tests point them at a local fake Discord), and
restored by ``aclose``.

The token: only ``discord.Client.login`` sees it; discord.py logs neither the token nor
request headers, and nothing here logs an exception's text from a login.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
import discord
import discord.gateway
import discord.http
import yarl
from pydantic import SecretStr

from bot.common.commands import Commands
from bot.discord.commands import SlashCommands, install
from bot.discord.commands_ask import AskCommand
from bot.discord.commands_reply import DEFER_AFTER
from bot.discord.components import DYNAMIC_ITEMS, install_followups
from bot.discord.followups import CardFollowUps
from bot.discord.sender import DiscordSender
from bot.discord.stale import StaleAwareTree, install_stale_answers
from digest.app import App
from digest.config import Settings
from digest.errors import ConfigError

log = logging.getLogger(__name__)

NAME = "discord"
DISCORD_API = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg/"
MAX_RATELIMIT_TIMEOUT = 30.0  # discord.py refuses less
CLOSE_WAIT = 5.0  # seconds aclose waits for the gateway task to end
LOGIN_BACKOFF_MAX = 60.0  # seconds between login attempts while Discord is unreachable


class Endpoints:
    """discord.py's process-wide endpoints, pointed at the configured ones when they are
    not Discord's own, and restored by ``restore``."""

    def __init__(self, api: str, gateway: str) -> None:
        self._api = api.rstrip("/")
        self._gateway = gateway
        self._saved: tuple[str, yarl.URL] | None = None

    def apply(self) -> None:
        route, socket = discord.http.Route, discord.gateway.DiscordWebSocket
        if self._api == DISCORD_API and self._gateway.rstrip("/") == DISCORD_GATEWAY.rstrip("/"):
            return
        self._saved = (route.BASE, socket.DEFAULT_GATEWAY)
        route.BASE = self._api
        socket.DEFAULT_GATEWAY = yarl.URL(self._gateway)

    def restore(self) -> None:
        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None


def make_client(*, guild_ready_timeout: float = 2.0) -> discord.Client:
    """The bot's client (see the module docstring for the choices)."""
    intents = discord.Intents.default()
    intents.message_content = False
    # The bot never joins voice: no "PyNaCl/davey is not installed" warning at every start.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    return discord.Client(
        intents=intents,
        allowed_mentions=discord.AllowedMentions.none(),
        max_ratelimit_timeout=MAX_RATELIMIT_TIMEOUT,
        guild_ready_timeout=guild_ready_timeout,
    )


class DiscordPlatform:
    """The Discord adapter as ``bot.platforms.Platform``."""

    name = NAME

    def __init__(
        self,
        settings: Settings,
        app: App,
        *,
        guild_ready_timeout: float = 2.0,
        defer_after: float = DEFER_AFTER,
    ) -> None:
        """Raises ``ConfigError`` when ``DISCORD_BOT_TOKEN`` is not set."""
        if settings.discord_token is None or not settings.discord_token.get_secret_value():
            raise ConfigError("DISCORD_BOT_TOKEN is not set")
        self._token: SecretStr = settings.discord_token
        self._guild_id = settings.discord_guild_id
        self._endpoints = Endpoints(settings.discord_api_base_url, settings.discord_gateway_url)
        self._endpoints.apply()
        self.client = make_client(guild_ready_timeout=guild_ready_timeout)
        self.commands = Commands.for_app(app, NAME)
        # A command the bot no longer has is answered, not reported as our error.
        self.tree = StaleAwareTree(self.client)
        slash = SlashCommands(self.commands, defer_after=defer_after)
        install(self.tree, slash, AskCommand(self.commands))
        # Buttons: registered before any connection, so a click on a card posted long ago
        # (or before a restart) is rebuilt from its custom_id and answered.
        install_followups(self.client, CardFollowUps(self.commands, defer_after=defer_after))
        self.client.add_dynamic_items(*DYNAMIC_ITEMS)
        # And a click that no item takes (an older release's button) gets a short answer.
        install_stale_answers(self.client)
        self._sender = DiscordSender(self.client, self.login)
        self._login_lock = asyncio.Lock()
        self._logged_in = False
        self._gateway: asyncio.Task[None] | None = None

    @property
    def sender(self) -> DiscordSender:
        return self._sender

    async def login(self) -> None:
        """Log the client in over HTTP, once (later calls return at once). Called by the
        sender before each send and by ``serve``. Raises ``discord.LoginFailure`` (a
        refused token), ``discord.HTTPException`` or a network error."""
        async with self._login_lock:
            if not self._logged_in:
                await self.client.login(self._token.get_secret_value())
                self._logged_in = True

    async def serve(self, stop: asyncio.Event) -> None:
        """Answer slash commands and clicks until ``stop`` is set. Raises
        ``discord.LoginFailure`` (logged: the token was refused) and what ends the gateway
        for good (``discord.PrivilegedIntentsRequired``, a closed session), logged too.

        When ``stop`` is set this returns but leaves the client open: the delivery worker
        may still be finishing sends over the same HTTP session during its shutdown grace.
        ``aclose`` (called by ``bot.runtime`` after the worker stopped) closes the gateway
        and the session."""
        try:
            if not await self._login_until(stop):
                return
            await self._sync_commands()
            await self._connect_until(stop)
        except discord.LoginFailure:
            log.error("Discord refused the bot token: check DISCORD_BOT_TOKEN")
            raise
        except discord.PrivilegedIntentsRequired:
            log.error("Discord: the bot asks for a privileged intent that is not enabled")
            raise

    async def _login_until(self, stop: asyncio.Event) -> bool:
        """Log in, retrying while Discord is unreachable; False when stopped first."""
        pause = 1.0
        while not stop.is_set():
            try:
                await self.login()
                return True
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                log.warning(
                    "Discord unreachable (%s); retrying in %.0f s", type(error).__name__, pause
                )
            except discord.RateLimited as error:  # a long 429 on login: wait it out
                pause = max(pause, error.retry_after)
                log.warning("Discord rate-limited the login; retrying in %.0f s", pause)
            except discord.HTTPException as error:
                if error.status < 500:
                    raise
                log.warning("Discord answered %s at login; retrying in %.0f s", error.status, pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = min(pause * 2, LOGIN_BACKOFF_MAX)
        return False

    async def _sync_commands(self) -> None:
        """Publish the slash commands. A failure is logged, not fatal: the commands synced
        by an earlier start stay on Discord."""
        try:
            if self._guild_id is not None:
                guild = discord.Object(id=self._guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                where = f"guild {self._guild_id}"
            else:
                synced = await self.tree.sync()
                where = "all servers (global commands may take a while to appear)"
        except discord.HTTPException as error:
            log.warning(
                "Discord: could not sync the slash commands (%s, code %s)",
                error.status,
                error.code,
            )
            return
        except (discord.RateLimited, aiohttp.ClientError, OSError, TimeoutError) as error:
            log.warning("Discord: could not sync the slash commands (%s)", type(error).__name__)
            return
        log.info("Discord: %d slash commands synced to %s", len(synced), where)

    async def _connect_until(self, stop: asyncio.Event) -> None:
        # discord.py reconnects by itself (resume, backoff); connect() only returns when
        # the client is closed, or raises when the session cannot go on.
        gateway = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")
        self._gateway = gateway
        stopping = asyncio.create_task(stop.wait(), name="discord-stop")
        try:
            await asyncio.wait({gateway, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if gateway.done():
            gateway.result()  # raises what ended the gateway
            log.warning("Discord gateway closed")

    async def aclose(self) -> None:
        """Close the gateway and the client (idempotent) and restore discord.py's
        endpoints."""
        await self.client.close()
        gateway, self._gateway = self._gateway, None
        if gateway is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(gateway, CLOSE_WAIT)
        self._endpoints.restore()


def build(settings: Settings, app: App) -> DiscordPlatform:
    """The Discord platform (``bot.platforms.BUILDERS["discord"]``). Raises ``ConfigError``
    when ``DISCORD_BOT_TOKEN`` is not set."""
    return DiscordPlatform(settings, app)
