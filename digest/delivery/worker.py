"""The delivery worker: claims due deliveries, sends them through the platform's sender,
and records what became of each.

Called by the scheduler's deliver job (``bot.scheduler``): ``drain()`` sends everything
due now and returns; ``stop()`` (SIGTERM) lets the sends in flight finish, records them,
and gives every other claimed delivery back. Correctness comes from the database (claims
with a lease and a token, ``digest.store.outbox``); nothing here relies on being the only
worker.

Inside one ``drain``: claims are topped up as deliveries finish (never more than
``batch`` held); each chat gets a *lane* that sends its deliveries one after another, paced
(``digest.delivery.pacing``); ``concurrency`` sends run at once; outcomes are written by
one recorder task in small group commits; a keeper task renews the leases.

Failures (the sender raises them, ``digest.errors``):

- ``RetryLater`` with ``retry_after`` (a 429): the chat (or the whole platform) is paused
  that long; a short pause is waited out, a long one gives the claim back due when it
  ends. Neither counts as an attempt.
- ``RetryLater`` without it, a timeout, or an unexpected error: exponential backoff with
  jitter (``policy.backoff``); after ``max_attempts`` the delivery is "failed".
- ``DestinationGone``: the destination's subscriptions are paused with the reason, their
  pending deliveries dropped (``pause_for_destination``), and so are this lane's.
- ``RejectedContent``: "rejected", never retried.

Duplicates. A delivery is "sent" once the platform accepted it *and* our commit of that
landed; between the two, a crash (SIGKILL, power loss, the database gone for longer than
the lease) leaves it claimed, and after the lease another worker sends it again. Every
attempt carries the same ``idempotency_key`` (``d<delivery id>``): a platform that
deduplicates by it (Discord's ``nonce`` with ``enforce_nonce``, for a few minutes) turns
the repeat into the original message. Telegram has no such key; there the window is the
platform's processing of the request, the way back, and our group commit (milliseconds to
the send timeout), for at most ``concurrency`` deliveries per crash. A send that times
out is in the same doubt and is retried. Nothing is sent without a lease with at least
``send_timeout`` left, so no two live workers ever send one delivery at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from typing import Any, Protocol

from digest.delivery.pacing import Pacer
from digest.delivery.policy import WorkerOptions
from digest.delivery.run import DrainReport, DrainRun
from digest.delivery.sender import Sender
from digest.ports import Clock
from digest.store.outbox import Outbox

log = logging.getLogger(__name__)

__all__ = ["DeliveryWorker", "DestinationPauser", "DrainReport"]


class DestinationPauser(Protocol):
    """``digest.store.subscriptions.SubscriptionStore`` as the worker sees it."""

    def pause_for_destination(
        self, platform: str, destination: str, thread: str | None, reason: str
    ) -> list[Any]: ...


class DeliveryWorker:
    def __init__(
        self,
        *,
        outbox: Outbox,
        senders: Mapping[str, Sender],
        destinations: DestinationPauser,
        pacer: Pacer,
        clock: Clock,
        options: WorkerOptions | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.senders = dict(senders)
        self._destinations = destinations
        self._pacer = pacer
        self._clock = clock
        self.options = options or WorkerOptions()
        self._rng = rng or random.Random()
        self._stop = asyncio.Event()
        self._busy = asyncio.Lock()

    def stop(self) -> None:
        """Claim nothing more; sends in flight finish and are recorded, the rest is given
        back when ``drain`` returns."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def drain(self) -> DrainReport:
        """Send every delivery that is due, until none is left or ``stop()``. A second call
        while one runs returns at once (the running one picks up new deliveries too).
        Raises ``StorageError`` only when the very first claim fails."""
        if self._busy.locked() or self.stopping or not self.senders:
            return DrainReport()
        async with self._busy:
            run = DrainRun(self)
            try:
                await run.go()
            finally:
                await run.close()
            if run.report:
                log.info("deliveries: %s", run.report)
            return run.report
