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
one recorder task in small group commits; a keeper task renews the leases. Workers sharing a
bot divide each platform's overall rate among those sending now (``digest.delivery.share``).

Failures (the sender raises them, ``digest.errors``):

- ``RetryLater`` with ``retry_after`` (a 429): the chat (or the whole platform) is paused
  that long; a short pause is waited out, a long one gives the claim back due when it
  ends. Neither counts as an attempt.
- ``RetryLater`` without it, a timeout, or an unexpected error: exponential backoff with
  jitter (``policy.backoff``); after ``max_attempts`` the delivery is "failed".
- ``DestinationGone``: the destination's subscriptions are paused with the reason, their
  pending deliveries dropped (``pause_for_destination``), and so are this lane's.
- ``RejectedContent``: "rejected", never retried.

Duplicates. A delivery is "sent" once the platform accepted it *and* the commit recording
that landed. Between the two a crash (SIGKILL, power loss; or the database unreachable for
longer than the lease, which the recorder waits out holding the outcome) leaves the claim
in place, and once its lease runs out a worker sends the delivery again. Every attempt
carries the same ``idempotency_key`` (``d<delivery id>``; a sender posting several
messages derives one per part): a platform that deduplicates by it (Discord's ``nonce``
with ``enforce_nonce``, for a few minutes, longer than the lease) answers the repeat with
the original message, so nothing doubles. Telegram has no such key: there the window is
the platform's own processing after it committed the message, the answer's way back, and
the recorder's commit (a few milliseconds; at most one commit in progress plus the next),
and what can double after one crash is the sends in flight then plus the outcomes waiting
for that commit, about ``concurrency`` messages. A send that times out is in the same
doubt and is retried (on Telegram it may double). Nothing is sent without a lease that
outlasts the send timeout, so two live workers never send one delivery; a clean stop
(SIGTERM) finishes and records the sends in flight and doubles nothing.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from digest.delivery.pacing import Pacer
from digest.delivery.policy import WorkerOptions
from digest.delivery.run import DrainReport, DrainRun
from digest.delivery.sender import Sender
from digest.ports import Clock
from digest.store.outbox import Outbox
from digest.store.roster import DeliveryRoster

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
        self.id = str(uuid.uuid4())  # its name on the roster of workers sharing the rate
        self.roster = DeliveryRoster(outbox.engine, clock)
        self._stop = asyncio.Event()
        self._busy = asyncio.Lock()
        self._run: DrainRun | None = None

    def stop(self) -> None:
        """Claim nothing more; sends in flight finish and are recorded, the rest is given
        back when ``drain`` returns."""
        self._stop.set()
        if self._run is not None:
            self._run.wake.set()

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
            run = self._run = DrainRun(self)
            try:
                await run.go()
            except asyncio.CancelledError:  # shutdown past its grace: no new sends
                self.stop()
                raise
            finally:
                self._run = None
                # Shielded: a shutdown past its grace cancels the drain, but the sends in
                # flight (each bounded by the send timeout) must finish, their outcomes be
                # recorded and the rest be given back, or they would go out twice.
                closing = asyncio.ensure_future(run.close())
                try:
                    await asyncio.shield(closing)
                except asyncio.CancelledError:
                    await closing
                    raise
            if run.report:
                log.info("deliveries: %s", run.report)
            return run.report
