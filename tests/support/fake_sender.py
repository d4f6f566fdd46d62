"""A recording fake ``Sender`` for tests: it keeps every message, answers with increasing
message ids, and fails on demand in each failure class.

    sender = FakeSender("telegram")
    sender.fail(RetryLater("flood", retry_after=2.0), chat="42")          # next send to 42
    sender.fail(DestinationGone("bot was blocked"), chat="7", times=None)  # every send to 7
    sender.fail(RejectedContent("message is too long"))                   # next send anywhere
    sender.limit(rate=10.0)         # more than 10 sends/s: RetryLater with retry_after (a 429)
    sender.hold()                   # sends wait until sender.release()

``sent`` holds the accepted messages in order, ``calls`` every attempt; with ``dedupe``
a repeated idempotency key returns the first message's ids (Discord's ``enforce_nonce``).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field

from digest.delivery.sender import OutgoingMessage, Posted, SendReceipt
from digest.errors import DeliveryError, RetryLater


@dataclass
class _Failure:
    error: Exception
    chat: str | None
    times: int | None  # None: forever


@dataclass
class FakeSender:
    platform: str = "fake"
    latency: float = 0.0
    dedupe: bool = False
    one_message_per_card: bool = False  # digests as one message per card
    sent: list[OutgoingMessage] = field(default_factory=list)
    calls: list[OutgoingMessage] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)  # monotonic times of ``sent``
    too_many: int = 0  # sends refused by the rate limit (429s)
    _failures: list[_Failure] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _by_key: dict[str, SendReceipt] = field(default_factory=dict)
    _rate: float | None = None
    _tat: float = 0.0  # when the bucket was last filled
    _tokens: float = 0.0
    _gate: asyncio.Event | None = None
    in_flight: int = 0

    # -- scripting -------------------------------------------------------------------------

    def fail(self, error: Exception, *, chat: str | None = None, times: int | None = 1) -> None:
        """The next ``times`` sends (to ``chat``, or anywhere) raise ``error``; ``times``
        ``None``: every one, until ``heal``."""
        self._failures.append(_Failure(error, chat, times))

    def heal(self) -> None:
        self._failures.clear()

    def limit(self, rate: float | None) -> None:
        """Enforce ``rate`` sends/s; a send past it gets ``RetryLater`` (scope "platform")
        with the seconds until the next allowed one."""
        self._rate = rate
        self._tat = time.monotonic()
        self._tokens = max(1.0, (rate or 0) * 0.05)

    def hold(self) -> None:
        self._gate = asyncio.Event()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()

    # -- looking ---------------------------------------------------------------------------

    def chats(self) -> list[str]:
        return [m.destination.chat for m in self.sent]

    def delivery_ids(self) -> list[int]:
        return [m.delivery_id for m in self.sent]

    def duplicates(self) -> int:
        """Deliveries accepted more than once (each extra time counts)."""
        return sum(n - 1 for n in Counter(self.delivery_ids()).values() if n > 1)

    # -- the port --------------------------------------------------------------------------

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        self.calls.append(message)
        self.in_flight += 1
        try:
            if self._gate is not None:
                await self._gate.wait()
            if self.latency:
                await asyncio.sleep(self.latency)
            self._maybe_fail(message)
            self._check_rate()
            if self.dedupe and message.idempotency_key in self._by_key:
                return self._by_key[message.idempotency_key]
            receipt = self._receipt(message)
            self._by_key[message.idempotency_key] = receipt
            self.sent.append(message)
            self.sent_at.append(time.monotonic())
            return receipt
        finally:
            self.in_flight -= 1

    def _maybe_fail(self, message: OutgoingMessage) -> None:
        for failure in self._failures:
            if failure.chat is not None and failure.chat != message.destination.chat:
                continue
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
            raise failure.error
        return None

    def _check_rate(self) -> None:
        """A token bucket holding 50 ms of messages: platforms count over windows, so a
        send a few milliseconds early is no offence, a burst is."""
        if self._rate is None:
            return
        now = time.monotonic()
        burst = max(1.0, self._rate * 0.05)
        self._tokens = min(burst, self._tokens + (now - self._tat) * self._rate)
        self._tat = now
        if self._tokens < 1:
            self.too_many += 1
            wait = (1 - self._tokens) / self._rate
            raise RetryLater("Too Many Requests", retry_after=wait, scope="platform")
        self._tokens -= 1

    def _receipt(self, message: OutgoingMessage) -> SendReceipt:
        if message.kind == "digest" and self.one_message_per_card:
            return SendReceipt(
                tuple(Posted(str(next(self._ids)), card_id=c.id) for c in message.cards)
            )
        return SendReceipt((Posted(str(next(self._ids))),))


def failure_classes() -> list[type[DeliveryError]]:
    """The three classes a sender may raise, for parametrised tests."""
    from digest.errors import DestinationGone, RejectedContent

    return [RetryLater, DestinationGone, RejectedContent]
