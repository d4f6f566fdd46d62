"""The delivery worker's Telegram sender: cards and digests posted with python-telegram-bot,
Telegram's failures mapped onto ``digest.errors``.

Built by the gateway (``bot.telegram.platform``) and called by
``digest.delivery.worker.DeliveryWorker`` through the ``digest.delivery.sender.Sender``
port, one message at a time per chat, already paced.

Failures, mapped in one place (``delivery_error``)::

    RetryAfter (429)                   RetryLater(retry_after=seconds, scope="chat")
    TimedOut, NetworkError, 5xx        RetryLater()             exponential backoff
    InvalidToken (401/404)             RetryLater(retry_after=60, scope="platform")
    Forbidden (blocked, kicked, ...)   DestinationGone
    BadRequest "chat not found" & co.  DestinationGone
    BadRequest "message thread not
      found" (a deleted forum topic)   DestinationGone(thread_only=True)
    BadRequest "TOPIC_CLOSED"          RejectedContent          the topic may be reopened
    any other BadRequest               RejectedContent          bad HTML, too long, ...
    ChatMigrated                       not a failure: ``on_migrate(old, new)``, then the
                                       message goes to the new chat at once (one more try)

Telegram answers a 429 per bot and chat (and for the bot's overall rate), so the chat is
paused. Reasons never contain the bot token: PTB puts it in ``InvalidToken`` texts and
httpx in URLs, so every reason is scrubbed (``scrub``) and the original exception is not
chained (``from None``) to keep it out of tracebacks.

A card whose image Telegram cannot fetch is posted as a text message instead (its caption
fits a message by construction).
"""

from __future__ import annotations

import asyncio
import logging
import re
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot.telegram.render import card_message, digest_messages
from digest.delivery.sender import OutgoingMessage, Posted, SendReceipt
from digest.errors import DeliveryError, DestinationGone, RejectedContent, RetryLater

log = logging.getLogger(__name__)

TOKEN_PAUSE = 60.0  # seconds every Telegram send waits after the token was refused
_REMEMBERED = 1000  # digests whose posted parts are kept for their retry (see send)
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

# BadRequest texts (lower case) that mean the destination is gone, not the message.
_THREAD_GONE = ("message thread not found", "topic_deleted")
# A closed forum topic is routinely reopened: only this message is refused, the
# subscription stays (``RejectedContent``).
_THREAD_CLOSED = ("topic_closed",)
_CHAT_GONE = (
    "chat not found",
    "peer_id_invalid",
    "chat_write_forbidden",
    "not enough rights to send",
    "have no rights to send",
    "need administrator rights",
    "bot is not a member",
    "chat was deactivated",
    "user is deactivated",
    "channel_private",
)
# BadRequest texts of sendPhoto that are about the image: the card goes as text instead.
_PHOTO_PROBLEMS = ("photo", "image", "file", "url content", "web page content", "dimension")


def scrub(text: str, token: str) -> str:
    """``text`` with the bot token (whole, URL-quoted, or its secret half, in any case)
    replaced by "<token>". Used for every reason and log line that carries a library's message."""
    # Case-insensitive: PTB capitalize()s error descriptions, lower-casing the token in them.
    secret = token.partition(":")[2]
    needles = [n for n in (token, quote(token, safe=""), secret) if len(n) >= 8]
    for needle in sorted(set(needles), key=len, reverse=True):
        text = re.sub(re.escape(needle), "<token>", text, flags=re.IGNORECASE)
    return text


def _retry_after_seconds(error: RetryAfter) -> float:
    # PTB 22 returns an int, or a timedelta when PTB_TIMEDELTA is set, and warns on every
    # read in the first mode: take either, quietly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return max(seconds, 0.0)


def delivery_error(error: TelegramError, token: str) -> DeliveryError:
    """The ``digest.errors`` class a Telegram failure means (the table in the module
    docstring). The only place Telegram errors are classified."""
    reason = scrub(f"Telegram: {error.message}", token)
    if isinstance(error, RetryAfter):
        return RetryLater(reason, retry_after=_retry_after_seconds(error), scope="chat")
    if isinstance(error, InvalidToken):
        reason = "Telegram refused the bot token (check TELEGRAM_BOT_TOKEN)"
        return RetryLater(reason, retry_after=TOKEN_PAUSE, scope="platform")
    if isinstance(error, Forbidden):
        return DestinationGone(reason)
    if isinstance(error, BadRequest):  # before NetworkError: BadRequest is a subclass
        text = error.message.lower()
        if any(s in text for s in _THREAD_CLOSED):
            return RejectedContent(reason)
        if any(s in text for s in _THREAD_GONE):
            return DestinationGone(reason, thread_only=True)
        if any(s in text for s in _CHAT_GONE):
            return DestinationGone(reason)
        return RejectedContent(reason)
    # TimedOut and NetworkError (5xx, connection trouble), ChatMigrated a second time,
    # Conflict, and whatever PTB adds later: worth another try after a backoff.
    return RetryLater(reason)


@dataclass(frozen=True, slots=True)
class _Part:
    """One Telegram message of a delivery."""

    text: str
    keyboard: InlineKeyboardMarkup
    photo: str | None
    card_id: int | None


@dataclass(slots=True)
class _Target:
    chat: str
    thread: int | None
    moved: bool = False  # the chat migrated during this send: receipts name the new chat


def _parts(message: OutgoingMessage) -> list[_Part]:
    if message.kind == "card" and len(message.cards) == 1:
        card = message.cards[0]
        rendered = card_message(card)
        return [_Part(rendered.text, rendered.keyboard, rendered.photo, card.id)]
    if message.kind == "digest" and message.cards:
        digests = digest_messages(message.cards, message.slot, message.timezone)
        return [_Part(d.text, d.keyboard, None, None) for d in digests]
    raise RejectedContent(f"cannot post a {message.kind!r} of {len(message.cards)} cards")


def _chat_id(chat: str) -> int | str:
    """Numeric chat ids as ints; "@channelname" stays text."""
    try:
        return int(chat)
    except ValueError:
        return chat


class TelegramSender:
    """Posts deliveries with ``bot``, a ``telegram.Bot`` (or PTB's ``ExtBot``) the gateway
    builds with ``base_url=settings.telegram_api_base_url`` and initializes.

    The bot must have NO rate limiter of its own (no ``AIORateLimiter``): the delivery
    worker's ``Pacer`` is the one rate mechanism, and a 429 comes back to it as
    ``RetryLater`` so it pauses the chat. A second limiter would wait and retry inside
    ``send``, past the worker's send timeout and behind its back.

    ``on_migrate(old_chat, new_chat)`` is called (in a worker thread: it may use the
    database) when a group turned out to have become a supergroup; the gateway wires it to
    ``DigestService.move_subscription("telegram", old, new)``. The delivery then goes to
    the new chat at once and its receipt names that chat.

    Digests of several messages. The worker records a delivery only as a whole (its
    receipt), so a digest whose part k fails after parts 0..k-1 were posted cannot record
    those. On ``RetryLater`` (a 429 mid-digest, a timeout), or when the worker's send
    timeout cancels a send midway, the parts already posted are remembered here by the
    delivery's idempotency key, and the retry (the worker retries a 429 at once, in the
    same process) posts only the rest and returns all of them: nothing is posted twice.
    The memory is per process and bounded (``remembered`` digests): after a restart, or a
    retry picked up by another worker process, the digest starts again from part 0 and its
    first parts appear twice. That is the accepted cost: a repeated part beats a digest
    with a hole in it. On ``DestinationGone`` or ``RejectedContent`` the parts posted stay
    posted and the delivery is recorded as dropped/rejected (logged): nothing to retry.
    """

    platform = "telegram"

    def __init__(
        self,
        bot: Bot,
        on_migrate: Callable[[str, str], None],
        *,
        remembered: int = _REMEMBERED,
    ) -> None:
        self._bot = bot
        self._on_migrate = on_migrate
        self._remembered = remembered
        self._progress: OrderedDict[str, list[Posted]] = OrderedDict()

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        """Post ``message`` (a card: one message; a digest: its parts in order). Raises
        ``RetryLater``, ``DestinationGone`` or ``RejectedContent``."""
        parts = _parts(message)
        target = _Target(message.destination.chat, self._thread(message))
        key = message.idempotency_key
        posted = self._progress.pop(key, [])
        try:
            for part in parts[len(posted) :]:
                if posted:  # paced like a send of its own (the chat's 1/s, a group's 20/min)
                    await message.next_part()
                posted.append(await self._post(part, target))
        except (DestinationGone, RejectedContent) as e:
            if posted:
                log.warning(
                    "delivery %d: %d of %d messages were posted before: %s",
                    message.delivery_id,
                    len(posted),
                    len(parts),
                    e.reason,
                )
            raise
        except BaseException:  # RetryLater, or the worker's send timeout cancelling us
            if posted:
                self._remember(key, posted)
            raise
        return SendReceipt(tuple(posted))

    def _remember(self, key: str, posted: list[Posted]) -> None:
        self._progress[key] = posted
        while len(self._progress) > self._remembered:
            self._progress.popitem(last=False)

    @staticmethod
    def _thread(message: OutgoingMessage) -> int | None:
        thread = message.destination.thread
        if not thread:
            return None
        try:
            return int(thread)
        except ValueError:
            reason = f"{thread!r} is not a Telegram forum topic id"
            raise DestinationGone(reason, thread_only=True) from None

    async def _post(self, part: _Part, target: _Target) -> Posted:
        token = self._bot.token
        try:
            try:
                sent = await self._call(part, target)
            except ChatMigrated as moved:
                await self._migrate(target, str(moved.new_chat_id))
                sent = await self._call(part, target)
        except TelegramError as e:
            raise delivery_error(e, token) from None
        return Posted(str(sent.message_id), part.card_id, target.chat if target.moved else None)

    async def _migrate(self, target: _Target, new_chat: str) -> None:
        old_chat = target.chat
        log.info("telegram group %s is now supergroup %s: moving it", old_chat, new_chat)
        try:
            await asyncio.to_thread(self._on_migrate, old_chat, new_chat)
        except Exception as e:  # the message still goes; the next send retries the move
            log.error(
                "moving telegram chat %s to %s failed: %s",
                old_chat,
                new_chat,
                scrub(f"{type(e).__name__}: {e}", self._bot.token),
            )
        target.chat, target.moved = new_chat, True

    async def _call(self, part: _Part, target: _Target) -> Message:
        chat, thread = _chat_id(target.chat), target.thread
        if part.photo is not None:
            try:
                return await self._bot.send_photo(
                    chat,
                    part.photo,
                    caption=part.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=part.keyboard,
                    message_thread_id=thread,
                )
            except BadRequest as e:
                if not any(s in e.message.lower() for s in _PHOTO_PROBLEMS):
                    raise
                reason = scrub(e.message, self._bot.token)
                log.info("card %s: its image was refused (%s): sent as text", part.card_id, reason)
        return await self._bot.send_message(
            chat,
            part.text,
            parse_mode=ParseMode.HTML,
            reply_markup=part.keyboard,
            link_preview_options=_NO_PREVIEW,
            message_thread_id=thread,
        )
