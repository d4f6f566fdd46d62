"""Webhook mode: Telegram POSTs each update to our public URL instead of us long polling.

PTB's own ``run_webhook`` needs its tornado extra; aiohttp is already a dependency, so the
gateway serves the webhook itself. ``WebhookServer`` listens on ``TELEGRAM_WEBHOOK_LISTEN``
("host:port", usually behind a TLS-terminating proxy) at the path of ``TELEGRAM_WEBHOOK_URL``
and accepts a POST only with the ``X-Telegram-Bot-Api-Secret-Token`` header Telegram was
given in ``setWebhook`` (403 otherwise, compared in constant time). A good request's JSON
becomes an ``Update`` on the application's update queue, where PTB handles it as a polled
one; the answer is 200 at once (Telegram waits for it before sending the next update).

Built and started by ``bot.telegram.platform.TelegramPlatform.serve``.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update

from digest.errors import ConfigError

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_BODY = 1 << 20  # updates are a few KB; Telegram documents no limit, this is generous


def listen_address(value: str) -> tuple[str, int]:
    """ "0.0.0.0:8443" -> ("0.0.0.0", 8443); "[::1]:8443" works too. Raises ``ConfigError``."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            f"TELEGRAM_WEBHOOK_LISTEN must be host:port, e.g. 0.0.0.0:8443 (got {value!r})"
        )
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 (behind a proxy, by choice)


def webhook_path(url: str) -> str:
    """The path Telegram will POST to: the public URL's ("/" when it has none)."""
    return urlsplit(url).path or "/"


class WebhookServer:
    """The aiohttp server behind the webhook. ``application`` is PTB's ``Application``
    (started: its update fetcher reads ``update_queue``)."""

    def __init__(self, application: Any, *, path: str, secret: str, listen: str) -> None:
        self.application = application
        self.path = path
        self.secret = secret.encode()
        self.host, self.port = listen_address(listen)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen. Raises ``OSError`` when the address is taken."""
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(self.path, self._receive)
        # No access log: request lines are noise here (and paths could hold secrets).
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        log.info("telegram webhook listening on %s:%d%s", self.host, self.port, self.path)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            log.warning("telegram webhook: a request without the right secret was refused")
            return web.Response(status=403, text="Forbidden")
        try:
            data = json.loads(await request.read())
            update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            # Answered 200 all the same: Telegram would retry a malformed update forever.
            log.warning("telegram webhook: an unreadable update was dropped: %s", type(e).__name__)
            return web.Response(status=200)
        await self.application.update_queue.put(update)
        return web.Response(status=200)
