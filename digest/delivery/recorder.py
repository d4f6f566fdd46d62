"""Group commits of delivery outcomes.

One task writes; outcomes that arrive while a write runs go together into the next
transaction. At a trickle that is one commit per send (the window between the platform's
acceptance and our record stays as short as the database allows); at 1,000 sends a second
it is a few dozen commits a second instead of a thousand. A failed write (the database
restarting) is retried with backoff, keeping the outcomes in memory; the claims' tokens
still decide whether each applies. A write refused by a constraint is no outage: the batch
is then written one outcome at a time, so one bad outcome cannot hold back the others, and
the one that still fails alone is logged and given up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

from digest.delivery.claims import ClaimedDelivery, Outcome, Sent
from digest.errors import StorageError
from digest.store.outbox import Outbox

log = logging.getLogger(__name__)

OnDone = Callable[[list[ClaimedDelivery], set[int]], None]

_MAX_BATCH = 500
_CLOSE_TRIES = 4  # writes tried at shutdown before outcomes are given up


class Recorder:
    def __init__(self, outbox: Outbox, *, on_done: OnDone) -> None:
        self._outbox = outbox
        self._on_done = on_done
        self._pending: list[tuple[ClaimedDelivery, Outcome]] = []
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._failures = 0
        self._alone = 0  # outcomes still to be written one at a time (after a refusal)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def put(self, claim: ClaimedDelivery, outcome: Outcome) -> None:
        self._pending.append((claim, outcome))
        self._idle.clear()
        self._ready.set()

    async def close(self) -> None:
        """Write what is pending (a few tries if the database is down), then stop."""
        self._closing = True
        if self._task is None:
            return
        if not self._task.done():
            await self._idle.wait()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            size = 1 if self._alone else _MAX_BATCH
            batch = self._pending[:size]
            del self._pending[:size]
            if not self._pending:
                self._ready.clear()
            try:
                done = await asyncio.to_thread(self._outbox.finish, batch)
            except StorageError as e:
                if isinstance(e.__cause__, IntegrityError):
                    self._refused(batch, e)
                    continue
                self._failures += 1
                if self._closing and self._failures >= _CLOSE_TRIES:
                    self._give_up(batch + self._pending, e)
                    return
                log.warning("recording %d delivery outcomes failed (will retry): %s", len(batch), e)
                self._pending[:0] = batch
                self._ready.set()
                await asyncio.sleep(min(5.0, 0.2 * 2**self._failures))
                continue
            self._failures = 0
            self._alone = max(0, self._alone - len(batch))
            self._on_done([claim for claim, _ in batch], done)
            if not self._pending:
                self._idle.set()

    def _refused(self, batch: list[tuple[ClaimedDelivery, Outcome]], error: StorageError) -> None:
        if len(batch) > 1:  # find the one refused: write them one at a time
            self._pending[:0] = batch
            self._alone = len(batch)
            self._ready.set()
            return
        self._alone = max(0, self._alone - 1)
        ((claim, outcome),) = batch
        log.error("delivery %d: its outcome (%s) was refused: %s", claim.id, outcome, error)
        self._on_done([claim], set())
        if not self._pending:
            self._idle.set()
        else:
            self._ready.set()

    def _give_up(self, lost: list[tuple[ClaimedDelivery, Outcome]], error: StorageError) -> None:
        sent = sum(isinstance(outcome, Sent) for _, outcome in lost)
        log.error(
            "%d delivery outcomes could not be recorded (%s); %d of them were sent and"
            " will be sent again once their claims run out",
            len(lost),
            error,
            sent,
        )
        self._pending.clear()
        self._idle.set()
