"""A drain's place on the roster of delivery workers (``digest.store.roster``): workers
sharing a bot divide each platform's overall rate by how many of them send to it now.

A drain joins once it has claimed something (an idle worker takes no share), renews its
place every ``EVERY`` seconds and re-reads the count, and leaves when it ends. The workers
already sending learn of a newcomer at their next check-in, within ``EVERY`` seconds; so a
drain that finds others on the roster as it joins waits that long (``SETTLE``) before its
first send, and the sum never exceeds the rate (measured: ``python -m bench delivery``, two
workers sharing a fan-out). One that joins first sends at once and slows down when it learns.
The roster being unreachable changes nothing: the last known share stands. A platform's 429
(a pause, ``Pacer.pause``) remains the backstop.

Used by ``digest.delivery.run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from datetime import timedelta

from digest.delivery.pacing import Pacer
from digest.errors import StorageError
from digest.store.roster import DeliveryRoster

log = logging.getLogger("digest.delivery.worker")

EVERY = 2.0  # seconds between check-ins while the drain runs
# A worker that died drops off the roster after this long (and the others speed up).
TTL = timedelta(seconds=5 * EVERY)
# What a drain joining others waits before sending: their next check-in, and some margin.
SETTLE = 1.25 * EVERY


class RateShare:
    def __init__(
        self, roster: DeliveryRoster, worker: str, platforms: Collection[str], pacer: Pacer
    ) -> None:
        self._roster = roster
        self._worker = worker
        self._platforms = tuple(platforms)
        self._pacer = pacer
        self._keeper: asyncio.Task[None] | None = None
        self._workers: dict[str, int] = {}

    async def join(self) -> None:
        """Check in, and keep checking in until ``leave``; at once when already in."""
        if self._keeper is not None:
            return
        self._keeper = asyncio.create_task(self._keep())
        await self._check_in()
        if any(workers > 1 for workers in self._workers.values()):
            await asyncio.sleep(SETTLE)  # until the others have slowed down to their share

    async def leave(self) -> None:
        if self._keeper is None:
            return
        self._keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._keeper
        self._keeper = None
        try:
            await asyncio.to_thread(self._roster.check_out, self._worker)
        except StorageError as e:  # its place runs out instead
            log.warning("could not leave the roster of delivery workers: %s", e)

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(EVERY)
            await self._check_in()

    async def _check_in(self) -> None:
        try:
            counts = await asyncio.to_thread(
                self._roster.check_in, self._worker, self._platforms, TTL
            )
        except StorageError as e:
            log.warning("delivery workers roster not reachable (pace unchanged): %s", e)
            return
        for platform, workers in counts.items():
            if workers != self._workers.get(platform, 1):
                log.info(
                    "%s: %d delivery worker(s) send now; this one paces at %.1f messages/s",
                    platform,
                    workers,
                    self._pacer.rates(platform).overall / workers,
                )
            self._workers[platform] = workers
            self._pacer.share(platform, workers)
