"""Message Batches of cards in the database (``card_batches``): which process collects which
batch, and the claims on the batch's stories.

Called by ``digest.card_batches.CardBatches`` only. Two kinds of claim, both compare-and-set
on a timestamp, like feeds and stories (``digest.store.repository``, ``.cards``):

* The row: a process collecting a batch holds it for a short lease (``claim_next``, then
  ``renew``, ``let_go``), so two processes never poll, cancel or read the same batch at
  once. ``HeldBatch.until`` is the claim's identity: every write to the row checks it, so a
  process whose lease ran out (and whose batch was taken over) writes nothing.
* The stories: every story of a batch carries the same ``stories.card_claimed_until``,
  recorded on the row as ``stories_claimed_until``; the row's ``story_ids`` are the stories
  the batch still has to finish. ``add`` moves the card maker's claims to that one value,
  ``renew`` pushes them out, ``settle`` gives some back and drops them from the row.

Why ``renew`` may take the story claims over, even in another process than the one that
submitted the batch (after a restart): it runs only while holding the row, which no other
process can hold meanwhile, and it takes only stories of the row that have no card and
whose claim is either the batch's own (the value on the row) or free (run out, or given
back). A live claim of another process (the single-request path took the story after the
batch's claim ran out) is left alone, and the story leaves the batch: that process pays for
its card. A story taken back while free is one nobody is working on.

Datetimes are UTC-aware; database errors are ``StorageError`` (``digest.store.db``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Row, Table, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from digest.models import Story
from digest.ports import Clock
from digest.store.cards import StoryClaim
from digest.store.convert import load_stories
from digest.store.db import transaction
from digest.store.tables import CardBatchRow, CardRow, StoryRow

_BATCHES = cast(Table, CardBatchRow.__table__)
_STORIES = cast(Table, StoryRow.__table__)
_CARDS = cast(Table, CardRow.__table__)
_IN_CHUNK = 400  # ids per IN (...): stay under SQLite's bound-parameter limit

RUNNING = "running"
CANCELLING = "cancelling"
DONE = "done"


@dataclass(frozen=True, slots=True)
class HeldBatch:
    """A stored batch this process holds until ``until`` (the claim's identity)."""

    id: int
    batch_id: str
    story_ids: tuple[int, ...]  # still to finish
    language: str | None
    status: str  # RUNNING or CANCELLING
    created_at: datetime
    ended_at: datetime | None
    until: datetime
    stories_until: datetime  # the batch's claims on its stories


class BatchStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def _session(self) -> AbstractContextManager[Session]:
        return transaction(self._sessions)

    def add(
        self,
        batch_id: str,
        claims: Sequence[StoryClaim],
        *,
        language: str | None,
        lease: timedelta,
    ) -> list[int]:
        """Store a batch just created for the stories of ``claims``, whose claims move to one
        value, now + ``lease``, kept on the row. Returns the stories kept: a claim that is no
        longer ours (it ran out and was taken) leaves its story out of the batch."""
        now = self._clock.now()
        stories_until = now + lease
        by_until: dict[datetime, list[int]] = {}
        for claim in claims:
            by_until.setdefault(claim.until, []).append(claim.story.id)
        with self._session() as s:
            moved: set[int] = set()
            for until, ids in by_until.items():
                for chunk in _chunks(ids):
                    moved.update(
                        s.scalars(
                            update(_STORIES)
                            .where(_STORIES.c.id.in_(chunk), _STORIES.c.card_claimed_until == until)
                            .values(card_claimed_until=stories_until)
                            .returning(_STORIES.c.id)
                        )
                    )
            kept = [claim.story.id for claim in claims if claim.story.id in moved]
            s.execute(
                insert(_BATCHES).values(
                    batch_id=batch_id,
                    story_ids=kept,
                    language=language,
                    status=RUNNING,
                    created_at=now,
                    claimed_until=None,
                    stories_claimed_until=stories_until,
                    ended_at=None,
                )
            )
        return kept

    def claim_next(self, *, lease: timedelta, skip: Collection[int] = ()) -> HeldBatch | None:
        """The oldest batch not done, not held by another process, and not in ``skip`` (row
        ids), held by this process for ``lease``; ``None`` when there is none."""
        now = self._clock.now()
        free = _BATCHES.c.claimed_until.is_(None) | (_BATCHES.c.claimed_until <= now)
        open_ = _BATCHES.c.status != DONE
        with self._session() as s:
            query = select(_BATCHES.c.id).where(open_, free).order_by(_BATCHES.c.id)
            if skip:
                query = query.where(_BATCHES.c.id.not_in(list(skip)))
            for candidate in list(s.scalars(query)):
                # The claim re-checks "free": of two processes racing for a batch, one wins.
                row = s.execute(
                    update(_BATCHES)
                    .where(_BATCHES.c.id == candidate, open_, free)
                    .values(claimed_until=now + lease)
                    .returning(*_BATCHES.c)
                ).first()
                if row is not None:
                    return _held(row)
        return None

    def renew(
        self, batch: HeldBatch, *, lease: timedelta, story_lease: timedelta
    ) -> HeldBatch | None:
        """Hold the batch for ``lease`` more and its stories for ``story_lease`` more, taking
        back those whose claim ran out (see the module docstring for why that is safe); a
        story with a card, or claimed by another process, leaves the batch. ``None`` when
        the batch is no longer ours."""
        now = self._clock.now()
        stories_until = now + story_lease
        ours_or_free = (
            (_STORIES.c.card_claimed_until == batch.stories_until)
            | _STORIES.c.card_claimed_until.is_(None)
            | (_STORIES.c.card_claimed_until <= now)
        )
        with self._session() as s:
            if not _hold(s, batch, claimed_until=now + lease):
                return None
            held: set[int] = set()
            for chunk in _chunks(batch.story_ids):
                carded = select(_CARDS.c.story_id).where(_CARDS.c.story_id.in_(chunk))
                held.update(
                    s.scalars(
                        update(_STORIES)
                        .where(_STORIES.c.id.in_(chunk), _STORIES.c.id.not_in(carded), ours_or_free)
                        .values(card_claimed_until=stories_until)
                        .returning(_STORIES.c.id)
                    )
                )
            kept = tuple(i for i in batch.story_ids if i in held)
            s.execute(
                update(_BATCHES)
                .where(_BATCHES.c.id == batch.id)
                .values(story_ids=list(kept), stories_claimed_until=stories_until)
            )
        return replace(batch, story_ids=kept, until=now + lease, stories_until=stories_until)

    def mark(
        self, batch: HeldBatch, *, status: str | None = None, ended: bool = False
    ) -> HeldBatch | None:
        """Record a new ``status`` (RUNNING -> CANCELLING), and with ``ended`` that the batch
        was seen ended (the first time counts). ``None`` when the batch is no longer ours."""
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = status
        if ended:
            values["ended_at"] = batch.ended_at or self._clock.now()
        if not values:
            return batch
        with self._session() as s:
            row = s.execute(
                update(_BATCHES)
                .where(_BATCHES.c.id == batch.id, _BATCHES.c.claimed_until == batch.until)
                .values(**values)
                .returning(*_BATCHES.c)
            ).first()
        return None if row is None else _held(row)

    def settle(
        self,
        batch: HeldBatch,
        *,
        finished: Collection[int] = (),
        released: Collection[int] = (),
        done: bool = False,
    ) -> HeldBatch | None:
        """Stories leave the batch: ``finished`` ones (they have their card, or are gone)
        as they are, ``released`` ones with their claim given back, so the single-request
        path takes them next. With ``done`` the batch is finished and let go. One
        transaction; ``None`` (and nothing written) when the batch is no longer ours."""
        leaving = set(finished) | set(released)
        remaining = tuple(i for i in batch.story_ids if i not in leaving)
        values: dict[str, Any] = {"story_ids": list(remaining)}
        if done:
            values.update(
                status=DONE, claimed_until=None, ended_at=batch.ended_at or self._clock.now()
            )
        with self._session() as s:
            if not _hold(s, batch, **values):
                return None
            for chunk in _chunks(sorted(set(released))):
                s.execute(
                    update(_STORIES)
                    .where(
                        _STORIES.c.id.in_(chunk),
                        _STORIES.c.card_claimed_until == batch.stories_until,
                    )
                    .values(card_claimed_until=None)
                )
        return replace(batch, story_ids=remaining, status=DONE if done else batch.status)

    def let_go(self, batch: HeldBatch) -> None:
        """Stop holding the batch (its stories stay claimed): any process may collect it."""
        with self._session() as s:
            _hold(s, batch, claimed_until=None)

    def unfinished_stories(self, story_ids: Sequence[int]) -> list[Story]:
        """Those of ``story_ids`` that still exist and have no card, in that order."""
        with self._session() as s:
            carded: set[int] = set()
            for chunk in _chunks(story_ids):
                carded.update(
                    s.scalars(select(_CARDS.c.story_id).where(_CARDS.c.story_id.in_(chunk)))
                )
            return load_stories(s, [i for i in story_ids if i not in carded])


def _hold(s: Session, batch: HeldBatch, **values: Any) -> bool:
    """Write ``values`` on the batch's row if this process still holds it."""
    found = s.scalars(
        update(_BATCHES)
        .where(_BATCHES.c.id == batch.id, _BATCHES.c.claimed_until == batch.until)
        .values(**values)
        .returning(_BATCHES.c.id)
    ).first()
    return found is not None


def _held(row: Row[Any]) -> HeldBatch:
    return HeldBatch(
        id=row.id,
        batch_id=row.batch_id,
        story_ids=tuple(int(i) for i in row.story_ids),
        language=row.language,
        status=row.status,
        created_at=row.created_at,
        ended_at=row.ended_at,
        until=row.claimed_until,
        stories_until=row.stories_claimed_until,
    )


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield list(ids[start : start + _IN_CHUNK])
