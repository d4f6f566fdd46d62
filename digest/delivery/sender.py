"""The sender port: what a chat platform adapter gives the delivery worker.

A platform adapter (Telegram, Discord, a test fake) implements ``Sender``: it turns an
``OutgoingMessage`` (one card, or a digest of several) into one or more platform messages
and returns their ids in a ``SendReceipt``. It maps every platform failure, in exactly one
place, to one of three errors (``digest.errors``)::

    RetryLater(reason, retry_after=None, scope="chat")  429 (with retry_after), 5xx,
                                                        timeout, network error
    DestinationGone(reason, thread_only=False)          blocked, kicked, chat/channel
                                                        (or only the thread) not found
    RejectedContent(reason)                             the message itself is refused

Anything else a sender raises is treated as ``RetryLater`` without a retry_after (and
logged with its traceback: it is a bug in the adapter).

Duplicates: ``idempotency_key`` is the same for every attempt of one delivery, so a send
repeated after a crash carries the key of the first. A platform that deduplicates (Discord:
``nonce`` + ``enforce_nonce``, a few minutes) must be given it; a sender that posts several
messages for one delivery gives each its own key (``part_key``). Telegram has no such
thing: see ``digest.delivery.worker`` for the window that remains.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from digest.models import Card, Destination


async def _no_wait() -> None:
    return None


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One delivery, ready to render and post.

    ``kind`` "card": ``cards`` holds exactly one card, posted as it arrives. ``kind``
    "digest": ``cards`` holds the digest's cards in order (newest first) for the scheduled
    ``slot`` (UTC; show it in ``timezone``, the subscriber's IANA zone). ``language`` is the
    subscriber's language for the sender's own words (headers, buttons), ``None`` = the
    platform default. ``attempt`` counts from 1 (for logs; it is not part of the key).

    ``next_part``: a sender that posts several messages for one delivery awaits it before
    each message after the first. The worker paces the first message; this paces the rest
    with the same pacer (the chat's rate and the platform's), so a long digest does not run
    into the platform's per-chat limit. It returns at once when no pacing applies.
    """

    delivery_id: int
    destination: Destination
    kind: str  # "card" | "digest"
    cards: tuple[Card, ...]
    idempotency_key: str
    attempt: int = 1
    slot: datetime | None = None
    timezone: str = "UTC"
    language: str | None = None
    next_part: Callable[[], Awaitable[object]] = field(default=_no_wait, compare=False, repr=False)

    def part_key(self, part: int) -> str:
        """The key of the ``part``-th message (from 0) of this delivery; at most 25
        characters (Discord's nonce limit) for any delivery id below 10**20."""
        return f"{self.idempotency_key}p{part}"


def idempotency_key(delivery_id: int) -> str:
    """The key every attempt of a delivery carries: stable, so a repeat is recognisable."""
    return f"d{delivery_id}"


@dataclass(frozen=True, slots=True)
class Posted:
    """One platform message a send produced.

    ``card_id``: the card the message shows, so a reply to it finds the card. ``None`` for
    a message that shows several (a digest posted as one message); for a "card" delivery
    ``None`` means its one card. ``chat``: where the message lives when that is not the
    destination's chat (a Discord thread is a channel of its own); ``None`` = the
    destination's chat.
    """

    message_id: str
    card_id: int | None = None
    chat: str | None = None


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """What a successful send produced, in order; never empty."""

    messages: tuple[Posted, ...]

    @classmethod
    def of(cls, *message_ids: str | int) -> SendReceipt:
        """A receipt for plain message ids (each mapped to the delivery's card by default)."""
        return cls(tuple(Posted(str(m)) for m in message_ids))


class Sender(Protocol):
    """Posts messages on one platform (``platform``: "telegram", "discord", ...).

    Called by the delivery worker, one message at a time per destination, already paced;
    the worker bounds each call with ``DIGEST_SEND_TIMEOUT``. Raises ``RetryLater``,
    ``DestinationGone`` or ``RejectedContent``.
    """

    @property
    def platform(self) -> str: ...

    async def send(self, message: OutgoingMessage) -> SendReceipt: ...
