"""One ``DeliveryWorker.drain``: held claims, a lane per chat, leases, the recorder.

Split from ``digest.delivery.worker`` (which explains the whole) for size; only the worker
uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import TYPE_CHECKING

from digest.delivery.claims import ClaimedDelivery, Final, Outcome, Retry, Sent
from digest.delivery.policy import backoff
from digest.delivery.recorder import Recorder
from digest.delivery.sender import OutgoingMessage, idempotency_key
from digest.delivery.share import RateShare
from digest.errors import (
    DestinationGone,
    DigestError,
    RejectedContent,
    RetryLater,
    StorageError,
)
from digest.models import Card

if TYPE_CHECKING:
    from digest.delivery.worker import DeliveryWorker

log = logging.getLogger("digest.delivery.worker")

_REFILL_EVERY = 0.25  # seconds between top-up claims while lanes are running
_INLINE_RETRIES = 10  # 429s waited out in a lane before the claim is given back
_AGAIN = "again"  # a 429: the lane tries the same delivery again once the pause allows
_CARD_CACHE = 2000  # cards kept in memory by one drain


@dataclass(slots=True)
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    rejected: int = 0
    dropped: int = 0
    released: int = 0

    def count(self, outcome: Outcome) -> None:
        if isinstance(outcome, Sent):
            self.sent += 1
        elif isinstance(outcome, Retry):
            self.retried += 1
        else:
            setattr(self, outcome.status, getattr(self, outcome.status) + 1)

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


class DrainRun:
    """The state of one ``drain``: held claims, lanes, leases, the recorder."""

    def __init__(self, worker: DeliveryWorker) -> None:
        self.w = worker
        self.opt = worker.options
        self.report = DrainReport()
        self.held: dict[int, ClaimedDelivery] = {}  # claimed, outcome not yet committed
        # (id, token) of held claims whose outcome is with the recorder. A delivery may be
        # claimed again in the same run (a retry come due): the token tells the claims apart.
        self.finished: set[tuple[int, str]] = set()
        self.leases: dict[str, float] = {}  # token -> lease end (epoch seconds)
        self.lanes: dict[tuple[str, str], tuple[asyncio.Task[None], deque[ClaimedDelivery]]] = {}
        self.cards: dict[int, Card] = {}
        # Destinations found gone in this run: (platform, chat) -> thread ("" too) or None
        # for the whole chat -> (reason, tokens of the claims held there then). Only those
        # claims were read before the pause; later ones carry it (``claim.active``), and a
        # destination resumed meanwhile gets its new deliveries.
        self.gone: dict[tuple[str, str], dict[str | None, tuple[str, set[str]]]] = {}
        self.next_claim = 0.0  # monotonic time before which an empty claim is not repeated
        # Set when the loop has something to look at: a lane ended, outcomes were
        # committed, or stop() was called.
        self.wake = asyncio.Event()
        self.sends = asyncio.Semaphore(self.opt.concurrency)
        self.recorder = Recorder(worker.outbox, on_done=self._recorded)
        self.share = RateShare(worker.roster, worker.id, worker.senders, worker._pacer)
        self.keeper: asyncio.Task[None] | None = None

    # -- the loop ------------------------------------------------------------------------

    async def go(self) -> None:
        self.recorder.start()
        self.keeper = asyncio.create_task(self._keep_leases())
        first = True
        while not self.w.stopping:
            # Outcomes not yet committed count too: the recorder's pace is the limit.
            free = self.opt.batch - len(self.held)
            room = free >= max(1, self.opt.batch // 2)
            claimed = 0
            if free > 0 and (not self.lanes or (room and time.monotonic() >= self.next_claim)):
                try:
                    claimed = await self._claim(free)
                except StorageError as e:
                    if first:
                        raise
                    log.warning("claiming deliveries failed: %s", e)
                if not claimed:
                    self.next_claim = time.monotonic() + _REFILL_EVERY
            first = False
            if not self.lanes and not claimed and not self._unrecorded():
                return  # nothing due, nothing in flight or being recorded
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), _REFILL_EVERY)
            self._reap()

    async def _claim(self, free: int) -> int:
        """Claim up to ``free`` more deliveries and put them in their chats' lanes."""
        if free <= 0:
            return 0
        lease = timedelta(seconds=self.opt.lease)
        claims = await asyncio.to_thread(
            self.w.outbox.claim,
            platforms=self.w.senders,
            limit=free,
            per_chat=self.opt.per_chat,
            lease=lease,
        )
        if not claims:
            return 0
        if len(self.cards) > _CARD_CACHE:  # a drain under steady traffic runs for long
            needed = {c for held in self.held.values() for c in held.card_ids}
            self.cards = {i: card for i, card in self.cards.items() if i in needed}
        missing = {c for claim in claims for c in claim.card_ids} - self.cards.keys()
        try:
            if missing:
                self.cards.update(await asyncio.to_thread(self.w.outbox.cards, missing))
        except StorageError:
            with contextlib.suppress(StorageError):  # else their leases run out
                await asyncio.to_thread(self.w.outbox.release, claims)
            raise
        for claim in claims:
            self.held[claim.id] = claim
            self.leases[claim.token] = claim.claimed_until.timestamp()
        await self.share.join()  # before the first send: other workers may be sending too
        for claim in claims:
            key = (claim.destination.platform, claim.destination.chat)
            lane = self.lanes.get(key)
            if lane is not None and not lane[0].done():
                lane[1].append(claim)
                continue
            queue = deque([claim])
            self.lanes[key] = (asyncio.create_task(self._lane(queue)), queue)
        return len(claims)

    def _unrecorded(self) -> bool:
        """Whether outcomes wait for their commit (their chats count as held until then,
        so a claim made meanwhile cannot see what is left there)."""
        return any((i, c.token) in self.finished for i, c in self.held.items())

    def _reap(self) -> None:
        for key, (task, _) in list(self.lanes.items()):
            if task.done():
                del self.lanes[key]
                if not task.cancelled() and task.exception() is not None:
                    log.error("delivery lane failed", exc_info=task.exception())

    async def close(self) -> None:
        """Let the lanes end (only sends in flight continue after ``stop``), record every
        outcome, give back what was not sent."""
        if self.lanes:
            await asyncio.gather(*(task for task, _ in self.lanes.values()), return_exceptions=True)
            self._reap()
        if self.keeper is not None:
            self.keeper.cancel()
        await self.recorder.close()
        await self.share.leave()
        unsent = [c for c in self.held.values() if not self._done(c)]
        if unsent:
            try:
                released = await asyncio.to_thread(self.w.outbox.release, unsent)
                self.report.released += len(released)
            except StorageError as e:  # their leases run out instead
                log.warning("could not give back %d claimed deliveries: %s", len(unsent), e)

    # -- one chat --------------------------------------------------------------------------

    async def _lane(self, queue: deque[ClaimedDelivery]) -> None:
        try:
            await self._send_in_order(queue)
        finally:
            self.wake.set()

    async def _send_in_order(self, queue: deque[ClaimedDelivery]) -> None:
        retries = 0
        while queue and not self.w.stopping:
            claim = queue.popleft()
            if self.held.get(claim.id) is not claim or self._done(claim):
                continue  # lost with its lease
            gone = self._gone(claim)
            if gone is not None:
                self._finish(claim, Final("dropped", gone))
                continue
            outcome = await self._deliver(claim)
            if outcome is None:  # stopping, or no longer ours: given back at the end
                continue
            if outcome == _AGAIN:
                if retries < _INLINE_RETRIES:
                    retries += 1
                    queue.appendleft(claim)
                    continue
                where = claim.destination
                wait = self.w._pacer.paused_for(where.platform, where.chat)
                outcome = self._postpone(claim, wait, "rate limited by the platform")
            assert not isinstance(outcome, str)
            retries = 0
            self._finish(claim, outcome)

    async def _deliver(self, claim: ClaimedDelivery) -> Outcome | str | None:
        """Send one delivery, paced; its outcome, ``_AGAIN`` after a 429, or ``None`` when
        it must not be sent now (stopping; the lease could not be renewed)."""
        if not claim.active:
            return Final("dropped", claim.paused_reason or "subscription paused")
        if claim.attempts > self.opt.max_attempts:
            return Final("failed", f"gave up after {self.opt.max_attempts} attempts")
        cards = tuple(self.cards[c] for c in claim.card_ids if c in self.cards)
        if not cards:
            return Final("dropped", "its cards were removed")
        where = claim.destination
        pacer = self.w._pacer
        if pacer.paused_for(where.platform, where.chat) > self.opt.max_pause_wait:
            return self._postpone(claim, pacer.paused_for(where.platform, where.chat), "paused")
        # The chat's own spacing is waited out before taking one of the shared send slots.
        await self._sleep(pacer.ready_in(where.platform, where.chat))
        if self.w.stopping:
            return None
        async with self.sends:
            if not await pacer.wait(where.platform, where.chat, max_wait=self.opt.max_pause_wait):
                return self._postpone(claim, pacer.paused_for(where.platform, where.chat), "paused")
            if self.w.stopping or not await self._lease_ok(claim):
                return None
            return await self._send(claim, cards)

    async def _send(self, claim: ClaimedDelivery, cards: tuple[Card, ...]) -> Outcome | str:
        where = claim.destination
        message = OutgoingMessage(
            delivery_id=claim.id,
            destination=where,
            kind=claim.kind,
            cards=cards,
            idempotency_key=idempotency_key(claim.id),
            attempt=claim.attempts,
            slot=claim.slot,
            timezone=claim.timezone,
            language=claim.language,
            next_part=functools.partial(self.w._pacer.wait, where.platform, where.chat),
        )
        sender = self.w.senders[where.platform]
        try:
            async with asyncio.timeout(self.opt.send_timeout):
                return Sent(await sender.send(message))
        except RetryLater as e:
            if e.retry_after is None:
                return self._backoff(claim, e.reason)
            chat = None if e.scope == "platform" else where.chat
            self.w._pacer.pause(where.platform, chat, e.retry_after)
            log.info("%s asked to wait %.1f s (%s)", where.platform, e.retry_after, e.scope)
            return _AGAIN
        except DestinationGone as e:
            thread = where.thread if e.thread_only else None
            log.warning("%s chat %s is gone (%s): pausing it", where.platform, where.chat, e)
            try:
                await asyncio.to_thread(
                    self.w._destinations.pause_for_destination,
                    where.platform,
                    where.chat,
                    thread,
                    e.reason,
                )
            except StorageError as db:  # the next send there fails the same way, and pauses
                log.error("could not pause %s chat %s: %s", where.platform, where.chat, db)
            there = {
                c.token
                for c in self.held.values()
                if (c.destination.platform, c.destination.chat) == (where.platform, where.chat)
            }
            self.gone.setdefault((where.platform, where.chat), {})[thread] = (e.reason, there)
            return Final("dropped", e.reason)
        except RejectedContent as e:
            log.warning("delivery %d rejected by %s: %s", claim.id, where.platform, e)
            return Final("rejected", e.reason)
        except TimeoutError:  # it may have been posted: see the module docstring
            return self._backoff(claim, f"no answer within {self.opt.send_timeout:g} s")
        except DigestError as e:
            return self._backoff(claim, str(e))
        except Exception as e:  # a bug in the adapter: logged in full, retried like a 5xx
            log.exception("sender %s failed unexpectedly", where.platform)
            return self._backoff(claim, f"{type(e).__name__}: {e}")

    # -- outcomes ------------------------------------------------------------------------

    def _backoff(self, claim: ClaimedDelivery, error: str) -> Outcome:
        if claim.attempts >= self.opt.max_attempts:
            log.warning("delivery %d failed after %d attempts: %s", claim.id, claim.attempts, error)
            return Final("failed", error)
        delay = backoff(
            claim.attempts, base=self.opt.retry_base, cap=self.opt.retry_max, rng=self.w._rng
        )
        return Retry(self.w._clock.now() + timedelta(seconds=delay), error)

    def _postpone(self, claim: ClaimedDelivery, seconds: float, error: str) -> Outcome:
        """Back to the outbox unsent, due when the pause ends; the attempt is returned."""
        at = self.w._clock.now() + timedelta(seconds=max(seconds, 1.0))
        return Retry(at, error, refund=True)

    def _gone(self, claim: ClaimedDelivery) -> str | None:
        """Why the claim's destination is gone, when a send in this run found it so."""
        where = claim.destination
        threads = self.gone.get((where.platform, where.chat), {})
        for thread in (None, where.thread):
            reason, tokens = threads.get(thread, ("", set()))
            if claim.token in tokens:
                return reason
        return None

    def _done(self, claim: ClaimedDelivery) -> bool:
        return (claim.id, claim.token) in self.finished

    def _finish(self, claim: ClaimedDelivery, outcome: Outcome) -> None:
        self.finished.add((claim.id, claim.token))
        self.report.count(outcome)
        self.recorder.put(claim, outcome)

    def _recorded(self, claims: list[ClaimedDelivery], done: set[int]) -> None:
        self.wake.set()
        for claim in claims:
            self.finished.discard((claim.id, claim.token))
            if self.held.get(claim.id) is claim:
                del self.held[claim.id]
            if claim.id not in done:
                log.warning(
                    "delivery %d: outcome not recorded, its claim was lost (lease ran out)",
                    claim.id,
                )

    # -- leases --------------------------------------------------------------------------

    async def _keep_leases(self) -> None:
        while True:
            await asyncio.sleep(self.opt.lease / 3)
            await self._extend()

    async def _extend(self) -> bool:
        tokens = {c.token for c in self.held.values() if not self._done(c)}
        for token in set(self.leases) - {c.token for c in self.held.values()}:
            del self.leases[token]
        if not tokens:
            return True
        until = self.w._clock.now().timestamp() + self.opt.lease  # before: the database's is later
        try:
            still = await asyncio.to_thread(
                self.w.outbox.extend, tokens, timedelta(seconds=self.opt.lease)
            )
        except StorageError as e:
            log.warning("renewing delivery claims failed: %s", e)
            return False
        for token in tokens:
            self.leases[token] = until
        for i, claim in list(self.held.items()):
            if claim.token in tokens and i not in still and not self._done(claim):
                del self.held[i]  # another worker has it now
        return True

    async def _lease_ok(self, claim: ClaimedDelivery) -> bool:
        """Whether the claim outlasts a send; renewed first when it would not."""

        def enough() -> bool:
            left = self.leases.get(claim.token, 0.0) - self.w._clock.now().timestamp()
            return left >= self.opt.send_timeout + 1 and self.held.get(claim.id) is claim

        if enough():
            return True
        return await self._extend() and enough()

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0 and not self.w.stopping:
            stop = asyncio.create_task(self.w._stop.wait())
            await asyncio.wait([stop], timeout=seconds)
            stop.cancel()
