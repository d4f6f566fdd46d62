"""Cards through Message Batches at half price, without waiting and without forgetting.

The card maker (``digest.cardmaker``) calls, every round::

    made += await batches.collect(save)              # first: batches that ended, anyone's
    await batches.submit(claims, language=language)  # a backlog, claimed for BATCH_LEASE

``submit`` creates the batches (``digest.summarize.anthropic_batches``) and stores each one
at once (``digest.store.batches``), so a restart loses nothing that was paid for: a new
process collects the batches the old one submitted. ``collect`` never sleeps; for each
stored batch, held for ``ROW_LEASE`` so two processes never collect the same one, it asks
the API once how the batch is doing and then:

* still running: pushes out its stories' claims, so no single request takes them; past
  ``max_wait`` (or with no story left to finish) it cancels the batch and marks it
  ``cancelling``. A cancelled batch is waited for like any other: the items it processed
  before the cancel are billed, and their results are read once it has ended.
* ended: reads the results. A succeeded item is the first answer of the normal card path
  (``BatchCardEngine.complete_card``: validation, one retry, the claim check, the offline
  fallback, and the spend, recorded by the engine's meter); the draft is saved with
  ``save``. Every other item (errored, canceled, expired) gives its story back to the
  single-request path. Items missing from the results (a broken stream) are looked for
  again next round, for ``RESULTS_PATIENCE`` after the end, then given back too.
* a ``ModelError`` from ``complete_card`` gives that story back; after
  ``GIVE_UP_AFTER`` in a row the API is taken to be down, and the batch's remaining stories
  wait for the next round (their answers are paid for: they are not given back).

A story that got a card meanwhile is skipped; one claimed by another process (the batch's
claim ran out, e.g. after hours without any process running) leaves the batch. When the
batch's status cannot be read at all, its stories' claims are not pushed out, so they run
out (``BATCH_LEASE``) and the single-request path takes them; the row is given up
``ABANDON_AFTER`` after its creation (the API ends every batch within 24 hours).

Errors: ``submit`` raises ``ModelError`` when no batch could be created (its stories are
given back first) and ``StorageError`` when one could not be stored (that batch is then
cancelled, best effort). ``collect`` handles API failures itself (logged, retried next
round) and raises only ``StorageError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from digest.errors import ModelError
from digest.models import CardDraft, Story
from digest.ports import BatchCardEngine, Clock
from digest.store.batches import CANCELLING, DONE, RUNNING, BatchStore, HeldBatch
from digest.store.cards import StoryClaim
from digest.store.repository import Repository
from digest.summarize.anthropic_batches import Submitted, cancel, results, status
from digest.summarize.anthropic_batches import submit as create_batches
from digest.summarize.anthropic_client import Reply

log = logging.getLogger(__name__)

MAX_WAIT = timedelta(hours=2)  # then the batch is cancelled (what it did is still used)
# The claim on a running batch's stories (renewed each round), so no single request takes
# them meanwhile; a batch nobody collects lets them go when it runs out.
BATCH_LEASE = timedelta(hours=3)
# How long a process holds a batch it collects (after a crash, another takes it over then).
# Renewed after each card once half of it is gone, so half of it must outlast the slowest
# card: two single requests (a retry, a regeneration) of up to LONGEST_WAIT (300 s) each.
ROW_LEASE = timedelta(minutes=30)
RESULTS_PATIENCE = timedelta(hours=1)  # looking again for items missing from the results
ABANDON_AFTER = timedelta(hours=30)  # a batch whose status cannot be read is given up
FINISH_CONCURRENCY = 4  # cards finished at once (an invalid answer costs a single request)
GIVE_UP_AFTER = 3  # ModelErrors in a row from complete_card: the rest waits a round

SaveCard = Callable[[Story, CardDraft], int | None]


class CardBatches:
    """Message Batches of cards, kept in the database; see the module docstring.

    ``engine`` is the model card engine (``ClaudeEngine``), ``repo`` hands the story claims
    back (``release_story``), ``store`` keeps the batches; ``max_wait`` is how long a batch
    may run before it is cancelled, ``story_lease`` how far each round pushes out the claims
    of a running batch's stories (the card maker's ``BATCH_LEASE``)."""

    def __init__(
        self,
        engine: BatchCardEngine,
        *,
        repo: Repository,
        store: BatchStore,
        clock: Clock,
        max_wait: timedelta = MAX_WAIT,
        story_lease: timedelta = BATCH_LEASE,
    ) -> None:
        if max_wait < timedelta(0) or story_lease <= timedelta(0):
            raise ValueError("max_wait must not be negative, story_lease must be positive")
        self._engine = engine
        self._repo = repo
        self._store = store
        self._clock = clock
        self._max_wait = max_wait
        self._story_lease = story_lease

    # -- submitting ---------------------------------------------------------------------

    async def submit(self, claims: Sequence[StoryClaim], *, language: str | None) -> None:
        """Put the claimed stories into Message Batches, each stored as soon as it exists.
        The claims of stories left out of every batch (none could be created, or storing
        failed) are given back. Raises ``ModelError`` when no batch could be created, and
        ``StorageError`` when one could not be stored."""
        by_id: dict[int, StoryClaim] = {}
        for claim in claims:
            by_id.setdefault(claim.story.id, claim)
        if not by_id:
            return
        submitted: set[int] = set()

        def keep(batch: Submitted) -> None:
            kept = self._store.add(
                batch.batch_id,
                [by_id[i] for i in batch.story_ids],
                language=language,
                lease=self._story_lease,
            )
            submitted.update(batch.story_ids)
            if len(kept) < len(batch.story_ids):
                log.warning(
                    "card batch %s: %d stories were no longer ours",
                    batch.batch_id,
                    len(batch.story_ids) - len(kept),
                )

        try:
            await create_batches(
                self._engine, [c.story for c in by_id.values()], language=language, on_created=keep
            )
        finally:
            for story_id, claim in by_id.items():
                if story_id not in submitted:
                    self._repo.release_story(claim)

    # -- collecting ---------------------------------------------------------------------

    async def collect(self, save: SaveCard) -> list[int]:
        """Move every stored batch on by one step (see the module docstring); the ids of the
        cards ``save`` stored. Raises ``StorageError``."""
        made: list[int] = []
        seen: set[int] = set()
        while (batch := self._store.claim_next(lease=ROW_LEASE, skip=seen)) is not None:
            seen.add(batch.id)
            work = _Collection(self, batch, save)
            try:
                made += await work.run()
            finally:
                if work.batch is not None and work.batch.status != DONE:
                    with contextlib.suppress(Exception):  # never hide the error at hand
                        self._store.let_go(work.batch)
        return made


class _Collection:
    """One step of one held batch. ``batch`` is the latest state of the hold; ``None`` once
    the batch is no longer ours (our lease ran out and another process took it over)."""

    def __init__(self, owner: CardBatches, batch: HeldBatch, save: SaveCard) -> None:
        self.engine = owner._engine
        self.store = owner._store
        self.clock = owner._clock
        self.max_wait = owner._max_wait
        self.story_lease = owner._story_lease
        self.batch: HeldBatch | None = batch
        self.save = save
        self.errors_in_a_row = 0
        self.failure: Exception | None = None  # saving failed: stop, and raise it

    async def run(self) -> list[int]:
        """Poll the batch once and do what its state asks (see the module docstring)."""
        batch = self.batch
        assert batch is not None
        now = self.clock.now()
        try:
            state = await status(self.engine.client, batch.batch_id)
        except ModelError as e:
            # Its stories' claims are not pushed out: if this lasts, they run out and the
            # single-request path takes the stories.
            if now - batch.created_at < ABANDON_AFTER:
                log.warning("card batch %s: status unavailable: %s", batch.batch_id, e)
            else:
                log.error("card batch %s given up: status unavailable: %s", batch.batch_id, e)
                self.batch = self.store.settle(batch, released=batch.story_ids, done=True)
            return []
        batch = self.renew()
        if batch is None:
            return []
        if state != "ended":
            state = await self.cancel_if_due(batch, now)
            batch = self.batch
            if batch is None or state != "ended":
                return []
        self.batch = batch = self.store.mark(batch, ended=True)
        return [] if batch is None else await self.finish(batch)

    async def cancel_if_due(self, batch: HeldBatch, now: datetime) -> str:
        """Cancel a running batch past ``max_wait``, or with no story left to finish; the
        batch's state afterwards ("in_progress" when it was left running)."""
        overdue = now - batch.created_at >= self.max_wait
        if batch.status != RUNNING or not (overdue or not batch.story_ids):
            return "in_progress"
        try:
            state = await cancel(self.engine.client, batch.batch_id)
        except ModelError as e:
            log.warning("card batch %s: cancelling failed: %s", batch.batch_id, e)
            return "in_progress"  # still RUNNING: tried again next round
        log.warning(
            "card batch %s cancelled (%s); what it did is read once it ends",
            batch.batch_id,
            "past its wait" if overdue else "no story left to finish",
        )
        self.batch = self.store.mark(batch, status=CANCELLING)
        return state

    def renew(self) -> HeldBatch | None:
        """Push out the holds on the batch and its stories; the batch, if still ours."""
        if self.batch is not None:
            self.batch = self.store.renew(self.batch, lease=ROW_LEASE, story_lease=self.story_lease)
        return self.batch

    async def finish(self, batch: HeldBatch) -> list[int]:
        """The batch has ended: make the cards of its results, give back the rest."""
        assert batch.ended_at is not None
        if not batch.story_ids:
            self.batch = self.store.settle(batch, done=True)
            return []
        patience_over = self.clock.now() - batch.ended_at >= RESULTS_PATIENCE
        try:
            found = await results(self.engine.client, batch.batch_id, self.engine.model)
        except ModelError as e:
            if patience_over:
                log.error("card batch %s given up: results unavailable: %s", batch.batch_id, e)
                self.batch = self.store.settle(batch, released=batch.story_ids, done=True)
            else:
                log.warning("card batch %s: results unavailable: %s", batch.batch_id, e)
            return []
        stories = self.store.unfinished_stories(batch.story_ids)
        finished = set(batch.story_ids) - {story.id for story in stories}  # carded or gone
        released: set[int] = set()
        answered: list[tuple[Story, Reply]] = []
        for story in stories:
            result = found.get(story.id)
            if isinstance(result, Reply):
                answered.append((story, result))
            elif result is not None or patience_over:
                released.add(story.id)  # errored, canceled, expired (or long missing)
        log.info(
            "card batch %s: %d answers, %d stories back to single requests, %d missing",
            batch.batch_id,
            len(answered),
            len(released),
            len(stories) - len(answered) - len(released),
        )
        made: list[int] = []
        slots = asyncio.Semaphore(FINISH_CONCURRENCY)

        async def one(story: Story, reply: Reply) -> None:
            async with slots:
                if self.batch is None or self.failure or self.errors_in_a_row >= GIVE_UP_AFTER:
                    return  # lost the batch, saving fails, or the API is down: next round
                draft = await self.draft(story, reply, batch.language)
                if draft is None:
                    released.add(story.id)
                    return
                try:
                    card_id = self.save(story, draft)
                except Exception as e:
                    self.failure = self.failure or e
                    return
                finished.add(story.id)
                if card_id is not None:
                    made.append(card_id)
                if self.batch is not None and self.clock.now() > self.batch.until - ROW_LEASE / 2:
                    self.renew()

        await asyncio.gather(*(one(story, reply) for story, reply in answered))
        if self.failure is not None:
            raise self.failure
        if self.batch is not None:
            left = set(self.batch.story_ids) - finished - released
            self.batch = self.store.settle(
                self.batch, finished=finished, released=released, done=not left
            )
        return made

    async def draft(self, story: Story, reply: Reply, language: str | None) -> CardDraft | None:
        """The card of a succeeded item; ``None`` when the story should go back to the
        single-request path (a request the card needed failed)."""
        try:
            draft = await self.engine.complete_card(story, reply, language=language)
        except ModelError as e:
            self.errors_in_a_row += 1
            log.warning("story %s: batch answer not finished: %s", story.id, e)
            return None
        except Exception:  # one bad story must not stop the others
            log.exception("story %s: finishing the batch answer failed", story.id)
            return None
        self.errors_in_a_row = 0
        return draft
