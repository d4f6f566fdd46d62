"""The Telegram platform as ``python -m bot`` runs it: the delivery sender and the gateway.

``build(settings, app)`` (registered by ``bot.platforms``) makes one python-telegram-bot
``Application`` (``base_url`` = ``TELEGRAM_API_BASE_URL``, updates handled concurrently, and
NO rate limiter: the delivery worker's ``Pacer`` is the one rate mechanism) and from it:

- ``sender``: a ``TelegramSender`` over the same ``telegram.Bot``; a group that became a
  supergroup moves its subscription (``DigestService.move_subscription``);
- ``serve(stop)``: connects (``getMe``; retried with backoff while Telegram is unreachable or
  refuses the token, logged without the token), registers the command menu
  (``setMyCommands``), then receives updates by long polling, or through a webhook when
  ``TELEGRAM_WEBHOOK_URL`` is set (``bot.telegram.webhook``), until ``stop`` is set. When
  Telegram refuses the token while polling (401/404 from ``getUpdates``), PTB's polling loop
  ends for good without a word (``Updater.running`` stays True): ``_PollingRequest`` notices
  the answer, and ``serve`` stops the updater and connects and polls again, with backoff;
- ``aclose()``: closes the HTTP clients (after the worker's last send).

Secrets: ``bot.telegram.log_filter`` keeps the token (and the webhook secret, which PTB logs
with ``setWebhook``'s parameters at DEBUG) out of every log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import timedelta
from typing import Any

from telegram import BotCommand
from telegram.error import InvalidToken, TelegramError
from telegram.ext import ApplicationBuilder, Updater
from telegram.request import HTTPXRequest

from bot.common.commands import COMMANDS, Commands
from bot.telegram import log_filter
from bot.telegram.access import parse_operators
from bot.telegram.handlers import AnyApplication, Gateway, install
from bot.telegram.sender import TelegramSender, scrub
from bot.telegram.webhook import WebhookServer, webhook_path
from digest.app import App
from digest.config import Settings
from digest.errors import ConfigError

log = logging.getLogger(__name__)

# The updates the handlers use (``chat_member`` and reactions are not among them).
ALLOWED_UPDATES = ("message", "channel_post", "callback_query", "inline_query", "my_chat_member")
POLL_TIMEOUT = timedelta(seconds=25)  # Telegram holds a getUpdates this long when idle
FIRST_RETRY = 5.0  # seconds before connecting again; doubled up to LAST_RETRY
LAST_RETRY = 300.0


def file_url(api_base_url: str) -> str:
    """The file download prefix matching a Bot API prefix: ".../bot" -> ".../file/bot"."""
    base = api_base_url.rstrip("/")
    head, sep, tail = base.rpartition("/")
    return f"{head}/file/{tail}" if sep else f"{base}/file"


class _PollingRequest(HTTPXRequest):
    """``getUpdates``' HTTP client (PTB gives it its own), noticing when Telegram refuses
    the token: PTB's polling loop then raises ``InvalidToken`` inside its task and ends,
    without calling the error callback. ``token_refused`` is set; ``serve`` waits on it."""

    def __init__(self) -> None:
        super().__init__(connection_pool_size=1)  # PTB's own default for getUpdates
        self.token_refused = asyncio.Event()

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        status, body = await super().do_request(*args, **kwargs)
        if status in (401, 404):  # what PTB turns into InvalidToken
            self.token_refused.set()
        return status, body


def webhook_secret(settings: Settings) -> str | None:
    """The secret Telegram sends with each webhook update: ``TELEGRAM_WEBHOOK_SECRET``, else
    a random one per process; None without a webhook. Made in ``build`` so that the log
    scrubbing knows it before PTB logs ``setWebhook``'s parameters."""
    if not settings.telegram_webhook_url:
        return None
    configured = settings.telegram_webhook_secret
    # Telegram allows 1-256 of A-Z a-z 0-9 _ -; token_urlsafe uses exactly those.
    return configured.get_secret_value() if configured else secrets.token_urlsafe(32)


def build_application(
    settings: Settings, token: str, polling: _PollingRequest | None = None
) -> AnyApplication:
    """The PTB ``Application`` (no updater in webhook mode: the webhook server feeds it);
    ``polling`` is the HTTP client for ``getUpdates``."""
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(file_url(settings.telegram_api_base_url))
        .concurrent_updates(True)
    )
    if settings.telegram_webhook_url:
        builder = builder.updater(None)
    elif polling is not None:
        builder = builder.get_updates_request(polling)
    return builder.build()


class TelegramPlatform:
    name = "telegram"

    def __init__(
        self,
        settings: Settings,
        app: App,
        application: AnyApplication,
        token: str,
        polling: _PollingRequest | None = None,
        hook_secret: str | None = None,
    ):
        self.settings = settings
        self.application = application
        self._token = token
        self._polling = polling
        self._started = False
        self.webhook_secret = hook_secret

        def on_migrate(old_chat: str, new_chat: str) -> None:
            app.service.move_subscription("telegram", old_chat, new_chat)

        self._sender = TelegramSender(application.bot, on_migrate)
        self.webhook: WebhookServer | None = None

    @property
    def sender(self) -> TelegramSender:
        return self._sender

    async def serve(self, stop: asyncio.Event) -> None:
        """Receive and answer updates until ``stop`` is set. Raises ``ConfigError`` for a
        bad ``TELEGRAM_WEBHOOK_LISTEN``, ``OSError`` when its port is taken."""
        log_filter.cover_handlers(self._token)  # logging may have been configured since build
        if not await self._connect(stop):
            return
        await self._register_commands()
        app = self.application
        if self.settings.telegram_webhook_url:
            try:
                await self._start_webhook(self.settings.telegram_webhook_url)
            except (ConfigError, OSError) as e:  # said now: the runtime only sees it at exit
                log.error("telegram webhook cannot start: %s", e)
                raise
        else:
            await self._start_polling()
        await app.start()
        log.info("telegram gateway running as @%s", app.bot.username)
        try:
            if app.updater is not None and self._polling is not None:
                await self._poll_until(stop, self._polling)
            else:
                await stop.wait()
        finally:
            await self._stop_updater()
            if self.webhook is not None:
                await self.webhook.stop()
            if app.running:
                await app.stop()

    async def _start_polling(self) -> None:
        updater = self.application.updater
        assert updater is not None  # polling mode
        await updater.start_polling(
            poll_interval=0,
            timeout=POLL_TIMEOUT,
            allowed_updates=list(ALLOWED_UPDATES),
            error_callback=self._polling_error,
        )

    async def _poll_until(self, stop: asyncio.Event, polling: _PollingRequest) -> None:
        """Wait for ``stop``; each time Telegram refuses the token while polling (PTB's loop
        has ended), stop the updater, connect again (with backoff) and poll again."""
        while True:
            refused = asyncio.create_task(polling.token_refused.wait())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({refused, stopped}, return_when=asyncio.FIRST_COMPLETED)
            for task in (refused, stopped):
                task.cancel()
            if stop.is_set():
                return
            log.error(
                "Telegram refused the bot token while polling (check TELEGRAM_BOT_TOKEN); "
                "polling stopped, connecting again"
            )
            await self._stop_updater()
            polling.token_refused.clear()
            if not await self._connect(stop, again=True):
                return
            # A fresh updater: the old one's stop was cut short by the InvalidToken it
            # re-raised, which leaves its polling stop flag set (a restart would poll never).
            app = self.application
            app.updater = Updater(app.bot, app.update_queue)
            await app.updater.initialize()
            await self._start_polling()
            log.info("telegram polling again")

    async def _stop_updater(self) -> None:
        """Stop polling if it runs. Never raises (short of cancellation): ``Updater.stop``
        re-raises what ended the polling task (``InvalidToken``), and the rest of the
        cleanup must still happen."""
        updater = self.application.updater
        if updater is None or not updater.running:
            return
        try:
            await updater.stop()
        except InvalidToken:  # its text holds the token: never logged
            log.info("telegram polling had ended: the token was refused")
        except Exception as e:
            log.warning("stopping telegram polling: %s", scrub(str(e), self._token))

    async def _connect(self, stop: asyncio.Event, *, again: bool = False) -> bool:
        """``getMe`` until it works or ``stop`` is set; False when stopped first. ``again``:
        the application is already initialized (``initialize`` would do nothing), so only
        ``getMe`` is called."""
        delay = FIRST_RETRY
        while not stop.is_set():
            try:
                if again:
                    await self.application.bot.get_me()
                else:
                    await self.application.initialize()
            except InvalidToken:  # its text holds the token: never logged
                log.error("Telegram refused the bot token (check TELEGRAM_BOT_TOKEN)")
            except TelegramError as e:
                log.error("cannot reach Telegram: %s", scrub(e.message, self._token))
            else:
                self._started = True
                return True
            log.info("connecting to Telegram again in %.0f s", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, LAST_RETRY)
        return False

    async def _register_commands(self) -> None:
        commands = [BotCommand(c.name, c.description) for c in COMMANDS]
        try:
            await self.application.bot.set_my_commands(commands)
        except TelegramError as e:  # the menu is a convenience; the commands work without it
            log.warning("setMyCommands failed: %s", scrub(e.message, self._token))

    async def _start_webhook(self, url: str) -> None:
        secret = self.webhook_secret
        assert secret is not None  # ``build`` makes one in webhook mode
        server = WebhookServer(
            self.application,
            path=webhook_path(url),
            secret=secret,
            listen=self.settings.telegram_webhook_listen,
        )
        await server.start()
        self.webhook = server
        try:
            await self.application.bot.set_webhook(
                url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES)
            )
        except TelegramError as e:
            await server.stop()
            self.webhook = None
            raise ConfigError(
                f"Telegram refused the webhook {url}: {scrub(e.message, self._token)}"
            ) from None

    def _polling_error(self, error: TelegramError) -> None:
        # PTB retries by itself; one line instead of its traceback per failed poll.
        log.warning("telegram polling: %s", scrub(error.message, self._token))

    async def aclose(self) -> None:
        """Close the HTTP clients; called after the gateway and the worker stopped."""
        try:
            if self._started:
                await self.application.shutdown()
            else:  # never connected (worker role, or stopped while retrying)
                await self.application.bot.shutdown()
                await self.application.bot.request.shutdown()
        finally:
            log_filter.uninstall(self._token)


def build(settings: Settings, app: App) -> TelegramPlatform:
    """The Telegram platform for ``python -m bot``. Raises ``ConfigError`` without a token."""
    if settings.telegram_token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set")
    token = settings.telegram_token.get_secret_value().strip()
    secret = webhook_secret(settings)
    log_filter.install(token, secrets=[secret] if secret else [])
    polling = None if settings.telegram_webhook_url else _PollingRequest()
    application = build_application(settings, token, polling)
    gateway = Gateway(
        Commands.for_app(app, "telegram"),
        token,
        operators=parse_operators(settings.telegram_operators),
        admins_add_sources=settings.telegram_admins_add_sources,
    )
    install(application, gateway)
    return TelegramPlatform(settings, app, application, token, polling, secret)
