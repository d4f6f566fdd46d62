"""``DiscordSender``: the delivery worker's ``Sender`` for Discord, over HTTP only.

Built by ``bot.discord.platform`` with its ``discord.Client`` and an idempotent ``login``
coroutine (it logs the client in over HTTP once); the delivery worker calls ``send``. No
gateway connection is needed: messages go to ``client.get_partial_messageable(id)``, the
thread's id when the destination has one (a Discord thread is a channel of its own).

Every message goes out with ``allowed_mentions`` none (an article's ``@everyone``,
``<@&role>`` or ``<@user>`` pings nobody) and a ``nonce``: discord.py 2.7 always sends
``enforce_nonce``, so Discord answers a repeat within a few minutes with the message it
already posted. A digest of several messages gives each its own key
(``OutgoingMessage.part_key``), so a digest retried after its second part failed does not
post its first part twice.

Errors are mapped in one place, ``delivery_error``::

    discord.RateLimited, HTTP 429        RetryLater(retry_after); "platform" scope when
                                         Discord says global (or a Cloudflare ban)
    HTTP 5xx, aiohttp/network, timeout   RetryLater (exponential backoff)
    401, discord.LoginFailure            RetryLater for the whole platform, 5 minutes (and
                                         logged here: the worker does not log the reason)
    403 50001/50013, 404 10003/10004,    DestinationGone; only the thread when the
    50007, 50008, 50083 (archived        destination is a thread (that is all we posted to)
    thread)
    404 10008 (a nonce repeat whose      RejectedContent: it was posted, then deleted
    first message was deleted)
    other 400s (50035 Invalid Form Body) RejectedContent
    any other 4xx                        RetryLater (backoff, then "failed"): an unknown
                                         answer never pauses a subscription

discord.py retries a 429 by itself, sleeping up to ``max_ratelimit_timeout`` (the client
is built with 30 s, discord.py's minimum) before it raises ``RateLimited``; the worker's
``DIGEST_SEND_TIMEOUT`` bounds the whole call, and a send cut off there is retried with the
same nonce. Reasons never hold the bot token (it is scrubbed even from Discord's texts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord

from bot.discord.components import card_view, digest_view
from bot.discord.render import card_embed, digest_parts
from digest.delivery.sender import OutgoingMessage, Posted, SendReceipt
from digest.errors import DeliveryError, DestinationGone, RejectedContent, RetryLater
from digest.models import Destination

log = logging.getLogger(__name__)

PLATFORM = "discord"
LOGIN_PAUSE = 300.0  # seconds every Discord send waits after the token was refused
GLOBAL_PAUSE_OVER = 30.0  # a RateLimited longer than this pauses all of Discord
DEFAULT_RETRY_AFTER = 5.0  # a 429 that does not say how long
REASON_MAX = 300

# Discord's JSON error codes that mean "this channel no longer takes the bot's messages".
GONE_CODES = {
    10003: "Unknown Channel",
    10004: "Unknown Guild",
    50001: "Missing Access",
    50007: "Cannot send messages to this user",
    50013: "Missing Permissions",
    50008: "Cannot send messages in a non-text channel",
    50083: "Thread is archived",
}
UNKNOWN_MESSAGE = 10008


class DiscordSender:
    """Posts cards and digests to Discord channels and threads (platform "discord")."""

    def __init__(
        self,
        client: discord.Client,
        login: Callable[[], Awaitable[None]],
        *,
        global_hold_max: float = 30.0,
    ) -> None:
        self._client = client
        self._login = login
        # The longest global 429 discord.py sleeps out itself (its max_ratelimit_timeout,
        # at least 30 s): see _lift_global_lock_later.
        self._global_hold_max = global_hold_max

    @property
    def platform(self) -> str:
        return PLATFORM

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """Post ``message``: a card as one message (embed and components), a digest as its
        parts in order. Raises ``RetryLater``, ``DestinationGone`` or ``RejectedContent``;
        anything else is a bug (the worker logs it and retries)."""
        where = message.destination
        channel_id = _channel_id(where)
        try:
            await self._login()
            return await self._post(message, channel_id)
        except asyncio.CancelledError:  # the worker's send timeout
            self._lift_global_lock_later()
            raise
        except Exception as error:
            mapped = delivery_error(error, in_thread=bool(where.thread), token=self._token())
            if mapped is None:
                raise
            if isinstance(mapped, RetryLater) and mapped.retry_after == LOGIN_PAUSE:
                # The worker only pauses the platform; an operator must read why.
                log.error("%s; Discord deliveries wait %.0f s", mapped.reason, LOGIN_PAUSE)
            raise mapped from None  # the original may carry request details; not the token

    async def _post(self, message: OutgoingMessage, channel_id: int) -> SendReceipt:
        channel = self._client.get_partial_messageable(channel_id)
        chat = message.destination.thread or None
        none = discord.AllowedMentions.none()
        if message.kind == "card":
            card = message.cards[0]
            sent = await channel.send(
                embed=card_embed(card),
                view=card_view(card),
                nonce=message.part_key(0),
                allowed_mentions=none,
            )
            return SendReceipt((Posted(str(sent.id), card.id, chat),))
        if message.kind != "digest":
            raise RejectedContent(f"unknown delivery kind {message.kind!r}")
        posted = []
        parts = digest_parts(message.cards, message.slot, message.timezone)
        for index, part in enumerate(parts):
            if index:  # paced like a send of its own (the channel's rate)
                await message.next_part()
            sent = await channel.send(
                embed=part.embed,
                view=digest_view(part.cards, part.first_number),
                nonce=message.part_key(index),
                allowed_mentions=none,
            )
            posted.append(Posted(str(sent.id), None, chat))
        return SendReceipt(tuple(posted))

    def _lift_global_lock_later(self) -> None:
        """discord.py holds every request while it sleeps out a global 429 and lifts the
        hold after the sleep; a send cancelled during that sleep would leave it held for
        good (no request would ever go out again). The sleep is at most the client's
        ``max_ratelimit_timeout`` (longer waits raise ``RateLimited``), so lifting it that
        much later is never early: a stall of at most that long, instead of for good."""
        hold: Any = getattr(self._client.http, "_global_over", None)
        if isinstance(hold, asyncio.Event) and not hold.is_set():
            asyncio.get_running_loop().call_later(self._global_hold_max, hold.set)

    def _token(self) -> str | None:
        token: Any = getattr(self._client.http, "token", None)
        return token if isinstance(token, str) and token else None


def _channel_id(where: Destination) -> int:
    raw = where.thread or where.chat
    if not (raw.isascii() and raw.isdigit()):
        raise DestinationGone(
            f"not a Discord channel id: {raw[:40]!r}", thread_only=bool(where.thread)
        )
    return int(raw)


def delivery_error(
    error: BaseException, *, in_thread: bool, token: str | None
) -> DeliveryError | None:
    """The ``DeliveryError`` for a failure of discord.py or the network; ``None`` for one
    that is not a delivery failure (a bug: the caller re-raises it). ``in_thread``: the
    message went to the destination's thread. ``token`` is scrubbed from every reason."""

    def clean(reason: str) -> str:
        reason = " ".join(reason.split())
        if token:
            reason = reason.replace(token, "[token]")
        return reason[:REASON_MAX]

    if isinstance(error, DeliveryError):
        return error
    if isinstance(error, discord.RateLimited):
        # Raised before discord.py looks at "global": a wait this long is worth holding
        # every channel back for (sending on would only add invalid requests).
        return RetryLater(
            clean(f"Discord rate limit: {error}"),
            retry_after=error.retry_after,
            scope="platform" if error.retry_after > GLOBAL_PAUSE_OVER else "chat",
        )
    if isinstance(error, discord.LoginFailure):
        reason = "Discord refused the bot token: check DISCORD_BOT_TOKEN"
        return RetryLater(reason, retry_after=LOGIN_PAUSE, scope="platform")
    if isinstance(error, discord.HTTPException):
        return _http_error(error, in_thread, clean)
    if isinstance(error, aiohttp.ClientError | TimeoutError | OSError):
        return RetryLater(
            clean(f"network error talking to Discord: {type(error).__name__} {error}")
        )
    return None


def _http_error(
    error: discord.HTTPException, in_thread: bool, clean: Callable[[str], str]
) -> DeliveryError:
    status, code = error.status, error.code
    text = error.text.replace("\n", "; ") if isinstance(error.text, str) else ""
    reason = clean(f"Discord {status}" + (f" (code {code})" if code else "") + f": {text}")
    if status == 429:
        headers = getattr(error.response, "headers", None) or {}
        return RetryLater(reason, retry_after=_retry_after(headers), scope=_scope(headers))
    if status == 401:
        reason = "Discord refused the bot token (401): check DISCORD_BOT_TOKEN"
        return RetryLater(reason, retry_after=LOGIN_PAUSE, scope="platform")
    if code in GONE_CODES:
        return DestinationGone(reason, thread_only=in_thread)
    if code == UNKNOWN_MESSAGE:
        return RejectedContent(f"posted before, and deleted since: {reason}")
    if status >= 500:
        return RetryLater(reason)
    if status in (400, 413):
        return RejectedContent(reason)
    return RetryLater(reason)


def _retry_after(headers: Any) -> float:
    try:
        return max(0.0, float(headers.get("Retry-After", DEFAULT_RETRY_AFTER)))
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


def _scope(headers: Any) -> str:
    # A global limit, or a 429 without Discord's Via header (a Cloudflare ban of the whole
    # bot, as discord.py reads it), holds every channel back, not just this one.
    is_global = headers.get("X-RateLimit-Global") or headers.get("X-RateLimit-Scope") == "global"
    return "platform" if is_global or not headers.get("Via") else "chat"
